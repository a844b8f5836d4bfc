/**
 * `morphable serve`'s HTTP API (Fastify): `POST /v1/fit` with a photo as the body fits it on the worker
 * pool (the fit never runs on the thread that serves requests) and answers JSON; `GET /healthz`. Limits:
 * upload size (413), content type (415), fits admitted at once (the pool plus a short queue; past it 503
 * with Retry-After), a time limit per fit (504). Every error is JSON `{error}`.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { InputError } from '../errors.js';
import type { FaceFitReport } from '../fit/fit-result.js';
import type { PhotoJob, PhotoJobResult } from './photo-job.js';
import { type RunOptions, TaskTimeoutError, WorkerStoppedError } from './worker-pool.js';

/** The image types `POST /v1/fit` takes as its body. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/tiff'] as const;

/** The pool the server fits on: a PhotoPool, or a stand-in in tests. */
export interface FitPool {
  readonly size: number;
  readonly running: number;
  readonly queued: number;
  run(job: PhotoJob, options?: RunOptions): Promise<PhotoJobResult>;
  close(): Promise<void>;
}

export interface FitServerOptions {
  /** The pool, or its start: until it has started, fits and /healthz answer 503. Closed with the server. */
  pool: FitPool | Promise<FitPool>;
  /** Largest body accepted (bytes); larger → 413. Default 20 MB. */
  maxUploadBytes?: number;
  /** Fits that may wait for a worker beyond those running; more → 503. Default: the pool's size. */
  maxQueue?: number;
  /** A fit running longer is stopped (its worker replaced) → 504. Default 60 s. */
  timeoutMs?: number;
  /** Fastify's request log on stderr (default off). */
  log?: boolean;
}

/** One fitted face in the response; `glb` (base64) with `?glb=1`. */
export interface FittedFace {
  report: FaceFitReport;
  glb?: string;
}

/** A face the quality gate rejected. */
export interface RejectedFace {
  index: number;
  reason: string;
  quality: FaceFitReport['quality'];
}

export interface FitResponse {
  faces: FittedFace[];
  rejected: RejectedFace[];
  ms: number;
}

const GLB_TYPE = 'model/gltf-binary';
/** Fit times kept for the Retry-After estimate. */
const RECENT_FITS = 32;

/** An error with the HTTP status it answers with. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export function buildFitServer(options: FitServerOptions): FastifyInstance {
  const maxUploadBytes = options.maxUploadBytes ?? 20 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  let pool: FitPool | undefined;
  let startError: Error | undefined;
  const starting = Promise.resolve(options.pool).then(
    (p) => {
      pool = p;
      return p;
    },
    (error: Error) => {
      startError = error;
      return undefined;
    },
  );
  let admitted = 0; // fits running or waiting in the pool, from this server
  let fitted = 0;
  let failed = 0;
  const recentMs: number[] = [];

  /** Seconds until a fit could be admitted: the work ahead shared out over the workers, at least 1. */
  const retryAfter = (size: number): number => {
    const meanMs = recentMs.length ? recentMs.reduce((a, b) => a + b, 0) / recentMs.length : 1000;
    const rounds = Math.ceil((admitted - size + 1) / size);
    return Math.max(1, Math.ceil((meanMs * Math.max(1, rounds)) / 1000));
  };

  const app = Fastify({ bodyLimit: maxUploadBytes, logger: options.log ?? false });
  app.addContentTypeParser([...IMAGE_TYPES], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof HttpError) {
      if (error.retryAfterS !== undefined) void reply.header('retry-after', String(error.retryAfterS));
      return reply.code(error.status).send({ error: error.message });
    }
    if (error.statusCode === 413)
      return reply.code(413).send({ error: `the body is over the upload limit of ${describeBytes(maxUploadBytes)}` });
    if (error.statusCode === 415)
      return reply.code(415).send({ error: `send the image as one of ${IMAGE_TYPES.join(', ')} (Content-Type)` });
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send({ error: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no such endpoint: ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.get('/healthz', async (_request, reply) => {
    const state = { workers: pool?.size ?? 0, running: pool?.running ?? 0, queued: pool?.queued ?? 0 };
    const body = {
      ok: pool !== undefined,
      ...state,
      fitted,
      failed,
      uptimeS: Math.round((Date.now() - started) / 1000),
    };
    if (!pool) return reply.code(503).send({ ...body, error: startError ? startError.message : 'starting' });
    return body;
  });

  app.post<{ Querystring: { glb?: string } }>('/v1/fit', async (request, reply) => {
    if (!pool) throw new HttpError(503, startError ? startError.message : 'the fitting workers are starting', 5);
    if (!Buffer.isBuffer(request.body))
      throw new HttpError(415, `send the image as one of ${IMAGE_TYPES.join(', ')} (Content-Type)`);
    const wantBinary = (request.headers.accept ?? '').includes(GLB_TYPE);
    const returnGlb = wantBinary || ['1', 'true'].includes(request.query.glb ?? '');
    const maxQueue = options.maxQueue ?? pool.size;
    if (admitted >= pool.size + maxQueue)
      throw new HttpError(503, `busy: ${admitted} fits running or queued; try again later`, retryAfter(pool.size));
    admitted++;
    let result: PhotoJobResult;
    try {
      result = await pool.run({ photo: request.body, name: 'upload', returnGlb }, { timeoutMs });
    } catch (error) {
      if (!(error instanceof InputError)) failed++;
      throw httpError(error, timeoutMs);
    } finally {
      admitted--;
    }
    fitted++;
    recentMs.push(result.ms);
    if (recentMs.length > RECENT_FITS) recentMs.shift();
    const faces = result.faces.filter((face) => !face.rejected);
    if (wantBinary) return sendGlb(reply, faces[0]?.glb);
    const response: FitResponse = {
      faces: faces.map((face) => ({
        report: face.report,
        ...(face.glb ? { glb: Buffer.from(face.glb).toString('base64') } : {}),
      })),
      rejected: result.faces
        .filter((face) => face.rejected)
        .map((face) => ({ index: face.index, reason: face.rejected!, quality: face.report.quality })),
      ms: Math.round(result.ms),
    };
    return response;
  });

  // Graceful: the server stops taking requests and finishes those in flight, then the pool stops.
  app.addHook('onClose', async () => {
    const p = await starting;
    await p?.close();
  });
  return app;
}

function sendGlb(reply: FastifyReply, glb: Uint8Array | undefined) {
  if (!glb) throw new HttpError(500, 'no GLB for the face');
  return reply.type(GLB_TYPE).send(Buffer.from(glb.buffer, glb.byteOffset, glb.byteLength));
}

/** A fit's failure as the status it answers with: bad input 422, too long 504, anything else 500. */
function httpError(error: unknown, timeoutMs: number): HttpError {
  if (error instanceof InputError) return new HttpError(422, error.message);
  if (error instanceof TaskTimeoutError)
    return new HttpError(504, `the fit took longer than ${(timeoutMs / 1000).toFixed(0)} s and was stopped`);
  if (error instanceof WorkerStoppedError) return new HttpError(500, `the fit failed: ${error.message}`);
  return new HttpError(500, `the fit failed: ${error instanceof Error ? error.message : String(error)}`);
}

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(2)} MB` : `${bytes} bytes`;
}

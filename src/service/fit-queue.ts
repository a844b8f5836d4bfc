/**
 * The BullMQ queue of photos to fit, shared by machines through one Redis: `morphable queue submit` adds
 * one job per photo, `morphable worker` (any number, on any machine) fits them on a PhotoPool and writes
 * the outputs to its own --out. A job carries the photo's bytes, so that workers need no shared disk; its
 * id is the SHA-256 of those bytes, so the same photo submitted twice is one job (while the job is kept:
 * see KEEP_COMPLETED). Transient failures (a crashed worker thread) are retried with backoff; bad input
 * (not an image, no face, every face rejected) fails after one try with its error. A worker killed in the
 * middle of a job loses its lock; the job is then "stalled" and goes back to the queue for another worker.
 */
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { FitSettings } from './photo-job.js';
import type { ListedPhoto } from './photo-list.js';
import { PhotoPool } from './photo-pool.js';
import { RESULTS_FILE, ResultsLog, resultLines } from './results-log.js';

import { ATTEMPTS, DEFAULT_QUEUE, KEEP_COMPLETED, KEEP_FAILED } from './fit-queue-settings.js';

export { ATTEMPTS, DEFAULT_QUEUE, KEEP_COMPLETED, KEEP_FAILED } from './fit-queue-settings.js';

/** What one face came to, as a completed job returns it (no image bytes, no full report). */
export interface FaceSummary {
  face: number;
  status: 'fitted' | 'rejected';
  quality: number;
  files?: string[];
  reason?: string;
}

export interface JobSummary {
  name: string;
  worker: string;
  ms: number;
  faces: FaceSummary[];
}

export interface FitJobData {
  /** The output name (relative path without extension). */
  name: string;
  /** The photo's path where it was submitted (for results.jsonl). */
  source: string;
  /** The photo's bytes, base64; '' once the job is done. */
  photo: string;
  /** Set just before the job completes: a worker that runs it again returns this instead. */
  done?: JobSummary;
}

type FitJob = Job<FitJobData, JobSummary>;

/**
 * A connection to the Redis at `url` (ioredis, as BullMQ needs it: commands wait through reconnects),
 * checked first by a probe that gives up: an unreachable server or a refused password is one InputError
 * ("cannot reach Redis at URL: …") after at most `timeoutMs`, not endless retries.
 */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<Redis> {
  const shown = url.replace(/^([a-z]+:\/\/[^/@]*:)[^/@]*@/i, '$1***@'); // no password in messages
  if (!/^rediss?:\/\/[^/]/i.test(url)) throw new InputError(`--redis ${shown}`, 'not a redis:// (or rediss://) URL');
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on('error', () => {}); // the failure is the connect() rejection below
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new InputError(`cannot reach Redis at ${shown}`, err.code ?? err.message);
  } finally {
    probe.disconnect();
  }
  return new Redis(url, { maxRetriesPerRequest: null });
}

export interface SubmitCounts {
  added: number;
  /** Photos whose bytes were queued already (this call or earlier, and not yet removed). */
  already: number;
}

export interface QueueStatus {
  counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  failed: { id: string; name: string; attempts: number; error: string }[];
}

/** An InputError for the first photo that is not a file (before anything is queued). */
export async function checkPhotoFiles(photos: ListedPhoto[]): Promise<void> {
  for (const { path } of photos) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new InputError(path, 'no such file or folder');
    if (!info.isFile()) throw new InputError(path, 'not a file or folder');
  }
}

export class FitQueue {
  private constructor(
    readonly queue: Queue<FitJobData, JobSummary>,
    private readonly client: Redis,
  ) {}

  static async open(url: string, name = DEFAULT_QUEUE): Promise<FitQueue> {
    const client = await connectRedis(url);
    const queue = new Queue<FitJobData, JobSummary>(name, {
      connection: client,
      defaultJobOptions: {
        attempts: ATTEMPTS,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: KEEP_FAILED,
      },
    });
    return new FitQueue(queue, client);
  }

  /**
   * Adds one job per photo, id = the SHA-256 of its bytes; photos are read one at a time. Check the paths
   * first with checkPhotoFiles.
   */
  async submit(photos: ListedPhoto[]): Promise<SubmitCounts> {
    const counts: SubmitCounts = { added: 0, already: 0 };
    for (const { path, name } of photos) {
      const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(path, `cannot read (${err.code ?? err.message})`);
      });
      const jobId = createHash('sha256').update(bytes).digest('hex');
      if (await this.queue.getJob(jobId)) {
        counts.already++;
        continue;
      }
      await this.queue.add('fit', { name, source: path, photo: bytes.toString('base64') }, { jobId });
      counts.added++;
    }
    return counts;
  }

  async status(maxFailed = 100): Promise<QueueStatus> {
    const c = await this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const failed = (await this.queue.getFailed(0, maxFailed - 1)) as FitJob[];
    return {
      counts: {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      },
      failed: failed
        .filter((job) => job)
        .map((job) => ({
          id: String(job.id),
          name: job.data.name,
          attempts: job.attemptsMade,
          error: job.failedReason,
        })),
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
    await this.client.quit();
  }
}

export interface FitWorkerOptions {
  url: string;
  queue?: string;
  out: string;
  settings: FitSettings;
  /** Photos at once (BullMQ concurrency = PhotoPool threads); default the cores. */
  jobs?: number;
  /** A job's lock lasts this long and is renewed at half of it; a killed worker's job comes back after. */
  lockMs?: number;
  /** Told of each finished or failed job (the CLI prints a line). */
  onDone?: (job: FitJob, summary: JobSummary) => void;
  onFailed?: (job: FitJob, message: string, final: boolean) => void;
  onError?: (error: Error) => void;
}

/**
 * A BullMQ worker fitting the queue's photos on a PhotoPool, so that BullMQ's thread stays free to renew
 * its locks during long fits. Outputs go to `out`/NAME… atomically, and `out`/results.jsonl gets the lines
 * of each finished photo (and of each photo failed for good).
 */
export class FitWorker {
  private constructor(
    private readonly worker: Worker<FitJobData, JobSummary>,
    private readonly pool: PhotoPool,
    private readonly client: Redis,
  ) {}

  static async start(options: FitWorkerOptions): Promise<FitWorker> {
    const client = await connectRedis(options.url);
    let pool: PhotoPool;
    try {
      pool = await PhotoPool.start(options.settings, { jobs: options.jobs });
    } catch (error) {
      await client.quit();
      throw error;
    }
    await mkdir(options.out, { recursive: true });
    const log = new ResultsLog(join(options.out, RESULTS_FILE), true);
    const me = hostname();
    const processor = async (job: FitJob): Promise<JobSummary> => {
      const { name, source, photo, done } = job.data;
      if (done) return done; // finished, then killed before BullMQ heard of it
      const final = () => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      try {
        const result = await pool.run({
          photo: Buffer.from(photo, 'base64'),
          name,
          out: { folder: options.out, stem: name },
        });
        const lines = resultLines(source ?? name, name, result);
        await log.append(lines);
        const summary: JobSummary = {
          name,
          worker: me,
          ms: Math.round(result.ms),
          faces: result.faces.map((face) => ({
            face: face.index,
            status: face.rejected ? 'rejected' : 'fitted',
            quality: face.report.quality.score,
            ...(face.rejected ? { reason: face.rejected } : { files: face.files }),
          })),
        };
        // Drop the bytes: a completed job keeps its name and summary only.
        await job.updateData({ name, source, photo: '', done: summary });
        options.onDone?.(job, summary);
        return summary;
      } catch (error) {
        // Bad input fails once, with its message (which names the photo); anything else is retried.
        const input = error instanceof InputError;
        const message = input ? error.message : `${name}: ${(error as Error).message}`;
        if (input || final())
          await log.append([{ photo: source ?? name, name, status: 'failed', error: message, retry: !input }]);
        options.onFailed?.(job, message, input || final());
        if (input) throw new UnrecoverableError(message);
        throw error;
      }
    };
    const lockDuration = options.lockMs ?? 30_000;
    const worker = new Worker<FitJobData, JobSummary>(options.queue ?? DEFAULT_QUEUE, processor, {
      connection: client,
      concurrency: pool.size,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: 2,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    });
    worker.on('error', (error) => options.onError?.(error));
    return new FitWorker(worker, pool, client);
  }

  /** Stops taking jobs, waits for the running ones to finish, and closes everything. */
  async close(): Promise<void> {
    await this.worker.close();
    await this.pool.close();
    await this.client.quit();
  }
}

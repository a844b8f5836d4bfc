import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The built modules: the pool's workers run dist/src/service/photo-worker.js, and the errors they send back
// must be the classes the server tells apart.
import type * as ServerModule from '../dist/src/service/fit-server.js';
import type { PhotoJob, PhotoJobResult } from '../dist/src/service/photo-job.js';
import type * as PoolModule from '../dist/src/service/photo-pool.js';
import type * as WorkerPoolModule from '../dist/src/service/worker-pool.js';
import { expectOneLineError, runCli } from './helpers/cli.js';

const dist = (path: string) => new URL(`../dist/src/${path}`, import.meta.url).href;
const { buildFitServer } = (await import(dist('service/fit-server.js'))) as typeof ServerModule;
const { PhotoPool } = (await import(dist('service/photo-pool.js'))) as typeof PoolModule;
const { TaskTimeoutError, WorkerStoppedError } = (await import(
  dist('service/worker-pool.js')
)) as typeof WorkerPoolModule;
const { InputError } = (await import(dist('errors.js'))) as typeof import('../dist/src/errors.js');
const { defaultModelPath } = (await import(
  dist('io/node/model-paths.js')
)) as typeof import('../dist/src/io/node/model-paths.js');

const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../node_modules/@vladmandic/face-api/demo/sample1.jpg', import.meta.url));
// sample1.jpg's left face: its detection box is about (395, 400) 228×227 px in the 1920×1280 photo.
const CROP = { left: 300, top: 300, width: 420, height: 420 };
const CROP_SIDE = 320;

/** A stand-in pool: each run waits until the test settles it. */
class HeldPool {
  readonly size = 1;
  running = 0;
  queued = 0;
  closed = false;
  readonly calls: { job: PhotoJob; settle: (outcome: PhotoJobResult | Error) => void }[] = [];

  run(job: PhotoJob): Promise<PhotoJobResult> {
    return new Promise((resolve, reject) => {
      this.calls.push({ job, settle: (o) => (o instanceof Error ? reject(o) : resolve(o)) });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const noFaces: PhotoJobResult = { photo: 'upload', faces: [], ms: 800 };
const jpeg = { 'content-type': 'image/jpeg' };

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (let t = 0; t < timeoutMs && !condition(); t += 10) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('fit server: limits and errors (a stand-in pool)', () => {
  it('answers 413 past the upload limit and 415 for other content types, as JSON', async () => {
    const app = buildFitServer({ pool: new HeldPool(), maxUploadBytes: 1000 });
    const big = await app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: Buffer.alloc(1001) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toContain('1000 bytes');
    const text = await app.inject({ method: 'POST', url: '/v1/fit', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toContain('image/jpeg');
    const none = await app.inject({ method: 'POST', url: '/v1/fit' });
    expect(none.statusCode).toBe(415);
    expect((await app.inject({ url: '/v2/nothing' })).statusCode).toBe(404);
    await app.close();
  });

  it('answers 503 with Retry-After past the pool plus its queue, and serves again once fits finish', async () => {
    const pool = new HeldPool();
    const app = buildFitServer({ pool, maxQueue: 1 });
    const post = () => app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: Buffer.from('x') });
    // One fit of 2.5 s, for the Retry-After estimate.
    const first = post();
    await until(() => pool.calls.length === 1);
    pool.calls[0].settle({ ...noFaces, ms: 2500 });
    expect((await first).statusCode).toBe(200);

    const held = [post(), post()]; // one running, one queued
    await until(() => pool.calls.length === 3);
    const refused = await post();
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toContain('busy');
    // Two fits ahead of it on one worker, 2.5 s each: a wait of about 5 s.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(3);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(8);
    for (const call of pool.calls.slice(1)) call.settle(noFaces);
    for (const reply of await Promise.all(held)) expect(reply.statusCode).toBe(200);
    const again = post();
    await until(() => pool.calls.length === 4);
    pool.calls[3].settle(noFaces);
    expect((await again).statusCode).toBe(200);
    await app.close();
    expect(pool.closed).toBe(true);
  });

  it('answers 422 for bad input, 504 for a fit past its time, 500 for a crashed worker, and goes on', async () => {
    const pool = new HeldPool();
    const app = buildFitServer({ pool, timeoutMs: 5000 });
    const post = () => app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: Buffer.from('x') });
    const cases: [Error, number, string][] = [
      [new InputError('upload', 'no face found'), 422, 'upload: no face found'],
      [new TaskTimeoutError('stopped after 5 s'), 504, 'longer than 5 s'],
      [new WorkerStoppedError('the worker crashed: out of memory'), 500, 'out of memory'],
    ];
    for (const [i, [error, status, message]] of cases.entries()) {
      const reply = post();
      await until(() => pool.calls.length === i + 1);
      pool.calls[i].settle(error);
      expect((await reply).statusCode).toBe(status);
      expect((await reply).json().error).toContain(message);
    }
    const health = await app.inject({ url: '/healthz' });
    expect(health.json()).toMatchObject({ ok: true, fitted: 0, failed: 2 });
    await app.close();
  });

  it('answers /healthz with 503 until the pool has started', async () => {
    let start!: (pool: HeldPool) => void;
    const app = buildFitServer({ pool: new Promise<HeldPool>((resolve) => (start = resolve)) });
    const waiting = await app.inject({ url: '/healthz' });
    expect(waiting.statusCode).toBe(503);
    expect(waiting.json().ok).toBe(false);
    const fit = await app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: Buffer.from('x') });
    expect(fit.statusCode).toBe(503);
    expect(fit.headers['retry-after']).toBeDefined();
    start(new HeldPool());
    await new Promise((r) => setTimeout(r, 0));
    const ready = await app.inject({ url: '/healthz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ok: true, workers: 1, running: 0, queued: 0, fitted: 0, failed: 0 });
    await app.close();
  });
});

describe('fit server on a real pool (one worker, --fast)', () => {
  let app: ReturnType<typeof buildFitServer>;
  let pool: PoolModule.PhotoPool;
  let photo: Buffer;
  beforeAll(async () => {
    photo = await sharp(SAMPLE).extract(CROP).resize(CROP_SIDE).jpeg().toBuffer();
    pool = await PhotoPool.start(
      {
        model: defaultModelPath(),
        landmarker: 'net',
        init: 'auto',
        fast: true,
        photometric: false,
        identity: 'landmarks',
        maxFaces: 4,
        minQuality: 0.5,
        outputs: [],
      },
      { jobs: 1 },
    );
    app = buildFitServer({ pool });
  });
  afterAll(() => app?.close());

  it("fits an uploaded photo: the face's box, pose, identity and quality", async () => {
    const reply = await app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: photo });
    expect(reply.statusCode).toBe(200);
    const body = reply.json();
    expect(body.faces).toHaveLength(1);
    expect(body.rejected).toEqual([]);
    const report = body.faces[0].report;
    expect(report.image).toMatchObject({ file: 'upload', width: CROP_SIDE, height: CROP_SIDE });
    // The face found in the full photo, moved and scaled into the crop: its centre (the box varies with the
    // detector's scale by a few pixels) and size.
    const s = CROP_SIDE / CROP.width;
    const box = report.face.box;
    expect(Math.abs(box.x + box.width / 2 - (395 + 114 - CROP.left) * s)).toBeLessThan(20);
    expect(Math.abs(box.y + box.height / 2 - (400 + 113 - CROP.top) * s)).toBeLessThan(20);
    expect(box.width / (228 * s)).toBeGreaterThan(0.7);
    expect(box.width / (228 * s)).toBeLessThan(1.4);
    expect(report.landmarks.input).toHaveLength(68);
    expect(report.landmarks.fitted).toHaveLength(68);
    for (const [x, y] of report.landmarks.input) {
      expect(x).toBeGreaterThan(box.x - 10);
      expect(x).toBeLessThan(box.x + box.width + 10);
      expect(y).toBeGreaterThan(box.y - 20);
      expect(y).toBeLessThan(box.y + box.height + 10);
    }
    for (const angle of [report.pose.yaw, report.pose.pitch, report.pose.roll])
      expect(Math.abs(angle)).toBeLessThan(45);
    expect(report.identity).toHaveLength(100);
    expect(Object.keys(report.expression)).toHaveLength(53);
    expect(report.quality.score).toBeGreaterThanOrEqual(0.5);
    expect(body.faces[0].glb).toBeUndefined();
    expect(body.ms).toBeGreaterThan(0);
  });

  it('adds the GLB with ?glb=1, and answers the GLB itself for Accept: model/gltf-binary', async () => {
    const reply = await app.inject({ method: 'POST', url: '/v1/fit?glb=1', headers: jpeg, payload: photo });
    expect(reply.statusCode).toBe(200);
    const glb = Buffer.from(reply.json().faces[0].glb, 'base64');
    expect(glb.subarray(0, 4).toString('latin1')).toBe('glTF');
    expect(glb.readUInt32LE(8)).toBe(glb.length); // the header's total length
    const binary = await app.inject({
      method: 'POST',
      url: '/v1/fit',
      headers: { ...jpeg, accept: 'model/gltf-binary' },
      payload: photo,
    });
    expect(binary.statusCode).toBe(200);
    expect(binary.headers['content-type']).toBe('model/gltf-binary');
    expect(binary.rawPayload.subarray(0, 4).toString('latin1')).toBe('glTF');
  });

  it('answers 504 for a fit past the time limit, replaces its worker, and fits the next photo', async () => {
    // A second server on the same pool, with a time limit no fit meets; closing it leaves the pool running.
    const hurried = buildFitServer({
      pool: {
        size: pool.size,
        running: 0,
        queued: 0,
        run: (job, options) => pool.run(job, options),
        close: async () => {},
      },
      timeoutMs: 1,
    });
    const late = await hurried.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: photo });
    expect(late.statusCode).toBe(504);
    expect(late.json().error).toContain('was stopped');
    await hurried.close();
    const next = await app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: photo });
    expect(next.statusCode).toBe(200);
    expect(next.json().faces).toHaveLength(1);
  });

  it('answers 422 with the reason for bytes that are not an image', async () => {
    const reply = await app.inject({ method: 'POST', url: '/v1/fit', headers: jpeg, payload: Buffer.from('no jpeg') });
    expect(reply.statusCode).toBe(422);
    expect(reply.json().error).toBe('upload: not an image (or an unsupported format)');
    const health = await app.inject({ url: '/healthz' });
    expect(health.json()).toMatchObject({ ok: true, workers: 1, running: 0, queued: 0 });
  });
});

describe('morphable serve', () => {
  let child: ChildProcess | undefined;
  let blocker: Server | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    blocker?.close();
  });

  it('prints its URL, answers /healthz and exits 0 on SIGTERM', async () => {
    child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--jobs', '1', '--fast'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    await until(() => /listening on http:\/\/\S+\n/.test(stdout) || child!.exitCode !== null, 90_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout)?.[1];
    expect(url, stderr).toBeDefined();
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, workers: 1 });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('explains every limit in --help and names the option in a bad value', async () => {
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const part of ['413', '415', '422', '503', 'Retry-After', '504', '500', '--max-upload', '--max-queue'])
      expect(text).toContain(part);
    expect(text).not.toMatch(/\["|\(\(|\)\)/);
    const cases: [string[], string][] = [
      [['--port', '70000'], '--port: 70000 is not a port number (0-65535)'],
      [['--max-queue', '-1'], '--max-queue: -1 is negative'],
      [['--max-upload', '0'], '--max-upload: 0 is not a positive number'],
      [['--timeout', 'x'], '--timeout: x is not a positive number'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['serve', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toBe(`morphable: ${message}\n`);
    }
  });

  it('refuses a port in use with one line, exit 2', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const result = await runCli(['serve', '--port', String(port), '--jobs', '1', '--fast']);
    expectOneLineError(result, `--port ${port}`, 'already in use');
  });
});

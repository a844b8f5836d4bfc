/**
 * The Redis queue end to end: `queue submit`, `worker` processes (the built CLI), `queue status`, against a
 * real redis-server: MORPHABLE_TEST_REDIS (set by .ci/run), else one started here on a free loopback port.
 * Every test has its own queue name. Without redis-server the file is skipped with a warning, unless CI is
 * set (then it fails).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FitQueue } from '../src/service/fit-queue.js';
import { Redis } from 'ioredis';
import { expectOneLineError, runCli } from './helpers/cli.js';

const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../node_modules/@vladmandic/face-api/demo/', import.meta.url));
const REDIS_SERVER = '/usr/bin/redis-server';
const external = process.env.MORPHABLE_TEST_REDIS;
const canRun = Boolean(external) || existsSync(REDIS_SERVER);
if (!canRun && !process.env.CI) {
  console.warn(
    `fit-queue.test.ts skipped: ${REDIS_SERVER} is missing and MORPHABLE_TEST_REDIS is unset `
      + '(apt-get install redis-server; with CI set this fails instead)',
  );
}

const work = mkdtempSync(join(tmpdir(), 'morphable-queue-'));
let url = external ?? '';
let server: ChildProcess | undefined;
const queues: FitQueue[] = [];
const workers = new Set<ChildProcess>();

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function open(queue: string): Promise<FitQueue> {
  const q = await FitQueue.open(url, queue);
  queues.push(q);
  return q;
}

/** `morphable worker` as a child process; `exit` resolves with its exit code (null when killed). */
function startWorker(queue: string, out: string, ...args: string[]) {
  const child = spawn(
    process.execPath,
    [MAIN, 'worker', '--redis', url, '--queue', queue, '--out', out, '--jobs', '1', '--outputs', 'json', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  workers.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdout!.resume();
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      workers.delete(child);
      resolve(code);
    }),
  );
  return { child, exit, stderr: () => stderr };
}

interface Line {
  photo: string;
  name: string;
  status: string;
  face?: number;
  files?: string[];
  retry?: boolean;
}

function resultLines(out: string): Line[] {
  return readFileSync(join(out, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** A folder with the demo photos `samples` (as NAME.jpg) and `extra` files. */
function photoFolder(name: string, samples: Record<string, number>, extra: Record<string, string> = {}): string {
  const folder = join(work, name);
  mkdirSync(folder, { recursive: true });
  for (const [file, n] of Object.entries(samples)) copyFileSync(`${DEMO}sample${n}.jpg`, join(folder, `${file}.jpg`));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(folder, file), text);
  return folder;
}

describe.skipIf(!canRun && !process.env.CI)('the Redis queue (queue submit, worker, queue status)', () => {
  beforeAll(async () => {
    if (!canRun) throw new Error(`${REDIS_SERVER} is missing: install Debian's redis-server, as .ci/run does`);
    if (!external) {
      const port = await freePort();
      server = spawn(
        REDIS_SERVER,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      url = `redis://127.0.0.1:${port}`;
    }
    await waitFor('redis-server', async () => {
      const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await client.connect();
        return true;
      } catch {
        return undefined;
      } finally {
        client.disconnect();
      }
    });
  });

  afterAll(async () => {
    for (const child of workers) child.kill('SIGKILL');
    for (const q of queues) await q.close();
    server?.kill();
    rmSync(work, { recursive: true, force: true });
  });

  const unique = (name: string) => `test-${name}-${process.pid}-${Date.now()}`;

  it('submits one job per distinct photo, fits them in a worker, and fails a poison image after one try', async () => {
    const queue = unique('fit');
    const input = photoFolder('in1', { a: 1, b: 2, copy: 1 }, { 'poison.jpg': 'not an image\n' });
    const submitted = await runCli(['queue', 'submit', input, '--redis', url, '--queue', queue]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout).toContain('3 photo(s) added');
    expect(submitted.stdout).toContain('1 already queued');
    const again = await runCli(['queue', 'submit', join(input, 'b.jpg'), '--redis', url, '--queue', queue]);
    expect(again.stdout).toContain('0 photo(s) added');

    const out = join(work, 'out1');
    // A 2 s lock: a job running longer (the first fit in a thread, sample1's three faces) lives on renewals.
    const worker = startWorker(queue, out, '--fast', '--lock-seconds', '2');
    const q = await open(queue);
    await waitFor('every job to finish', async () => {
      const { counts } = await q.status();
      return counts.completed + counts.failed === 3 ? true : undefined;
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exit, worker.stderr()).toBe(0);

    const status = await runCli(['queue', 'status', '--redis', url, '--queue', queue, '--json']);
    const { counts, failed } = JSON.parse(status.stdout);
    expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 2, failed: 1 });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ name: 'poison', attempts: 1 });
    expect(failed[0].error).toContain('not an image');
    const text = await runCli(['queue', 'status', '--redis', url, '--queue', queue]);
    expect(text.stdout).toContain('2 completed, 1 failed');
    expect(text.stdout).toMatch(/failed after 1 attempt\(s\): poison: not an image/);

    // The first of a and copy (same bytes) in sorted order is the one queued.
    const lines = resultLines(out);
    expect(new Set(lines.map((l) => l.name))).toEqual(new Set(['a', 'b', 'poison']));
    expect(lines.filter((l) => l.name === 'poison')).toEqual([
      expect.objectContaining({ status: 'failed', retry: false }),
    ]);
    const fitted = lines.filter((l) => l.status === 'fitted');
    expect(fitted.length).toBeGreaterThanOrEqual(2);
    for (const line of fitted) for (const file of line.files!) expect(existsSync(file), file).toBe(true);
    expect(readdirSync(out).filter((f) => f.startsWith('poison'))).toEqual([]);
    // Each face once (no job ran twice), each line naming the file submitted; no job ever stalled.
    const faces = fitted.map((l) => `${l.name}/${l.face}`);
    expect(new Set(faces).size).toBe(faces.length);
    expect(lines.find((l) => l.name === 'b')!.photo).toBe(join(input, 'b.jpg'));
    for (const job of await q.queue.getCompleted()) expect(job.stalledCounter).toBe(0);
  });

  it('loses no job when a worker is killed in the middle of one: another worker completes it', async () => {
    const queue = unique('kill');
    const input = photoFolder('in2', { x: 1, y: 2 });
    expect((await runCli(['queue', 'submit', input, '--redis', url, '--queue', queue])).code).toBe(0);
    const q = await open(queue);
    const out = join(work, 'out2');

    // The first worker runs the photometric stage (seconds per photo): it is killed while a job is active.
    const first = startWorker(queue, out, '--lock-seconds', '2');
    const active = await waitFor('a job to start', async () => (await q.queue.getActive())[0]);
    first.child.kill('SIGKILL');
    expect(await first.exit).toBe(null);
    expect((await q.status()).counts.completed).toBe(0);
    expect(existsSync(join(out, `${active.data.name}.json`))).toBe(false);

    const second = startWorker(queue, out, '--fast', '--lock-seconds', '2');
    await waitFor('both jobs to complete', async () => ((await q.status()).counts.completed === 2 ? true : undefined));
    second.child.kill('SIGTERM');
    expect(await second.exit, second.stderr()).toBe(0);

    const { counts } = await q.status();
    expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 2, failed: 0 });
    const killed = await q.queue.getJob(active.id!);
    expect(killed!.stalledCounter).toBe(1);
    const lines = resultLines(out);
    expect(new Set(lines.map((l) => l.name))).toEqual(new Set(['x', 'y']));
    for (const line of lines) for (const file of line.files!) expect(existsSync(file), file).toBe(true);
  });

  it('says in one line when Redis cannot be reached, and exits 2', async () => {
    const port = await freePort();
    const dead = `redis://127.0.0.1:${port}`;
    expectOneLineError(await runCli(['queue', 'status', '--redis', dead]), `cannot reach Redis at ${dead}`);
    // The password never shows.
    const secret = `redis://:hush@127.0.0.1:${port}`;
    const worker = await runCli(['worker', '--redis', secret, '--out', join(work, 'out3')]);
    expectOneLineError(worker, `cannot reach Redis at redis://:***@127.0.0.1:${port}`);
    expect(worker.stderr).not.toContain('hush');
  });
});

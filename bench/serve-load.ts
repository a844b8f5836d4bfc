/**
 * Load test of `morphable serve` on loopback (issue 17): the Fastify server in this process around a photo
 * pool at the cores, `--fast` fits of one small face photo (a crop of face-api's demo sample1.jpg, made at
 * run time) posted by autocannon: a bounded run at the concurrency the pool takes (latency p50/p95/p99,
 * requests/s), then a short burst above the pool plus its queue (how many 503s), with the process's RSS
 * and heap sampled throughout. Bounded by a count and a time. Also alone, after `npx tsc -p tsconfig.json`:
 * `node dist/bench/serve-load.js [--requests N] [--seconds S] [--connections C] [--jobs N]`, which prints
 * its section and puts it into bench/RESULTS.md in place of the last run's.
 */
import autocannon from 'autocannon';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { MIN_QUALITY } from '../src/fit/fit-quality.js';
import { defaultModelPath } from '../src/io/node/model-paths.js';
import { buildFitServer } from '../src/service/fit-server.js';
import { PhotoPool } from '../src/service/photo-pool.js';
import { writeResultsSection } from './results-file.js';

export const SERVE_LOAD_HEADING = '## HTTP service load test (morphable serve)';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE = `${root}node_modules/@vladmandic/face-api/demo/sample1.jpg`;

export interface ServeLoadOptions {
  /** Requests of the main run (default 3000), stopped after `seconds` (default 120) if not done. */
  requests?: number;
  seconds?: number;
  /** Connections of the main run (default: the pool's size, so that nothing waits in the queue). */
  connections?: number;
  /** Pool size (default: the cores). */
  jobs?: number;
  log?: (line: string) => void;
}

interface Sample {
  s: number;
  rssMB: number;
  heapMB: number;
}

interface Run {
  ms: number;
  statuses: Map<number, number>;
  /** Latencies (ms) of the 200s. */
  latencies: number[];
}

/** Posts `body` with `connections` at once until `amount` answers or `seconds` pass. */
function load(url: string, body: Buffer, connections: number, amount: number, seconds: number): Promise<Run> {
  const statuses = new Map<number, number>();
  const latencies: number[] = [];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body,
        connections,
        amount,
        timeout: 120,
      },
      (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve({ ms: performance.now() - start, statuses, latencies });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
      if (statusCode === 200) latencies.push(responseTime);
    });
    const timer = setTimeout(() => instance.stop(), seconds * 1000);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function memory(t0: number): Sample {
  const m = process.memoryUsage();
  return { s: (performance.now() - t0) / 1000, rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20 };
}

export async function serveLoadBench(options: ServeLoadOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  if (!existsSync(SAMPLE)) return `(skipped: ${SAMPLE} is missing)\n`;
  const requests = options.requests ?? 3000;
  const seconds = options.seconds ?? 120;
  const jobs = options.jobs ?? availableParallelism();
  const loadBefore = loadavg()[0];
  // sample1.jpg's left face, about 230 px wide in the 1920×1280 photo, cropped with a margin to 320×320.
  const photo = await sharp(SAMPLE)
    .extract({ left: 300, top: 300, width: 420, height: 420 })
    .resize(320)
    .jpeg({ quality: 90 })
    .toBuffer();
  const pool = await PhotoPool.start(
    {
      model: defaultModelPath(),
      landmarker: 'net',
      init: 'auto',
      fast: true,
      photometric: false,
      identity: 'landmarks',
      maxFaces: 10,
      minQuality: MIN_QUALITY,
      outputs: [],
    },
    { jobs },
  );
  const maxQueue = pool.size;
  const app = buildFitServer({ pool, maxQueue });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/fit`;
    const connections = options.connections ?? pool.size;
    log(`pool of ${pool.size}, queue ${maxQueue}; ${photo.length} byte JPEG; warm-up`);
    await load(url, photo, pool.size, 4 * pool.size, 60);

    const t0 = performance.now();
    const samples: Sample[] = [memory(t0)];
    const sampler = setInterval(() => samples.push(memory(t0)), 500);
    log(`${requests} requests (at most ${seconds} s), ${connections} connections`);
    const run = await load(url, photo, connections, requests, seconds);
    const afterRun = memory(t0);
    const burstConnections = 4 * (pool.size + maxQueue);
    log(`burst: ${burstConnections} connections, ${4 * burstConnections} requests`);
    const burst = await load(url, photo, burstConnections, 4 * burstConnections, 30);
    clearInterval(sampler);
    const end = memory(t0);
    const loadAfter = loadavg()[0];

    const sorted = run.latencies.slice().sort((a, b) => a - b);
    const answered = [...run.statuses.values()].reduce((a, b) => a + b, 0);
    const ok = run.statuses.get(200) ?? 0;
    const others = [...run.statuses].filter(([code]) => code !== 200).map(([code, n]) => `${n}× ${code}`);
    const middle = samples.reduce((best, s) =>
      Math.abs(s.s - afterRun.s / 2) < Math.abs(best.s - afterRun.s / 2) ? s : best,
    );
    const peak = Math.max(...samples.map((s) => s.rssMB));
    const burstCounts = [...burst.statuses].sort((a, b) => a[0] - b[0]).map(([code, n]) => `${n}× ${code}`);
    const mb = (v: number) => v.toFixed(0);
    const ms = (v: number) => v.toFixed(0);
    const lines = [
      `Loopback, the server in the bench's process (Fastify, a pool of ${pool.size} worker threads, queue `
        + `${maxQueue}), \`--fast\` fits of one ${photo.length}-byte 320×320 JPEG (a crop of face-api's `
        + `demo/sample1.jpg) posted by autocannon; load average ${loadBefore.toFixed(2)} before, `
        + `${loadAfter.toFixed(2)} after.`,
      '',
      '| run | connections | answers | time | requests/s | p50 | p95 | p99 |',
      '|---|---|---|---|---|---|---|---|',
      `| main | ${connections} | ${ok} × 200${others.length ? `, ${others.join(', ')}` : ''} of ${answered} `
        + `(cap ${requests} or ${seconds} s) | ${(run.ms / 1000).toFixed(1)} s | ${((1000 * ok) / run.ms).toFixed(2)} `
        + `| ${ms(percentile(sorted, 50))} ms | ${ms(percentile(sorted, 95))} ms | ${ms(percentile(sorted, 99))} ms |`,
      `| burst | ${burstConnections} | ${burstCounts.join(', ')} | ${(burst.ms / 1000).toFixed(1)} s | | | | |`,
      '',
      "Memory of the process (server, workers and autocannon together; the heap is the main thread's):",
      '',
      '| when | RSS | heap used |',
      '|---|---|---|',
      `| start of the main run (after warm-up) | ${mb(samples[0].rssMB)} MB | ${mb(samples[0].heapMB)} MB |`,
      `| middle (${middle.s.toFixed(0)} s) | ${mb(middle.rssMB)} MB | ${mb(middle.heapMB)} MB |`,
      `| end of the main run (${afterRun.s.toFixed(0)} s) | ${mb(afterRun.rssMB)} MB | ${mb(afterRun.heapMB)} MB |`,
      `| after the burst | ${mb(end.rssMB)} MB | ${mb(end.heapMB)} MB |`,
      '',
      `Peak RSS sampled during the runs: ${mb(peak)} MB.`,
      '',
    ];
    for (const line of lines) log(line);
    return lines.join('\n');
  } finally {
    await app.close();
  }
}

if (process.argv[1]?.endsWith('serve-load.ts') || process.argv[1]?.endsWith('serve-load.js')) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const section = await serveLoadBench({
    requests: option('--requests'),
    seconds: option('--seconds'),
    connections: option('--connections'),
    jobs: option('--jobs'),
    log: (line) => console.log(line),
  });
  writeResultsSection(SERVE_LOAD_HEADING, section);
  console.log('wrote bench/RESULTS.md');
}

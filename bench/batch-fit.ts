/**
 * `morphable fit DIR --jobs N`: photos per second against N, with and without the photometric stage, side by
 * side in one run, through the CLI as a user runs it (worker start-up, decoding, writing JSON included).
 * Alone: `node dist/bench/batch-fit.js [--folder DIR] [--jobs 1,2]` (after `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TIME = '/usr/bin/time';

export interface BatchRun {
  photometric: boolean;
  jobs: number;
  seconds: number;
  photos: number;
  faces: number;
  /** Peak resident memory of the whole process (workers included), MB; undefined without /usr/bin/time. */
  peakMb?: number;
}

/** Fits every photo of `folder` once per (stage, jobs), JSON outputs only, and times each run. */
export function batchRuns(folder: string, jobsList: number[], log: (line: string) => void): BatchRun[] {
  const runs: BatchRun[] = [];
  for (const photometric of [false, true]) {
    for (const jobs of jobsList) {
      const out = mkdtempSync(join(tmpdir(), 'morphable-batch-bench-'));
      try {
        const args = [MAIN, 'fit', folder, '--out', out, '--jobs', String(jobs), '--outputs', 'json'];
        if (!photometric) args.push('--no-photometric');
        const timed = existsSync(TIME);
        const start = performance.now();
        const child = timed
          ? spawnSync(TIME, ['-f', 'peak-kb %M', process.execPath, ...args], { encoding: 'utf8' })
          : spawnSync(process.execPath, args, { encoding: 'utf8' });
        const seconds = (performance.now() - start) / 1000;
        if (child.status !== 0 && child.status !== 2) throw new Error(`fit failed: ${child.stderr}`);
        const lines = readFileSync(join(out, 'results.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const photos = new Set(lines.map((l: { name: string }) => l.name)).size;
        const faces = lines.filter((l: { status: string }) => l.status === 'fitted').length;
        const peak = /peak-kb (\d+)/.exec(child.stderr ?? '');
        const run = { photometric, jobs, seconds, photos, faces, peakMb: peak ? Number(peak[1]) / 1024 : undefined };
        runs.push(run);
        log(
          `${stageName(photometric)}, --jobs ${jobs}: ${photos} photos in ${seconds.toFixed(1)} s `
            + `(${(photos / seconds).toFixed(2)} photos/s, ${faces} faces)`,
        );
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
  }
  return runs;
}

const stageName = (photometric: boolean) => (photometric ? 'landmarks + photometric' : 'landmarks only');

/** The runs as a Markdown table, speed-up against --jobs 1 of the same stage. */
export function batchTable(runs: BatchRun[]): string {
  const rows = [
    '| stages | --jobs | photos | faces | wall | photos/s | speed-up | peak memory |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const run of runs) {
    const base = runs.find((r) => r.photometric === run.photometric && r.jobs === 1);
    const rate = run.photos / run.seconds;
    const speedUp = base ? rate / (base.photos / base.seconds) : Number.NaN;
    rows.push(
      `| ${stageName(run.photometric)} | ${run.jobs} | ${run.photos} | ${run.faces} | ${run.seconds.toFixed(1)} s | `
        + `${rate.toFixed(2)} | ${Number.isNaN(speedUp) ? '–' : `${speedUp.toFixed(2)}×`} | `
        + `${run.peakMb ? `${run.peakMb.toFixed(0)} MB` : '–'} |`,
    );
  }
  return rows.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const folder = arg('--folder') ?? fileURLToPath(new URL('../../../shared/data/faces-68', import.meta.url));
  const jobs = (arg('--jobs') ?? '1,2').split(',').map(Number);
  console.log(`${cpus().length} × ${cpus()[0].model}, load ${loadavg()[0].toFixed(2)}, node ${process.version}`);
  console.log(batchTable(batchRuns(folder, jobs, console.log)));
}

import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const DEMO = fileURLToPath(new URL('../node_modules/@vladmandic/face-api/demo/', import.meta.url));
const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'morphable-batch-'));
const input = join(work, 'in');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Line {
  name: string;
  photo: string;
  status: 'fitted' | 'rejected' | 'failed';
  face?: number;
  files?: string[];
  retry?: boolean;
  error?: string;
  fit?: { pose: { yaw: number; pitch: number; roll: number } };
}

const readLog = (out: string): Line[] =>
  readFileSync(join(out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Line);

/** Every file under `folder`, relative, sorted. */
function tree(folder: string, prefix = ''): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(join(folder, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

const FIT = ['--no-photometric', '--outputs', 'json,glb'];
const PHOTOS = ['a/s1', 'a/s2', 'b/s1', 'c/s4', 's5'];

describe('morphable fit DIR: folders, worker pool, results.jsonl, resume', () => {
  beforeAll(async () => {
    // Two photos named s1 in different subfolders: their outputs must not collide. Shrunk to 480 px: the
    // batch machinery is under test here, not the detector on large photos.
    for (const [from, to] of [
      ['sample1.jpg', 'a/s1.jpg'],
      ['sample2.jpg', 'a/s2.jpg'],
      ['sample3.jpg', 'b/s1.jpg'],
      ['sample4.jpg', 'c/s4.JPG'],
      ['sample5.jpg', 's5.jpeg'],
    ]) {
      mkdirSync(join(input, to, '..'), { recursive: true });
      await sharp(join(DEMO, from)).resize(480, 480, { fit: 'inside' }).jpeg().toFile(join(input, to));
    }
    writeFileSync(join(input, 'broken.jpg'), 'not a photo');
    writeFileSync(join(input, 'notes.txt'), 'not a photo, and not named like one: skipped');
    copyFileSync(join(DEMO, 'sample1.jpg'), join(input, '.hidden.jpg'));
  });

  it('fits a folder on 2 workers: outputs by relative path, one line per face, bad photos logged', async () => {
    const out = join(work, 'out-jobs2');
    const result = await runCli(['fit', input, '--out', out, '--jobs', '2', ...FIT]);
    expect(result.code, result.stderr).toBe(2); // broken.jpg
    expect(result.stderr).toContain('broken.jpg: not an image');
    const lines = readLog(out);
    const failed = lines.filter((l) => l.status === 'failed');
    expect(failed).toEqual([
      expect.objectContaining({ name: 'broken', retry: false, error: expect.stringContaining('not an image') }),
    ]);
    const fitted = lines.filter((l) => l.status === 'fitted');
    expect(new Set(fitted.map((l) => l.name))).toEqual(new Set(PHOTOS));
    // Only JSON and GLB, under each photo's relative path (NAME or NAME_faceK), nothing half-written.
    const files = tree(out).filter((f) => f !== 'results.jsonl');
    expect(files.every((f) => /\.(json|glb)$/.test(f) && !f.split('/').pop()!.startsWith('.'))).toBe(true);
    const logged = fitted.flatMap((line) => {
      const relative = line.files!.map((f) => f.slice(out.length + 1));
      for (const f of relative) expect(f).toMatch(new RegExp(`^${line.name}(_face${line.face! + 1})?\\.(json|glb)$`));
      return relative;
    });
    expect(logged.sort()).toEqual(files);
    expect(files.length).toBe(2 * fitted.length);
  });

  it('resumes after a kill without redoing finished photos, with the same fits', async () => {
    const out = join(work, 'out-resume');
    const child: ChildProcess = spawn(process.execPath, [MAIN, 'fit', input, '--out', out, '--jobs', '1', ...FIT], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const log = join(out, 'results.jsonl');
    // Kill it as soon as the first photo is logged.
    while (!(existsSync(log) && readFileSync(log, 'utf8').length > 0)) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const before = readLog(out);
    const doneBefore = new Set(before.map((l) => l.name));
    expect(doneBefore.size).toBeGreaterThan(0);
    expect(doneBefore.size).toBeLessThan(PHOTOS.length + 1);
    const stamps = new Map(before.flatMap((l) => l.files ?? []).map((f) => [f, statSync(f).mtimeMs] as const));

    const resumed = await runCli(['fit', input, '--out', out, '--jobs', '2', '--resume', ...FIT]);
    expect(resumed.code, resumed.stderr).toBe(doneBefore.has('broken') ? 0 : 2);
    expect(resumed.stderr).toContain(`${doneBefore.size} photo(s) already done`);
    const lines = readLog(out);
    // Each photo's lines once: nothing finished before the kill was fitted again.
    const perName = new Map<string, number>();
    for (const l of lines)
      perName.set(`${l.name}#${l.face ?? 'photo'}`, (perName.get(`${l.name}#${l.face ?? 'photo'}`) ?? 0) + 1);
    expect([...perName.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(lines.map((l) => l.name))).toEqual(new Set([...PHOTOS, 'broken']));
    for (const [file, mtime] of stamps) expect(statSync(file).mtimeMs).toBe(mtime);
    expect(tree(out).some((f) => f.split('/').pop()!.startsWith('.'))).toBe(false);

    // One thread then two give the same fits as two from the start (the fit does not depend on the pool).
    const pose = (l: Line) => [l.fit!.pose.yaw, l.fit!.pose.pitch, l.fit!.pose.roll];
    const key = (l: Line) => `${l.name}#${l.face}`;
    const other = new Map(
      readLog(join(work, 'out-jobs2'))
        .filter((l) => l.fit)
        .map((l) => [key(l), pose(l)]),
    );
    const fitted = lines.filter((l) => l.fit);
    expect(fitted.length).toBe(other.size);
    for (const l of fitted) expect(pose(l)).toEqual(other.get(key(l)));
  });

  it('refuses a folder without photos and unknown --outputs in one line', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const r1 = await runCli(['fit', empty, '--out', join(work, 'o3')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim()).toBe(
      `morphable: ${empty}: no photos in this folder (.jpg .jpeg .jpe .png .webp .tif .tiff .gif .avif)`,
    );
    const r2 = await runCli(['fit', input, '--out', join(work, 'o3'), '--outputs', 'json,mesh']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('--outputs: unknown: mesh');
    expect(existsSync(join(work, 'o3'))).toBe(false);
  });
});

/**
 * vitest global setup: builds dist/ (as `npm run build` does) before any test runs, because the CLI
 * tests run dist/src/cli/main.js. Skipped when the last build here started after every input last
 * changed; a lock directory keeps two suites started together from building at the same time.
 * Then starts importing ICT-FaceKit from ../shared in the background, once for the files that need it
 * (helpers/ict-fixture.ts).
 */
import { type ChildProcess, execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type {} from './helpers/ict-fixture.js'; // its ProvidedContext entry
import { ICT_ARCHIVE, hasShared } from './helpers/shared.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');
/** Written after a successful build, its mtime set to when the build started. */
const STAMP = join(DIST, '.build-stamp');
const LOCK = join(DIST, '.build-lock');
const CLI = join(DIST, 'src/cli/main.js');
/** helpers/ict-fixture.ts's model: kept between runs while newer than the build and the archive. */
const ICT_FIXTURE = join(DIST, 'test-fixtures/ict-facekit.glb');
/** A lock older than this is from a build that died: tsc takes seconds to a minute here. */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * Newest mtime (ms) of tsconfig.json, package.json and every file under src/, bench/ and test/helpers/
 * (the bench imports some).
 */
function newestInput(): number {
  let newest = Math.max(statSync(join(ROOT, 'tsconfig.json')).mtimeMs, statSync(join(ROOT, 'package.json')).mtimeMs);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  walk(join(ROOT, 'bench'));
  walk(join(ROOT, 'test/helpers'));
  return newest;
}

const upToDate = () => existsSync(STAMP) && existsSync(CLI) && statSync(STAMP).mtimeMs > newestInput();

function tsc(): Promise<void> {
  const bin = join(ROOT, 'node_modules/typescript/bin/tsc');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, '-p', join(ROOT, 'tsconfig.json')],
      { cwd: ROOT, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the build before the tests failed (tsc -p tsconfig.json):\n${stdout}${stderr}`));
        else resolve();
      },
    );
  });
}

/** Takes the lock (mkdir is atomic); false while another live build holds it. */
function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
    writeFileSync(join(LOCK, 'pid'), String(process.pid));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    let holder = 0;
    try {
      holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    } catch {
      /* being created or removed */
    }
    let alive = true;
    if (holder > 0) {
      try {
        process.kill(holder, 0);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    let age = 0;
    try {
      age = Date.now() - statSync(LOCK).mtimeMs;
    } catch {
      return false;
    }
    if (!alive || age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  await build();
  return startIctImport(project);
}

/**
 * `morphable model import ICT_ARCHIVE --no-calibrate` to ICT_FIXTURE, in a child process that the first test
 * files do not wait for: importing the 100-MB archive takes 12 s, and several files need the model. Done
 * again when the build or the archive is newer than the file. The file is written atomically; a failed
 * import leaves `<file>.failed` with its stderr. The returned teardown stops an import still running.
 */
function startIctImport(project: TestProject): () => void {
  project.provide('ictModelFile', hasShared ? ICT_FIXTURE : '');
  if (!hasShared) return () => {};
  const failed = `${ICT_FIXTURE}.failed`;
  rmSync(failed, { force: true });
  const fresh = (input: string) => statSync(ICT_FIXTURE).mtimeMs > statSync(input).mtimeMs;
  if (existsSync(ICT_FIXTURE) && fresh(STAMP) && fresh(ICT_ARCHIVE)) return () => {};
  rmSync(ICT_FIXTURE, { force: true });
  const child: ChildProcess = execFile(
    process.execPath,
    [CLI, 'model', 'import', ICT_ARCHIVE, '--no-calibrate', '-o', ICT_FIXTURE],
    { maxBuffer: 64 << 20 },
    (error, _stdout, stderr) => {
      if (error && !child.killed) writeFileSync(failed, `model import ${ICT_ARCHIVE} failed: ${stderr}`);
    },
  );
  return () => {
    child.kill();
  };
}

async function build(): Promise<void> {
  if (upToDate()) return;
  mkdirSync(DIST, { recursive: true });
  let waiting = false;
  while (!tryLock()) {
    if (!waiting) console.log('global setup: waiting for another test run to finish building dist/');
    waiting = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (upToDate()) return; // the other suite built it
  }
  try {
    if (upToDate()) return;
    const start = new Date();
    rmSync(STAMP, { force: true }); // a failed build leaves no stamp behind
    console.log('global setup: building dist/ (tsc -p tsconfig.json), the CLI tests run it');
    await tsc();
    chmodSync(CLI, 0o755);
    writeFileSync(STAMP, `${start.toISOString()}\n`);
    utimesSync(STAMP, start, start);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

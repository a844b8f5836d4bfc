import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readlink, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { readArchive, type ArchiveEntry } from '../src/io/node/archive.js';

const ICT = fileURLToPath(new URL('../../shared/models/ict-facekit.tar.xz', import.meta.url));
const hasXz = (() => {
  try {
    execFileSync('xz', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const big = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
const longName = `model/${'deep/'.repeat(30)}long.txt`;

async function makeTar(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'model/', type: 'directory' });
  pack.entry({ name: 'model/a.json' }, '{"x": 1}');
  pack.entry({ name: 'model/big.bin' }, big);
  pack.entry({ name: 'model/link', type: 'symlink', linkname: 'a.json' });
  pack.entry({ name: './model/empty.txt' }, '');
  pack.entry({ name: longName }, 'long');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readAll(file: string, options?: Parameters<typeof readArchive>[1]): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  for await (const entry of readArchive(file, options)) entries.push(entry);
  return entries;
}

/** Fails instead of hanging when `promise` takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function expectInputError(promise: Promise<unknown>, problem: RegExp): Promise<void> {
  const err = await within(promise, 1000).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect((err as InputError).problem).toMatch(problem);
}

/** How many of this process's open files are `file` (Linux only). */
async function openCount(file: string): Promise<number> {
  if (!existsSync('/proc/self/fd')) return 0;
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) count++;
  }
  return count;
}

async function closedSoon(file: string): Promise<number> {
  for (let i = 0; i < 50 && (await openCount(file)) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  return openCount(file);
}

let dir: string;
const files: Record<string, string> = {};
let tarBytes: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'morphable-archive-'));
  tarBytes = await makeTar();
  const formats: Record<string, Buffer> = { tar: tarBytes, 'tar.gz': gzipSync(tarBytes) };
  if (hasXz) formats['tar.xz'] = execFileSync('xz', ['-c', '-T1'], { input: tarBytes });
  for (const [ext, data] of Object.entries(formats)) {
    // Misleading names: the format must come from the content.
    files[ext] = join(dir, `model-${ext.replace(/\./g, '-')}.bin`);
    await writeFile(files[ext], data);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const formats = ['tar', 'tar.gz', 'tar.xz'] as const;

describe.each(formats)('readArchive on a .%s', (format) => {
  const skip = format === 'tar.xz' && !hasXz;

  it.skipIf(skip)('yields the regular files with their contents', async () => {
    const entries = await readAll(files[format]);
    expect(entries.map((e) => e.path)).toEqual(['model/a.json', 'model/big.bin', 'model/empty.txt', longName]);
    expect(JSON.parse(new TextDecoder().decode(entries[0].data))).toEqual({ x: 1 });
    expect(Buffer.from(entries[1].data).equals(big)).toBe(true);
    expect(entries[2].data.length).toBe(0);
    expect(new TextDecoder().decode(entries[3].data)).toBe('long');
  });

  it.skipIf(skip)('applies the include filter and reports progress', async () => {
    const progress: Array<[number, number]> = [];
    const entries = await readAll(files[format], {
      include: (path) => path.endsWith('.json'),
      onBytes: (read, total) => progress.push([read, total]),
    });
    expect(entries.map((e) => e.path)).toEqual(['model/a.json']);
    const [read, total] = progress[progress.length - 1];
    expect(read).toBe(total);
    expect(progress.every(([r], i) => i === 0 || r > progress[i - 1][0])).toBe(true);
  });

  it.skipIf(skip)('rejects a truncated archive at any offset, without hanging', async () => {
    const whole = await import('node:fs/promises').then((fs) => fs.readFile(files[format]));
    const entryEnd = tarBytes.length - 1024; // where the end-of-archive marker starts
    const offsets =
      format === 'tar'
        ? [300, 512, 513, 1024, 1536, 100_000, entryEnd, entryEnd + 512, whole.length - 1]
        : [10, 30, 200, Math.floor(whole.length / 2), whole.length - 8, whole.length - 1];
    for (const offset of offsets) {
      const cut = join(dir, `cut-${offset}`);
      await writeFile(cut, whole.subarray(0, offset));
      await expectInputError(readAll(cut), /^truncated or corrupt archive: /);
    }
  });

  it.skipIf(skip)('closes the file when the consumer stops early', async () => {
    for await (const entry of readArchive(files[format])) {
      expect(entry.path).toBe('model/a.json');
      break;
    }
    expect(await closedSoon(files[format])).toBe(0);
    // Reading again works (the xz decoder is a shared resource that must have been freed).
    expect(await within(readAll(files[format]), 2000)).toHaveLength(4);
  });
});

describe('readArchive errors', () => {
  it('rejects a missing file', async () => {
    await expectInputError(readAll(join(dir, 'nope.tar.xz')), /^no such file$/);
  });

  it('rejects a folder', async () => {
    await expectInputError(readAll(dir), /folder/);
  });

  it('rejects garbage and empty files', async () => {
    const garbage = join(dir, 'garbage.tar.gz');
    await writeFile(
      garbage,
      new Uint8Array(4096).map((_, i) => (i * 31) % 256),
    );
    await expectInputError(readAll(garbage), /^not a tar, tar.gz or tar.xz archive$/);
    const empty = join(dir, 'empty.tar');
    await writeFile(empty, '');
    await expectInputError(readAll(empty), /^not a tar, tar.gz or tar.xz archive$/);
  });

  it('rejects corrupt compressed data and a corrupt tar header', async () => {
    const gz = gzipSync(tarBytes);
    gz.fill(0x55, 100, 200);
    const badGz = join(dir, 'bad.gz');
    await writeFile(badGz, gz);
    await expectInputError(readAll(badGz), /^truncated or corrupt archive: gzip: /);

    const badTar = Buffer.from(tarBytes);
    badTar[1024 + 600] ^= 0xff; // inside the second header, so its checksum fails
    const badTarFile = join(dir, 'bad.tar');
    await writeFile(badTarFile, badTar);
    await expectInputError(readAll(badTarFile), /^truncated or corrupt archive: tar: /);

    if (hasXz) {
      const xz = execFileSync('xz', ['-c', '-T1'], { input: tarBytes });
      xz.fill(0x55, 200, 300);
      const badXz = join(dir, 'bad.xz');
      await writeFile(badXz, xz);
      await expectInputError(readAll(badXz), /^truncated or corrupt archive: xz: /);
    }
  });

  it('passes a throwing callback through unchanged', async () => {
    const bug = new RangeError('bug in include');
    const err = await readAll(files.tar, {
      include: () => {
        throw bug;
      },
    }).catch((e: unknown) => e);
    expect(err).toBe(bug);
  });
});

describe.skipIf(!existsSync(ICT))('readArchive on the real ICT-FaceKit archive', () => {
  it('reads every regular file', async () => {
    const paths: string[] = [];
    let indices: unknown;
    for await (const entry of readArchive(ICT)) {
      paths.push(entry.path);
      if (entry.path === 'FaceXModel/vertex_indices.json') indices = JSON.parse(new TextDecoder().decode(entry.data));
    }
    // 163 entries: the FaceXModel/ folder (skipped), 160 files in it, LICENSE and README.md.
    expect(paths).toHaveLength(162);
    expect(paths.filter((p) => p.startsWith('FaceXModel/'))).toHaveLength(160);
    expect(paths).toContain('LICENSE');
    expect(indices).toBeTypeOf('object');
  });

  it('stops early and skips unwanted entries cheaply', async () => {
    const seen: string[] = [];
    for await (const entry of readArchive(ICT, { include: (p) => p.endsWith('.json') })) {
      seen.push(entry.path);
      break;
    }
    expect(seen).toHaveLength(1);
    expect(await closedSoon(ICT)).toBe(0);
  });
});

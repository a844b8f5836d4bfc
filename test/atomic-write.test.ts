import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { OutputBatch, writeFileAtomic } from '../src/io/node/atomic-write.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'morphable-atomic-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const list = async (folder: string) => (await readdir(folder, { recursive: true })).sort();

describe('writeFileAtomic', () => {
  it('writes and replaces files, leaving no temporaries', async () => {
    const folder = join(dir, 'single');
    await mkdir(folder);
    const file = join(folder, 'model.glb');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(file))]).toEqual([1, 2, 3]);
    await writeFileAtomic(file, 'text');
    expect(await readFile(file, 'utf8')).toBe('text');
    expect(await list(folder)).toEqual(['model.glb']);
  });

  it('reports a missing folder as an InputError', async () => {
    const file = join(dir, 'no', 'such', 'model.glb');
    const err = await writeFileAtomic(file, 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).subject).toBe(file);
    expect((err as InputError).problem).toBe('cannot write: no such folder');
  });

  it('removes its temporary file when the rename fails', async () => {
    const folder = join(dir, 'blocked');
    await mkdir(join(folder, 'model.glb'), { recursive: true }); // a folder where the file should go
    const err = await writeFileAtomic(join(folder, 'model.glb'), 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(await list(folder)).toEqual(['model.glb']);
  });
});

describe('OutputBatch', () => {
  it('puts every output in place on commit, and nothing before', async () => {
    const folder = join(dir, 'batch', 'faces');
    const batch = new OutputBatch();
    await batch.add(join(folder, 'a.obj'), 'a');
    await batch.add(join(folder, 'a.json'), new TextEncoder().encode('{}'));
    await batch.add(join(folder, 'a.obj'), 'a2'); // a later add replaces the earlier one
    expect(existsSync(join(folder, 'a.obj'))).toBe(false);
    await batch.commit();
    expect(await list(folder)).toEqual(['a.json', 'a.obj']);
    expect(await readFile(join(folder, 'a.obj'), 'utf8')).toBe('a2');
  });

  it('leaves nothing behind on abort, not even the folders it made', async () => {
    const existing = join(dir, 'existing');
    await mkdir(existing);
    await writeFile(join(existing, 'keep.txt'), 'keep');
    const batch = new OutputBatch();
    await batch.add(join(existing, 'x.obj'), 'x');
    await batch.add(join(existing, 'new', 'deeper', 'y.obj'), 'y');
    await batch.abort();
    expect(await list(existing)).toEqual(['keep.txt']);
    await batch.abort(); // twice is harmless
    await batch.commit(); // and there is nothing left to commit
    expect(await list(existing)).toEqual(['keep.txt']);
  });

  it('reports an unwritable output as an InputError, and abort still cleans up', async () => {
    const folder = join(dir, 'partial');
    await mkdir(folder);
    await writeFile(join(folder, 'file'), 'not a folder');
    const batch = new OutputBatch();
    await batch.add(join(folder, 'ok.obj'), 'ok');
    const err = await batch.add(join(folder, 'file', 'bad.obj'), 'bad').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    await batch.abort();
    expect(await list(folder)).toEqual(['file']);
  });
});

describe('checkWritableFolder', () => {
  it('accepts a missing folder under a writable one and creates nothing', async () => {
    const { checkWritableFolder } = await import('../src/io/node/atomic-write.js');
    const before = await list(dir);
    await checkWritableFolder(join(dir, 'new', 'deeper'));
    expect(await list(dir)).toEqual(before);
  });

  it('names the subject when a parent is a file', async () => {
    const { checkWritableFolder } = await import('../src/io/node/atomic-write.js');
    const file = join(dir, 'plain-file');
    await writeFile(file, '');
    await expect(checkWritableFolder(join(file, 'out'), '--out x')).rejects.toThrow(
      '--out x: cannot write: a parent is not a folder',
    );
    await expect(checkWritableFolder(file, '--out y')).rejects.toThrow('--out y: cannot write: not a folder');
  });
});

describe('OutputBatch.commit(replaces)', () => {
  it('removes the replaced files the new set does not hold', async () => {
    const folder = join(dir, 'replace');
    await mkdir(folder);
    for (const name of ['x.obj', 'x.mtl', 'x_texture.png', 'y.obj']) await writeFile(join(folder, name), 'old');
    const batch = new OutputBatch();
    await batch.add(join(folder, 'x.obj'), 'new');
    await batch.commit([join(folder, 'x.obj'), join(folder, 'x.mtl'), join(folder, 'x_texture.png')]);
    expect(await list(folder)).toEqual(['x.obj', 'y.obj']);
    expect(await readFile(join(folder, 'x.obj'), 'utf8')).toBe('new');
  });
});

describe('outputNames', () => {
  it('keeps names, numbers clashes in order, and skips names other photos have', async () => {
    const { outputNames } = await import('../src/service/output-files.js');
    expect(outputNames(['x', 'y'])).toEqual(['x', 'y']);
    expect(outputNames(['x', 'x', 'X'])).toEqual(['x', 'x-2', 'X-3']);
    expect(outputNames(['x', 'x', 'x-2'])).toEqual(['x', 'x-3', 'x-2']);
    expect(outputNames(['a/x', 'b/x', 'A/x'])).toEqual(['a/x', 'b/x', 'A/x-2']);
  });
});

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { loadLandmarkDataset, photoFromPath, splitByPhoto } from '../src/learn/landmark-dataset.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'morphable-dataset-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A .pts file (1-based) of 68 points (x, y) = (k + offset + 1, 2k + 1): 0-based (k + offset, 2k). */
function pts(offset: number, count = 68): string {
  const lines = Array.from({ length: count }, (_, k) => `${k + offset + 1} ${2 * k + 1}`);
  return ['version: 1', `n_points: ${count}`, '{', ...lines, '}', ''].join('\n');
}

/** A w×h JPEG (or PNG) of one flat colour. */
async function image(w: number, h: number, rgb: [number, number, number], png = false): Promise<Buffer> {
  const s = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  return png ? s.png().toBuffer() : s.jpeg({ quality: 95 }).toBuffer();
}

let counter = 0;
/** A new folder with the given faces ({name: [w, h]}) and, if given, manifest.csv. */
async function folder(faces: Record<string, [number, number]>, manifest?: string): Promise<string> {
  const dir = join(root, `d${counter++}`);
  await mkdir(dir);
  let k = 0;
  for (const [name, [w, h]] of Object.entries(faces)) {
    await writeFile(join(dir, `${name}.jpg`), await image(w, h, [40 * k, 200, 100]));
    await writeFile(join(dir, `${name}.pts`), pts(k));
    k++;
  }
  if (manifest !== undefined) await writeFile(join(dir, 'manifest.csv'), manifest);
  return dir;
}

const MANIFEST = [
  'name,source,repository,path,side',
  'afw_111_1,afw,r,afw/afw/111_1.jpg,10',
  'afw_111_2,afw,r,afw/afw/111_2.jpg,10',
  'helen_5_12,helen,r,helen/trainset/5_12.jpg,10',
  'lfpw_image_0007,lfpw,r,data/lfpw/trainset/image_0007.png,10',
  '',
].join('\n');

describe('loadLandmarkDataset', () => {
  it('reads images, 0-based landmarks and photos from the manifest, and hashes the manifest', async () => {
    const dir = await folder(
      { afw_111_1: [256, 256], afw_111_2: [64, 48], helen_5_12: [70, 90], lfpw_image_0007: [100, 100] },
      MANIFEST,
    );
    const { faces, manifestHash } = await loadLandmarkDataset(dir);
    expect(faces.map((f) => f.name)).toEqual(['afw_111_1', 'afw_111_2', 'helen_5_12', 'lfpw_image_0007']);
    expect(faces.map((f) => f.photo)).toEqual(['afw/111', 'afw/111', 'helen/5', 'lfpw/image_0007']);
    expect(manifestHash).toBe(createHash('sha256').update(MANIFEST).digest('hex'));
    const f = faces[1];
    expect([f.image.width, f.image.height, f.image.data.length]).toEqual([64, 48, 64 * 48 * 3]);
    expect(Math.abs(f.image.data[0] - 40)).toBeLessThan(6); // its colour: (40, 200, 100)
    expect(Math.abs(f.image.data[1] - 200)).toBeLessThan(6);
    expect(f.landmarks).toBeInstanceOf(Float32Array);
    expect(f.landmarks.length).toBe(136);
    expect([f.landmarks[0], f.landmarks[1], f.landmarks[134], f.landmarks[135]]).toEqual([1, 0, 68, 134]);
  });

  it('uses a "photo" column when there is one (rendered faces of a photo)', async () => {
    const manifest = 'name,photo,path\nafw_111_1,afw/111,x/afw_111_1.jpg\nrender_3,afw/111,x/render_3.jpg\n';
    const dir = await folder({ afw_111_1: [64, 64], render_3: [64, 64] }, manifest);
    const { faces } = await loadLandmarkDataset(dir);
    expect(faces.map((f) => f.photo)).toEqual(['afw/111', 'afw/111']);
  });

  it('without a manifest: photo = name, hash over the file names and sizes', async () => {
    const dir = await folder({ b: [64, 64], a: [80, 64] });
    await writeFile(join(dir, 'notes.txt'), 'not part of the data');
    const first = await loadLandmarkDataset(dir, { concurrency: 1 });
    expect(first.faces.map((f) => [f.name, f.photo])).toEqual([
      ['a', 'a'],
      ['b', 'b'],
    ]);
    expect(first.manifestHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await loadLandmarkDataset(dir)).manifestHash).toBe(first.manifestHash);
    await writeFile(join(dir, 'b.pts'), `${pts(0)}\n`);
    expect((await loadLandmarkDataset(dir)).manifestHash).not.toBe(first.manifestHash);
  });

  it('photoFromPath drops the folder, extension and face number, except for LFPW', () => {
    expect(photoFromPath('afw/afw/1051618982_2.jpg', 'afw')).toBe('afw/1051618982');
    expect(photoFromPath('helen/trainset/100040721_1.jpg', 'helen')).toBe('helen/100040721');
    expect(photoFromPath('data/lfpw/trainset/image_0006.png', 'lfpw')).toBe('lfpw/image_0006');
    expect(photoFromPath('x\\y\\photo_3.jpg')).toBe('photo');
  });

  const cases: [string, (dir: string) => Promise<string>, string][] = [
    ['a missing folder', async (dir) => join(dir, 'nothing-here'), 'no such folder'],
    [
      'a file instead of a folder',
      async (dir) => {
        await writeFile(join(dir, 'file'), 'x');
        return join(dir, 'file');
      },
      'not a folder',
    ],
    ['a folder without faces', async (dir) => dir, 'no faces'],
    [
      'a .pts with 67 points',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), await image(64, 64, [1, 2, 3]));
        await writeFile(join(dir, 'a.pts'), pts(0, 67));
        return dir;
      },
      'a.pts: has 67 points',
    ],
    [
      'a jpg without a .pts',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), await image(64, 64, [1, 2, 3]));
        return dir;
      },
      'a.jpg: no landmarks beside it (a.pts)',
    ],
    [
      'a .pts without an image',
      async (dir) => {
        await writeFile(join(dir, 'a.pts'), pts(0));
        return dir;
      },
      'a.pts: no image beside it',
    ],
    [
      'a corrupt image',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), (await image(64, 64, [1, 2, 3])).subarray(0, 200));
        await writeFile(join(dir, 'a.pts'), pts(0));
        return dir;
      },
      'a.jpg: cannot decode the image',
    ],
    [
      'a manifest without a row for a face',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), await image(64, 64, [1, 2, 3], true));
        await writeFile(join(dir, 'a.pts'), pts(0));
        await writeFile(join(dir, 'manifest.csv'), 'name,path\n');
        return dir;
      },
      'manifest.csv: no row for face a',
    ],
    [
      'a manifest row without a face',
      async (dir) => {
        await writeFile(join(dir, 'a.png'), await image(64, 64, [1, 2, 3], true));
        await writeFile(join(dir, 'a.pts'), pts(0));
        await writeFile(join(dir, 'manifest.csv'), 'name,path\na,a.jpg\nb,b.jpg\n');
        return dir;
      },
      'manifest.csv: line 3: b has no image and .pts in the folder',
    ],
    [
      'a manifest without a name column',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), await image(64, 64, [1, 2, 3]));
        await writeFile(join(dir, 'a.pts'), pts(0));
        await writeFile(join(dir, 'manifest.csv'), 'file,path\na,a.jpg\n');
        return dir;
      },
      'manifest.csv: no "name" column',
    ],
    [
      'a manifest row with too few fields',
      async (dir) => {
        await writeFile(join(dir, 'a.jpg'), await image(64, 64, [1, 2, 3]));
        await writeFile(join(dir, 'a.pts'), pts(0));
        await writeFile(join(dir, 'manifest.csv'), 'name,source,path\na,afw\n');
        return dir;
      },
      'manifest.csv: line 2: 2 fields, but the header has 3',
    ],
  ];
  it.each(cases)('rejects %s with one line naming it', async (_, make, problem) => {
    const dir = join(root, `e${counter++}`);
    await mkdir(dir);
    const target = await make(dir);
    const error = await loadLandmarkDataset(target).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    const message = (error as Error).message;
    expect(message.startsWith(target)).toBe(true);
    expect(message).toContain(problem);
    expect(message).not.toContain('\n');
  });
});

describe('splitByPhoto', () => {
  const faces = Array.from({ length: 3000 }, (_, k) => ({ id: k, photo: `p${Math.floor(k / 3)}` }));

  it('puts about the fraction of photos into validation, none on both sides, whatever the order', () => {
    const { train, validation } = splitByPhoto(faces);
    expect(train.length + validation.length).toBe(faces.length);
    const v = new Set(validation.map((f) => f.photo));
    expect(train.some((f) => v.has(f.photo))).toBe(false);
    expect(v.size).toBeGreaterThan(70); // of 1000 photos, 10 %: binomial σ ≈ 9.5
    expect(v.size).toBeLessThan(130);
    const reversed = splitByPhoto([...faces].reverse());
    expect(reversed.validation.map((f) => f.id).sort((a, b) => a - b)).toEqual(validation.map((f) => f.id));
    const other = splitByPhoto(faces, { seed: 16 });
    expect(other.validation.map((f) => f.id)).not.toEqual(validation.map((f) => f.id));
    const quarter = splitByPhoto(faces, { validationFraction: 0.25 });
    expect(quarter.validation.length).toBeGreaterThan(validation.length);
    expect(splitByPhoto(faces, { validationFraction: 0 }).validation).toEqual([]);
    expect(() => splitByPhoto(faces, { validationFraction: 1.5 })).toThrow(RangeError);
  });
});

const TRAIN_300W = '/work/shared/data/train-300w';
describe.skipIf(!existsSync(TRAIN_300W))('train-300w (skipped without /work/shared)', () => {
  it('loads 1,955 faces of 1,748 photos and splits them with no photo on both sides', async () => {
    const { faces, manifestHash } = await loadLandmarkDataset(TRAIN_300W);
    expect(faces.length).toBe(1955);
    expect(new Set(faces.map((f) => f.photo)).size).toBe(1748);
    expect(manifestHash).toBe(
      createHash('sha256')
        .update(await readFile(join(TRAIN_300W, 'manifest.csv')))
        .digest('hex'),
    );
    expect(faces.filter((f) => f.image.width !== 256 || f.image.height !== 256)).toEqual([]);
    // The README: all points lie between 65.0 and 193.0, 1-based.
    expect(faces.filter((f) => f.landmarks.some((v) => !(v >= 64 && v <= 192))).map((f) => f.name)).toEqual([]);
    const { train, validation } = splitByPhoto(faces);
    expect([train.length, validation.length]).toEqual([1756, 199]);
    const v = new Set(validation.map((f) => f.photo));
    expect(train.filter((f) => v.has(f.photo))).toEqual([]);
  });
});

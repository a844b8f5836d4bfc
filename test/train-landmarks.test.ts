import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLandmarkNetFile } from '../src/detect/landmark-net-file.js';
import { formatPts } from '../src/io/pts.js';
import { SeededRandom } from '../src/model/random.js';
import { trainLandmarkNet } from '../src/learn/train-landmark-net.js';
import { expectOneLineError, runCli } from './helpers/cli.js';

let root: string;
let data: string;

/** 40 small made-up faces: a bright ellipse with 68 points on and in it (the mechanics, not the accuracy). */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'morphable-train-'));
  data = join(root, 'data');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(data);
  const rng = new SeededRandom(3);
  for (let f = 0; f < 40; f++) {
    const cx = 60 + 8 * rng.uniform(),
      cy = 60 + 8 * rng.uniform(),
      r = 30 + 6 * rng.uniform();
    const points = new Float32Array(136);
    for (let k = 0; k < 68; k++) {
      const a = (2 * Math.PI * k) / 68;
      const rr = k < 17 ? r : (r * (k % 5)) / 6;
      points[2 * k] = cx + rr * Math.cos(a) + 1; // .pts is 1-based
      points[2 * k + 1] = cy + rr * Math.sin(a) + 1;
    }
    const svg = `<svg width="128" height="128"><rect width="128" height="128" fill="#203040"/>
      <ellipse cx="${cx}" cy="${cy}" rx="${r}" ry="${r * 1.2}" fill="#d0a080"/></svg>`;
    await sharp(Buffer.from(svg))
      .jpeg()
      .toFile(join(data, `face${f}.jpg`));
    await writeFile(join(data, `face${f}.pts`), formatPts(points));
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('trainLandmarkNet', () => {
  const settings = { epochs: 2, batchSize: 8, seed: 5, learningRate: 1e-3, frozenBlocks: 2 };

  it('writes weights and a checkpoint; a resumed run ends with the same weights as an uninterrupted one', async () => {
    const whole = await trainLandmarkNet({ dataDir: data, outDir: join(root, 'whole'), ...settings });
    expect(whole.history).toHaveLength(2);
    expect(whole.trainFaces + whole.validationFaces).toBe(40);
    for (const r of whole.history) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Number.isFinite(r.validationNmeMean)).toBe(true);
    }

    await trainLandmarkNet({ dataDir: data, outDir: join(root, 'again'), ...settings });
    // Same run cut after epoch 1: a fresh out dir trained for 1 epoch of a 2-epoch schedule cannot be made
    // by --epochs 1 (the learning-rate schedule depends on it), so stop by throwing from onEpoch instead.
    const cut = join(root, 'cut');
    await expect(
      trainLandmarkNet({
        dataDir: data,
        outDir: cut,
        ...settings,
        onEpoch: (r) => {
          if (r.epoch === 1) throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    const resumed = await trainLandmarkNet({ dataDir: data, outDir: cut, ...settings, resume: true });
    expect(resumed.history.map((r) => r.epoch)).toEqual([1, 2]);
    const a = await readFile(join(root, 'whole', 'checkpoint.bin'));
    const b = await readFile(join(cut, 'checkpoint.bin'));
    const c = await readFile(join(root, 'again', 'checkpoint.bin'));
    // The checkpoint's JSON records run seconds; compare the tensors after it.
    const tensors = (bytes: Buffer) => bytes.subarray(8 + bytes.readUInt32LE(4));
    expect(tensors(a).equals(tensors(c))).toBe(true); // two uninterrupted runs agree (seeded)
    expect(tensors(a).equals(tensors(b))).toBe(true); // and a resumed one agrees with them

    const file = decodeLandmarkNetFile(await readFile(whole.weightsPath), whole.weightsPath);
    expect(file.training).toMatchObject({ seed: 5, faces: { validation: whole.validationFaces } });
    expect(String(file.training.dataManifestSha256)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses to resume with other settings, naming the checkpoint', async () => {
    await expect(
      trainLandmarkNet({ dataDir: data, outDir: join(root, 'whole'), ...settings, seed: 6, resume: true }),
    ).rejects.toThrow(/checkpoint\.bin: made with other settings/);
  });
});

describe('morphable train landmarks', () => {
  it('says in one line that the data folder is missing', async () => {
    const result = await runCli(['train', 'landmarks', '--data', join(root, 'nowhere'), '--out', join(root, 'o')]);
    expectOneLineError(result, 'nowhere');
  });

  it('says in one line that there is no checkpoint to resume from', async () => {
    const result = await runCli(['train', 'landmarks', '--data', data, '--out', join(root, 'empty'), '--resume']);
    expectOneLineError(result, 'checkpoint.bin', 'no checkpoint to resume from');
  });

  it('train profile says in one line that the folder has no manifest', async () => {
    const result = await runCli(['train', 'profile', '--data', data, '--out', join(root, 'profiled')]);
    expectOneLineError(result, 'manifest.csv');
  });
});

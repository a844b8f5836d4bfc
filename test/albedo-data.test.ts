import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../src/io/model-file.js';
import { loadImage } from '../src/io/node/image.js';
import { parsePts } from '../src/io/pts.js';
import {
  ALBEDO_SPLIT,
  decodeAlbedoData,
  encodeAlbedoData,
  readAlbedoDataset,
  writeAlbedoDataset,
} from '../src/learn/albedo-data.js';
import { type AlbedoExtraction, AlbedoExtractor } from '../src/learn/albedo-extraction.js';
import { splitByPhoto } from '../src/learn/landmark-dataset.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { SHARED } from './helpers/shared.js';
import { syntheticPhoto } from './helpers/synthetic-photo.js';

const MODEL = fileURLToPath(new URL('../models/ict-facekit-face-head.glb', import.meta.url));
const DATA = join(SHARED, 'data/train-300w');
const hasData = existsSync(join(DATA, 'manifest.csv'));
const model = decodeModel(new Uint8Array(await readFile(MODEL)));
const work = mkdtempSync(join(tmpdir(), 'albedo-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Skin whose brightness bands run across the face (a 60 mm period in height: no low-order light makes it). */
function bandedSkin(v: number): number[] {
  const k = 1 + 0.3 * Math.sin((2 * Math.PI * model.mean[3 * v + 1]) / 60);
  return [0.55 * k, 0.36 * k, 0.28 * k];
}

describe('albedo extraction', () => {
  it('recovers a known albedo up to a global scale on the well-seen vertices of a synthetic face', () => {
    const truth = syntheticPhoto(model, bandedSkin);
    const extractor = new AlbedoExtractor(model, { mirror: false });
    const result = extractor.extract(truth.photo, truth.landmarks);
    expect('skipped' in result).toBe(false);
    const r = result as AlbedoExtraction;
    const recovered: number[] = [],
      flat: number[] = [],
      truthValues: number[] = [];
    extractor.vertices.forEach((v, i) => {
      if (r.weight[i] < 0.5) return;
      const t = bandedSkin(v);
      for (let c = 0; c < 3; c++) {
        recovered.push(r.albedo[3 * i + c]);
        flat.push([0.55, 0.36, 0.28][c]);
        truthValues.push(t[c]);
      }
    });
    expect(recovered.length / 3).toBeGreaterThan(1000);
    // Relative RMS error against the truth after the best global scale.
    const error = (values: number[]) => {
      let xt = 0,
        xx = 0,
        err = 0,
        norm = 0;
      values.forEach((x, i) => {
        xt += x * truthValues[i];
        xx += x * x;
      });
      const scale = xt / xx;
      values.forEach((x, i) => {
        err += (scale * x - truthValues[i]) ** 2;
        norm += truthValues[i] ** 2;
      });
      return Math.sqrt(err / norm);
    };
    const relative = error(recovered),
      flatRelative = error(flat);
    console.log(
      `synthetic albedo: ${recovered.length / 3} well-seen vertices, relative RMSE ${relative.toFixed(3)} `
        + `(the unbanded skin's ${flatRelative.toFixed(3)})`,
    );
    // Measured 0.142 against 0.208: the bands are partly recovered (shading of the fitted shape absorbed too).
    expect(relative).toBeLessThan(0.8 * flatRelative);
  }, 120_000);
});

describe.skipIf(!hasData)('albedo data from train-300w', () => {
  it('gives weight 0 on the far side of a turned face and > 0 on its visible cheek; the file round-trips', async () => {
    const name = 'afw_1130084326_1'; // yaw about -33°
    const { image } = await loadImage(join(DATA, `${name}.jpg`));
    const landmarks = parsePts(await readFile(join(DATA, `${name}.pts`), 'utf8'), name);
    const extractor = new AlbedoExtractor(model, { mirror: false });
    const r = extractor.extract(image, landmarks) as AlbedoExtraction;
    expect('skipped' in r).toBe(false);
    expect(Math.abs(r.yawDeg)).toBeGreaterThan(25);
    // Which side is far: the one further from the camera, from the fitted pose.
    const side = r.yawDeg < 0 ? -1 : 1; // model −x is the far side when the head turns to negative yaw
    const far: number[] = [],
      nearCheek: number[] = [];
    extractor.vertices.forEach((v, i) => {
      const x = side * model.mean[3 * v];
      if (x > 55) far.push(r.weight[i]);
      if (x < -30 && x > -50) nearCheek.push(r.weight[i]);
    });
    expect(far.filter((w) => w === 0).length / far.length).toBeGreaterThan(0.95);
    expect(nearCheek.reduce((a, b) => a + b, 0) / nearCheek.length).toBeGreaterThan(0.4);

    const V = extractor.vertices.length;
    const bytes = encodeAlbedoData(extractor.vertices, [r, r]);
    const back = decodeAlbedoData(bytes, V, 2);
    expect(Array.from(back.vertexIds)).toEqual(Array.from(extractor.vertices));
    for (let i = 0; i < 3 * V; i++) {
      expect(Math.abs(back.albedo[3 * V + i] - r.albedo[i])).toBeLessThanOrEqual(1e-3 * Math.max(1, r.albedo[i]));
    }
    for (let i = 0; i < V; i++)
      expect(Math.abs(back.weight[V + i] - r.weight[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
  }, 120_000);

  it('writes a dataset whose faces, split and mean albedo read back skin-like', async () => {
    const out = join(work, 'albedo');
    const header = await writeAlbedoDataset({ dataDir: DATA, outDir: out, limit: 2, jobs: 1, model });
    const data = await readAlbedoDataset(out);
    expect(data.header).toEqual(header);
    expect(header.faces.length + header.skipped.fit.length + header.skipped.photometric.length).toBe(2);
    expect(header.faces.length).toBe(2);
    expect(header.modelVertexCount).toBe(model.vertexCount);
    expect(Array.from(data.vertexIds)).toEqual(Array.from(model.regions.face));
    const split = splitByPhoto(header.faces, ALBEDO_SPLIT);
    expect(header.split.train).toEqual(split.train.map((f) => f.name));
    expect(header.split.validation).toEqual(split.validation.map((f) => f.name));
    const V = header.vertices;
    const mean = [0, 0, 0];
    let total = 0;
    for (let f = 0; f < header.faces.length; f++) {
      for (let i = 0; i < V; i++) {
        const w = data.weight[f * V + i];
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThanOrEqual(1);
        total += w;
        for (let c = 0; c < 3; c++) mean[c] += w * data.albedo[3 * (f * V + i) + c];
      }
    }
    const [r, g, b] = mean.map((m) => m / total);
    console.log(`mean albedo of ${header.faces.length} faces: ${r.toFixed(3)} ${g.toFixed(3)} ${b.toFixed(3)}`);
    expect(r).toBeGreaterThan(g);
    expect(g).toBeGreaterThan(b);
    expect(r).toBeGreaterThan(0.05);
    expect(r).toBeLessThan(0.9);
    expect(b).toBeGreaterThan(0.005);
  }, 180_000);
});

describe('morphable train albedo', () => {
  it('refuses bad input with one line and exit code 2', async () => {
    expectOneLineError(await runCli(['train', 'albedo', '--out', join(work, 'x'), '--limit', '0']), '--limit');
    expectOneLineError(
      await runCli(['train', 'albedo', '--data', join(work, 'none'), '--out', join(work, 'y')]),
      'manifest.csv',
      'no such file',
    );
    expect(existsSync(join(work, 'y'))).toBe(false);
  }, 60_000);
});

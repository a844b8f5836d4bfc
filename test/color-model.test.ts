import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeColorModelFile, withColorModel } from '../src/io/color-model-file.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { ALBEDO_FORMAT, type AlbedoDataset, type AlbedoHeader, encodeAlbedoData } from '../src/learn/albedo-data.js';
import { learnColorModel } from '../src/learn/color-model.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { tinyModel } from './helpers/tiny-model.js';

const work = mkdtempSync(join(tmpdir(), 'color-model-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Albedos of `faces` faces on the first `region` vertices of `model` from a known colour model: a skin mean,
 * `rank` components of decreasing σ, 0.003 of noise; each face sees only part of the region (weight 0 on a
 * random left or right half, lower weights elsewhere), as a turned face does.
 */
function syntheticDataset(model: MorphableModel, region: number, faces: number, rank: number): AlbedoDataset {
  const random = new SeededRandom(18);
  const d = 3 * region;
  const components = Array.from({ length: rank }, () => Float32Array.from({ length: d }, () => random.normal()));
  for (const c of components) {
    const norm = Math.hypot(...c);
    for (let j = 0; j < d; j++) c[j] /= norm;
  }
  const albedo = new Float32Array(faces * d);
  const weight = new Float32Array(faces * region);
  for (let f = 0; f < faces; f++) {
    for (let v = 0; v < region; v++) albedo.set([0.4, 0.22, 0.15], f * d + 3 * v);
    for (let k = 0; k < rank; k++) {
      const z = (0.6 / (k + 1)) * random.normal();
      for (let j = 0; j < d; j++) albedo[f * d + j] += z * components[k][j];
    }
    for (let j = 0; j < d; j++) albedo[f * d + j] += 0.003 * random.normal();
    const hidden = random.uniform() < 0.5;
    for (let v = 0; v < region; v++)
      weight[f * region + v] = v < region / 2 === hidden ? 0 : 0.5 + 0.5 * random.uniform();
  }
  const names = Array.from({ length: faces }, (_, i) => `face${i}`);
  const header: AlbedoHeader = {
    format: ALBEDO_FORMAT,
    version: 1,
    model: model.name,
    modelVertexCount: model.vertexCount,
    vertices: region,
    faces: names.map((name) => ({ name, photo: name, yawDeg: 0, nmePercent: 2, rmse: 0.04 })),
    skipped: { fit: [], photometric: [] },
    split: { seed: 1, validationFraction: 0.2, train: names.slice(0, faces - 10), validation: names.slice(faces - 10) },
    seconds: 0,
    msPerFace: 0,
    jobs: 1,
  };
  return { header, vertexIds: Uint32Array.from({ length: region }, (_, i) => i), albedo, weight };
}

describe('a colour model learned from albedos with unseen parts', () => {
  const model = tinyModel({ side: 8 }); // 64 vertices; the "face region" is the first 48
  const dataset = syntheticDataset(model, 48, 70, 3);

  it('finds the known subspace: unseen vertices predicted from seen ones to near the noise with 3 components', () => {
    // As many components as the data holds: with more, weightedPca finds the same subspace but spreads the
    // variance over the extra components when entries are missing (src/model/weighted-pca.ts).
    const learned = learnColorModel(model, dataset, {
      variance: 1,
      maxComponents: 3,
      evaluateAt: [0, 1, 2, 3],
      maxIterations: 300,
      tolerance: 1e-7,
    });
    expect(learned.trainFaces).toBe(60);
    expect(learned.validationFaces).toBe(10);
    const byCount = new Map(learned.validation.map((e) => [e.components, e.rmseSrgb]));
    console.log('validation RMSE (sRGB levels) by components:', JSON.stringify(learned.validation));
    expect(byCount.get(1)!).toBeLessThan(byCount.get(0)!);
    expect(byCount.get(2)!).toBeLessThan(byCount.get(1)!);
    // 0.003 of noise in linear RGB is about 1 level in sRGB at these colours.
    expect(byCount.get(3)!).toBeLessThan(0.1 * byCount.get(0)!);
    expect(byCount.get(3)!).toBeLessThan(2);
    // Outside the region: the region's mean colour and no variation.
    const { mean, basis } = learned.color;
    expect(mean.length).toBe(3 * model.vertexCount);
    expect(basis.basis.length).toBe(basis.count * 3 * model.vertexCount);
    for (let v = 48; v < 64; v++) {
      for (let k = 0; k < basis.count; k++)
        for (let c = 0; c < 3; c++) expect(basis.basis[k * 3 * 64 + 3 * v + c]).toBe(0);
      expect(mean[3 * v]).toBeCloseTo(0.4, 1);
      expect(mean[3 * v + 2]).toBeCloseTo(0.15, 1);
    }
    expect(mean[0]).not.toBe(mean[3 * 60]); // the region keeps its own mean
  });

  it('`model learn-color` writes the model with it, and refuses albedos of another model in one line', async () => {
    const modelFile = join(work, 'tiny.glb');
    writeFileSync(modelFile, await encodeModel(model));
    const folder = join(work, 'albedo');
    mkdirSync(folder);
    writeFileSync(join(folder, 'albedo.json'), JSON.stringify(dataset.header));
    writeFileSync(join(folder, 'albedo.bin'), encodeAlbedoData(dataset.vertexIds, splitFaces(dataset)));
    const out = join(work, 'tiny-color.glb');
    const result = await runCli(['model', 'learn-color', folder, modelFile, '-o', out, '--max-components', '4']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/colour model of [1-4] components/);
    expect(result.stdout).toMatch(/ 0 components: \d/);
    const written = decodeModel(new Uint8Array(await readFile(out)));
    expect(written.color?.basis.count).toBeGreaterThanOrEqual(1);
    expect(written.color?.mean.length).toBe(3 * model.vertexCount);

    // A .bin: the colour model file, the region only, with how it was made.
    const bin = join(work, 'tiny-color.bin');
    const asFile = await runCli(['model', 'learn-color', folder, modelFile, '-o', bin, '--max-components', '4']);
    expect(asFile.code, asFile.stderr).toBe(0);
    const file = decodeColorModelFile(new Uint8Array(await readFile(bin)), bin);
    expect(file.model).toEqual({ name: model.name, vertexCount: 64 });
    expect([...file.vertices]).toEqual([...dataset.vertexIds]);
    expect(file.stddev.length).toBe(written.color!.basis.count);
    expect(file.training).toMatchObject({ seed: 1, trainFaces: 60, validationFaces: 10 });
    expect(file.training.command).toMatch(/^morphable model learn-color .* -o .*tiny-color\.bin/);
    const albedoBin = await readFile(join(folder, 'albedo.bin'));
    expect(file.training.dataSha256).toBe(createHash('sha256').update(albedoBin).digest('hex').slice(0, 16));
    // The same model as the .glb's, to float16 rounding, over the whole model once spread.
    const spread = withColorModel(model, file).color!;
    for (let j = 0; j < spread.mean.length; j++) expect(spread.mean[j]).toBeCloseTo(written.color!.mean[j], 3);
    expectOneLineError(
      await runCli(['model', 'learn-color', folder, modelFile, '-o', join(work, 'x.txt')]),
      'x.txt',
      'must end in .bin',
    );

    const other = join(work, 'other.glb');
    writeFileSync(other, await encodeModel(tinyModel({ side: 5 })));
    expectOneLineError(
      await runCli(['model', 'learn-color', folder, other, '-o', join(work, 'x.glb')]),
      folder,
      'not of',
    );
  });
});

function splitFaces(dataset: AlbedoDataset) {
  const V = dataset.header.vertices;
  return dataset.header.faces.map((_, f) => ({
    albedo: dataset.albedo.subarray(3 * V * f, 3 * V * (f + 1)),
    weight: dataset.weight.subarray(V * f, V * (f + 1)),
  }));
}

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeColorModelFile, withColorModel } from '../src/io/color-model-file.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { learnColorModel } from '../src/learn/color-model.js';
import { syntheticAlbedoDataset, writeAlbedoFolder } from './helpers/albedo-dataset.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { tinyModel } from './helpers/tiny-model.js';

const work = mkdtempSync(join(tmpdir(), 'color-model-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a colour model learned from albedos with unseen parts', () => {
  const model = tinyModel({ side: 8 }); // 64 vertices; the "face region" is the first 48
  const dataset = syntheticAlbedoDataset(model, 48, 70, 3);

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
    const folder = writeAlbedoFolder(join(work, 'albedo'), dataset);
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

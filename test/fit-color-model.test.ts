import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { type ColorModelFile, encodeColorModelFile } from '../src/io/color-model-file.js';
import { applyColorModel } from '../src/io/node/color-model.js';
import { loadModel } from '../src/io/node/load-model.js';
import { parsePts } from '../src/io/pts.js';
import { fitPhoto } from '../src/node.js';
import { componentNorms, type MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { SFM_FOLDER, SHARED, hasShared } from './helpers/shared.js';
import { tinyModel } from './helpers/tiny-model.js';

const FACES = `${SHARED}data/faces-68`;
const work = mkdtempSync(join(tmpdir(), 'fit-color-model-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A random colour model (not learned from any data) over every vertex but each fifth of `model`: a skin
 * mean and K small σ-scaled components.
 */
function randomColorFile(model: MorphableModel, K: number): ColorModelFile {
  const random = new SeededRandom(3);
  const vertices = Uint32Array.from({ length: model.vertexCount }, (_, v) => v).filter((v) => v % 5 !== 4);
  const V = vertices.length;
  const mean = Float32Array.from({ length: 3 * V }, (_, j) => [0.45, 0.25, 0.17][j % 3] + 0.02 * random.normal());
  const basis = Float32Array.from({ length: K * 3 * V }, () => 0.004 * random.normal());
  return {
    model: { name: model.name, vertexCount: model.vertexCount },
    vertices,
    mean,
    basis,
    stddev: componentNorms(basis, K),
    explainedVariance: Array.from({ length: K }, () => 1 / K),
    training: { command: 'random, for a test' },
  };
}

describe('--color-model', () => {
  const tiny = tinyModel({ side: 6 });
  const tinyFile = join(work, 'tiny-color.bin');
  writeFileSync(tinyFile, encodeColorModelFile(randomColorFile(tiny, 2)));

  it('applyColorModel: a file, none, the default (the model own, else the shipped one for it), bad files', async () => {
    const withFile = await applyColorModel(tiny, tinyFile);
    expect(withFile.colorModel).toBe('tiny-color.bin');
    expect(withFile.model.color?.basis.count).toBe(2);
    expect(withFile.model.color?.mean.length).toBe(3 * tiny.vertexCount);
    // The model's own colour model stays by default and goes with 'none'.
    expect(await applyColorModel(withFile.model)).toEqual({ model: withFile.model, colorModel: 'in the model' });
    const none = await applyColorModel(withFile.model, 'none');
    expect(none.colorModel).toBe('none');
    expect(none.model.color).toBeUndefined();
    expect(none.model.mean).toBe(tiny.mean);
    // models/color-model-300w.bin, shipped or not, is for ICT-FaceKit: never applied to another model.
    expect(await applyColorModel(tiny)).toEqual({ model: tiny, colorModel: 'none' });
    // Where the shipped file is made for the model, the default takes it.
    const shipped = await applyColorModel(tiny, undefined, tinyFile);
    expect(shipped.colorModel).toBe('tiny-color.bin');
    expect(shipped.model.color?.basis.basis).toEqual(withFile.model.color?.basis.basis);
    expect(await applyColorModel(tiny, undefined, join(work, 'not-shipped.bin'))).toEqual({
      model: tiny,
      colorModel: 'none',
    });

    const other = tinyModel({ side: 5 });
    await expect(applyColorModel(other, tinyFile)).rejects.toThrow(
      new InputError(tinyFile, `a colour model of ${tiny.name} (36 vertices), not of ${other.name} (25 vertices)`),
    );
    await expect(applyColorModel(tiny, join(work, 'missing.bin'))).rejects.toThrow(/missing\.bin: no such file$/);
    const junk = join(work, 'junk.bin');
    writeFileSync(junk, 'MLNWxxxxxxxx');
    const error = await applyColorModel(tiny, junk).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe(`${junk}: not a morphable colour model file (no MCLR signature)`);
  });

  describe.skipIf(!hasShared)('morphable fit', () => {
    const modelFile = join(work, 'sfm.glb');
    const colorFile = join(work, 'sfm-color.bin');

    beforeAll(async () => {
      // The small Surrey model (shape only) keeps it quick.
      expect((await runCli(['model', 'import', SFM_FOLDER, '-o', modelFile, '--no-calibrate'])).code).toBe(0);
      writeFileSync(colorFile, encodeColorModelFile(randomColorFile(await loadModel(modelFile), 4)));
    });

    const runFit = (...extra: string[]) =>
      runCli([
        'fit',
        `${FACES}/lfpw_image_0010.png`,
        '--landmarks',
        `${FACES}/lfpw_image_0010.pts`,
        '--model',
        modelFile,
        '--out',
        join(work, extra.join('-').replace(/[^a-z]/g, '') || 'default'),
        '--outputs',
        'json',
        '--json',
        // A random colour model is no face's colour: the geometry may go where the quality gate refuses it.
        '--min-quality',
        '0',
        ...extra,
      ]);

    it('fits with a colour model file or none, and the JSON says which, with the coefficients', async () => {
      const [withFile, none, byDefault] = [
        await runFit('--color-model', colorFile),
        await runFit('--color-model', 'none'),
        await runFit(),
      ];
      for (const result of [withFile, none, byDefault]) expect(result.code, result.stderr).toBe(0);
      const [colored] = JSON.parse(withFile.stdout);
      expect(colored.photometric.colorModel).toBe('sfm-color.bin');
      expect(colored.photometric.geometryRefined).toBe(true);
      expect(colored.photometric.color).toHaveLength(4);
      expect(colored.photometric.rmseAfter).toBeLessThan(colored.photometric.rmseBefore);
      for (const result of [none, byDefault]) {
        const [report] = JSON.parse(result.stdout);
        expect(report.photometric.colorModel).toBe('none');
        expect(report.photometric.color).toBeUndefined();
      }
    });

    it("fitPhoto's colorModel: the same choice in the library", async () => {
      const model = await loadModel(modelFile);
      const landmarks = parsePts(readFileSync(`${FACES}/lfpw_image_0010.pts`, 'utf8'), 'lfpw_image_0010.pts');
      const options = { model, landmarks, minQuality: 0 };
      const [colored] = await fitPhoto(`${FACES}/lfpw_image_0010.png`, { ...options, colorModel: colorFile });
      expect(colored.report.photometric?.colorModel).toBe('sfm-color.bin');
      expect(colored.photometric?.color).toHaveLength(4);
      const [plain] = await fitPhoto(`${FACES}/lfpw_image_0010.png`, options);
      expect(plain.report.photometric?.colorModel).toBe('none');
      expect(model.color).toBeUndefined(); // the caller's model is left as it was
    });

    it('refuses a colour model of another model in one line, writing nothing', async () => {
      const out = join(work, 'refused');
      const result = await runCli([
        'fit',
        `${FACES}/lfpw_image_0010.png`,
        '--landmarks',
        `${FACES}/lfpw_image_0010.pts`,
        '--model',
        modelFile,
        '--color-model',
        tinyFile,
        '--out',
        out,
      ]);
      expectOneLineError(result, tinyFile, 'a colour model of', 'not of Surrey Face Model');
      expect(existsSync(join(out, 'lfpw_image_0010.json'))).toBe(false);
    });
  });
});

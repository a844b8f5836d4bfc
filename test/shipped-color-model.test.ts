/**
 * The shipped colour model (models/color-model-300w.bin, learned from train-300w photos): it loads onto the
 * shipped ICT-FaceKit model, looks like a colour PCA of skin, and on held-out train-300w faces (the validation
 * photos of the split by photo, which neither the colour model nor anything tuned on) the photometric stage
 * with it renders the photos closer than without it. A broken file (shuffled components, a wrong mean) fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { PhotometricFitter } from '../src/fit/photometric-fit.js';
import { withColorModel } from '../src/io/color-model-file.js';
import { loadColorModelFile } from '../src/io/node/color-model.js';
import { loadImage } from '../src/io/node/image.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath, shippedColorModelPath } from '../src/io/node/model-paths.js';
import { parsePts } from '../src/io/pts.js';
import { readManifest } from '../src/learn/profile-dataset.js';
import { photoFromPath, splitByPhoto } from '../src/learn/landmark-dataset.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SHARED, hasShared } from './helpers/shared.js';

const DATA = `${SHARED}data/train-300w`;
const FACES = 4;

describe.skipIf(!hasShared || !existsSync(shippedColorModelPath()))('the shipped colour model', () => {
  let plain: MorphableModel, colored: MorphableModel;
  beforeAll(async () => {
    plain = await loadModel(embeddedModelPath());
    colored = withColorModel(plain, await loadColorModelFile(shippedColorModelPath()), shippedColorModelPath());
  });

  it('is a colour PCA of skin for the shipped model', async () => {
    const file = await loadColorModelFile(shippedColorModelPath());
    expect(file.model).toEqual({ name: plain.name, vertexCount: plain.vertexCount });
    expect(String(file.training.command)).toMatch(/learn-color/);
    const K = colored.color!.basis.count;
    expect(K).toBeGreaterThanOrEqual(10);
    for (let k = 1; k < K; k++) expect(file.explainedVariance[k]).toBeLessThanOrEqual(file.explainedVariance[k - 1]);
    // Skin: red above green above blue at most face vertices.
    let skin = 0;
    for (const v of file.vertices) {
      const m = colored.color!.mean;
      if (m[3 * v] > m[3 * v + 1] && m[3 * v + 1] > m[3 * v + 2]) skin++;
    }
    expect(skin / file.vertices.length).toBeGreaterThan(0.8);
  });

  it('renders held-out train-300w faces closer than the fit without it', { timeout: 600_000 }, async () => {
    const rows = await readManifest(join(DATA, 'manifest.csv'));
    const held = splitByPhoto(
      rows.map((r) => ({ ...r, photo: photoFromPath(r.path, r.source) })),
      { seed: 15 },
    ).validation.slice(0, FACES);
    const landmarkFitter = new LandmarkFitter(plain);
    const without = new PhotometricFitter(plain),
      withModel = new PhotometricFitter(colored);
    let rmseWithout = 0,
      rmseWith = 0;
    for (const row of held) {
      const landmarks = parsePts(readFileSync(join(DATA, `${row.name}.pts`), 'utf8'), row.name);
      const { image } = await loadImage(join(DATA, `${row.name}.jpg`));
      const start = landmarkFitter.fit(landmarks, image.width, image.height);
      const a = without.fit(image, 1, landmarks, start);
      const b = withModel.fit(image, 1, landmarks, start);
      expect(b.color).toHaveLength(colored.color!.basis.count);
      rmseWithout += a.rmseAfter / held.length;
      rmseWith += b.rmseAfter / held.length;
    }
    console.log(
      `shipped colour model on ${held.length} held-out train-300w faces: photometric RMSE ${rmseWithout.toFixed(4)} `
        + `without → ${rmseWith.toFixed(4)} with`,
    );
    expect(rmseWith).toBeLessThan(rmseWithout);
  });
});

/**
 * The learned colour model on real photos (issue 18): for a few faces-68 photos, one row each: the photo's crop,
 * the photometric fit's rendering without a colour model (ICT-FaceKit's per-vertex albedo), with the shipped
 * colour model as the albedo prior (the default), that fit's de-lit albedo on its fitted shape, frontal, under a
 * soft light, and the colour model's own face: its reconstruction from the fit's colour coefficients. Fitted to
 * the photos' ground-truth landmarks.
 *
 * Made from third-party photos, so it stays out of the repository (training/ is git-ignored):
 * npx tsx bench/color-fits-figure.ts [training/figures/color-fits.png] [faces (4)] [colour model (the shipped one)]
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { cropCamera } from '../src/geometry/crop.js';
import { PHOTO_MAX_SIDE } from '../src/fit/fit-photo.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { PhotometricFitter } from '../src/fit/photometric-fit.js';
import { withColorModel } from '../src/io/color-model-file.js';
import { loadColorModelFile } from '../src/io/node/color-model.js';
import { loadImage } from '../src/io/node/image.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath, shippedColorModelPath } from '../src/io/node/model-paths.js';
import { spreadEvenly } from '../src/learn/albedo-data.js';
import { reconstruct } from '../src/model/weighted-pca.js';
import { renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { annotatedFaces } from './faces68.js';

const [output = 'training/figures/color-fits.png', count = '4', colorModelPath = shippedColorModelPath()] =
  process.argv.slice(2);
const PANEL = 256; // the photometric fit's crop size
const shared = fileURLToPath(new URL('../../shared/', import.meta.url));

const plain = await loadModel(embeddedModelPath());
const colored = withColorModel(plain, await loadColorModelFile(colorModelPath), colorModelPath);
const landmarkFitter = new LandmarkFitter(plain);
const without = new PhotometricFitter(plain),
  withModel = new PhotometricFitter(colored);
const light = shDirectionalLight([0, 0.2, 0.98], [0.35, 0.35, 0.35], [0.75, 0.75, 0.75]);
const photos = spreadEvenly(annotatedFaces(join(shared, 'data/faces-68')), Number(count));

const columns = 5,
  width = PANEL * columns,
  height = PANEL * photos.length;
const grid = Buffer.alloc(3 * width * height, 255);
const place = (pixels: Uint8Array, row: number, column: number) => {
  for (let y = 0; y < PANEL; y++)
    grid.set(pixels.subarray(3 * y * PANEL, 3 * (y + 1) * PANEL), 3 * ((row * PANEL + y) * width + column * PANEL));
};
for (const [row, face] of photos.entries()) {
  const photo = await loadImage(face.image, { maxSide: PHOTO_MAX_SIDE });
  const start = landmarkFitter.fit(face.landmarks, photo.originalWidth, photo.originalHeight);
  const a = without.fit(photo.image, photo.scale, face.landmarks, start);
  const plainImages = without.lastImages(cropCamera(a.camera, a.crop));
  const b = withModel.fit(photo.image, photo.scale, face.landmarks, start);
  const coloredImages = withModel.lastImages(cropCamera(b.camera, b.crop));
  place(plainImages.photo, row, 0);
  place(plainImages.rendered, row, 1);
  place(coloredImages.rendered, row, 2);
  const pose = { yaw: 0, pitch: 0, roll: 0, size: PANEL };
  for (const [column, albedo] of [b.albedo, reconstruct(colored.color!, b.color!)].entries()) {
    const shown = { ...colored, color: { ...colored.color!, mean: albedo } };
    place(renderPortrait(shown, b.identity, b.expression, light, pose).image.data, row, 3 + column);
  }
  console.log(`${face.name}: RMSE ${a.rmseAfter.toFixed(4)} without → ${b.rmseAfter.toFixed(4)} with the colour model`);
}
mkdirSync(dirname(output), { recursive: true });
await sharp(grid, { raw: { width, height, channels: 3 } })
  .png()
  .toFile(output);
console.log(
  `wrote ${output}: photo, fit without a colour model, with it (default), its de-lit albedo, the colour model's face`,
);

/**
 * docs/photometric.png: what the photometric fit does to the 3D shape of a synthetic face (the tests'
 * seed-21 photo: known identity, expression, pose, light and albedo). Panels: the photo; then the
 * true face coloured by each vertex's 3D error (white 0 mm → red 5 mm and more) after the landmark
 * fit, after the default photometric fit (ICT's unknown per-vertex albedo), and after the
 * Levenberg–Marquardt fit given the known albedo.
 *
 * Usage: npx tsx bench/photometric-figure.ts [../shared/models/ict-facekit.tar.xz] [docs/photometric.png]
 */
import sharp from 'sharp';
import { PhotometricFitter } from '../src/fit/photometric-fit.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import { renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { albedoArray, skinAlbedo, syntheticPhoto } from '../test/helpers/synthetic-photo.js';

const [archive = '../shared/models/ict-facekit.tar.xz', output = 'docs/photometric.png'] = process.argv.slice(2);
const PANEL = 256,
  FULL_RED_MM = 5;

const model = await importModel(archive);
const skin = skinAlbedo(model);
const truth = syntheticPhoto(model, skin);
const unknown = new PhotometricFitter(model).fit(truth.photo, 1, truth.landmarks, truth.landmarkFit);
const known = new PhotometricFitter(model).fit(truth.photo, 1, truth.landmarks, truth.landmarkFit, {
  albedo: albedoArray(model, skin),
});

// The true face region, coloured by the per-vertex error of a fitted shape, as seen in the photo.
const face = submodel(model, model.regions.face);
const light = shDirectionalLight([-0.5, 0.4, 0.77], [0.7, 0.7, 0.7], [0.45, 0.45, 0.45]);
function errorPanel(identity: ArrayLike<number>, expression: ArrayLike<number>): Uint8Array {
  const fitted = evaluateShape(model, identity, expression);
  const colour = new Float32Array(3 * face.vertexCount);
  model.regions.face.forEach((v, i) => {
    const e = Math.hypot(
      fitted[3 * v] - truth.shape[3 * v],
      fitted[3 * v + 1] - truth.shape[3 * v + 1],
      fitted[3 * v + 2] - truth.shape[3 * v + 2],
    );
    const t = Math.min(1, e / FULL_RED_MM);
    colour.set([0.85 - 0.15 * t, 0.85 * (1 - t) + 0.05, 0.85 * (1 - t) + 0.05], 3 * i);
  });
  const coloured: MorphableModel = {
    ...face,
    color: {
      mean: colour,
      basis: { kind: 'pca', count: 0, basis: new Float32Array(0), stddev: new Float32Array(0), names: [] },
    },
  };
  return renderPortrait(coloured, truth.identity, truth.expression, light, { yaw: 20, pitch: -5, roll: 4, size: PANEL })
    .image.data;
}
const photo = await sharp(truth.photo.data, {
  raw: { width: truth.photo.width, height: truth.photo.height, channels: 3 },
})
  .resize(PANEL, PANEL)
  .raw()
  .toBuffer();
const panels = [
  photo,
  errorPanel(truth.landmarkFit.identity, truth.landmarkFit.expression),
  errorPanel(unknown.identity, unknown.expression),
  errorPanel(known.identity, known.expression),
];
const strip = Buffer.alloc(3 * PANEL * PANEL * panels.length);
panels.forEach((panel, k) => {
  for (let y = 0; y < PANEL; y++)
    strip.set(panel.subarray(3 * y * PANEL, 3 * (y + 1) * PANEL), 3 * (y * PANEL * panels.length + k * PANEL));
});
await sharp(strip, { raw: { width: PANEL * panels.length, height: PANEL, channels: 3 } })
  .png({ compressionLevel: 9, palette: true })
  .toFile(output);
console.log(`wrote ${output}`);

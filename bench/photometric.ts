/**
 * The renderer and the photometric stage, measured: renders and gradient evaluations per second of
 * the ICT face region at 256×256, and on faces-68 the image error (RMSE over the rendered face
 * pixels, sRGB 0–1) and fitted-landmark NME after the landmark fit and after the photometric fit.
 */
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { PhotometricFitter } from '../src/fit/photometric-fit.js';
import type { Camera } from '../src/geometry/camera.js';
import { PHOTO_MAX_SIDE, projectLandmarks } from '../src/fit/fit-photo.js';
import { loadImage } from '../src/io/node/image.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import { createPhotometricGradient, createPhotometricImage, PhotometricRenderer } from '../src/render/photometric.js';
import { annotatedFaces, mean, median, nme } from './faces68.js';
import {
  albedoArray,
  photometricErrors,
  skinAlbedo,
  syntheticPhoto,
  withColourModel,
} from '../test/helpers/synthetic-photo.js';

/**
 * `model` for faces-68 (calibrated landmarks) and the renderer; `synthetic` (bare landmark vertices, as the
 * synthetic landmarks are) for the synthetic face.
 */
export async function photometricBench(
  model: MorphableModel,
  synthetic: MorphableModel,
  faces68: string,
  log: (line: string) => void,
): Promise<string> {
  const lines: string[] = [];
  // Renderer speed on the face region.
  const face = submodel(model, model.regions.face);
  const renderer = new PhotometricRenderer(face.triangles, face.vertexCount, 256, 256);
  const image = createPhotometricImage(256, 256);
  const gradient = createPhotometricGradient(face.vertexCount);
  const albedo = new Float32Array(3 * face.vertexCount).fill(0.5);
  const sh = new Float64Array(27);
  sh[0] = sh[1] = sh[2] = 1.1;
  const camera: Camera = {
    rotation: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    translation: Float64Array.from([0, 10, -900]),
    focal: 1200,
    cx: 127.5,
    cy: 127.5,
  };
  const target = new Float32Array(3 * 256 * 256).fill(0.4);
  const time = (runs: number, fn: () => void) => {
    for (let i = 0; i < 5; i++) fn();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      fn();
      t.push(performance.now() - s);
    }
    return median(t);
  };
  const renderMs = time(100, () => renderer.render(face.mean, camera, albedo, sh, image));
  const gradientMs = time(100, () => {
    renderer.render(face.mean, camera, albedo, sh);
    renderer.lossAndGradient(target, null, gradient, { robust: 'geman-mcclure' });
  });
  const column = new Float64Array(3 * 256 * 256);
  renderer.render(face.mean, camera, albedo, sh);
  const derivativeMs = time(100, () =>
    renderer.colorDerivative(face.identity.basis.subarray(0, 3 * face.vertexCount), null, null, column),
  );
  lines.push(
    `| renderer (ICT face region, ${face.vertexCount} vertices, ${face.triangles.length / 3} triangles, 256×256) `
      + '| median | per second |',
    '|---|---|---|',
    `| render: colour, mask, depth, normals | ${renderMs.toFixed(2)} ms | ${Math.round(1000 / renderMs)} |`,
    '| render + robust photometric loss + analytic gradients (positions, albedo, light, camera) '
      + `| ${gradientMs.toFixed(2)} ms | ${Math.round(1000 / gradientMs)} |`,
    '| colour derivative along one identity component (a Jacobian column for Gauss–Newton) '
      + `| ${derivativeMs.toFixed(2)} ms | ${Math.round(1000 / derivativeMs)} |`,
    '',
  );
  log(
    `render ${renderMs.toFixed(2)} ms, render+gradient ${gradientMs.toFixed(2)} ms, `
      + `colour derivative ${derivativeMs.toFixed(2)} ms`,
  );

  // Faces rendered from known coefficients, light and pose (the tests' synthetic photo, 7 identities).
  const skin = skinAlbedo(synthetic),
    { coloured, albedoOf } = withColourModel(synthetic);
  const seeds = [21, 22, 23, 24, 25, 26, 27];
  lines.push(
    `### Synthetic faces: 3D shape and light recovered (${seeds.length} identities drawn at 0.8 σ, jawOpen 0.3, `
      + '20° yaw, lit from the upper left; 512-pixel renders)',
    '',
    "Face-region 3D error as a ratio to the mean face's (target ≤ 0.30), "
      + 'after the landmark fit and after the photometric fit.',
    '',
    '| albedo | landmark fit: mean | photometric: mean / max | light direction error: mean '
      + '| photometric fit time: median |',
    '|---|---|---|---|---|',
  );
  for (const [name, fitModel, albedoOfTruth, options] of [
    ['unknown, per-vertex (ICT; Adam)', synthetic, skin, {}],
    ['known (ICT; Levenberg–Marquardt)', synthetic, skin, { albedo: albedoArray(synthetic, skin) }],
    ['colour PCA, 2 components (Levenberg–Marquardt)', coloured, albedoOf, { colourModelUse: 'lm' }],
  ] as const) {
    const fitter = new PhotometricFitter(fitModel);
    const before: number[] = [],
      after: number[] = [],
      degrees: number[] = [],
      seconds: number[] = [];
    for (const seed of seeds) {
      const truth = syntheticPhoto(synthetic, albedoOfTruth, seed);
      const t = performance.now();
      const fit = fitter.fit(truth.photo, 1, truth.landmarks, truth.landmarkFit, options);
      seconds.push((performance.now() - t) / 1000);
      const e = photometricErrors(synthetic, truth, fit);
      before.push(e.before / e.meanFace);
      after.push(e.after / e.meanFace);
      degrees.push(e.light);
    }
    const row =
      `| ${name} | ${mean(before).toFixed(2)} | **${mean(after).toFixed(2)}** / ${Math.max(...after).toFixed(2)} `
      + `| ${mean(degrees).toFixed(1)}° | ${median(seconds).toFixed(2)} s |`;
    lines.push(row);
    log(row);
  }
  lines.push('');

  const landmarkFitter = new LandmarkFitter(model);
  const photometricFitter = new PhotometricFitter(model);
  const rows: string[] = [];
  const before: number[] = [],
    after: number[] = [],
    nmeBefore: number[] = [],
    nmeAfter: number[] = [],
    ms: number[] = [];
  let improved = 0;
  for (const f of annotatedFaces(faces68)) {
    const photo = await loadImage(f.image, { maxSide: PHOTO_MAX_SIDE });
    const lfit = landmarkFitter.fit(f.landmarks, photo.originalWidth, photo.originalHeight);
    const t = performance.now();
    const pfit = photometricFitter.fit(photo.image, photo.scale, f.landmarks, lfit);
    ms.push(performance.now() - t);
    const shape = evaluateShape(model, pfit.identity, pfit.expression);
    const projected = projectLandmarks(model, shape, lfit.landmarkVertices, pfit.camera);
    before.push(pfit.rmseBefore);
    after.push(pfit.rmseAfter);
    nmeBefore.push(nme(lfit.fittedLandmarks, f.landmarks));
    nmeAfter.push(nme(projected, f.landmarks));
    if (pfit.rmseAfter < pfit.rmseBefore) improved++;
    const row =
      `| ${f.name} | ${pfit.rmseBefore.toFixed(4)} | ${pfit.rmseAfter.toFixed(4)} `
      + `| ${nmeBefore[nmeBefore.length - 1].toFixed(2)}% | ${nmeAfter[nmeAfter.length - 1].toFixed(2)}% `
      + `| ${Math.round(ms[ms.length - 1])} ms |`;
    rows.push(row);
    log(row);
  }
  lines.push(
    `### faces-68: fitted to the ground-truth landmarks, then photometric (${model.name})`,
    '',
    'RMSE over the rendered face pixels (sRGB, 0–1), both with albedo and light fitted; '
      + 'NME of the fitted model landmarks vs ground truth.',
    '',
    '| | RMSE landmark fit | RMSE photometric | NME landmark fit | NME photometric | photometric fit time |',
    '|---|---|---|---|---|---|',
    `| **mean** | **${mean(before).toFixed(4)}** | **${mean(after).toFixed(4)}** `
      + `| **${mean(nmeBefore).toFixed(2)}%** | **${mean(nmeAfter).toFixed(2)}%** `
      + `| **median ${Math.round(median(ms))} ms** |`,
    ...rows,
    '',
    `Photometric RMSE lower than after the landmark fit on ${improved} of ${before.length} faces.`,
    '',
  );
  return lines.join('\n');
}

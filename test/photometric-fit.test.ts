import { beforeAll, describe, expect, it } from 'vitest';
import { createCamera, projectPoints } from '../src/fit/camera.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { mirrorVertices, PhotometricFitter } from '../src/fit/photometric-fit.js';
import { linearToSrgb } from '../src/model/color.js';
import { rotationFromAngles } from '../src/fit/rotation.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { submodel } from '../src/model/submesh.js';
import { createPhotometricImage, PhotometricRenderer } from '../src/render/photometric.js';
import { shDirectionalLight, shPeakDirection } from '../src/render/spherical-harmonics.js';
import { ICT_ARCHIVE, hasShared } from './helpers/shared.js';
import { rmsDistance } from './helpers/synthetic.js';

describe('mirrorVertices', () => {
  it('pairs each vertex with its mirror image across x = 0', () => {
    const mean = Float32Array.from([10, 1, 2, -10, 1, 2, 0, 5, 5, 30, 0, 0]);
    expect(Array.from(mirrorVertices(mean))).toEqual([1, 0, 2, -1]);
  });
});

describe.skipIf(!hasShared)('photometric fit of a face rendered from known coefficients, light, pose and albedo', () => {
  let model: MorphableModel;
  beforeAll(async () => {
    model = await importModel(ICT_ARCHIVE);
  }, 60_000);

  it('lowers the image error, keeps the shape within 10 % of the landmark fit\'s and finds the light within 10°', () => {
    const random = new SeededRandom(21);
    const size = 512;
    const identity = new Float32Array(model.identity.count).map(() => 0.8 * random.normal());
    const expression = new Float32Array(model.expression.count);
    expression[model.expression.names.indexOf('jawOpen')] = 0.3;
    const camera = createCamera(size, size, 1500);
    rotationFromAngles(20, -5, 4, camera.rotation);
    camera.translation.set([5, 10, -650]);
    const shape = evaluateShape(model, identity, expression);
    // The "photo": the face region with a skin albedo that varies a little left to right (a smooth
    // top-to-bottom change would be indistinguishable from light from above), lit from the upper left.
    const face = submodel(model, model.regions.face);
    const facePositions = new Float32Array(3 * face.vertexCount);
    model.regions.face.forEach((v, i) => facePositions.set(shape.subarray(3 * v, 3 * v + 3), 3 * i));
    const albedo = new Float32Array(3 * face.vertexCount);
    for (let v = 0; v < face.vertexCount; v++) {
      const x = Math.abs(face.mean[3 * v]);
      albedo.set([0.55 - 0.0005 * x, 0.36 - 0.0003 * x, 0.28], 3 * v);
    }
    const light = [-0.5, 0.4, 0.77];
    const sh = shDirectionalLight(light, [0.8, 0.8, 0.8], [0.35, 0.35, 0.35]);
    const renderer = new PhotometricRenderer(face.triangles, face.vertexCount, size, size);
    const image = createPhotometricImage(size, size);
    renderer.render(facePositions, camera, albedo, sh, image);
    const data = new Uint8Array(3 * size * size);
    for (let p = 0; p < size * size; p++) {
      for (let c = 0; c < 3; c++) data[3 * p + c] = image.mask[p] ? Math.round(255 * linearToSrgb(image.color[3 * p + c])) : 90;
    }
    const points3d = new Float32Array(3 * 68);
    model.landmarks.ibug68.vertices.forEach((v, i) => points3d.set(shape.subarray(3 * v, 3 * v + 3), 3 * i));
    const landmarks = new Float32Array(136);
    projectPoints(camera, points3d, 68, landmarks);
    for (let i = 0; i < 136; i++) landmarks[i] += random.normal();

    const landmarkFit = new LandmarkFitter(model).fit(landmarks, size, size, { focal: 1500 });
    const fit = new PhotometricFitter(model).fit({ width: size, height: size, data }, 1, landmarks, landmarkFit, { iterations: 60 });
    const region = model.regions.face;
    const before = rmsDistance(evaluateShape(model, landmarkFit.identity, landmarkFit.expression), shape, region);
    const after = rmsDistance(evaluateShape(model, fit.identity, fit.expression), shape, region);
    const meanError = rmsDistance(model.mean, shape, region);
    expect(fit.rmseAfter).toBeLessThan(fit.rmseBefore);
    expect(fit.rmseAfter).toBeLessThan(0.05);
    expect(after).toBeLessThan(0.55 * meanError);
    // The photometric geometry does not yet improve the 3D shape: here the landmark fit reaches
    // 3.07 mm and the photometric stage, lowering the image error, ends at 3.29 mm.
    expect(after).toBeLessThan(1.1 * before);
    const found = shPeakDirection(fit.sh);
    const truth = Math.hypot(...light);
    const cos = (found[0] * light[0] + found[1] * light[1] + found[2] * light[2]) / truth;
    expect((Math.acos(Math.min(1, cos)) * 180) / Math.PI).toBeLessThan(10);
    console.log(`photometric synthetic: shape error ${before.toFixed(2)} → ${after.toFixed(2)} mm (mean face ${meanError.toFixed(2)} mm), RMSE ${fit.rmseBefore.toFixed(4)} → ${fit.rmseAfter.toFixed(4)}, light off by ${(Math.acos(Math.min(1, cos)) * 180 / Math.PI).toFixed(1)}°`);
  }, 60_000);
});

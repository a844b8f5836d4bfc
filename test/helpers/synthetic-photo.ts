import { createCamera } from '../../src/geometry/camera.js';
import { scaleCamera } from '../../src/geometry/crop.js';
import { projectPoints } from '../../src/geometry/projection.js';
import { LandmarkFitter } from '../../src/fit/landmark-fit.js';
import { rotationFromAngles } from '../../src/geometry/rotation.js';
import { linearToSrgb, srgbToLinear } from '../../src/model/color.js';
import { evaluateShape } from '../../src/model/evaluate.js';
import { componentNorms, type MorphableModel } from '../../src/model/morphable-model.js';
import { SeededRandom } from '../../src/model/random.js';
import { submodel } from '../../src/model/submesh.js';
import { createPhotometricImage, PhotometricRenderer } from '../../src/render/photometric.js';
import { shDirectionalLight, shPeakDirection } from '../../src/render/spherical-harmonics.js';
import { rmsDistance } from './synthetic.js';

/**
 * A 512-pixel "photo" of the face region of the face with `identity` (0.8 σ, from `seed`) and jawOpen 0.3
 * at 20° yaw, lit from the upper left, with per-vertex linear albedo `albedo(v)` on the model's
 * vertices; its 68 landmarks with 1 px noise, and the landmark fit to them.
 */
export function syntheticPhoto(model: MorphableModel, albedoOf: (v: number) => number[], seed = 21) {
  const random = new SeededRandom(seed);
  const size = 512;
  const identity = new Float32Array(model.identity.count).map(() => 0.8 * random.normal());
  const expression = new Float32Array(model.expression.count);
  expression[model.expression.names.indexOf('jawOpen')] = 0.3;
  const camera = createCamera(size, size, 1500);
  rotationFromAngles(20, -5, 4, camera.rotation);
  camera.translation.set([5, 10, -650]);
  const shape = evaluateShape(model, identity, expression);
  const face = submodel(model, model.regions.face);
  const facePositions = evaluateShape(face, identity, expression);
  const albedo = new Float32Array(3 * face.vertexCount);
  model.regions.face.forEach((v, i) => albedo.set(albedoOf(v), 3 * i));
  const light = [-0.5, 0.4, 0.77];
  const sh = shDirectionalLight(light, [0.8, 0.8, 0.8], [0.35, 0.35, 0.35]);
  // Rendered at twice the size and averaged 2 × 2, as a lens and a sensor would: no aliased edges.
  const renderer = new PhotometricRenderer(face.triangles, face.vertexCount, 2 * size, 2 * size);
  const image = createPhotometricImage(2 * size, 2 * size);
  renderer.render(facePositions, scaleCamera(camera, 2), albedo, sh, image);
  const background = srgbToLinear(90 / 255);
  const data = new Uint8Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let j = 0; j < 2; j++)
          for (let i = 0; i < 2; i++) {
            const q = (2 * y + j) * 2 * size + 2 * x + i;
            sum += image.mask[q] ? image.color[3 * q + c] : background;
          }
        data[3 * (y * size + x) + c] = Math.round(255 * linearToSrgb(sum / 4));
      }
    }
  }
  const points3d = new Float32Array(3 * 68);
  model.landmarks.ibug68.vertices.forEach((v, i) => points3d.set(shape.subarray(3 * v, 3 * v + 3), 3 * i));
  const landmarks = new Float32Array(136);
  projectPoints(camera, points3d, 68, landmarks);
  for (let i = 0; i < 136; i++) landmarks[i] += random.normal();
  const landmarkFit = new LandmarkFitter(model).fit(landmarks, size, size, { focal: 1500 });
  return { photo: { width: size, height: size, data }, landmarks, landmarkFit, identity, expression, shape, light };
}

/**
 * A skin albedo that varies a little left to right (a smooth top-to-bottom change would be indistinguishable
 * from light from above).
 */
export function skinAlbedo(model: MorphableModel): (v: number) => number[] {
  return (v) => {
    const x = Math.abs(model.mean[3 * v]);
    return [0.55 - 0.0005 * x, 0.36 - 0.0003 * x, 0.28];
  };
}

/**
 * The model with a two-component colour PCA: the left-right trend of `skinAlbedo`, and a darker/lighter
 * tone (nearly uniform: it trades off against the light's colour). `albedoOf` gives the colour at
 * `coefficients`.
 */
export function withColourModel(model: MorphableModel): {
  coloured: MorphableModel;
  coefficients: number[];
  albedoOf: (v: number) => number[];
} {
  const n3 = 3 * model.vertexCount;
  const mean = new Float32Array(n3),
    basis = new Float32Array(2 * n3);
  for (let v = 0; v < model.vertexCount; v++) {
    const x = Math.abs(model.mean[3 * v]) - 40;
    mean.set([0.53, 0.35, 0.28], 3 * v);
    basis.set([-0.0005 * x, -0.0003 * x, 0], 3 * v);
    basis.set([0.05, 0.04, 0.03], n3 + 3 * v);
  }
  const coloured: MorphableModel = {
    ...model,
    color: { mean, basis: { kind: 'pca', count: 2, basis, stddev: componentNorms(basis, 2), names: ['pc0', 'pc1'] } },
  };
  const coefficients = [1, -0.6];
  const albedoOf = (v: number) =>
    [0, 1, 2].map(
      (c) => mean[3 * v + c] + coefficients[0] * basis[3 * v + c] + coefficients[1] * basis[n3 + 3 * v + c],
    );
  return { coloured, coefficients, albedoOf };
}

/** `albedoOf` on every vertex of the model, 3N. */
export function albedoArray(model: MorphableModel, albedoOf: (v: number) => number[]): Float32Array {
  const out = new Float32Array(3 * model.vertexCount);
  for (let v = 0; v < model.vertexCount; v++) out.set(albedoOf(v), 3 * v);
  return out;
}

/**
 * How far a photometric fit is from the truth of `syntheticPhoto`: face-region 3D errors (mm) of the
 * landmark fit, the fit and the mean face, and the angle (°) between the fitted light's peak and the true light.
 */
export function photometricErrors(
  model: MorphableModel,
  truth: ReturnType<typeof syntheticPhoto>,
  fit: { identity: ArrayLike<number>; expression: ArrayLike<number>; sh: ArrayLike<number> },
) {
  const region = model.regions.face;
  const found = shPeakDirection(fit.sh),
    light = truth.light;
  const cos =
    (found[0] * light[0] + found[1] * light[1] + found[2] * light[2]) / Math.hypot(light[0], light[1], light[2]);
  return {
    before: rmsDistance(
      evaluateShape(model, truth.landmarkFit.identity, truth.landmarkFit.expression),
      truth.shape,
      region,
    ),
    after: rmsDistance(evaluateShape(model, fit.identity, fit.expression), truth.shape, region),
    meanFace: rmsDistance(model.mean, truth.shape, region),
    light: (Math.acos(Math.min(1, cos)) * 180) / Math.PI,
  };
}

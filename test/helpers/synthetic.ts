import { createCamera, type Camera } from '../../src/geometry/camera.js';
import { projectPoints } from '../../src/geometry/projection.js';
import {
  buildContourLines,
  OUTLINE_LEFT,
  OUTLINE_RIGHT,
  silhouetteVertices,
  type ContourLines,
} from '../../src/fit/contour.js';
import { rotationFromAngles } from '../../src/geometry/rotation.js';
import { evaluateShape } from '../../src/model/evaluate.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import type { SeededRandom } from '../../src/model/random.js';

export interface SyntheticFace {
  identity: Float32Array;
  expression: Float32Array;
  camera: Camera;
  shape: Float32Array;
  /** 136 values: the model's landmarks projected (outline at the true silhouette) plus noise. */
  landmarks: Float32Array;
  /** The vertex behind each of the 68 landmarks (-1 where the model has none). */
  vertices: Int32Array;
  width: number;
  height: number;
}

/**
 * A face drawn from the model's prior, posed by a known camera and projected: the inner landmarks at
 * their vertices, the outline at the silhouette of the true shape, plus Gaussian pixel noise.
 */
export function syntheticFace(
  model: MorphableModel,
  random: SeededRandom,
  options: { maxYaw?: number; noise?: number; expressions?: number; expression?: Float32Array } = {},
): SyntheticFace {
  const width = 800,
    height = 800;
  const identity = new Float32Array(model.identity.count).map(() => random.normal());
  const expression = options.expression ?? new Float32Array(model.expression.count);
  for (let j = 0; j < (options.expressions ?? 0); j++)
    expression[Math.floor(random.uniform() * expression.length)] = 0.2 + 0.4 * random.uniform();
  const maxYaw = options.maxYaw ?? 30;
  const camera = createCamera(width, height, 1000);
  rotationFromAngles(
    (2 * random.uniform() - 1) * maxYaw,
    (2 * random.uniform() - 1) * 10,
    (2 * random.uniform() - 1) * 10,
    camera.rotation,
  );
  camera.translation.set([20 * random.normal(), 20 * random.normal(), -550 - 100 * random.uniform()]);
  const shape = evaluateShape(model, identity, expression);

  const vertices = landmarkVerticesSeenAs(model, buildContourLines(model), shape, camera.rotation);
  const points3d = new Float32Array(3 * 68);
  vertices.forEach((v, i) => {
    for (let c = 0; c < 3; c++) points3d[3 * i + c] = v >= 0 ? shape[3 * v + c] : NaN;
  });
  const landmarks = new Float32Array(136);
  projectPoints(camera, points3d, 68, landmarks);
  const noise = options.noise ?? 1;
  for (let i = 0; i < 136; i++) landmarks[i] += noise * random.normal();
  return { identity, expression, camera, shape, landmarks, vertices, width, height };
}

/** The 68 landmark vertices as a face turned by `rotation` shows them: the jaw outline on its silhouette. */
export function landmarkVerticesSeenAs(
  model: MorphableModel,
  lines: ContourLines | undefined,
  shape: Float32Array,
  rotation: Float64Array,
): Int32Array {
  const vertices = Int32Array.from(model.landmarks.ibug68.vertices);
  if (lines) {
    const silhouette = new Int32Array(2 * lines.linesPerSide);
    silhouetteVertices(lines, shape, rotation, silhouette);
    const L = lines.linesPerSide;
    OUTLINE_RIGHT.forEach((i, j) => {
      vertices[i] = silhouette[Math.round((j * (L - 1)) / 8)];
    });
    OUTLINE_LEFT.forEach((i, j) => {
      vertices[i] = silhouette[L + Math.round(((7 - j) * (L - 1)) / 8)];
    });
  }
  return vertices;
}

/** RMS distance over a vertex subset between two shapes. */
export function rmsDistance(a: Float32Array, b: Float32Array, vertices: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < vertices.length; i++) {
    const v = vertices[i];
    for (let c = 0; c < 3; c++) sum += (a[3 * v + c] - b[3 * v + c]) ** 2;
  }
  return Math.sqrt(sum / vertices.length);
}

/**
 * What a landmark fit could reach on the synthetic faces if it were told more than a photo tells: the
 * MAP estimate of pose and all identity modes (N(0, I) prior, the true noise level, focal length known,
 * no expressions: neutral faces) given the true vertex of every landmark, the outline's included.
 *
 * - `outline: 'both'`: outline points constrain both image directions, as they were generated (the
 *   generator puts them on fixed contour lines, which no annotator of a photo does).
 * - `outline: 'across'`: outline points constrain only the direction across the outline (the
 *   residual along the true outline's image normal): what sliding correspondences leave.
 *
 * Gauss–Newton from the truth to convergence. Started from the landmark fit's result instead (and run
 * for 12 iterations), it gave the same errors to four digits on the bench's 40 faces, both variants.
 */
import { projectPoints } from '../../src/geometry/projection.js';
import { CHIN, OUTLINE_LEFT, OUTLINE_RIGHT } from '../../src/fit/contour.js';
import { choleskySolve } from '../../src/geometry/linalg.js';
import { rotateBy, rotationDistance } from '../../src/geometry/rotation.js';
import { evaluateShape, evaluateVertices } from '../../src/model/evaluate.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import { rmsDistance, type SyntheticFace } from './synthetic.js';

export interface OracleResult {
  /** Per face: face-region 3D error over the mean face's. */
  ratio: number[];
  /** Per face: rotation error in degrees. */
  pose: number[];
}

const ITERATIONS = 6;

/** `noisePx`: the landmark noise the faces were drawn with (syntheticFace's `noise`). */
export function oracleFit(
  model: MorphableModel,
  faces: SyntheticFace[],
  outline: 'both' | 'across',
  noisePx = 1,
): OracleResult {
  const K = model.identity.count,
    n3 = model.mean.length,
    B = model.identity.basis;
  const P = 6 + K;
  const isOutline = new Uint8Array(68);
  for (const i of [...OUTLINE_RIGHT, ...OUTLINE_LEFT]) isOutline[i] = 1;
  // The jaw from one ear to the other, for the outline's direction at each point.
  const jaw = [...OUTLINE_RIGHT, CHIN, ...OUTLINE_LEFT];
  const ratio: number[] = [],
    pose: number[] = [];
  const H = new Float64Array(P * P),
    g = new Float64Array(P),
    row = new Float64Array(2 * P);
  const alpha = new Float64Array(K),
    scratch = new Float64Array(9),
    normal = new Float64Array(2);
  const points = new Float32Array(204),
    truthProjected = new Float32Array(136),
    neutral = new Float32Array(0);

  for (const truth of faces) {
    const camera = {
      ...truth.camera,
      rotation: Float64Array.from(truth.camera.rotation),
      translation: Float64Array.from(truth.camera.translation),
    };
    alpha.set(truth.identity);
    projectPoints(
      truth.camera,
      evaluateVertices(model, truth.vertices, truth.identity, truth.expression, points),
      68,
      truthProjected,
    );
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      H.fill(0);
      g.fill(0);
      const { rotation: R, translation: t, focal: f } = camera;
      evaluateVertices(model, truth.vertices, alpha, neutral, points);
      for (let i = 0; i < 68; i++) {
        const v = truth.vertices[i];
        if (v < 0) continue;
        const x = points[3 * i],
          y = points[3 * i + 1],
          z = points[3 * i + 2];
        const px = R[0] * x + R[1] * y + R[2] * z,
          py = R[3] * x + R[4] * y + R[5] * z,
          pz = R[6] * x + R[7] * y + R[8] * z;
        const xc = px + t[0],
          yc = py + t[1],
          d = -(pz + t[2]);
        const eu = camera.cx + (f * xc) / d - truth.landmarks[2 * i];
        const ev = camera.cy - (f * yc) / d - truth.landmarks[2 * i + 1];
        // ∂(u, v)/∂Xc, then the columns: rotation increments e_j × (R X), translation, identity R·b_k.
        const ux = f / d,
          uz = (f * xc) / (d * d),
          vy = -f / d,
          vz = (-f * yc) / (d * d);
        setColumn(row, P, 0, ux, uz, vy, vz, 0, -pz, py);
        setColumn(row, P, 1, ux, uz, vy, vz, pz, 0, -px);
        setColumn(row, P, 2, ux, uz, vy, vz, -py, px, 0);
        setColumn(row, P, 3, ux, uz, vy, vz, 1, 0, 0);
        setColumn(row, P, 4, ux, uz, vy, vz, 0, 1, 0);
        setColumn(row, P, 5, ux, uz, vy, vz, 0, 0, 1);
        for (let k = 0; k < K; k++) {
          const o = k * n3 + 3 * v,
            bx = B[o],
            by = B[o + 1],
            bz = B[o + 2];
          setColumn(
            row,
            P,
            6 + k,
            ux,
            uz,
            vy,
            vz,
            R[0] * bx + R[1] * by + R[2] * bz,
            R[3] * bx + R[4] * by + R[5] * bz,
            R[6] * bx + R[7] * by + R[8] * bz,
          );
        }
        if (isOutline[i] && outline === 'across') {
          outlineNormal(truthProjected, jaw, jaw.indexOf(i), normal);
          const nx = normal[0],
            ny = normal[1];
          for (let p = 0; p < P; p++) row[p] = nx * row[p] + ny * row[P + p];
          accumulate(H, g, row, 0, nx * eu + ny * ev, P, noisePx);
        } else {
          accumulate(H, g, row, 0, eu, P, noisePx);
          accumulate(H, g, row, P, ev, P, noisePx);
        }
      }
      for (let k = 0; k < K; k++) {
        H[(6 + k) * P + 6 + k] += 1;
        g[6 + k] += alpha[k];
      }
      for (let p = 0; p < P; p++) g[p] = -g[p];
      if (!choleskySolve(H, g, P)) throw new Error('singular normal equations');
      rotateBy(camera.rotation, g[0], g[1], g[2], scratch);
      for (let c = 0; c < 3; c++) camera.translation[c] += g[3 + c];
      for (let k = 0; k < K; k++) alpha[k] += g[6 + k];
    }
    const fitted = evaluateShape(model, alpha, neutral);
    const face = model.regions.face;
    ratio.push(rmsDistance(fitted, truth.shape, face) / rmsDistance(model.mean, truth.shape, face));
    pose.push(rotationDistance(camera.rotation, truth.camera.rotation));
  }
  return { ratio, pose };
}

/** H += rowᵀrow/σ², g += rowᵀe/σ² for the row starting at `offset`. */
function accumulate(
  H: Float64Array,
  g: Float64Array,
  row: Float64Array,
  offset: number,
  residual: number,
  P: number,
  sigma: number,
): void {
  const w = 1 / (sigma * sigma);
  for (let a = 0; a < P; a++) {
    const ra = w * row[offset + a];
    if (ra === 0) continue;
    g[a] += ra * residual;
    for (let b = 0; b < P; b++) H[a * P + b] += ra * row[offset + b];
  }
}

/** Column p of the two image rows (u at 0, v at P) for a camera-space motion (dx, dy, dz) of the point. */
function setColumn(
  row: Float64Array,
  P: number,
  p: number,
  ux: number,
  uz: number,
  vy: number,
  vz: number,
  dx: number,
  dy: number,
  dz: number,
): void {
  row[p] = ux * dx + uz * dz;
  row[P + p] = vy * dy + vz * dz;
}

/** Unit normal of the projected jaw polyline at position j (central difference, one-sided at the ends), into `out`. */
function outlineNormal(projected: Float32Array, jaw: number[], j: number, out: Float64Array): void {
  const a = jaw[Math.max(0, j - 1)],
    b = jaw[Math.min(jaw.length - 1, j + 1)];
  const tx = projected[2 * b] - projected[2 * a],
    ty = projected[2 * b + 1] - projected[2 * a + 1];
  const length = Math.hypot(tx, ty);
  out[0] = -ty / length;
  out[1] = tx / length;
}

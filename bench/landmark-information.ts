/**
 * How much of a face's 3D shape 68 landmarks can tell at all: the Bayesian limit for the synthetic
 * test of the landmark fit. Identity has a N(0, I) prior; the landmarks are the projections of model
 * vertices plus Gaussian noise of σ px. Linearised at the true face and camera, the posterior
 * covariance of the identity is Σ = (I + JᵀJ/σ²)⁻¹ with a known pose, and with the pose unknown (flat
 * prior on rotation and translation; focal length known) the same with JᵀJ reduced by the Schur
 * complement of the pose block. The expected face-region error of the posterior mean is then
 * trace(G Σ) against trace(G) for the mean face (G = B_Fᵀ B_F over the face region): no estimator
 * does better on average. Expressions are left out (neutral faces), which only favours the limit.
 */
import { choleskySolve } from '../src/fit/linalg.js';
import { OUTLINE_LEFT, OUTLINE_RIGHT } from '../src/fit/contour.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import type { SyntheticFace } from '../test/helpers/synthetic.js';

export interface InformationLimit {
  /** sqrt(E‖error‖² / E‖mean-face error‖²) over the face region, pose known / pose unknown. */
  poseKnown: number;
  poseUnknown: number;
}

/** The limit over `faces`, with the landmarks at `points` (indices into the 68; outline points at the model's own vertices). */
export function informationLimit(model: MorphableModel, faces: SyntheticFace[], points: number[], noisePx: number): InformationLimit {
  const K = model.identity.count, n3 = model.mean.length, B = model.identity.basis;
  const face = model.regions.face;
  // G = B_Fᵀ B_F, and its trace: the mean face's expected squared error (summed over the region).
  const G = new Float64Array(K * K);
  for (let a = 0; a < K; a++) {
    for (let b = a; b < K; b++) {
      let s = 0;
      for (let i = 0; i < face.length; i++) {
        const o = 3 * face[i];
        s += B[a * n3 + o] * B[b * n3 + o] + B[a * n3 + o + 1] * B[b * n3 + o + 1] + B[a * n3 + o + 2] * B[b * n3 + o + 2];
      }
      G[a * K + b] = G[b * K + a] = s;
    }
  }
  let traceG = 0;
  for (let a = 0; a < K; a++) traceG += G[a * K + a];

  const vertices = points.map((i) => model.landmarks.ibug68.vertices[i]).filter((v) => v >= 0);
  const rows = 2 * vertices.length, P = K + 6;
  const J = new Float64Array(rows * P);
  const known: number[] = [], unknown: number[] = [];
  for (const truth of faces) {
    const { rotation: R, translation: t, focal: f } = truth.camera;
    J.fill(0);
    vertices.forEach((v, i) => {
      const X = [truth.shape[3 * v], truth.shape[3 * v + 1], truth.shape[3 * v + 2]];
      const RX = [0, 1, 2].map((r) => R[3 * r] * X[0] + R[3 * r + 1] * X[1] + R[3 * r + 2] * X[2]);
      const c = [RX[0] + t[0], RX[1] + t[1], RX[2] + t[2]];
      const d = -c[2];
      // ∂(u, v)/∂Xc for u = cx + f·x/d, v = cy − f·y/d, d = −z.
      const du = [f / d, 0, (f * c[0]) / (d * d)], dv = [0, -f / d, (-f * c[1]) / (d * d)];
      const column = (p: number, dXc: number[]) => {
        J[2 * i * P + p] = du[0] * dXc[0] + du[1] * dXc[1] + du[2] * dXc[2];
        J[(2 * i + 1) * P + p] = dv[0] * dXc[0] + dv[1] * dXc[1] + dv[2] * dXc[2];
      };
      for (let k = 0; k < K; k++) {
        const b = [B[k * n3 + 3 * v], B[k * n3 + 3 * v + 1], B[k * n3 + 3 * v + 2]];
        column(k, [0, 1, 2].map((r) => R[3 * r] * b[0] + R[3 * r + 1] * b[1] + R[3 * r + 2] * b[2]));
      }
      // A small rotation e_j × (R X), and a translation e_j.
      column(K, [0, -RX[2], RX[1]]);
      column(K + 1, [RX[2], 0, -RX[0]]);
      column(K + 2, [-RX[1], RX[0], 0]);
      for (let j = 0; j < 3; j++) column(K + 3 + j, [j === 0 ? 1 : 0, j === 1 ? 1 : 0, j === 2 ? 1 : 0]);
    });
    const H = new Float64Array(P * P);
    for (let a = 0; a < P; a++) {
      for (let b = a; b < P; b++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += J[r * P + a] * J[r * P + b];
        H[a * P + b] = H[b * P + a] = s / (noisePx * noisePx);
      }
      if (a < K) H[a * P + a] += 1;
    }
    for (const [size, out] of [[K, known], [P, unknown]] as const) {
      // Σ = the identity block of (H restricted to the first `size` parameters)⁻¹, column by column.
      let trace = 0;
      const A = new Float64Array(size * size), e = new Float64Array(size);
      for (let a = 0; a < K; a++) {
        for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) A[r * size + c] = H[r * P + c];
        e.fill(0);
        e[a] = 1;
        if (!choleskySolve(A, e, size)) throw new Error('singular information matrix');
        for (let b = 0; b < K; b++) trace += e[b] * G[a * K + b];
      }
      out.push(trace / traceG);
    }
  }
  const rootMean = (values: number[]) => Math.sqrt(values.reduce((s, v) => s + v, 0) / values.length);
  return { poseKnown: rootMean(known), poseUnknown: rootMean(unknown) };
}

/** The 51 inner points (no jaw outline) and all 68. */
export const INNER_POINTS = Array.from({ length: 68 }, (_, i) => i).filter((i) => !OUTLINE_RIGHT.includes(i) && !OUTLINE_LEFT.includes(i) && i !== 8);
export const ALL_POINTS = Array.from({ length: 68 }, (_, i) => i);

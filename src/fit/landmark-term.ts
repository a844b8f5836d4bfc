import type { MorphableModel } from '../model/morphable-model.js';
import { landmarkOffsets, landmarkPosition } from '../model/landmark-positions.js';
import type { Camera } from '../geometry/camera.js';

/**
 * The landmark term shared by the landmark fit (landmark-fit.ts) and the photometric fit's
 * Gauss–Newton step (photometric-gauss-newton.ts): the residuals of the projected landmarks and their
 * Jacobian with respect to pose and shape, all landmarks in one call (no call per landmark in the
 * fitters' loops).
 *
 * A landmark X = X₀ + rows·θ (model/landmark-positions.ts gives X₀; `rows` holds ∂X/∂θ, 3 rows per
 * landmark) goes to camera space as Xc = R·X + t and to the image as u = cx + f·Xc.x/d,
 * v = cy − f·Xc.y/d with d = −Xc.z: camera.ts's projection, written out here because the Jacobian
 * needs Xc (and computed as (f/d)·Xc.x, which may differ from projectPoints in the last bit). The
 * parameters, in this order:
 *   δ (3)    rotation increment, R ← exp([δ]×)·R (rotation.ts rotateBy): Xc moves by δ × (R X)
 *   t (3)    translation, millimetres
 *   log f    only with `withFocal` (the landmark fit has it, the photometric fit keeps f fixed)
 *   θ        shape: whatever `rows` are the derivatives of (identity subspace, blendshapes, …)
 */

/** Columns of the pose parameters in a landmark Jacobian row; the shape follows at 6, or at 7 with a focal column. */
export const LANDMARK_POSE = { rotation: 0, translation: 3, logFocal: 6 } as const;

/**
 * What the landmark rows are made of: `count` landmarks, landmark i at points3d[3i] observed at
 * observed[2i], weighted by rootWeight[i] (0: left out); the shape columns are the first `shapeCount`
 * columns of `rows` (landmark i, coordinate c, parameter p at rows[(3i + c)·rowStride + p]). A fitter
 * makes one and updates its fields in place.
 */
export interface LandmarkProblem {
  points3d: Float64Array;
  observed: ArrayLike<number>;
  rootWeight: ArrayLike<number>;
  count: number;
  rows: Float64Array;
  rowStride: number;
  shapeCount: number;
  /** A log-focal column after the pose (the landmark fit has it, the photometric fit keeps f fixed). */
  withFocal: boolean;
}

/** Where the rows go: the residuals and, unless null, the Jacobian, column-major, columns `rowCapacity` apart. */
export interface LandmarkRowsOutput {
  residuals: Float64Array;
  jacobian: Float64Array | null;
  rowCapacity: number;
}

/**
 * The landmarks as rows of a weighted least-squares problem: landmark i with rootWeight[i] ≠ 0 gives
 * rows k, k + 1 (k counting 2 per landmark used, in order): residuals[k], residuals[k + 1] =
 * rootWeight[i]·(π(X) − observed), and, unless `jacobian` is null, the same rows of
 * rootWeight[i]·∂(u, v)/∂ over the parameters above (parameter a's column at a·rowCapacity).
 * Returns the number of rows. One call for all the landmarks: allocates nothing.
 */
export function landmarkRows(camera: Camera, problem: LandmarkProblem, output: LandmarkRowsOutput): number {
  const { points3d, observed, rootWeight, count, rows, rowStride, shapeCount, withFocal } = problem;
  const { residuals, jacobian, rowCapacity } = output;
  const r = camera.rotation,
    t = camera.translation,
    f = camera.focal,
    J = jacobian,
    R = rowCapacity;
  const shapeAt = withFocal ? LANDMARK_POSE.logFocal + 1 : LANDMARK_POSE.logFocal;
  let k = 0;
  for (let i = 0; i < count; i++) {
    const sw = rootWeight[i];
    if (sw === 0) continue;
    const x = points3d[3 * i],
      y = points3d[3 * i + 1],
      z = points3d[3 * i + 2];
    const px = r[0] * x + r[1] * y + r[2] * z,
      py = r[3] * x + r[4] * y + r[5] * z,
      pz = r[6] * x + r[7] * y + r[8] * z;
    const xc = px + t[0],
      yc = py + t[1],
      d = -(pz + t[2]);
    const fd = f / d;
    residuals[k] = sw * (camera.cx + fd * xc - observed[2 * i]);
    residuals[k + 1] = sw * (camera.cy - fd * yc - observed[2 * i + 1]);
    if (J) {
      // ∂u/∂Xc = (ux, 0, uz), ∂v/∂Xc = (0, vy, vz); rotation increments move Xc by e_j × (R X).
      const ux = fd,
        uz = (fd * xc) / d,
        vy = -fd,
        vz = (-fd * yc) / d;
      const u = k,
        v = k + 1;
      J[u] = sw * (uz * py);
      J[R + u] = sw * (ux * pz - uz * px);
      J[2 * R + u] = sw * (-ux * py);
      J[v] = sw * (-vy * pz + vz * py);
      J[R + v] = sw * (-vz * px);
      J[2 * R + v] = sw * (vy * px);
      J[3 * R + u] = sw * ux;
      J[4 * R + u] = 0;
      J[5 * R + u] = sw * uz;
      J[3 * R + v] = 0;
      J[4 * R + v] = sw * vy;
      J[5 * R + v] = sw * vz;
      if (withFocal) {
        J[6 * R + u] = sw * (fd * xc);
        J[6 * R + v] = sw * (-fd * yc);
      }
      // ∂π/∂X = ∂π/∂Xc · R, then times the shape rows.
      const a0 = ux * r[0] + uz * r[6],
        a1 = ux * r[1] + uz * r[7],
        a2 = ux * r[2] + uz * r[8];
      const b0 = vy * r[3] + vz * r[6],
        b1 = vy * r[4] + vz * r[7],
        b2 = vy * r[5] + vz * r[8];
      const base = 3 * i * rowStride;
      for (let p = 0, c = shapeAt * R; p < shapeCount; p++, c += R) {
        const rx = rows[base + p],
          ry = rows[base + rowStride + p],
          rz = rows[base + 2 * rowStride + p];
        J[c + u] = sw * (a0 * rx + a1 * ry + a2 * rz);
        J[c + v] = sw * (b0 * rx + b1 * ry + b2 * rz);
      }
    }
    k += 2;
  }
  return k;
}

/**
 * The landmark term of the photometric energy, in render pixels, over [δ, t, α, β] (all identity and
 * expression components, no focal).
 */
export class LandmarkTerm {
  private readonly rows: Float64Array;
  private readonly mean: Float64Array;
  private readonly points: Float64Array;
  private readonly points3d: Float64Array;
  /** 1 for a landmark in the term, 0 for one left out: the landmarks' root weights in landmarkRows. */
  private readonly valid: Float64Array;
  private readonly kId: number;
  private readonly kEx: number;
  private readonly residuals = new Float64Array(136);
  /** (6 + K) × 136, column-major: landmarkRows' Jacobian. */
  private readonly jacobian: Float64Array;
  /** The landmark rows' inputs and outputs over the arrays above. */
  private readonly problem: LandmarkProblem;
  private readonly output: LandmarkRowsOutput;
  private readonly ju: Float64Array;
  private readonly jv: Float64Array;
  /** 1 / the mean squared distance of the landmarks from their centroid (render pixels⁻²): a scale for weights. */
  readonly inverseSpread2: number;

  /**
   * `landmarks` in full-image pixels; the render shows the square crop (x, y, side) at `s` render pixels per
   * image pixel.
   */
  constructor(
    model: MorphableModel,
    vertices: Int32Array,
    landmarks: ArrayLike<number>,
    s: number,
    crop: { x: number; y: number },
  ) {
    this.kId = model.identity.count;
    this.kEx = model.expression.count;
    const K = this.kId + this.kEx,
      n3 = 3 * model.vertexCount;
    this.rows = new Float64Array(68 * 3 * K);
    this.mean = new Float64Array(68 * 3);
    this.points = new Float64Array(136);
    this.points3d = new Float64Array(68 * 3);
    this.valid = new Float64Array(68);
    this.jacobian = new Float64Array((6 + K) * 136);
    this.problem = {
      points3d: this.points3d,
      observed: this.points,
      rootWeight: this.valid,
      count: 68,
      rows: this.rows,
      rowStride: K,
      shapeCount: K,
      withFocal: false,
    };
    this.output = { residuals: this.residuals, jacobian: this.jacobian, rowCapacity: 136 };
    this.ju = new Float64Array(6 + K);
    this.jv = new Float64Array(6 + K);
    const offsets = landmarkOffsets(model);
    let cx = 0,
      cy = 0,
      count = 0,
      spread = 0;
    for (let i = 0; i < 68; i++) {
      const v = vertices[i];
      // Landmarks move into render pixels like the camera does (pixel corners shared).
      this.points[2 * i] = s * (landmarks[2 * i] + 0.5 - crop.x) - 0.5;
      this.points[2 * i + 1] = s * (landmarks[2 * i + 1] + 0.5 - crop.y) - 0.5;
      if (v < 0 || !Number.isFinite(this.points[2 * i] + this.points[2 * i + 1])) continue;
      this.valid[i] = 1;
      cx += this.points[2 * i];
      cy += this.points[2 * i + 1];
      count++;
      landmarkPosition(model, offsets, i, v, model.mean, null, null, this.mean);
      for (let c = 0; c < 3; c++) {
        const row = 3 * v + c,
          base = (3 * i + c) * K;
        for (let k = 0; k < this.kId; k++) this.rows[base + k] = model.identity.basis[k * n3 + row];
        for (let k = 0; k < this.kEx; k++) this.rows[base + this.kId + k] = model.expression.basis[k * n3 + row];
      }
    }
    for (let i = 0; i < 68; i++)
      if (this.valid[i]) spread += (this.points[2 * i] - cx / count) ** 2 + (this.points[2 * i + 1] - cy / count) ** 2;
    this.inverseSpread2 = count / spread;
  }

  /**
   * weight·Σᵢ ‖π(Xᵢ) − xᵢ‖²; adds weight·Jᵀr (half its gradient) to g and weight·JᵀJ to H (P × P,
   * P ≥ 6 + K) where given, over the first 6 + K parameters [δ, t, α, β].
   */
  accumulate(
    camera: Camera,
    alpha: Float64Array,
    beta: Float64Array,
    weight: number,
    H: Float64Array | null,
    g: Float64Array | null,
    P: number,
  ): number {
    const kId = this.kId,
      K = kId + this.kEx,
      X = this.points3d,
      ju = this.ju,
      jv = this.jv,
      e = this.residuals,
      J = this.jacobian;
    for (let i = 0; i < 68; i++) {
      if (!this.valid[i]) continue;
      for (let c = 0; c < 3; c++) {
        const base = (3 * i + c) * K;
        let v = this.mean[3 * i + c];
        for (let k = 0; k < kId; k++) v += this.rows[base + k] * alpha[k];
        for (let k = kId; k < K; k++) v += this.rows[base + k] * beta[k - kId];
        X[3 * i + c] = v;
      }
    }
    const output = this.output;
    output.jacobian = g ? J : null;
    const used = landmarkRows(camera, this.problem, output);
    const n = 6 + K;
    let energy = 0;
    for (let k = 0; k < used; k += 2) energy += weight * (e[k] * e[k] + e[k + 1] * e[k + 1]);
    if (!g) return energy;
    // Each g[a] and H[a][b] sums over the landmarks in order, as a loop over landmarks would.
    for (let a = 0, c = 0; a < n; a++, c += 136) {
      let sum = g[a];
      for (let k = 0; k < used; k += 2) sum += weight * J[c + k] * e[k] + weight * J[c + k + 1] * e[k + 1];
      g[a] = sum;
    }
    if (!H) return energy;
    for (let k = 0; k < used; k += 2) {
      for (let a = 0; a < n; a++) {
        ju[a] = J[a * 136 + k];
        jv[a] = J[a * 136 + k + 1];
      }
      for (let a = 0; a < n; a++) {
        const wu = weight * ju[a],
          wv = weight * jv[a];
        if (wu === 0 && wv === 0) continue;
        const row = a * P;
        for (let b = 0; b < n; b++) H[row + b] += wu * ju[b] + wv * jv[b];
      }
    }
    return energy;
  }
}

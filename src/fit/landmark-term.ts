import type { MorphableModel } from '../model/morphable-model.js';
import { landmarkOffsets, landmarkPosition } from '../model/landmark-positions.js';
import type { Camera } from './camera.js';

/**
 * The landmark term shared by the landmark fit (landmark-fit.ts) and the photometric fit's
 * Gauss–Newton step (photometric-gauss-newton.ts): the residual of one projected landmark and its
 * Jacobian with respect to pose and shape.
 *
 * A landmark X = X₀ + rows·θ (model/landmark-positions.ts gives X₀; `rows` holds ∂X/∂θ, 3 rows per
 * landmark) goes to camera space as Xc = R·X + t and to the image as u = cx + f·Xc.x/d,
 * v = cy − f·Xc.y/d with d = −Xc.z (camera.ts). The parameters, in this order:
 *   δ (3)    rotation increment, R ← exp([δ]×)·R (rotation.ts rotateBy): Xc moves by δ × (R X)
 *   t (3)    translation, millimetres
 *   log f    only with `withFocal` (the landmark fit has it, the photometric fit keeps f fixed)
 *   θ        shape: whatever `rows` are the derivatives of (identity subspace, blendshapes, …)
 */

/** Columns of the pose parameters in a landmark Jacobian row; the shape follows at 6, or at 7 with a focal column. */
export const LANDMARK_POSE = { rotation: 0, translation: 3, logFocal: 6 } as const;

/**
 * Landmark i: residual[0], residual[1] = π(X) − observed (X at points3d[3i], the observation at
 * observed[2i]), and, unless `ju` is null, the Jacobian rows ∂u/∂·, ∂v/∂· over the parameters above,
 * the shape columns for the first `shapeCount` columns of `rows` (landmark i, coordinate c,
 * parameter p at rows[(3i + c)·rowStride + p]). Allocates nothing.
 */
export function landmarkJacobian(
  camera: Camera,
  points3d: Float64Array,
  observed: ArrayLike<number>,
  i: number,
  rows: Float64Array,
  rowStride: number,
  shapeCount: number,
  withFocal: boolean,
  residual: Float64Array,
  ju: Float64Array | null,
  jv: Float64Array | null,
): void {
  const r = camera.rotation, t = camera.translation, f = camera.focal;
  const x = points3d[3 * i], y = points3d[3 * i + 1], z = points3d[3 * i + 2];
  const px = r[0] * x + r[1] * y + r[2] * z, py = r[3] * x + r[4] * y + r[5] * z, pz = r[6] * x + r[7] * y + r[8] * z;
  const xc = px + t[0], yc = py + t[1], d = -(pz + t[2]);
  const fd = f / d;
  residual[0] = camera.cx + fd * xc - observed[2 * i];
  residual[1] = camera.cy - fd * yc - observed[2 * i + 1];
  if (!ju || !jv) return;
  // ∂u/∂Xc = (ux, 0, uz), ∂v/∂Xc = (0, vy, vz); rotation increments move Xc by e_j × (R X).
  const ux = fd, uz = (fd * xc) / d, vy = -fd, vz = (-fd * yc) / d;
  ju[0] = uz * py; ju[1] = ux * pz - uz * px; ju[2] = -ux * py;
  jv[0] = -vy * pz + vz * py; jv[1] = -vz * px; jv[2] = vy * px;
  ju[3] = ux; ju[4] = 0; ju[5] = uz;
  jv[3] = 0; jv[4] = vy; jv[5] = vz;
  let shapeAt = 6;
  if (withFocal) {
    ju[6] = fd * xc;
    jv[6] = -fd * yc;
    shapeAt = 7;
  }
  // ∂π/∂X = ∂π/∂Xc · R, then times the shape rows.
  const a0 = ux * r[0] + uz * r[6], a1 = ux * r[1] + uz * r[7], a2 = ux * r[2] + uz * r[8];
  const b0 = vy * r[3] + vz * r[6], b1 = vy * r[4] + vz * r[7], b2 = vy * r[5] + vz * r[8];
  const base = 3 * i * rowStride;
  for (let p = 0; p < shapeCount; p++) {
    const rx = rows[base + p], ry = rows[base + rowStride + p], rz = rows[base + 2 * rowStride + p];
    ju[shapeAt + p] = a0 * rx + a1 * ry + a2 * rz;
    jv[shapeAt + p] = b0 * rx + b1 * ry + b2 * rz;
  }
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
  private readonly valid: Uint8Array;
  private readonly kId: number;
  private readonly kEx: number;
  private readonly residual = new Float64Array(2);
  private readonly ju: Float64Array;
  private readonly jv: Float64Array;
  /** 1 / the mean squared distance of the landmarks from their centroid (render pixels⁻²): a scale for weights. */
  readonly inverseSpread2: number;

  /** `landmarks` in full-image pixels; the render shows the square crop (x, y, side) at `s` render pixels per image pixel. */
  constructor(model: MorphableModel, vertices: Int32Array, landmarks: ArrayLike<number>, s: number, crop: { x: number; y: number }) {
    this.kId = model.identity.count;
    this.kEx = model.expression.count;
    const K = this.kId + this.kEx, n3 = 3 * model.vertexCount;
    this.rows = new Float64Array(68 * 3 * K);
    this.mean = new Float64Array(68 * 3);
    this.points = new Float64Array(136);
    this.points3d = new Float64Array(68 * 3);
    this.valid = new Uint8Array(68);
    this.ju = new Float64Array(6 + K);
    this.jv = new Float64Array(6 + K);
    const offsets = landmarkOffsets(model);
    let cx = 0, cy = 0, count = 0, spread = 0;
    for (let i = 0; i < 68; i++) {
      const v = vertices[i];
      // Landmarks move into render pixels like the camera does (pixel corners shared).
      this.points[2 * i] = s * (landmarks[2 * i] + 0.5 - crop.x) - 0.5;
      this.points[2 * i + 1] = s * (landmarks[2 * i + 1] + 0.5 - crop.y) - 0.5;
      if (v < 0 || !Number.isFinite(this.points[2 * i] + this.points[2 * i + 1])) continue;
      this.valid[i] = 1;
      cx += this.points[2 * i]; cy += this.points[2 * i + 1]; count++;
      landmarkPosition(model, offsets, i, v, model.mean, null, null, this.mean);
      for (let c = 0; c < 3; c++) {
        const row = 3 * v + c, base = (3 * i + c) * K;
        for (let k = 0; k < this.kId; k++) this.rows[base + k] = model.identity.basis[k * n3 + row];
        for (let k = 0; k < this.kEx; k++) this.rows[base + this.kId + k] = model.expression.basis[k * n3 + row];
      }
    }
    for (let i = 0; i < 68; i++) if (this.valid[i]) spread += (this.points[2 * i] - cx / count) ** 2 + (this.points[2 * i + 1] - cy / count) ** 2;
    this.inverseSpread2 = count / spread;
  }

  /**
   * weight·Σᵢ ‖π(Xᵢ) − xᵢ‖²; adds weight·Jᵀr (half its gradient) to g and weight·JᵀJ to H (P × P,
   * P ≥ 6 + K) where given, over the first 6 + K parameters [δ, t, α, β].
   */
  accumulate(camera: Camera, alpha: Float64Array, beta: Float64Array, weight: number, H: Float64Array | null, g: Float64Array | null, P: number): number {
    const kId = this.kId, K = kId + this.kEx, X = this.points3d, ju = this.ju, jv = this.jv, e = this.residual;
    let energy = 0;
    for (let i = 0; i < 68; i++) {
      if (!this.valid[i]) continue;
      for (let c = 0; c < 3; c++) {
        const base = (3 * i + c) * K;
        let v = this.mean[3 * i + c];
        for (let k = 0; k < kId; k++) v += this.rows[base + k] * alpha[k];
        for (let k = kId; k < K; k++) v += this.rows[base + k] * beta[k - kId];
        X[3 * i + c] = v;
      }
      landmarkJacobian(camera, X, this.points, i, this.rows, K, K, false, e, g ? ju : null, jv);
      const eu = e[0], ev = e[1];
      energy += weight * (eu * eu + ev * ev);
      if (!g) continue;
      const n = 6 + K;
      for (let a = 0; a < n; a++) {
        const wu = weight * ju[a], wv = weight * jv[a];
        g[a] += wu * eu + wv * ev;
        if (!H || (wu === 0 && wv === 0)) continue;
        const row = a * P;
        for (let b = 0; b < n; b++) H[row + b] += wu * ju[b] + wv * jv[b];
      }
    }
    return energy;
  }
}

/**
 * Identity transfer between two morphable models: the leading identity coefficients of a `target` model whose
 * surface best fits a face of another, `source` model — the labels that let the identity-from-embedding net
 * learn from renders of faces the target model did not make.
 *
 * How: once, on the two mean faces, rounds of ICP with a ridge least-squares fit of the target's identity
 * (`count` modes, penalty `ridge`·‖α‖²): each source point within `radius` mm of the source's nose tip is
 * matched to its closest point on the target's current surface, and after the last round those matches
 * (a target triangle and barycentric weights per point) and the similarity between the two frames stay fixed.
 * Each face is then one linear solve: α = (JᵀJ + ridge·I)⁻¹ Jᵀ (S⁻¹(g) − m), where g are the face's points,
 * S the similarity (target → source), m the target mean at the matches and J the identity basis there.
 * Faces that differ from the mean by a few millimetres keep the mean's correspondence well enough
 * (test/identity-transfer.test.ts).
 */
import { choleskySolve } from '../geometry/linalg.js';
import {
  applySimilarity,
  createClosestPoint,
  createSimilarity,
  invertSimilarity,
  MeshDistance,
  pointsNear,
  type Similarity,
  shapeError,
} from '../geometry/shape-error.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';

export interface IdentityTransferOptions {
  /** Target identity modes fitted (default 40). */
  count?: number;
  /**
   * Ridge penalty on ‖α‖² against the sum of squared distances in mm² (default 100). Surrey faces of the tuning
   * set (seeds 5100 on, 24 faces) against ICT-FaceKit's fit of them, NoW-style median: 0.67 mm at 100, 0.70 at
   * 10, 0.74 at 300 (ICT's mean face: 1.33 mm).
   */
  ridge?: number;
  /** Source points within this distance of the source mean's nose tip take part (mm, default 95). */
  radius?: number;
  /** ICP rounds on the means (default 8). */
  rounds?: number;
}

/** The inner iBUG points (17–67) both models need for the first alignment. */
const INNER = Array.from({ length: 51 }, (_, i) => 17 + i);
const NOSE_TIP = 30;

export class IdentityTransfer {
  readonly count: number;
  /** Source vertices that take part. */
  readonly sourceVertices: Uint32Array;
  /** Median distance (mm) of the source mean's points to the fitted target surface: how well the means agree. */
  readonly meanResidual: number;
  private readonly jacobian: Float64Array;
  private readonly targetMean: Float64Array;
  private readonly normal: Float64Array;
  /** Source frame → target frame (the inverse of the means' alignment, target → source). */
  private readonly inverse: Similarity;
  private readonly solve: Float64Array;
  private readonly point = new Float64Array(3);
  /** Scratch: a face's source points, and the same mapped into the target's frame. */
  private readonly points: Float64Array;
  private readonly mapped: Float64Array;

  constructor(target: MorphableModel, source: MorphableModel, options: IdentityTransferOptions = {}) {
    const K = Math.min(options.count ?? 40, target.identity.count);
    const ridge = options.ridge ?? 100;
    const sourceLandmarks = source.landmarks.ibug68?.vertices;
    const targetLandmarks = target.landmarks.ibug68?.vertices;
    if (sourceLandmarks?.length !== 68 || targetLandmarks?.length !== 68)
      throw new Error('identity transfer needs iBUG-68 landmarks on both models');
    this.count = K;
    const nose = sourceLandmarks[NOSE_TIP];
    this.sourceVertices = pointsNear(source.mean, source.mean.subarray(3 * nose, 3 * nose + 3), options.radius ?? 95);
    const M = this.sourceVertices.length;
    const truth = new Float64Array(3 * M);
    this.sourceVertices.forEach((v, j) => truth.set(source.mean.subarray(3 * v, 3 * v + 3), 3 * j));
    const landmarksOf = (vertices: ArrayLike<number>, positions: ArrayLike<number>) => {
      const out = new Float64Array(3 * INNER.length);
      INNER.forEach((id, i) => {
        for (let c = 0; c < 3; c++) out[3 * i + c] = vertices[id] >= 0 ? positions[3 * vertices[id] + c] : Number.NaN;
      });
      return out;
    };
    const truthLandmarks = landmarksOf(sourceLandmarks, source.mean);

    const n3 = 3 * target.vertexCount;
    const basis = target.identity.basis;
    const triangles = target.triangles;
    const triangle = new Int32Array(M);
    const weights = new Float64Array(3 * M);
    this.points = new Float64Array(3 * M);
    this.mapped = new Float64Array(3 * M);
    const mapped = this.mapped;
    this.jacobian = new Float64Array(3 * M * K);
    this.targetMean = new Float64Array(3 * M);
    this.normal = new Float64Array(K * K);
    this.solve = new Float64Array(K);
    this.inverse = createSimilarity();
    const alpha = new Float32Array(K);
    let positions: Float32Array = Float32Array.from(target.mean);
    let fit = shapeError(truth, truthLandmarks, landmarksOf(targetLandmarks, positions), positions, triangles);
    const closest = createClosestPoint();
    const rounds = options.rounds ?? 8;
    for (let round = 0; round <= rounds; round++) {
      invertSimilarity(fit.alignment, this.inverse);
      const mesh = new MeshDistance(positions, triangles);
      for (let j = 0; j < M; j++) {
        this.toTarget(truth, j, mapped);
        mesh.closest(mapped[3 * j], mapped[3 * j + 1], mapped[3 * j + 2], closest, -1);
        triangle[j] = closest.triangle;
        barycentric(positions, triangles, closest.triangle, closest.point, weights, 3 * j);
      }
      // J and m at the matches; then the ridge fit of α to the mapped source mean.
      this.jacobian.fill(0);
      this.targetMean.fill(0);
      for (let j = 0; j < M; j++) {
        for (let r = 0; r < 3; r++) {
          const w = weights[3 * j + r];
          const v = 3 * triangles[3 * triangle[j] + r];
          for (let c = 0; c < 3; c++) {
            const row = 3 * j + c;
            this.targetMean[row] += w * target.mean[v + c];
            for (let k = 0; k < K; k++) this.jacobian[row * K + k] += w * basis[k * n3 + v + c];
          }
        }
      }
      this.normal.fill(0);
      for (let row = 0; row < 3 * M; row++) {
        for (let a = 0; a < K; a++) {
          const ja = this.jacobian[row * K + a];
          if (ja === 0) continue;
          for (let b = a; b < K; b++) this.normal[a * K + b] += ja * this.jacobian[row * K + b];
        }
      }
      for (let a = 0; a < K; a++) {
        this.normal[a * K + a] += ridge;
        for (let b = 0; b < a; b++) this.normal[a * K + b] = this.normal[b * K + a];
      }
      if (round === rounds) break;
      this.fitMapped(mapped, alpha);
      positions = evaluateShape(target, alpha, [], positions);
      fit = shapeError(truth, truthLandmarks, landmarksOf(targetLandmarks, positions), positions, triangles);
    }
    this.meanResidual = fit.median;
  }

  /** The target's leading `count` identity coefficients for a source face (all the source's vertices, 3N). */
  apply(sourcePositions: ArrayLike<number>, out: Float32Array = new Float32Array(this.count)): Float32Array {
    const { points, mapped } = this;
    this.sourceVertices.forEach((v, j) => {
      points[3 * j] = sourcePositions[3 * v];
      points[3 * j + 1] = sourcePositions[3 * v + 1];
      points[3 * j + 2] = sourcePositions[3 * v + 2];
    });
    for (let j = 0; j < this.sourceVertices.length; j++) this.toTarget(points, j, mapped);
    return this.fitMapped(mapped, out);
  }

  /** mapped[3j…] = S⁻¹(points[3j…]). */
  private toTarget(points: Float64Array, j: number, mapped: Float64Array): void {
    applySimilarity(this.point, this.inverse, points[3 * j], points[3 * j + 1], points[3 * j + 2]);
    mapped.set(this.point, 3 * j);
  }

  /** α = (JᵀJ + ridge·I)⁻¹ Jᵀ (mapped − m), into `out`. */
  private fitMapped(mapped: Float64Array, out: Float32Array): Float32Array {
    const K = this.count;
    const rhs = this.solve.fill(0);
    for (let row = 0; row < mapped.length; row++) {
      const y = mapped[row] - this.targetMean[row];
      for (let k = 0; k < K; k++) rhs[k] += this.jacobian[row * K + k] * y;
    }
    if (!choleskySolve(Float64Array.from(this.normal), rhs, K)) throw new Error('identity transfer: singular system');
    for (let k = 0; k < K; k++) out[k] = rhs[k];
    return out;
  }
}

/** Barycentric weights of `point` (on or near triangle t of `positions`) into out[at…at + 2]. */
function barycentric(
  positions: ArrayLike<number>,
  triangles: ArrayLike<number>,
  t: number,
  point: ArrayLike<number>,
  out: Float64Array,
  at: number,
): void {
  const a = 3 * triangles[3 * t],
    b = 3 * triangles[3 * t + 1],
    c = 3 * triangles[3 * t + 2];
  let d00 = 0,
    d01 = 0,
    d11 = 0,
    d20 = 0,
    d21 = 0;
  for (let k = 0; k < 3; k++) {
    const e0 = positions[b + k] - positions[a + k],
      e1 = positions[c + k] - positions[a + k],
      e2 = point[k] - positions[a + k];
    d00 += e0 * e0;
    d01 += e0 * e1;
    d11 += e1 * e1;
    d20 += e2 * e0;
    d21 += e2 * e1;
  }
  const den = d00 * d11 - d01 * d01;
  const v = den > 0 ? (d11 * d20 - d01 * d21) / den : 0,
    w = den > 0 ? (d00 * d21 - d01 * d20) / den : 0;
  out[at] = 1 - v - w;
  out[at + 1] = v;
  out[at + 2] = w;
}

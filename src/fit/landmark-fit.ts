import type { MorphableModel } from '../model/morphable-model.js';
import { landmarkOffsets, landmarkPosition } from '../model/landmark-positions.js';
import { createCamera, defaultFocal, estimatePoseLinear, type Camera } from '../geometry/camera.js';
import { projectPoints } from '../geometry/projection.js';
import {
  buildContourLines,
  CHIN,
  chinVertex,
  OUTLINE_LEFT,
  OUTLINE_RIGHT,
  silhouetteVertices,
  type ContourLines,
} from './contour.js';
import { LANDMARK_POSE, type LandmarkProblem, type LandmarkRowsOutput, landmarkRows } from './landmark-term.js';
import { choleskySolve, symmetricEigen, symmetrizeFromUpper } from '../geometry/linalg.js';
import { rotateBy, rotationLogDifference } from '../geometry/rotation.js';

/**
 * Fits pose, identity and expression of a morphable model to 68 iBUG landmarks in one image.
 *
 * Objective (residuals in units of the face's size s in the image, so the weights do not depend on
 * resolution):  Σᵢ wᵢ‖π(Xᵢ) − xᵢ‖²/s² + λ_id‖α‖² + λ_ex‖β‖² + λ_f (log f/f₀)²,
 * with Xᵢ = mean + B_id α + B_ex β at landmark i's vertex plus its calibrated offset
 * (model/landmark-positions.ts), π the perspective camera (camera.ts; residuals and Jacobian in landmark-term.ts),
 * α in standard deviations, β blendshape weights kept in [0, 1] (free for a PCA expression basis).
 *
 * Pose and shape are solved jointly by Levenberg–Marquardt: alternating them (as eos does) crawls,
 * because a small pitch and a change of face shape explain the same landmark motion. Between LM
 * steps the outline correspondences follow the silhouette (contour.ts) and the landmark weights are
 * re-estimated (Cauchy, scaled by the median residual), so one or two bad points do not pull the fit.
 *
 * Speed: 68 landmarks cannot tell apart 100 identity modes, so identity is fitted in the subspace of
 * modes that move the landmarks (the leading eigenvectors of B_Lᵀ B_L at the landmark rows, chosen
 * once per model); the rest stays at its prior mean. Blendshapes that barely move any landmark (eye
 * gaze, pupils) are left out the same way. Everything is preallocated: fit() allocates only its result.
 */

export interface LandmarkFitOptions {
  /** Prior weight on identity coefficients (in standard deviations). */
  identityPrior?: number;
  /** Prior weight on expression coefficients. */
  expressionPrior?: number;
  /** Prior weight on log(focal / default focal). */
  focalPrior?: number;
  /** A known focal length in pixels (e.g. from EXIF); it is then kept fixed. */
  focal?: number;
  /** Relative weight of the 16 outline points (jaw) against the inner ones. */
  outlineWeight?: number;
  /** Levenberg–Marquardt iterations at most. */
  iterations?: number;
  /**
   * Weight of a prior pulling the rotation towards `start.rotation` (default 0: none): λ_R‖log(R·R₀ᵀ)‖², the
   * angle in radians, beside the landmark term (in face-size units). For a start that knows the pose better
   * than the landmarks do, e.g. the one-pass regressor's on faces turned far to the side.
   */
  rotationPrior?: number;
  /**
   * Start with a stiff shape prior and relax it (default true). False: the target prior from the first step,
   * for a start that is already near (--fast, from the regressor).
   */
  continuation?: boolean;
  /** Fit identity (false: keep the identity given to fit(), e.g. for video after the first frames). */
  fitIdentity?: boolean;
  fitExpression?: boolean;
}

export interface LandmarkFitResult {
  camera: Camera;
  identity: Float32Array;
  expression: Float32Array;
  /** The model's landmarks projected with the fitted camera, 136 values (NaN where the model has none). */
  fittedLandmarks: Float32Array;
  /** Vertex used for each of the 68 landmarks (outline points follow the silhouette). */
  landmarkVertices: Int32Array;
  /** Final robust weight of each landmark in [0, 1] (0 for missing points). */
  weights: Float32Array;
  /** Root mean square landmark error in pixels over the points used. */
  rmsError: number;
  iterations: number;
}

/** Where a fit starts, and the identity prior's centre; all optional (absent: the linear start, the mean face). */
export interface LandmarkFitStart {
  /** Identity to start from (kept whole with fitIdentity: false). */
  identity?: ArrayLike<number>;
  /** The identity prior's centre, e.g. from a face embedding: ‖α − mean‖² replaces ‖α‖². */
  identityMean?: ArrayLike<number>;
  expression?: ArrayLike<number>;
  /** A starting pose (e.g. the one-pass regressor's), both or neither; replaces the linear estimate. */
  rotation?: ArrayLike<number>;
  translation?: ArrayLike<number>;
}

export interface LandmarkFitterOptions {
  /** Identity subspace size (default 30). */
  identityRank?: number;
  /**
   * Blendshapes whose largest landmark displacement is below this many mm are not fitted (default 5: on
   * train-300w the 16 such ICT shapes, mostly eye gaze, changed held-out landmark error by 0.015 points and
   * cost a third of the time).
   */
  minExpressionEffect?: number;
}

/** The fit's default weights (LandmarkFitOptions). */
export const LANDMARK_FIT_DEFAULTS = {
  identityPrior: 3e-4,
  expressionPrior: 3e-3,
  focalPrior: 0.5,
  outlineWeight: 0.5,
  iterations: 8,
};

const POINTS = 68;
const CONTINUATION_START = 30;
const CONTINUATION_RATE = 0.2;
/**
 * Relative cost decrease below which the fit stops (measured on train-300w: 1e-2 costs 0.02 NME points and
 * saves a third of the time against 1e-7).
 */
const CONVERGED = 1e-2;

/**
 * The parameters of the fit, in this order: rotation increment δ (3), translation (3), log focal (1)
 * (the pose part as landmark-term.ts lays it out), then the shape θ = [γ, β]: identity γ in the
 * subspace (rank values), then the fitted expressions β (LandmarkFitter.active).
 */
const PARAM = {
  rotation: LANDMARK_POSE.rotation,
  translation: LANDMARK_POSE.translation,
  logFocal: LANDMARK_POSE.logFocal,
  shape: LANDMARK_POSE.logFocal + 1,
} as const;

/** Why a parameter's step is held at zero (LandmarkFitter.hold). */
const Hold = {
  free: 0,
  /** By the caller: a known focal, a kept identity, no expressions. */
  fixed: 1,
  /** A blendshape weight on a bound (0 or 1) that the gradient pushes past: held for this step. */
  atBound: 2,
} as const;

/** One LM iteration's energy weights (fit() sets them; cost and buildNormalEquations read them). */
interface EnergySettings {
  /** 1/s², s the face's size in the image: residuals in units of the face. */
  invSize2: number;
  identityPrior: number;
  expressionPrior: number;
  /** The focal prior λ_f (log f/f₀)²: f₀ and λ_f (Infinity: the focal is known and kept). */
  focal0: number;
  focalPrior: number;
  /** λ_R of LandmarkFitOptions.rotationPrior and its centre R₀ (used when λ_R > 0). */
  rotationPrior: number;
  rotation0: Float64Array;
}

export class LandmarkFitter {
  readonly model: MorphableModel;
  private readonly kId: number;
  private readonly kEx: number;
  private readonly bounded: boolean;
  private readonly defaultVertex: Int32Array;
  private readonly landmarkOffsets: Float64Array;
  private readonly lines: ContourLines | undefined;
  private readonly isOutline = new Uint8Array(POINTS);

  /** Identity subspace: α = V γ, V is kId × rank (row-major). */
  private readonly rank: number;
  private readonly subspace: Float64Array;
  /** Expression components fitted (indices into the expression basis). */
  private readonly active: Int32Array;
  /** Shape parameters: [γ (rank), β (active)]. */
  private readonly shapeCount: number;
  private readonly paramCount: number;

  // Per-slot rows of the shape parameters: slot i, coordinate c, parameter p at [(3i + c)·P + p].
  private readonly rows: Float64Array;
  private readonly meanRows = new Float64Array(3 * POINTS);
  private readonly slotVertex = new Int32Array(POINTS);

  private readonly theta: Float64Array;
  private readonly thetaBackup: Float64Array;
  /** Per parameter, a Hold value: held parameters take a zero step. */
  private readonly hold: Uint8Array;
  private readonly energy: EnergySettings = {
    invSize2: 0,
    identityPrior: 0,
    expressionPrior: 0,
    focal0: 0,
    focalPrior: 0,
    rotationPrior: 0,
    rotation0: new Float64Array(9),
  };
  private readonly rotationError = new Float64Array(3);
  private readonly points3d = new Float64Array(3 * POINTS);
  private readonly pointsBackup = new Float64Array(3 * POINTS);
  private readonly baseWeight = new Float64Array(POINTS);
  private readonly weight = new Float64Array(POINTS);
  private readonly residualNorm = new Float64Array(POINTS);
  private readonly sortScratch = new Float64Array(POINTS);
  private readonly hessian: Float64Array;
  private readonly damped: Float64Array;
  private readonly gradient: Float64Array;
  private readonly step: Float64Array;
  private readonly rootWeight = new Float64Array(POINTS);
  private readonly projected = new Float64Array(2 * POINTS);
  private readonly jacobianColumns: Float64Array; // paramCount × 136, column-major, weighted
  private readonly residuals = new Float64Array(2 * POINTS);
  /** The landmark term's inputs and outputs (landmark-term.ts) over this fitter's arrays. */
  private readonly landmarkProblem: LandmarkProblem;
  private readonly landmarkOutput: LandmarkRowsOutput;
  private readonly rotationBackup = new Float64Array(9);
  private readonly translationBackup = new Float64Array(3);
  private readonly rotationScratch = new Float64Array(9);
  private readonly linearScratch = new Float64Array(44);
  private readonly silhouette: Int32Array;
  private readonly silhouette3d: Float64Array;
  private readonly silhouette2d: Float64Array;
  private readonly alpha: Float64Array;
  private readonly beta: Float64Array;
  private readonly identityOffset: Float64Array;
  private hasIdentityOffset = false;
  /** The 3 × P shape rows of each vertex used so far (vertexRows). */
  private readonly rowCache = new Map<number, Float64Array>();
  private focalBackup = 0;
  /** The fraction of the solved step that applyStep last applied. */
  private appliedFraction = 1;
  /** Parameters taking part in this iteration: the first activeCount (expressions wait while the prior is stiff). */
  private activeCount = 0;

  constructor(model: MorphableModel, options: LandmarkFitterOptions = {}) {
    const landmarks = model.landmarks.ibug68?.vertices;
    if (!landmarks || landmarks.length !== POINTS) throw new Error(`${model.name} has no iBUG-68 landmark set`);
    this.model = model;
    this.kId = model.identity.count;
    this.kEx = model.expression.count;
    this.bounded = model.expression.kind === 'blendshapes';
    this.defaultVertex = Int32Array.from(landmarks);
    this.landmarkOffsets = landmarkOffsets(model);
    this.lines = buildContourLines(model);
    for (const i of [...OUTLINE_RIGHT, ...OUTLINE_LEFT]) this.isOutline[i] = 1;
    // Models without outline landmarks (the Surrey model maps none) start them spread along the contour.
    if (this.lines) {
      const L = this.lines.linesPerSide;
      OUTLINE_RIGHT.forEach((i, j) => {
        if (this.defaultVertex[i] < 0) this.defaultVertex[i] = model.contours.right[Math.round((j * (L - 1)) / 8)];
      });
      OUTLINE_LEFT.forEach((i, j) => {
        if (this.defaultVertex[i] < 0) this.defaultVertex[i] = model.contours.left[Math.round(((7 - j) * (L - 1)) / 8)];
      });
    }

    this.rank = Math.min(this.kId, options.identityRank ?? 30);
    this.subspace = this.identitySubspace();
    this.active = this.activeExpressions(options.minExpressionEffect ?? 5);
    this.shapeCount = this.rank + this.active.length;
    this.paramCount = PARAM.shape + this.shapeCount;
    this.rows = new Float64Array(3 * POINTS * this.shapeCount);
    this.theta = new Float64Array(this.shapeCount);
    this.thetaBackup = new Float64Array(this.shapeCount);
    this.hold = new Uint8Array(this.paramCount);
    this.hessian = new Float64Array(this.paramCount * this.paramCount);
    this.damped = new Float64Array(this.paramCount * this.paramCount);
    this.gradient = new Float64Array(this.paramCount);
    this.step = new Float64Array(this.paramCount);
    this.jacobianColumns = new Float64Array(this.paramCount * 2 * POINTS);
    this.landmarkProblem = {
      points3d: this.points3d,
      observed: this.points3d, // set per fit
      rootWeight: this.rootWeight,
      count: POINTS,
      rows: this.rows,
      rowStride: this.shapeCount,
      shapeCount: this.shapeCount, // the active ones, set per step
      withFocal: true,
    };
    this.landmarkOutput = { residuals: this.residuals, jacobian: this.jacobianColumns, rowCapacity: 2 * POINTS };
    const lineCount = this.lines ? 2 * this.lines.linesPerSide : 0;
    this.silhouette = new Int32Array(lineCount);
    this.silhouette3d = new Float64Array(3 * lineCount);
    this.silhouette2d = new Float64Array(2 * lineCount);
    this.alpha = new Float64Array(this.kId);
    this.beta = new Float64Array(this.kEx);
    this.identityOffset = new Float64Array(this.kId);
    this.slotVertex.fill(-2);
    for (let i = 0; i < POINTS; i++) this.assignSlot(i, this.defaultVertex[i]);
  }

  /** Leading eigenvectors of Σ_landmarks B_iᵀ B_i: the identity directions landmarks can see. */
  private identitySubspace(): Float64Array {
    const K = this.kId,
      r = this.rank,
      m = this.model,
      n3 = 3 * m.vertexCount;
    const gram = new Float64Array(K * K);
    const row = new Float64Array(K);
    for (const v of this.defaultVertex) {
      if (v < 0) continue;
      for (let c = 0; c < 3; c++) {
        for (let k = 0; k < K; k++) row[k] = m.identity.basis[k * n3 + 3 * v + c];
        for (let a = 0; a < K; a++) for (let b = a; b < K; b++) gram[a * K + b] += row[a] * row[b];
      }
    }
    symmetrizeFromUpper(gram, K);
    const values = new Float64Array(K),
      vectors = new Float64Array(K * K);
    symmetricEigen(gram, K, values, vectors);
    const out = new Float64Array(K * r);
    for (let k = 0; k < K; k++) for (let j = 0; j < r; j++) out[k * r + j] = vectors[k * K + j];
    return out;
  }

  private activeExpressions(minEffect: number): Int32Array {
    const m = this.model,
      n3 = 3 * m.vertexCount;
    const active: number[] = [];
    for (let k = 0; k < this.kEx; k++) {
      let largest = 0;
      for (const v of this.defaultVertex) {
        if (v < 0) continue;
        const b = k * n3 + 3 * v;
        largest = Math.max(
          largest,
          Math.hypot(m.expression.basis[b], m.expression.basis[b + 1], m.expression.basis[b + 2]),
        );
      }
      if (largest >= minEffect) active.push(k);
    }
    return Int32Array.from(active);
  }

  /**
   * Fits to `points` (136 values, image coordinates; NaN marks a missing point) in an image of the
   * given size. `start.identity` seeds the identity (and is kept with fitIdentity: false).
   */
  fit(
    points: ArrayLike<number>,
    width: number,
    height: number,
    options: LandmarkFitOptions = {},
    start: LandmarkFitStart = {},
  ): LandmarkFitResult {
    const lambdaId = options.identityPrior ?? LANDMARK_FIT_DEFAULTS.identityPrior;
    const lambdaEx = options.expressionPrior ?? LANDMARK_FIT_DEFAULTS.expressionPrior;
    const focal0 = options.focal ?? defaultFocal(width, height);
    const lambdaF = options.focal ? Infinity : (options.focalPrior ?? LANDMARK_FIT_DEFAULTS.focalPrior);
    const maxIterations = options.iterations ?? LANDMARK_FIT_DEFAULTS.iterations;
    const camera = createCamera(width, height, focal0);

    // A seeded identity is projected onto the subspace to start from; a fixed one is kept whole, as
    // an offset of the landmark rows (identityOffset), and handed back unchanged. A prior mean is that
    // offset too, with the subspace free: the fit moves from it, and the prior pulls back towards it.
    this.theta.fill(0);
    const seed = start.identity;
    const fixedIdentity = options.fitIdentity === false && seed !== undefined;
    const mean = fixedIdentity ? undefined : start.identityMean;
    this.identityOffset.fill(0);
    if (fixedIdentity || mean) {
      const offset = fixedIdentity ? seed : (mean as ArrayLike<number>);
      for (let k = 0; k < this.kId; k++) this.identityOffset[k] = offset[k] ?? 0;
    }
    if (seed && !fixedIdentity) {
      for (let j = 0; j < this.rank; j++) {
        let s = 0;
        for (let k = 0; k < this.kId; k++)
          s += this.subspace[k * this.rank + j] * ((seed[k] ?? 0) - this.identityOffset[k]);
        this.theta[j] = s;
      }
    }
    if (start.expression) {
      for (let a = 0; a < this.active.length; a++) this.theta[this.rank + a] = start.expression[this.active[a]] ?? 0;
    }
    this.hold.fill(Hold.free);
    if (lambdaF === Infinity) this.hold[PARAM.logFocal] = Hold.fixed;
    if (options.fitIdentity === false) this.hold.fill(Hold.fixed, PARAM.shape, PARAM.shape + this.rank);
    if (options.fitExpression === false) this.hold.fill(Hold.fixed, PARAM.shape + this.rank);
    this.hasIdentityOffset = fixedIdentity || mean !== undefined;
    // The rows' offsets depend on this fit's identity: re-gather every slot.
    this.slotVertex.fill(-2);
    for (let i = 0; i < POINTS; i++) this.assignSlot(i, this.defaultVertex[i]);

    // Face size: RMS distance of the observed points from their centroid.
    let sumX = 0,
      sumY = 0,
      count = 0,
      innerPoints = 0;
    for (let i = 0; i < POINTS; i++) {
      const x = points[2 * i],
        y = points[2 * i + 1];
      const usable = Number.isFinite(x) && Number.isFinite(y) && this.slotVertex[i] >= 0;
      this.baseWeight[i] = usable
        ? this.isOutline[i]
          ? (options.outlineWeight ?? LANDMARK_FIT_DEFAULTS.outlineWeight)
          : 1
        : 0;
      if (usable) {
        sumX += x;
        sumY += y;
        count++;
        if (!this.isOutline[i]) innerPoints++;
      }
    }
    if (count < 6) throw new Error(`too few usable landmarks (${count} of 68)`);
    let spread = 0;
    for (let i = 0; i < POINTS; i++) {
      if (this.baseWeight[i] > 0)
        spread += (points[2 * i] - sumX / count) ** 2 + (points[2 * i + 1] - sumY / count) ** 2;
    }
    const size = Math.sqrt(spread / count);
    const energy = this.energy;
    energy.invSize2 = 1 / (size * size);
    energy.focal0 = focal0;
    energy.focalPrior = lambdaF;
    energy.rotationPrior = start.rotation ? (options.rotationPrior ?? 0) : 0;
    if (start.rotation) energy.rotation0.set(start.rotation);
    this.weight.set(this.baseWeight);

    this.evaluatePoints();
    if (start.rotation && start.translation) {
      camera.rotation.set(start.rotation);
      camera.translation.set(start.translation);
    } else {
      // Linear start from the inner points only: the outline correspondences are not known yet.
      for (let i = 0; i < POINTS; i++) this.sortScratch[i] = this.isOutline[i] ? 0 : this.baseWeight[i];
      estimatePoseLinear(camera, points, this.points3d, this.sortScratch, POINTS, this.linearScratch);
    }

    let mu = 1e-3,
      nu = 2;
    let iteration = 0;
    for (; iteration < maxIterations; iteration++) {
      // Continuation: start with a stiff shape prior, where the pose is well determined, and relax it
      // to the target; straight to the target, pitch and face shape trade off into local minima.
      const stiffness =
        options.continuation === false ? 1 : Math.max(1, CONTINUATION_START * CONTINUATION_RATE ** iteration);
      // The outline joins with the expressions, once the prior has relaxed: its sliding
      // correspondences, matched to a head pitched wrongly early on, would hold it there (120
      // synthetic faces: mean pose error 1.38° → 1.08°, worst 7.1° → 4.8°; faces-68 NME 2.51 → 2.47 %).
      const withOutline = stiffness <= 2 || innerPoints < 6;
      if (withOutline && this.updateOutline(camera, points)) this.evaluatePoints();
      this.updateWeights(camera, points, size, withOutline);
      energy.identityPrior = lambdaId * stiffness;
      energy.expressionPrior = lambdaEx * stiffness;
      // While the prior is stiff the expressions barely move: leave them out of those solves.
      this.activeCount = stiffness > 2 ? PARAM.shape + this.rank : this.paramCount;
      const cost = this.cost(camera, points);
      this.buildNormalEquations(camera, points);
      let accepted = false;
      let next = cost;
      for (let attempt = 0; attempt < 4 && !accepted; attempt++) {
        if (!this.solveStep(mu)) {
          mu *= nu;
          nu *= 2;
          continue;
        }
        const predicted = this.predictedDecrease(mu);
        // A rejected step is first shortened along the same direction (cheap: no new factorisation);
        // only if halving twice does not help is μ raised and the system solved again.
        for (let fraction = 1; fraction >= 0.25 && !accepted; fraction /= 2) {
          this.applyStep(camera, fraction);
          next = this.cost(camera, points);
          if (next < cost && camera.translation[2] < 0) {
            // Nielsen's damping update: shrink μ as far as the quadratic model proved right.
            const rho = (cost - next) / Math.max(fraction * predicted, 1e-300);
            mu *= fraction === 1 ? Math.max(1 / 3, 1 - (2 * rho - 1) ** 3) : 2;
            nu = 2;
            accepted = true;
          } else {
            this.restore(camera);
          }
        }
        if (!accepted) {
          mu *= nu;
          nu *= 2;
        }
      }
      if (stiffness === 1 && (!accepted || cost - next < CONVERGED * cost)) {
        iteration++;
        break;
      }
    }

    return this.result(camera, points, iteration);
  }

  private result(camera: Camera, points: ArrayLike<number>, iterations: number): LandmarkFitResult {
    this.coefficients();
    const fitted = new Float32Array(2 * POINTS);
    let sq = 0,
      used = 0;
    projectPoints(camera, this.points3d, POINTS, fitted);
    for (let i = 0; i < POINTS; i++) {
      if (this.slotVertex[i] < 0) {
        fitted[2 * i] = fitted[2 * i + 1] = NaN;
        continue;
      }
      if (this.baseWeight[i] > 0) {
        sq += (fitted[2 * i] - points[2 * i]) ** 2 + (fitted[2 * i + 1] - points[2 * i + 1]) ** 2;
        used++;
      }
    }
    const weights = new Float32Array(POINTS);
    for (let i = 0; i < POINTS; i++) weights[i] = this.baseWeight[i] > 0 ? this.weight[i] / this.baseWeight[i] : 0;
    return {
      camera,
      identity: Float32Array.from(this.alpha),
      expression: Float32Array.from(this.beta),
      fittedLandmarks: fitted,
      landmarkVertices: Int32Array.from(this.slotVertex),
      weights,
      rmsError: Math.sqrt(sq / Math.max(1, used)),
      iterations,
    };
  }

  /** α = V γ and β from θ. */
  private coefficients(): void {
    const r = this.rank;
    for (let k = 0; k < this.kId; k++) {
      let s = this.identityOffset[k];
      for (let j = 0; j < r; j++) s += this.subspace[k * r + j] * this.theta[j];
      this.alpha[k] = s;
    }
    this.beta.fill(0);
    for (let a = 0; a < this.active.length; a++) this.beta[this.active[a]] = this.theta[r + a];
  }

  /** Points a landmark slot at a vertex: copies that vertex's rows in. */
  private assignSlot(slot: number, vertex: number): void {
    if (this.slotVertex[slot] === vertex) return;
    this.slotVertex[slot] = vertex;
    const P = this.shapeCount;
    if (vertex < 0) {
      this.meanRows.fill(NaN, 3 * slot, 3 * slot + 3);
      this.rows.fill(0, 3 * slot * P, 3 * (slot + 1) * P);
      return;
    }
    landmarkPosition(
      this.model,
      this.landmarkOffsets,
      slot,
      vertex,
      this.model.mean,
      this.hasIdentityOffset ? this.identityOffset : null,
      null,
      this.meanRows,
    );
    this.rows.set(this.vertexRows(vertex), 3 * slot * P);
  }

  /** Mean position of a (silhouette) vertex coordinate, plus a fixed identity's displacement when there is one. */
  private basePosition(vertex: number, c: number): number {
    const m = this.model,
      row = 3 * vertex + c;
    let value = m.mean[row];
    if (this.hasIdentityOffset) {
      const n3 = 3 * m.vertexCount;
      for (let k = 0; k < this.kId; k++) value += this.identityOffset[k] * m.identity.basis[k * n3 + row];
    }
    return value;
  }

  /**
   * The 3 × P rows of a vertex in the fitted parameters (identity through the subspace, then the
   * fitted expressions), computed once per vertex and kept: landmark and silhouette vertices recur.
   */
  private vertexRows(vertex: number): Float64Array {
    let rows = this.rowCache.get(vertex);
    if (rows) return rows;
    const m = this.model,
      n3 = 3 * m.vertexCount,
      P = this.shapeCount,
      r = this.rank;
    rows = new Float64Array(3 * P);
    for (let c = 0; c < 3; c++) {
      const row = 3 * vertex + c,
        base = c * P;
      for (let k = 0; k < this.kId; k++) {
        const b = m.identity.basis[k * n3 + row];
        if (b === 0) continue;
        const v = k * r;
        for (let j = 0; j < r; j++) rows[base + j] += b * this.subspace[v + j];
      }
      for (let a = 0; a < this.active.length; a++) rows[base + r + a] = m.expression.basis[this.active[a] * n3 + row];
    }
    this.rowCache.set(vertex, rows);
    return rows;
  }

  /** points3d = mean + rows · θ at every slot. */
  private evaluatePoints(): void {
    const P = this.shapeCount,
      rows = this.rows,
      theta = this.theta;
    for (let q = 0; q < 3 * POINTS; q++) {
      const base = q * P;
      // Two independent sums: the additions no longer wait on each other.
      let s0 = this.meanRows[q],
        s1 = 0,
        p = 0;
      for (; p + 2 <= P; p += 2) {
        s0 += rows[base + p] * theta[p];
        s1 += rows[base + p + 1] * theta[p + 1];
      }
      if (p < P) s0 += rows[base + p] * theta[p];
      this.points3d[q] = s0 + s1;
    }
  }

  private cost(camera: Camera, points: ArrayLike<number>): number {
    const { invSize2, identityPrior, expressionPrior, focal0, focalPrior } = this.energy;
    const uv = this.projected;
    projectPoints(camera, this.points3d, POINTS, uv);
    let e = 0;
    for (let i = 0; i < POINTS; i++) {
      const w = this.weight[i];
      if (w === 0) continue;
      e += w * ((uv[2 * i] - points[2 * i]) ** 2 + (uv[2 * i + 1] - points[2 * i + 1]) ** 2);
    }
    e *= invSize2;
    for (let j = 0; j < this.rank; j++) e += identityPrior * this.theta[j] * this.theta[j];
    for (let j = this.rank; j < this.shapeCount; j++) e += expressionPrior * this.theta[j] * this.theta[j];
    if (focalPrior !== Infinity) e += focalPrior * Math.log(camera.focal / focal0) ** 2;
    if (this.energy.rotationPrior > 0) {
      const w = rotationLogDifference(camera.rotation, this.energy.rotation0, this.rotationError);
      e += this.energy.rotationPrior * (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
    }
    return e;
  }

  /**
   * Gauss–Newton normal equations in the parameters (PARAM): [rotation increment (3), translation
   * (3), log focal (1), γ, β]; each landmark's residual and Jacobian rows from landmark-term.ts.
   */
  private buildNormalEquations(camera: Camera, points: ArrayLike<number>): void {
    const { invSize2, identityPrior, expressionPrior, focal0, focalPrior } = this.energy;
    // Only the first `activeCount` parameters take part (expressions wait while the prior is stiff).
    const n = this.activeCount,
      stride = this.paramCount,
      P = n - PARAM.shape;
    const H = this.hessian,
      g = this.gradient;
    H.fill(0, 0, n * n);
    g.fill(0);
    for (let i = 0; i < POINTS; i++) this.rootWeight[i] = Math.sqrt(this.weight[i] * invSize2);
    // Weighted rows go into the column-major Jacobian; JᵀJ is formed below as dot products of
    // contiguous columns, which runs about twice as fast as rank-2 updates of H per landmark.
    const R = 2 * POINTS,
      Jt = this.jacobianColumns,
      e = this.residuals;
    const problem = this.landmarkProblem;
    problem.observed = points;
    problem.shapeCount = P;
    const rows = landmarkRows(camera, problem, this.landmarkOutput);
    // Two rows of H at a time, four columns each: six column loads feed eight independent sums. Row
    // a + 1 also computes H[a + 1][a], below the diagonal, which symmetrizeFromUpper overwrites.
    let a = 0;
    for (; a + 2 <= n; a += 2) {
      const ca = a * R,
        cb = ca + R;
      let ga = 0,
        gb = 0;
      for (let k = 0; k < rows; k++) {
        ga += Jt[ca + k] * e[k];
        gb += Jt[cb + k] * e[k];
      }
      g[a] = -ga;
      g[a + 1] = -gb;
      let c = a;
      for (; c + 4 <= n; c += 4) {
        const c0 = c * R,
          c1 = c0 + R,
          c2 = c1 + R,
          c3 = c2 + R;
        let h0 = 0,
          h1 = 0,
          h2 = 0,
          h3 = 0,
          i0 = 0,
          i1 = 0,
          i2 = 0,
          i3 = 0;
        for (let k = 0; k < rows; k++) {
          const x = Jt[ca + k],
            y = Jt[cb + k];
          const j0 = Jt[c0 + k],
            j1 = Jt[c1 + k],
            j2 = Jt[c2 + k],
            j3 = Jt[c3 + k];
          h0 += x * j0;
          h1 += x * j1;
          h2 += x * j2;
          h3 += x * j3;
          i0 += y * j0;
          i1 += y * j1;
          i2 += y * j2;
          i3 += y * j3;
        }
        const at = a * n + c,
          bt = at + n;
        H[at] = h0;
        H[at + 1] = h1;
        H[at + 2] = h2;
        H[at + 3] = h3;
        H[bt] = i0;
        H[bt + 1] = i1;
        H[bt + 2] = i2;
        H[bt + 3] = i3;
      }
      for (; c < n; c++) {
        const cc = c * R;
        let h = 0,
          i = 0;
        for (let k = 0; k < rows; k++) {
          const j = Jt[cc + k];
          h += Jt[ca + k] * j;
          i += Jt[cb + k] * j;
        }
        H[a * n + c] = h;
        H[(a + 1) * n + c] = i;
      }
    }
    if (a < n) {
      const ca = a * R;
      let ga = 0,
        h = 0;
      for (let k = 0; k < rows; k++) {
        ga += Jt[ca + k] * e[k];
        h += Jt[ca + k] * Jt[ca + k];
      }
      g[a] = -ga;
      H[a * n + a] = h;
    }
    for (let j = 0; j < P; j++) {
      const lambda = j < this.rank ? identityPrior : expressionPrior;
      H[(PARAM.shape + j) * n + PARAM.shape + j] += lambda;
      g[PARAM.shape + j] -= lambda * this.theta[j];
    }
    if (focalPrior !== Infinity) {
      const f = PARAM.logFocal;
      H[f * n + f] += focalPrior;
      g[f] -= focalPrior * Math.log(camera.focal / focal0);
    }
    const lambdaR = this.energy.rotationPrior;
    if (lambdaR > 0) {
      // log(exp(δ)·R·R₀ᵀ) ≈ w + δ for the left increment δ of applyStep (first order in δ, taking the
      // Jacobian of the log as the identity: exact at w = 0, and the prior only matters near there).
      const w = rotationLogDifference(camera.rotation, this.energy.rotation0, this.rotationError);
      for (let c = 0; c < 3; c++) {
        const a = PARAM.rotation + c;
        H[a * n + a] += lambdaR;
        g[a] -= lambdaR * w[c];
      }
    }
    symmetrizeFromUpper(H, n);
    // Blendshape weights sitting on a bound and pushed outwards stay there for this step.
    if (this.bounded && n === stride) {
      for (let a = 0; a < this.active.length; a++) {
        const p = PARAM.shape + this.rank + a,
          value = this.theta[this.rank + a];
        if (this.hold[p] === Hold.fixed) continue;
        if ((value <= 0 && g[p] < 0) || (value >= 1 && g[p] > 0)) this.hold[p] = Hold.atBound;
        else if (this.hold[p] === Hold.atBound) this.hold[p] = Hold.free;
      }
    }
  }

  /** Solves (H + μ·diag H) Δ = g with fixed parameters held at zero step. */
  private solveStep(mu: number): boolean {
    this.appliedFraction = 1;
    const n = this.activeCount,
      H = this.hessian,
      A = this.damped,
      s = this.step;
    A.set(H.subarray(0, n * n));
    s.set(this.gradient);
    s.fill(0, n);
    for (let a = 0; a < n; a++) {
      if (this.hold[a] !== Hold.free) {
        for (let c = 0; c < n; c++) {
          A[a * n + c] = 0;
          A[c * n + a] = 0;
        }
        A[a * n + a] = 1;
        s[a] = 0;
      } else {
        A[a * n + a] += mu * (H[a * n + a] + 1e-12);
      }
    }
    return choleskySolve(A, s, n);
  }

  /** Decrease of the Gauss–Newton model for the last step: Δᵀ(g + μ·diag(H)·Δ). */
  private predictedDecrease(mu: number): number {
    const n = this.activeCount,
      H = this.hessian,
      s = this.step,
      g = this.gradient;
    let sum = 0;
    for (let a = 0; a < n; a++) if (this.hold[a] === Hold.free) sum += s[a] * (g[a] + mu * H[a * n + a] * s[a]);
    return sum;
  }

  private applyStep(camera: Camera, fraction: number): void {
    const s = this.step;
    if (fraction !== 1) for (let i = 0; i < s.length; i++) s[i] *= fraction / this.appliedFraction;
    this.appliedFraction = fraction;
    this.rotationBackup.set(camera.rotation);
    this.translationBackup.set(camera.translation);
    this.focalBackup = camera.focal;
    this.thetaBackup.set(this.theta);
    this.pointsBackup.set(this.points3d);
    const R = PARAM.rotation,
      T = PARAM.translation;
    rotateBy(camera.rotation, s[R], s[R + 1], s[R + 2], this.rotationScratch);
    camera.translation[0] += s[T];
    camera.translation[1] += s[T + 1];
    camera.translation[2] += s[T + 2];
    camera.focal *= Math.exp(s[PARAM.logFocal]);
    for (let j = 0; j < this.shapeCount; j++) this.theta[j] += s[PARAM.shape + j];
    if (this.bounded) {
      for (let j = this.rank; j < this.shapeCount; j++) this.theta[j] = Math.min(1, Math.max(0, this.theta[j]));
    }
    this.evaluatePoints();
  }

  private restore(camera: Camera): void {
    camera.rotation.set(this.rotationBackup);
    camera.translation.set(this.translationBackup);
    camera.focal = this.focalBackup;
    this.theta.set(this.thetaBackup);
    this.points3d.set(this.pointsBackup);
  }

  /** Moves each outline landmark to the nearest silhouette vertex of its side; true if any moved. */
  private updateOutline(camera: Camera, points: ArrayLike<number>): boolean {
    const lines = this.lines;
    if (!lines) return false;
    silhouetteVertices(lines, this.model.mean, camera.rotation, this.silhouette);
    // Project the silhouette vertices with their current shape (only these few vertices).
    const P = this.shapeCount,
      theta = this.theta,
      X = this.silhouette3d;
    for (let s = 0; s < this.silhouette.length; s++) {
      const v = this.silhouette[s];
      const rows = this.vertexRows(v);
      let x = this.basePosition(v, 0),
        y = this.basePosition(v, 1),
        z = this.basePosition(v, 2);
      for (let p = 0; p < P; p++) {
        const c = theta[p];
        x += c * rows[p];
        y += c * rows[P + p];
        z += c * rows[2 * P + p];
      }
      X[3 * s] = x;
      X[3 * s + 1] = y;
      X[3 * s + 2] = z;
    }
    projectPoints(camera, X, this.silhouette.length, this.silhouette2d);
    let changed = false;
    const chin = this.baseWeight[CHIN] > 0 ? chinVertex(lines, this.model.mean, camera.rotation) : -1;
    if (chin >= 0 && chin !== this.slotVertex[CHIN]) {
      this.assignSlot(CHIN, chin);
      changed = true;
    }
    const L = lines.linesPerSide;
    for (let side = 0; side < 2; side++) {
      const outline = side === 0 ? OUTLINE_RIGHT : OUTLINE_LEFT;
      for (const i of outline) {
        if (this.baseWeight[i] === 0) continue;
        const px = points[2 * i],
          py = points[2 * i + 1];
        let best = -1,
          bestDistance = Infinity;
        for (let j = side * L; j < (side + 1) * L; j++) {
          const dd = (this.silhouette2d[2 * j] - px) ** 2 + (this.silhouette2d[2 * j + 1] - py) ** 2;
          if (dd < bestDistance) {
            bestDistance = dd;
            best = this.silhouette[j];
          }
        }
        if (best >= 0 && best !== this.slotVertex[i]) {
          this.assignSlot(i, best);
          changed = true;
        }
      }
    }
    return changed;
  }

  /** Cauchy weights on the residuals, scaled by the median residual (at least 1% of the face size). */
  private updateWeights(camera: Camera, points: ArrayLike<number>, size: number, withOutline: boolean): void {
    const uv = this.projected;
    projectPoints(camera, this.points3d, POINTS, uv);
    let used = 0;
    for (let i = 0; i < POINTS; i++) {
      this.residualNorm[i] = Infinity;
      if (this.baseWeight[i] === 0 || (!withOutline && this.isOutline[i])) continue;
      const e = Math.hypot(uv[2 * i] - points[2 * i], uv[2 * i + 1] - points[2 * i + 1]);
      this.residualNorm[i] = e;
      this.sortScratch[used++] = e;
    }
    const sorted = this.sortScratch.subarray(0, used).sort();
    const scale = 2.5 * Math.max(1.4826 * sorted[used >> 1], 0.01 * size);
    for (let i = 0; i < POINTS; i++) {
      if (this.baseWeight[i] === 0) continue;
      const q = this.residualNorm[i] / scale; // Infinity for a point left out: weight 0
      this.weight[i] = this.baseWeight[i] / (1 + q * q);
    }
  }
}

import type { Camera } from '../geometry/camera.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { createPhotometricImage, PhotometricRenderer, type PhotometricImage } from '../render/photometric.js';
import { shBasis } from '../render/spherical-harmonics.js';
import type { LandmarkTerm } from './landmark-term.js';
import { choleskySolve } from '../geometry/linalg.js';
import { rotateBy } from '../geometry/rotation.js';

/**
 * The geometry step of the photometric fit: Levenberg–Marquardt on pose, identity, expression, SH
 * light and a low-dimensional albedo together, with the exact Jacobian of the rendered colours
 * (one forward-mode derivative per parameter, render/photometric.ts `colorDerivative`).
 *
 * Why these choices (measured on a face rendered from known coefficients, light and albedo):
 * - Gauss–Newton, not first-order steps: the shape's signal in the shading is weak and badly
 *   conditioned. Adam with the same gradients did not improve the 3D shape over the landmark fit;
 *   with the true albedo and light, one Gauss–Newton step took it from 47 % to 30 % of the mean
 *   face's error.
 * - The albedo has few degrees of freedom while the geometry moves: a per-vertex albedo explains
 *   the shading of a wrong shape just as well, and the shape then stays where the landmarks put it.
 * - Pixels within `EDGE` pixels of a silhouette or a depth jump are left out: there the colour
 *   jumps between surfaces and no derivative describes it.
 *
 * Energy, with e_p the squared RGB residual of pixel p (linear colour):
 *   Σ_p s²·e_p/(s² + e_p)/σ² (Geman–McClure: occluders stop pulling) + Σ_i ‖π(X_i) − x_i‖²/σ_lm²
 *   + ‖α‖² + λ_β‖β‖² + ‖a‖² (albedo coefficients) + a small ridge on the light.
 */

/** A linear albedo: mean (3N, linear RGB) + Σ_k a_k·basis_k, basis component-major (K × 3N). */
export interface AlbedoModel {
  mean: Float64Array;
  basis: Float64Array;
  count: number;
}

/** out = mean + Σ_k coefficients[k]·basis_k (3N). */
export function evaluateAlbedo(model: AlbedoModel, coefficients: ArrayLike<number>, out: Float64Array): Float64Array {
  const n3 = out.length,
    B = model.basis;
  out.set(model.mean);
  for (let k = 0; k < model.count; k++) {
    const c = coefficients[k];
    if (c !== 0) for (let i = 0, o = k * n3; i < n3; i++) out[i] += c * B[o + i];
  }
  return out;
}

export interface GeometryState {
  camera: Camera;
  identity: Float64Array;
  expression: Float64Array;
  /** 27 SH coefficients (sh[3k + c]). */
  sh: Float64Array;
  albedoCoefficients: Float64Array;
}

export interface GaussNewtonOptions {
  iterations: number;
  /** σ: the colour noise (linear RGB) that weighs the photometric term against the others. */
  colourNoise: number;
  /** σ_lm in render pixels. */
  landmarkNoise: number;
  expressionPrior: number;
  /** Weight of ‖α‖² (identity, σ units); default 1, the model's N(0, I). */
  identityPrior?: number;
  /** The identity prior's centre (‖α − mean‖²); default the mean face (0). */
  identityMean?: ArrayLike<number>;
  /** Geman–McClure scale s of the RGB distance. */
  robustScale: number;
}

/** Pixels this close to a silhouette or a depth jump are left out of the energy. */
const EDGE = 2;

export class PhotometricGaussNewton {
  readonly size: number;
  private readonly face: MorphableModel;
  private readonly renderer: PhotometricRenderer;
  private readonly image: PhotometricImage;
  private readonly positions: Float32Array;
  private readonly albedo: Float64Array;
  private readonly selected: Int32Array;
  private selectedCount = 0;
  private readonly residual: Float64Array;
  private readonly rootWeight: Float64Array;
  private readonly column: Float64Array;
  private jacobian = new Float32Array(0);
  private readonly Y = new Float64Array(9);
  /** Views of the identity then expression components (3N each): the directions of the shape columns. */
  private readonly components: Float32Array[];

  constructor(face: MorphableModel, size: number) {
    this.face = face;
    this.size = size;
    const n = face.vertexCount,
      pixels = size * size;
    this.renderer = new PhotometricRenderer(face.triangles, n, size, size);
    this.image = createPhotometricImage(size, size);
    this.positions = new Float32Array(3 * n);
    this.albedo = new Float64Array(3 * n);
    this.selected = new Int32Array(pixels);
    this.residual = new Float64Array(3 * pixels);
    this.rootWeight = new Float64Array(pixels);
    this.column = new Float64Array(3 * pixels);
    const n3 = 3 * n,
      view = (basis: Float32Array, k: number) => basis.subarray(k * n3, (k + 1) * n3);
    this.components = [
      ...Array.from({ length: face.identity.count }, (_, k) => view(face.identity.basis, k)),
      ...Array.from({ length: face.expression.count }, (_, k) => view(face.expression.basis, k)),
    ];
  }

  /**
   * Refines `state` in place against `target` (linear RGB, 3·size², this solver's size), using only
   * the pixels where `valid` is non-zero; returns the iterations taken.
   */
  solve(
    target: Float32Array,
    valid: Uint8Array,
    state: GeometryState,
    albedoModel: AlbedoModel,
    landmarks: LandmarkTerm,
    o: GaussNewtonOptions,
  ): number {
    const face = this.face,
      kId = face.identity.count,
      kEx = face.expression.count,
      kA = albedoModel.count;
    const G = 6 + kId + kEx,
      P = G + 27 + kA;
    const H = new Float64Array(P * P),
      g = new Float64Array(P),
      A = new Float64Array(P * P),
      step = new Float64Array(P);
    const trial: GeometryState = {
      camera: {
        ...state.camera,
        rotation: state.camera.rotation.slice(),
        translation: state.camera.translation.slice(),
      },
      identity: state.identity.slice(),
      expression: state.expression.slice(),
      sh: state.sh.slice(),
      albedoCoefficients: state.albedoCoefficients.slice(),
    };
    let lambda = 1e-3;
    // Iteration −1 moves only the light and the colour (cheap: no geometry columns), which start far
    // off; then everything together.
    for (let iteration = -1; iteration < o.iterations; iteration++) {
      const first = iteration < 0 ? G : 0;
      this.render(state, albedoModel);
      this.selectPixels(valid);
      const energy =
        this.linearise(target, state, albedoModel, o, H, g, P, first)
        + landmarks.accumulate(state.camera, state.identity, state.expression, 1 / o.landmarkNoise ** 2, H, g, P)
        + this.priors(state, o, H, g, G);
      let accepted = false;
      for (let attempt = 0; attempt < 6 && !accepted; attempt++) {
        A.set(H);
        for (let k = 0; k < P; k++) {
          A[k * P + k] += lambda * H[k * P + k] + 1e-9;
          step[k] = -g[k];
        }
        for (let j = 0; j < P; j++) {
          // Held: the parameters before `first`, and expressions at a bound that the gradient pushes
          // past (an active set: a step clamped after the solve would leave the others compensating
          // for a move that never happens).
          const e = j - 6 - kId,
            b = e >= 0 && e < kEx ? state.expression[e] : 0.5;
          if (j >= first && !(b <= 0 && g[j] > 0) && !(b >= 1 && g[j] < 0)) continue;
          for (let i = 0; i < P; i++) A[j * P + i] = A[i * P + j] = 0;
          A[j * P + j] = 1;
          step[j] = 0;
        }
        if (!choleskySolve(A, step, P)) {
          lambda *= 4;
          continue;
        }
        copyState(state, trial);
        rotateBy(trial.camera.rotation, step[0], step[1], step[2]);
        for (let k = 0; k < 3; k++) trial.camera.translation[k] += step[3 + k];
        for (let k = 0; k < kId; k++) trial.identity[k] += step[6 + k];
        for (let k = 0; k < kEx; k++)
          trial.expression[k] = Math.min(1, Math.max(0, trial.expression[k] + step[6 + kId + k]));
        for (let k = 0; k < 27; k++) trial.sh[k] += step[G + k];
        for (let k = 0; k < kA; k++) trial.albedoCoefficients[k] += step[G + 27 + k];
        this.render(trial, albedoModel);
        const next =
          this.photometricEnergy(target, o)
          + landmarks.accumulate(
            trial.camera,
            trial.identity,
            trial.expression,
            1 / o.landmarkNoise ** 2,
            null,
            null,
            P,
          )
          + this.priors(trial, o, null, null, G);
        if (next < energy) {
          copyState(trial, state);
          lambda = Math.max(1e-6, lambda / 3);
          accepted = true;
          if (iteration >= 0 && energy - next < 1e-4 * energy) return iteration + 1;
        } else lambda *= 4;
      }
      if (!accepted) return Math.max(0, iteration);
    }
    return o.iterations;
  }

  private render(state: GeometryState, albedoModel: AlbedoModel): void {
    evaluateShape(this.face, state.identity, state.expression, this.positions);
    evaluateAlbedo(albedoModel, state.albedoCoefficients, this.albedo);
    this.renderer.render(this.positions, state.camera, this.albedo, state.sh, this.image);
  }

  /** Valid covered pixels away from silhouettes and depth jumps (more than 3 mm per pixel of distance, + 2 mm). */
  private selectPixels(valid: Uint8Array): void {
    const size = this.size,
      mask = this.image.mask,
      depth = this.image.depth,
      out = this.selected;
    let count = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        if (!mask[p] || !valid[p]) continue;
        let keep = x >= EDGE && y >= EDGE && x < size - EDGE && y < size - EDGE;
        for (let dy = -EDGE; dy <= EDGE && keep; dy++) {
          for (let dx = -EDGE; dx <= EDGE; dx++) {
            const q = p + dy * size + dx;
            if (!mask[q] || Math.abs(depth[q] - depth[p]) > 3 * Math.max(Math.abs(dx), Math.abs(dy)) + 2) {
              keep = false;
              break;
            }
          }
        }
        if (keep) out[count++] = p;
      }
    }
    this.selectedCount = count;
  }

  /** Column k of the Jacobian: the colour derivative in `column` at the selected pixels, weighted. */
  private gatherColumn(k: number, rows: number): void {
    const J = this.jacobian,
      col = this.column,
      sel = this.selected,
      root = this.rootWeight,
      o = k * rows;
    for (let i = 0; i < this.selectedCount; i++) {
      const p = 3 * sel[i],
        w = root[i];
      J[o + 3 * i] = w * col[p];
      J[o + 3 * i + 1] = w * col[p + 1];
      J[o + 3 * i + 2] = w * col[p + 2];
    }
  }

  /** The robust photometric energy of the last render over the selected pixels. */
  private photometricEnergy(target: Float32Array, o: GaussNewtonOptions): number {
    const color = this.image.color,
      s2 = o.robustScale ** 2;
    let energy = 0;
    for (let i = 0; i < this.selectedCount; i++) {
      const p = this.selected[i];
      const d0 = color[3 * p] - target[3 * p],
        d1 = color[3 * p + 1] - target[3 * p + 1],
        d2 = color[3 * p + 2] - target[3 * p + 2];
      const e = d0 * d0 + d1 * d1 + d2 * d2;
      energy += (s2 * e) / (s2 + e);
    }
    return energy / o.colourNoise ** 2;
  }

  /**
   * H = JᵀWJ/σ², g = JᵀWr/σ² of the photometric term at the last render (IRLS weights of the robust
   * penalty, fixed), over the parameters from `first` on (the rest of H and g is left as it was, for
   * the caller to hold); returns its energy.
   */
  private linearise(
    target: Float32Array,
    state: GeometryState,
    albedoModel: AlbedoModel,
    o: GaussNewtonOptions,
    H: Float64Array,
    g: Float64Array,
    P: number,
    first: number,
  ): number {
    const face = this.face,
      n3 = 3 * face.vertexCount,
      kId = face.identity.count,
      kEx = face.expression.count,
      G = 6 + kId + kEx;
    const M = this.selectedCount,
      rows = 3 * M,
      sel = this.selected,
      color = this.image.color;
    const s2 = o.robustScale ** 2,
      invSigma = 1 / o.colourNoise;
    const r = this.residual,
      root = this.rootWeight;
    let energy = 0;
    for (let i = 0; i < M; i++) {
      const p = sel[i];
      const d0 = color[3 * p] - target[3 * p],
        d1 = color[3 * p + 1] - target[3 * p + 1],
        d2 = color[3 * p + 2] - target[3 * p + 2];
      const e = d0 * d0 + d1 * d1 + d2 * d2;
      energy += (s2 * e) / (s2 + e);
      // IRLS: the penalty's slope in e, s⁴/(s² + e)², is the weight of the squared residual.
      const w = (invSigma * s2) / (s2 + e);
      root[i] = w;
      r[3 * i] = w * d0;
      r[3 * i + 1] = w * d1;
      r[3 * i + 2] = w * d2;
    }
    if (this.jacobian.length < P * rows) this.jacobian = new Float32Array(Math.ceil(1.2 * P * rows));
    const J = this.jacobian,
      col = this.column,
      unit = this.Y;
    // Geometry columns: one forward-mode derivative each.
    if (first === 0) {
      for (let k = 0; k < 6; k++) {
        unit.fill(0, 0, 3);
        unit[k % 3] = 1;
        this.renderer.colorDerivative(null, k < 3 ? unit : null, k < 3 ? null : unit, col);
        this.gatherColumn(k, rows);
      }
      for (let k = 0; k < this.components.length; k++) {
        this.renderer.colorDerivative(this.components[k], null, null, col);
        this.gatherColumn(6 + k, rows);
      }
    }
    // Light and albedo columns: C_c = ρ_c·Σ_k Y_k(n)·sh[3k + c] is linear in each.
    J.fill(0, G * rows, P * rows);
    const tri = this.renderer.triangleIds,
      bary = this.renderer.barycentrics,
      T = face.triangles,
      normal = this.image.normal;
    const albedo = this.albedo,
      sh = state.sh,
      B = albedoModel.basis,
      kA = albedoModel.count,
      Y = this.Y;
    for (let i = 0; i < M; i++) {
      const p = sel[i],
        t = tri[p],
        w = root[i];
      const b1 = bary[2 * p],
        b2 = bary[2 * p + 1],
        b0 = 1 - b1 - b2;
      const o0 = 3 * T[3 * t],
        o1 = 3 * T[3 * t + 1],
        o2 = 3 * T[3 * t + 2];
      shBasis(normal[3 * p], normal[3 * p + 1], normal[3 * p + 2], Y);
      for (let c = 0; c < 3; c++) {
        const row = 3 * i + c;
        const rho = b0 * albedo[o0 + c] + b1 * albedo[o1 + c] + b2 * albedo[o2 + c];
        let irradiance = 0;
        for (let k = 0; k < 9; k++) {
          irradiance += Y[k] * sh[3 * k + c];
          J[(G + 3 * k + c) * rows + row] = w * rho * Y[k];
        }
        for (let k = 0; k < kA; k++) {
          const o = k * n3;
          J[(G + 27 + k) * rows + row] =
            w * irradiance * (b0 * B[o + o0 + c] + b1 * B[o + o1 + c] + b2 * B[o + o2 + c]);
        }
      }
    }
    // JᵀJ in row blocks that stay in cache; the upper triangle, mirrored. A light column sh[3k + c]
    // is zero outside channel c's rows: its products run over every third row, or are zero.
    H.fill(0);
    const BLOCK = 384; // a multiple of 3: blocks start on a pixel's first channel
    for (let start = 0; start < rows; start += BLOCK) {
      const end = Math.min(rows, start + BLOCK);
      for (let a = first; a < P; a++) {
        const oa = a * rows,
          channelA = a >= G && a < G + 27 ? (a - G) % 3 : -1;
        for (let b = a; b < P; b++) {
          const ob = b * rows,
            channelB = b >= G && b < G + 27 ? (b - G) % 3 : -1;
          let sum = 0;
          if (channelA < 0 && channelB < 0) {
            let s1 = 0,
              i = start;
            for (; i + 1 < end; i += 2) {
              sum += J[oa + i] * J[ob + i];
              s1 += J[oa + i + 1] * J[ob + i + 1];
            }
            if (i < end) sum += J[oa + i] * J[ob + i];
            sum += s1;
          } else if (channelA < 0 || channelB < 0 || channelA === channelB) {
            for (let i = start + Math.max(channelA, channelB); i < end; i += 3) sum += J[oa + i] * J[ob + i];
          }
          H[a * P + b] += sum;
        }
      }
    }
    for (let a = first; a < P; a++) {
      for (let b = first; b < a; b++) H[a * P + b] = H[b * P + a];
      const oa = a * rows;
      let s = 0;
      for (let i = 0; i < rows; i++) s += J[oa + i] * r[i];
      g[a] = s;
    }
    return energy / o.colourNoise ** 2;
  }

  /** The priors' energy, and their terms in H and g if given. */
  private priors(
    state: GeometryState,
    o: GaussNewtonOptions,
    H: Float64Array | null,
    g: Float64Array | null,
    G: number,
  ): number {
    const kId = state.identity.length,
      kEx = state.expression.length,
      kA = state.albedoCoefficients.length,
      P = G + 27 + kA;
    let energy = 0;
    const term = (index: number, value: number, weight: number) => {
      energy += weight * value * value;
      if (H && g) {
        H[index * P + index] += weight;
        g[index] += weight * value;
      }
    };
    const identityPrior = o.identityPrior ?? 1;
    const centre = o.identityMean;
    for (let k = 0; k < kId; k++) term(6 + k, state.identity[k] - (centre?.[k] ?? 0), identityPrior);
    for (let k = 0; k < kEx; k++) term(6 + kId + k, state.expression[k], o.expressionPrior);
    for (let k = 0; k < 27; k++) if (H) H[(G + k) * P + G + k] += 1e-3;
    for (let k = 0; k < kA; k++) term(G + 27 + k, state.albedoCoefficients[k], 1);
    return energy;
  }
}

function copyState(from: GeometryState, to: GeometryState): void {
  to.camera.rotation.set(from.camera.rotation);
  to.camera.translation.set(from.camera.translation);
  to.identity.set(from.identity);
  to.expression.set(from.expression);
  to.sh.set(from.sh);
  to.albedoCoefficients.set(from.albedoCoefficients);
}

import type { RgbImage } from '../render/rgb-image.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { linearToSrgb, linearToSrgbByte, srgbToLinear } from '../model/color.js';
import { submodel } from '../model/submesh.js';
import {
  chainToBasis,
  createPhotometricGradient,
  createPhotometricImage,
  PhotometricRenderer,
  type PhotometricImage,
} from '../render/photometric.js';
import { shBasis, SH_K } from '../render/spherical-harmonics.js';
import type { Camera } from '../geometry/camera.js';
import { cropCamera, scaleCamera, uncropCamera, type Crop } from '../geometry/crop.js';
import type { LandmarkFitResult } from './landmark-fit.js';
import { choleskySolve } from '../geometry/linalg.js';
import { LandmarkTerm } from './landmark-term.js';
import { evaluateAlbedo, PhotometricGaussNewton, type AlbedoModel } from './photometric-gauss-newton.js';
import { rotateBy } from '../geometry/rotation.js';
import { reconstruct, WeightedProjector } from '../model/weighted-pca.js';

/**
 * Analysis by synthesis after the landmark fit: render the face region of the model under
 * spherical-harmonics light and change pose, identity, expression, albedo and light until the
 * rendering matches the photo (Blanz & Vetter 1999), in a square crop around the face.
 *
 * Energy: robust photometric error over the rendered face pixels (Geman–McClure: hair, glasses or
 * hands in front of the face stop pulling once they are far off), plus the landmark term and the
 * priors of the landmark fit. Albedo and light have closed forms given the geometry: light by least
 * squares over the pixels, per-vertex albedo by a preconditioned step towards the photo, tied to its
 * left/right mirror vertex and pulled towards its mean colour.
 *
 * The geometry step depends on what is known of the albedo:
 * - a known per-vertex albedo (`albedo`), or a colour model with `colourModelUse: 'lm'`:
 *   Levenberg–Marquardt on pose, identity, expression, light and colour coefficients together, at
 *   half the render size (photometric-gauss-newton.ts). An albedo with few degrees of freedom cannot
 *   absorb the shading of a wrong shape, so the shading moves the shape — when the face's colour is
 *   in the model's span;
 * - otherwise: Adam steps on the analytic gradients (render/photometric.ts), the per-vertex albedo
 *   and light re-solved every few steps. Here the albedo does absorb the shading and the shape stays
 *   near the landmark fit's. With a colour model (default `colourModelUse: 'prior'`) the albedo is
 *   pulled towards the model's reconstruction of it rather than towards its mean colour. A smooth
 *   low-dimensional albedo stand-in with Levenberg–Marquardt bent the geometry on faces-68 to explain
 *   eyebrows and lips by shading (landmark NME 2.47 → 3.15 %, image error lower on 8 of 26 photos), so
 *   it is not used.
 *
 * Crop pixels past the photo's border hold no data and are left out of every term (they used to be
 * the border's pixels repeated, which pulled the forehead wherever a face touches the border).
 *
 * Colours are linear RGB in [0, 1]; the photo is converted from sRGB.
 */

export interface PhotometricFitOptions {
  /** Render (and crop) size in pixels. */
  size?: number;
  /**
   * Adam steps (40), or Levenberg–Marquardt iterations with a colour model or known albedo (8; fewer when it
   * converges).
   */
  iterations?: number;
  /** Weight of the landmark term against the photometric one. */
  landmarkWeight?: number;
  identityPrior?: number;
  /** The identity prior's centre (‖α − mean‖² instead of ‖α‖²), as the landmark fit's (e.g. a face embedding's). */
  identityMean?: ArrayLike<number>;
  expressionPrior?: number;
  /** Geman–McClure scale of the colour residual. */
  robustScale?: number;
  /** Pull of each vertex's albedo towards the mean colour, against the photo's evidence. */
  albedoPrior?: number;
  /**
   * A known per-vertex albedo (linear RGB, 3 per model vertex), e.g. from an earlier fit of the same
   * person: it is held fixed and the geometry is fitted as with a colour model.
   */
  albedo?: ArrayLike<number>;
  /**
   * With a colour model or known albedo: colour noise σ (linear RGB), weighing the photo against landmarks and
   * priors.
   */
  colourNoise?: number;
  /** With a colour model or known albedo: landmark noise as a fraction of the crop side. */
  landmarkNoise?: number;
  /** With a colour model or known albedo: weight of the identity prior ‖α‖². */
  gaussNewtonIdentityPrior?: number;
  /**
   * How a colour model is used. 'prior' (default): the per-vertex albedo of the Adam path, pulled towards the
   * colour model's reconstruction of it (weight colourModelPrior) instead of towards its mean colour, so that
   * unseen parts take the colour the model predicts from the seen ones. 'lm': Levenberg–Marquardt over the colour
   * coefficients with the geometry (right when the face's colour is in the model's span, as on faces rendered
   * from it; on real photos it bent identities out of the plausible range and on synthetic faces with photo skin
   * it never beat the landmark geometry).
   */
  colourModelUse?: 'lm' | 'prior';
  colourModelPrior?: number;
}

export interface PhotometricFitResult {
  camera: Camera;
  identity: Float32Array;
  expression: Float32Array;
  /** Per-vertex linear RGB albedo of the whole model (vertices outside the face region get the mean skin colour). */
  albedo: Float32Array;
  /**
   * How much the last closed-form albedo solve saw each vertex of the whole model: the sum over the rendered
   * face pixels of the vertex's barycentric weight times the pixel's robust weight (mean over R, G, B), in crop
   * pixels at the render size; 0 where never seen (self-occluded, out of frame, outside the face region).
   */
  albedoWeight: Float32Array;
  /** Coefficients of the model's colour model, when it has one (the albedo before its per-vertex refinement). */
  color?: Float32Array;
  /** Spherical-harmonics light, 27 values (sh[3k + c]), see render/spherical-harmonics.ts. */
  sh: Float64Array;
  /** RMSE over the face pixels, sRGB colour in [0, 1]: with the landmark fit's geometry, and after. */
  rmseBefore: number;
  rmseAfter: number;
  /** The crop: photo pixels (x0, y0, side) that map to the render. */
  crop: Crop;
  iterations: number;
  /** False when the refined geometry rendered worse than the landmark fit's, which was then kept. */
  geometryRefined: boolean;
}

/** How far the albedo is pulled to its left/right mirror each round (1: fully symmetric). */
const SYMMETRY = 0.5;
export const PHOTOMETRIC_FIT_DEFAULTS = {
  size: 256,
  landmarkWeight: 6,
  /**
   * 10× the landmark fit's: the photo's shading moves the identity less than it moves the noise of the
   * landmarks and the model's mismatch. Tuning set (seeds 5000/5100, 24 ICT-FaceKit and 24 Surrey faces through
   * the default pipeline; not the held-out sets): 3D error 1.14 / 1.43 mm at 3e-4, 1.12 / 1.37 mm at 3e-3; on 12
   * held-out train-300w photos the photometric RMSE goes from 0.0547 to 0.0552.
   */
  identityPrior: 3e-3,
  expressionPrior: 3e-3,
  robustScale: 0.15,
  albedoPrior: 0.05,
  colourNoise: 0.02,
  landmarkNoise: 0.01,
};
const ADAM_STEPS = 40;
type FitSettings = typeof PHOTOMETRIC_FIT_DEFAULTS;
/** With a colour model or known albedo: Levenberg–Marquardt iterations, and the expression prior of its energy. */
const COLOUR_MODEL_ITERATIONS = 8;
const COLOUR_MODEL_EXPRESSION_PRIOR = 10;
/**
 * Pull of the per-vertex albedo towards the colour model's reconstruction of it (`colourModelUse: 'prior'`).
 * Chosen on 12 held-out train-300w faces (the albedo dataset's validation split): photometric RMSE 0.0607
 * without the colour model (pull 0.05 towards the mean colour), 0.0547 / 0.0578 / 0.0615 / 0.0687 with
 * pulls 0.02 / 0.05 / 0.1 / 0.25 towards the model; identity RMS unchanged.
 */
const COLOUR_MODEL_PRIOR = 0.02;

export class PhotometricFitter {
  readonly model: MorphableModel;
  /** The face region, re-indexed: what is rendered. */
  private readonly face: MorphableModel;
  private readonly faceVertices: Uint32Array;
  private readonly mirror: Int32Array;
  private readonly size: number;
  private readonly renderer: PhotometricRenderer;
  private readonly image: PhotometricImage;
  private readonly target: Float32Array;
  /** 1 where the crop pixel lies within the photo, 0 past its border (no data there: left out everywhere). */
  private readonly inside: Float32Array;
  private readonly gradient;
  /**
   * The Levenberg–Marquardt geometry step (made on first use) and its half-size target; the model's colour
   * model, if any.
   */
  private gaussNewton: PhotometricGaussNewton | undefined;
  private smallTarget: Float32Array | undefined;
  private smallInside: Uint8Array | undefined;
  private readonly colourModel: AlbedoModel | undefined;
  private readonly positions: Float32Array;
  private readonly albedo: Float64Array;
  private readonly sh = new Float64Array(27);
  // Scratch for the closed-form light and albedo updates.
  private readonly shRow = new Float64Array(9);
  private readonly shNormal = new Float64Array(81);
  private readonly shRhs = new Float64Array(9);
  private readonly albedoNum: Float64Array;
  private readonly albedoDen: Float64Array;
  /** Σ robust weight × barycentric per vertex (3 per vertex, by channel): the albedo's confidence. */
  private readonly albedoSeen: Float64Array;
  private readonly albedoNext: Float64Array;
  private readonly meanColour = new Float64Array(3);
  private albedoPrior = PHOTOMETRIC_FIT_DEFAULTS.albedoPrior;
  /** Pull towards the colour model's reconstruction of the albedo (0: towards the mean colour). */
  private colourModelPrior = 0;
  private readonly priorTarget: Float32Array;
  private readonly priorWeight: Float32Array;
  /** The colour model's coefficients of the last reconstruction (σ units). */
  private priorCoefficients: Float64Array | undefined;
  /** Made on the first fit that uses the colour model as the prior (its buffers are K × 3V). */
  private projector: WeightedProjector | undefined;
  /** The per-channel gain between the fit's albedo and the colour model's, at the last reconstruction. */
  private readonly priorGain = new Float64Array(3);
  private robustScale = PHOTOMETRIC_FIT_DEFAULTS.robustScale;

  constructor(model: MorphableModel, options: { size?: number } = {}) {
    this.model = model;
    this.faceVertices = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    this.face = submodel(model, this.faceVertices);
    this.size = options.size ?? PHOTOMETRIC_FIT_DEFAULTS.size;
    if (!(this.size >= 32 && this.size % 2 === 0))
      throw new RangeError(`render size must be even and at least 32 (got ${this.size})`);
    const n = this.face.vertexCount;
    this.renderer = new PhotometricRenderer(this.face.triangles, n, this.size, this.size);
    this.image = createPhotometricImage(this.size, this.size);
    this.target = new Float32Array(3 * this.size * this.size);
    this.inside = new Float32Array(this.size * this.size);
    this.gradient = createPhotometricGradient(n);
    this.positions = new Float32Array(3 * n);
    this.albedo = new Float64Array(3 * n);
    this.albedoNum = new Float64Array(3 * n);
    this.albedoDen = new Float64Array(3 * n);
    this.albedoSeen = new Float64Array(3 * n);
    this.albedoNext = new Float64Array(3 * n);
    this.priorTarget = new Float32Array(3 * n);
    this.priorWeight = new Float32Array(3 * n);
    this.mirror = mirrorVertices(this.face.mean);
    const colour = this.face.color;
    if (colour)
      this.colourModel = {
        mean: Float64Array.from(colour.mean),
        basis: Float64Array.from(colour.basis.basis),
        count: colour.basis.count,
      };
  }

  fit(
    photo: RgbImage,
    photoScale: number,
    landmarks: ArrayLike<number>,
    start: LandmarkFitResult,
    options: PhotometricFitOptions = {},
  ): PhotometricFitResult {
    const o = { ...PHOTOMETRIC_FIT_DEFAULTS, ...options };
    this.albedoPrior = o.albedoPrior;
    const useModelAsPrior = o.colourModelUse !== 'lm' && this.colourModel !== undefined && !options.albedo;
    this.colourModelPrior = useModelAsPrior ? (o.colourModelPrior ?? COLOUR_MODEL_PRIOR) : 0;
    this.priorCoefficients = undefined;
    this.robustScale = o.robustScale;
    const size = this.size;
    // The crop: a square around the landmarks, with room for the forehead, in full-image pixels.
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -Infinity,
      y1 = -Infinity;
    for (let i = 0; i < 68; i++) {
      const x = landmarks[2 * i],
        y = landmarks[2 * i + 1];
      if (!Number.isFinite(x + y)) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
    const side = 1.6 * Math.max(x1 - x0, y1 - y0);
    const crop = { x: (x0 + x1) / 2 - side / 2, y: (y0 + y1) / 2 - 0.55 * side, side, size };
    sampleCrop(photo, photoScale, crop, this.target, this.inside);
    const s = size / side;
    const camera = cropCamera(start.camera, crop);

    const startCamera = scaleCamera(camera, 1);
    const alpha = Float64Array.from(start.identity),
      beta = Float64Array.from(start.expression);
    this.evaluate(alpha, beta);
    this.initialiseAppearance(camera);
    const rmseBefore = this.rmse(camera);

    const albedoModel = options.albedo
      ? this.knownAlbedo(options.albedo)
      : useModelAsPrior
        ? undefined
        : this.colourModel;
    // Levenberg–Marquardt (with an albedo model) fits at half the render size.
    const lm = new LandmarkTerm(this.model, start.landmarkVertices, landmarks, albedoModel ? s / 2 : s, crop);
    const colourCoefficients = new Float64Array(albedoModel?.count ?? 0);
    const iterations = albedoModel
      ? this.gaussNewtonGeometry(
          camera,
          alpha,
          beta,
          lm,
          albedoModel,
          colourCoefficients,
          options.iterations ?? COLOUR_MODEL_ITERATIONS,
          o,
        )
      : this.adamGeometry(camera, alpha, beta, lm, options.iterations ?? ADAM_STEPS, o);
    this.evaluate(alpha, beta);
    for (let round = 0; round < 3; round++) this.updateAppearance(camera);
    let rmseAfter = this.rmse(camera);
    const geometryRefined = rmseAfter <= rmseBefore;
    if (!geometryRefined) {
      // Never hand back a worse picture than the landmark fit gave: keep its geometry.
      camera.rotation.set(startCamera.rotation);
      camera.translation.set(startCamera.translation);
      alpha.set(start.identity);
      beta.set(start.expression);
      this.evaluate(alpha, beta);
      for (let round = 0; round < 3; round++) this.updateAppearance(camera);
      rmseAfter = this.rmse(camera);
    }

    if (useModelAsPrior && this.priorCoefficients) {
      // Hand back the albedo in the colour model's scale (its coefficients then describe it), the light
      // scaled the other way: the rendering does not change.
      for (let i = 0; i < this.albedo.length; i++) this.albedo[i] /= this.priorGain[i % 3];
      for (let k = 0; k < 27; k++) this.sh[k] *= this.priorGain[k % 3];
    }
    return {
      camera: uncropCamera(camera, crop), // back to the full photo's camera
      identity: Float32Array.from(alpha),
      expression: Float32Array.from(beta),
      albedo: this.fullAlbedo(),
      albedoWeight: this.fullAlbedoWeight(),
      ...(useModelAsPrior && this.priorCoefficients
        ? { color: Float32Array.from(this.priorCoefficients) }
        : colourCoefficients.length > 0 && geometryRefined
          ? { color: Float32Array.from(colourCoefficients) }
          : {}),
      sh: Float64Array.from(this.sh),
      rmseBefore,
      rmseAfter,
      crop,
      iterations,
      geometryRefined,
    };
  }

  /** Adam over [δ (3), t (3), α, β], the per-vertex albedo and light re-solved every 8 steps. */
  private adamGeometry(
    camera: Camera,
    alpha: Float64Array,
    beta: Float64Array,
    lm: LandmarkTerm,
    steps: number,
    o: FitSettings & PhotometricFitOptions,
  ): number {
    const face = this.face,
      kId = face.identity.count,
      kEx = face.expression.count;
    const P = 6 + kId + kEx;
    const params = new Float64Array(P),
      grad = new Float64Array(P),
      m = new Float64Array(P),
      v = new Float64Array(P);
    const rate = new Float64Array(P);
    rate.fill(0.003, 0, 3); // radians
    rate.fill(0.5, 3, 6); // mm
    rate.fill(0.03, 6, 6 + kId);
    rate.fill(0.02, 6 + kId, P);
    const idGrad = new Float64Array(kId),
      exGrad = new Float64Array(kEx);
    for (let iteration = 0; iteration < steps; iteration++) {
      if (iteration % 8 === 7) this.updateAppearance(camera);
      this.evaluate(alpha, beta);
      this.renderer.render(this.positions, camera, this.albedo, this.sh);
      const covered = Math.max(1, this.renderer.coveredPixels);
      this.renderer.lossAndGradient(this.target, this.inside, this.gradient, {
        robust: 'geman-mcclure',
        scale: o.robustScale,
      });
      // Per covered pixel, so the balance with the landmark term does not depend on the render size.
      const norm = 1 / covered;
      grad.fill(0);
      for (let k = 0; k < 3; k++) {
        grad[k] = norm * this.gradient.rotation[k];
        grad[3 + k] = norm * this.gradient.translation[k];
      }
      chainToBasis(this.gradient.positions, face.identity.basis, kId, idGrad);
      chainToBasis(this.gradient.positions, face.expression.basis, kEx, exGrad);
      const centre = o.identityMean;
      for (let k = 0; k < kId; k++)
        grad[6 + k] = norm * idGrad[k] + 2 * o.identityPrior * (alpha[k] - (centre?.[k] ?? 0));
      for (let k = 0; k < kEx; k++) grad[6 + kId + k] = norm * exGrad[k] + 2 * o.expressionPrior * beta[k];
      lm.accumulate(camera, alpha, beta, (2 * o.landmarkWeight * lm.inverseSpread2) / 68, null, grad, P);
      // Adam step, then apply: rotation multiplicatively, the rest additively.
      // Adam takes steps of about the learning rate whatever the gradient: decay it so the fit settles.
      const b1 = 0.9,
        b2 = 0.999,
        t = iteration + 1;
      const decay = 0.05 + 0.95 * (1 - iteration / steps) ** 2;
      for (let p = 0; p < P; p++) {
        m[p] = b1 * m[p] + (1 - b1) * grad[p];
        v[p] = b2 * v[p] + (1 - b2) * grad[p] * grad[p];
        params[p] = (-decay * rate[p] * (m[p] / (1 - b1 ** t))) / (Math.sqrt(v[p] / (1 - b2 ** t)) + 1e-12);
      }
      rotateBy(camera.rotation, params[0], params[1], params[2]);
      for (let k = 0; k < 3; k++) camera.translation[k] += params[3 + k];
      for (let k = 0; k < kId; k++) alpha[k] += params[6 + k];
      for (let k = 0; k < kEx; k++) beta[k] = Math.min(1, Math.max(0, beta[k] + params[6 + kId + k]));
    }
    return steps;
  }

  /**
   * Levenberg–Marquardt on pose, shape, light and colour coefficients at half size; the albedo is then the
   * colour model's.
   */
  private gaussNewtonGeometry(
    camera: Camera,
    alpha: Float64Array,
    beta: Float64Array,
    lm: LandmarkTerm,
    colour: AlbedoModel,
    coefficients: Float64Array,
    iterations: number,
    o: FitSettings & PhotometricFitOptions,
  ): number {
    const size = this.size,
      half = size / 2;
    this.gaussNewton ??= new PhotometricGaussNewton(this.face, half);
    this.smallTarget ??= new Float32Array(3 * half * half);
    downsample2(this.target, size, this.smallTarget);
    this.smallInside ??= new Uint8Array(half * half);
    for (let y = 0; y < half; y++) {
      for (let x = 0; x < half; x++) {
        const p = 2 * y * size + 2 * x;
        this.smallInside[y * half + x] =
          this.inside[p] && this.inside[p + 1] && this.inside[p + size] && this.inside[p + size + 1] ? 1 : 0;
      }
    }
    const state = {
      camera: scaleCamera(camera, half / size),
      identity: alpha,
      expression: beta,
      sh: this.sh.slice(),
      albedoCoefficients: coefficients,
    };
    const used = this.gaussNewton.solve(this.smallTarget, this.smallInside, state, colour, lm, {
      iterations,
      colourNoise: o.colourNoise,
      landmarkNoise: o.landmarkNoise * half,
      expressionPrior: COLOUR_MODEL_EXPRESSION_PRIOR,
      identityPrior: o.gaussNewtonIdentityPrior,
      identityMean: o.identityMean,
      robustScale: o.robustScale,
    });
    camera.rotation.set(state.camera.rotation);
    camera.translation.set(state.camera.translation);
    this.sh.set(state.sh);
    evaluateAlbedo(colour, coefficients, this.albedo);
    return used;
  }

  /** A fixed albedo on the face region, as an albedo model without components. */
  private knownAlbedo(albedo: ArrayLike<number>): AlbedoModel {
    if (albedo.length !== 3 * this.model.vertexCount)
      throw new RangeError(`albedo needs ${3 * this.model.vertexCount} values (RGB per vertex), got ${albedo.length}`);
    const mean = new Float64Array(3 * this.face.vertexCount);
    this.faceVertices.forEach((v, i) => {
      for (let c = 0; c < 3; c++) mean[3 * i + c] = albedo[3 * v + c];
    });
    return { mean, basis: new Float64Array(0), count: 0 };
  }

  /** The rendering of the last fit's crop (sRGB bytes), the crop of the photo, and the mask. */
  lastImages(camera: Camera): { rendered: Uint8Array; photo: Uint8Array; mask: Uint8Array; size: number } {
    this.renderer.render(this.positions, camera, this.albedo, this.sh, this.image);
    const size = this.size,
      rendered = new Uint8Array(3 * size * size),
      photo = new Uint8Array(3 * size * size);
    for (let i = 0; i < rendered.length; i++) {
      rendered[i] = linearToSrgbByte(this.image.color[i]);
      photo[i] = linearToSrgbByte(this.target[i]);
    }
    return { rendered, photo, mask: this.image.mask.map((m, p) => m & this.inside[p]), size };
  }

  private evaluate(alpha: ArrayLike<number>, beta: ArrayLike<number>): void {
    evaluateShape(this.face, alpha, beta, this.positions);
  }

  /** Albedo from the photo's colours at the vertices, light ambient only, then a few closed-form rounds. */
  private initialiseAppearance(camera: Camera): void {
    this.sh.fill(0);
    for (let c = 0; c < 3; c++) this.sh[c] = 1 / SH_K[0];
    this.albedo.fill(0.4);
    for (let round = 0; round < 4; round++) this.updateAppearance(camera);
  }

  /** Light by least squares given the albedo, then albedo given the light (robust weights, symmetry, mean pull). */
  private updateAppearance(camera: Camera): void {
    const size = this.size,
      pixels = size * size,
      img = this.image,
      tri = this.renderer.triangleIds,
      bary = this.renderer.barycentrics;
    const T = this.face.triangles,
      A = this.albedo,
      target = this.target,
      scale2 = this.robustScale * this.robustScale;
    this.renderer.render(this.positions, camera, this.albedo, this.sh, img);
    const Y = this.shRow,
      N = this.shNormal,
      b = this.shRhs;
    // Light: per channel, min Σ w (a·Y·l − t)², a small ridge on bands 1–2.
    for (let c = 0; c < 3; c++) {
      N.fill(0);
      b.fill(0);
      for (let p = 0; p < pixels; p++) {
        const t = tri[p];
        if (t < 0 || !this.inside[p]) continue;
        const w = robustWeight(img.color[3 * p + c] - target[3 * p + c], scale2);
        const b1 = bary[2 * p],
          b2 = bary[2 * p + 1],
          b0 = 1 - b1 - b2;
        const a = b0 * A[3 * T[3 * t] + c] + b1 * A[3 * T[3 * t + 1] + c] + b2 * A[3 * T[3 * t + 2] + c];
        shBasis(img.normal[3 * p], img.normal[3 * p + 1], img.normal[3 * p + 2], Y);
        for (let i = 0; i < 9; i++) {
          b[i] += w * a * Y[i] * target[3 * p + c];
          for (let j = 0; j < 9; j++) N[9 * i + j] += w * a * a * Y[i] * Y[j];
        }
      }
      for (let i = 1; i < 9; i++) N[9 * i + i] += 1e-5 * (N[0] + 1);
      N[0] += 1e-9;
      if (choleskySolve(N, b, 9)) for (let k = 0; k < 9; k++) this.sh[3 * k + c] = b[k];
    }
    // Albedo: preconditioned step per vertex towards the photo, with the new light.
    this.renderer.render(this.positions, camera, this.albedo, this.sh, img);
    const n = this.face.vertexCount;
    const num = this.albedoNum.fill(0),
      den = this.albedoDen.fill(0),
      seen = this.albedoSeen.fill(0);
    for (let p = 0; p < pixels; p++) {
      const t = tri[p];
      if (t < 0 || !this.inside[p]) continue;
      const b1 = bary[2 * p],
        b2 = bary[2 * p + 1],
        b0 = 1 - b1 - b2;
      for (let c = 0; c < 3; c++) {
        const residual = target[3 * p + c] - img.color[3 * p + c];
        const w = robustWeight(residual, scale2);
        // Irradiance at the pixel: colour / interpolated albedo.
        const a = b0 * A[3 * T[3 * t] + c] + b1 * A[3 * T[3 * t + 1] + c] + b2 * A[3 * T[3 * t + 2] + c];
        const e = a > 1e-6 ? img.color[3 * p + c] / a : 0;
        for (let k = 0; k < 3; k++) {
          const v = T[3 * t + k],
            bk = k === 0 ? b0 : k === 1 ? b1 : b2;
          num[3 * v + c] += w * bk * e * residual;
          den[3 * v + c] += w * bk * e * e;
          seen[3 * v + c] += w * bk;
        }
      }
    }
    let mean0 = 0,
      mean1 = 0,
      mean2 = 0,
      seenCount = 0;
    for (let v = 0; v < n; v++) {
      if (den[3 * v] === 0) continue;
      mean0 += A[3 * v];
      mean1 += A[3 * v + 1];
      mean2 += A[3 * v + 2];
      seenCount++;
    }
    const mean = this.meanColour;
    mean[0] = mean0 / Math.max(1, seenCount);
    mean[1] = mean1 / Math.max(1, seenCount);
    mean[2] = mean2 / Math.max(1, seenCount);
    const next = this.albedoNext;
    if (this.colourModelPrior > 0) {
      this.colourModelTarget(den);
      const prior = this.colourModelPrior,
        target = this.priorTarget;
      for (let i = 0; i < 3 * n; i++) {
        next[i] =
          den[i] > 0 ? (A[i] * (den[i] + prior) + num[i] + prior * (target[i] - A[i])) / (den[i] + prior) : target[i];
      }
    } else {
      const prior = this.albedoPrior;
      for (let v = 0; v < n; v++) {
        for (let c = 0; c < 3; c++) {
          const i = 3 * v + c;
          // Unseen vertices take the mean colour; seen ones move towards the photo, damped by the prior.
          next[i] =
            den[i] > 0 ? (A[i] * (den[i] + prior) + num[i] + prior * (mean[c] - A[i])) / (den[i] + prior) : mean[c];
        }
      }
    }
    // Left/right symmetry: average with the mirror vertex, weighted by how much each side was seen.
    for (let v = 0; v < n; v++) {
      const u = this.mirror[v];
      for (let c = 0; c < 3; c++) {
        const wv = den[3 * v + c] + 0.2,
          wu = u >= 0 ? den[3 * u + c] + 0.2 : 0;
        const sym = u >= 0 ? (wv * next[3 * v + c] + wu * next[3 * u + c]) / (wv + wu) : next[3 * v + c];
        A[3 * v + c] = Math.min(1, Math.max(0.005, (1 - SYMMETRY) * next[3 * v + c] + SYMMETRY * sym));
      }
    }
  }

  /**
   * priorTarget = the colour model's reconstruction of the current albedo from its seen entries (confidence
   * den/(den + 1)), with a gain per channel: the fit's albedo and light share an unknown scale per channel.
   */
  private colourModelTarget(den: Float64Array): void {
    const color = this.face.color!,
      A = this.albedo,
      weight = this.priorWeight,
      target = this.priorTarget,
      n3 = A.length;
    const gain = this.priorGain.fill(0),
      meanSum = [0, 0, 0];
    for (let i = 0; i < n3; i++) {
      weight[i] = den[i] / (den[i] + 1);
      gain[i % 3] += weight[i] * A[i];
      meanSum[i % 3] += weight[i] * color.mean[i];
    }
    for (let c = 0; c < 3; c++) gain[c] = meanSum[c] > 0 && gain[c] > 0 ? gain[c] / meanSum[c] : 1;
    for (let i = 0; i < n3; i++) target[i] = A[i] / gain[i % 3];
    this.projector ??= new WeightedProjector(color);
    this.priorCoefficients = this.projector.project(target, weight, {}, this.priorCoefficients);
    reconstruct(color, this.priorCoefficients, target);
    for (let i = 0; i < n3; i++) target[i] *= gain[i % 3];
  }

  /** RMSE in sRGB [0, 1] over the covered pixels of the current state. */
  private rmse(camera: Camera): number {
    this.renderer.render(this.positions, camera, this.albedo, this.sh, this.image);
    let sum = 0,
      count = 0;
    for (let p = 0; p < this.size * this.size; p++) {
      if (!this.image.mask[p] || !this.inside[p]) continue;
      for (let c = 0; c < 3; c++)
        sum += (linearToSrgb(this.image.color[3 * p + c]) - linearToSrgb(this.target[3 * p + c])) ** 2;
      count += 3;
    }
    return Math.sqrt(sum / Math.max(1, count));
  }

  /** The last albedo solve's per-vertex confidence (mean over channels) on the whole model, 0 off the face region. */
  private fullAlbedoWeight(): Float32Array {
    const out = new Float32Array(this.model.vertexCount),
      seen = this.albedoSeen;
    this.faceVertices.forEach((v, i) => {
      out[v] = (seen[3 * i] + seen[3 * i + 1] + seen[3 * i + 2]) / 3;
    });
    return out;
  }

  private fullAlbedo(): Float32Array {
    const out = new Float32Array(3 * this.model.vertexCount);
    let r = 0,
      g = 0,
      b = 0;
    const n = this.face.vertexCount;
    for (let v = 0; v < n; v++) {
      r += this.albedo[3 * v];
      g += this.albedo[3 * v + 1];
      b += this.albedo[3 * v + 2];
    }
    for (let v = 0; v < this.model.vertexCount; v++) {
      out[3 * v] = r / n;
      out[3 * v + 1] = g / n;
      out[3 * v + 2] = b / n;
    }
    this.faceVertices.forEach((v, i) => {
      for (let c = 0; c < 3; c++) out[3 * v + c] = this.albedo[3 * i + c];
    });
    return out;
  }
}

/** Geman–McClure weight of a colour residual; `scale2` is the square of the robustScale option. */
function robustWeight(residual: number, scale2: number): number {
  const q = (residual * residual) / scale2;
  return 1 / ((1 + q) * (1 + q));
}

/**
 * A square crop (full-image pixels) of a photo stored at `scale`, resampled into linear RGB: each
 * crop pixel is the mean of k × k bilinear taps over its footprint (k = the footprint's width in
 * stored pixels), so a large photo is area-averaged like the rendering's supersampled edges, not
 * point-sampled with aliasing. `inside` gets 1 where the pixel's footprint lies within the photo.
 */
function sampleCrop(photo: RgbImage, scale: number, crop: Crop, out: Float32Array, inside: Float32Array): void {
  const lut = new Float32Array(256);
  for (let i = 0; i < 256; i++) lut[i] = srgbToLinear(i / 255);
  const { width, height, data } = photo;
  const step = crop.side / crop.size;
  const k = Math.max(1, Math.ceil(step * scale)),
    weight = 1 / (k * k);
  for (let j = 0; j < crop.size; j++) {
    for (let i = 0; i < crop.size; i++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let ty = 0; ty < k; ty++) {
        for (let tx = 0; tx < k; tx++) {
          // A tap in full-image corner coordinates, then in stored-image centre coordinates.
          const fx = (crop.x + (i + (tx + 0.5) / k) * step) * scale - 0.5,
            fy = (crop.y + (j + (ty + 0.5) / k) * step) * scale - 0.5;
          const x0 = Math.floor(fx),
            y0 = Math.floor(fy),
            ax = fx - x0,
            ay = fy - y0;
          // Clamped neighbours: the crop may reach past the photo's border.
          const xa = Math.min(width - 1, Math.max(0, x0)),
            xb = Math.min(width - 1, Math.max(0, x0 + 1));
          const ya = Math.min(height - 1, Math.max(0, y0)) * width,
            yb = Math.min(height - 1, Math.max(0, y0 + 1)) * width;
          const w00 = (1 - ax) * (1 - ay),
            w10 = ax * (1 - ay),
            w01 = (1 - ax) * ay,
            w11 = ax * ay;
          const p00 = 3 * (ya + xa),
            p10 = 3 * (ya + xb),
            p01 = 3 * (yb + xa),
            p11 = 3 * (yb + xb);
          r += w00 * lut[data[p00]] + w10 * lut[data[p10]] + w01 * lut[data[p01]] + w11 * lut[data[p11]];
          g +=
            w00 * lut[data[p00 + 1]] + w10 * lut[data[p10 + 1]] + w01 * lut[data[p01 + 1]] + w11 * lut[data[p11 + 1]];
          b +=
            w00 * lut[data[p00 + 2]] + w10 * lut[data[p10 + 2]] + w01 * lut[data[p01 + 2]] + w11 * lut[data[p11 + 2]];
        }
      }
      const o = 3 * (j * crop.size + i);
      out[o] = r * weight;
      out[o + 1] = g * weight;
      out[o + 2] = b * weight;
      const left = (crop.x + i * step) * scale,
        top = (crop.y + j * step) * scale,
        right = left + step * scale,
        bottom = top + step * scale;
      inside[j * crop.size + i] = left >= 0 && top >= 0 && right <= width && bottom <= height ? 1 : 0;
    }
  }
}

/** 2 × 2 means of a square RGB image of side `size` (even). */
function downsample2(image: Float32Array, size: number, out: Float32Array): void {
  const half = size / 2;
  for (let y = 0; y < half; y++) {
    for (let x = 0; x < half; x++) {
      const a = 3 * (2 * y * size + 2 * x),
        b = a + 3 * size,
        o = 3 * (y * half + x);
      for (let c = 0; c < 3; c++)
        out[o + c] = 0.25 * (image[a + c] + image[a + 3 + c] + image[b + c] + image[b + 3 + c]);
    }
  }
}

/** For each vertex, the vertex nearest to its mirror image (x → −x), or −1 if none within 3 mm. */
export function mirrorVertices(mean: Float32Array): Int32Array {
  const n = mean.length / 3,
    cell = 3;
  const grid = new Map<string, number[]>();
  const key = (x: number, y: number, z: number) =>
    `${Math.floor(x / cell)},${Math.floor(y / cell)},${Math.floor(z / cell)}`;
  for (let v = 0; v < n; v++) {
    const k = key(mean[3 * v], mean[3 * v + 1], mean[3 * v + 2]);
    let list = grid.get(k);
    if (!list) {
      list = [];
      grid.set(k, list);
    }
    list.push(v);
  }
  const out = new Int32Array(n).fill(-1);
  for (let v = 0; v < n; v++) {
    const x = -mean[3 * v],
      y = mean[3 * v + 1],
      z = mean[3 * v + 2];
    let best = -1,
      bestD = cell * cell;
    for (let dx = -1; dx <= 1; dx++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dz = -1; dz <= 1; dz++) {
          const list = grid.get(key(x + dx * cell, y + dy * cell, z + dz * cell));
          if (!list) continue;
          for (const u of list) {
            const d = (mean[3 * u] - x) ** 2 + (mean[3 * u + 1] - y) ** 2 + (mean[3 * u + 2] - z) ** 2;
            if (d < bestD) {
              bestD = d;
              best = u;
            }
          }
        }
    out[v] = best;
  }
  return out;
}

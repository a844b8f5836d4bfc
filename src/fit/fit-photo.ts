/**
 * A photo becomes fitted faces: detection → landmark fit → photometric refinement → UV texture.
 * This is the one pipeline behind `morphable fit` and the web app's worker; callers bring the decoded
 * photo and keep the file handling (writing outputs, posting messages) to themselves.
 */
import type { DetectedFace, FaceLandmarker } from '../detect/face.js';
import type { FaceRegression } from '../detect/face-regressor.js';
import { type IdentityPredictor, predictIdentityFromEmbedding } from '../detect/identity-from-embedding.js';
import { anglesFromRotation } from '../geometry/rotation.js';
import type { RgbImage } from '../render/rgb-image.js';
import { linearToSrgb } from '../model/color.js';
import { evaluateShape } from '../model/evaluate.js';
import { landmarkPositions } from '../model/landmark-positions.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { unwrapTexture } from '../render/uv-texture.js';
import type { Camera } from '../geometry/camera.js';
import { projectPoints } from '../geometry/projection.js';
import { MIN_QUALITY, QUALITY_PART_NAMES } from './fit-quality.js';
import { faceFitReport, type FaceFitReport, type FocalSource } from './fit-result.js';
import {
  LANDMARK_FIT_DEFAULTS,
  type LandmarkFitOptions,
  type LandmarkFitStart,
  LandmarkFitter,
  type LandmarkFitResult,
} from './landmark-fit.js';
import {
  PHOTOMETRIC_FIT_DEFAULTS,
  PhotometricFitter,
  type PhotometricFitOptions,
  type PhotometricFitResult,
} from './photometric-fit.js';
import { regressionStart } from './regression-start.js';
import type { Photo } from './photo.js';

export { PHOTO_MAX_SIDE, type Photo } from './photo.js';

/** UV texture size in texels. */
export const TEXTURE_SIZE = 1024;

/** A face's input: 68 landmarks in full-photo pixel coordinates, and its detection when there was one. */
export interface FaceLandmarks {
  landmarks: Float32Array;
  detection?: DetectedFace;
}

export interface FittedFace {
  input: FaceLandmarks;
  landmarkFit: LandmarkFitResult;
  photometric?: PhotometricFitResult;
  /** The fitted mesh in model space (millimetres), 3N. */
  positions: Float32Array;
  camera: Camera;
  identity: Float32Array;
  expression: Float32Array;
  /** The model's 68 landmarks projected with the fitted camera (full-photo pixels). */
  fittedLandmarks: Float32Array;
  /** The photo unwrapped into the model's UV layout (photometric stage only). */
  texture?: RgbImage;
  /** The face's albedo in the same layout: the photo de-lit by the fitted light (with `albedoTexture`). */
  albedoTexture?: RgbImage;
  report: FaceFitReport;
  /** The quality score (report.quality) is below the threshold: a false face or a failed fit, not to be used. */
  rejected: boolean;
}

export interface PhotoFitOptions {
  photometric: boolean;
  /** Settings of the photometric stage (fit/photometric-fit.ts), e.g. how a colour model is used. */
  photometricOptions?: PhotometricFitOptions;
  /** With the photometric stage: also the de-lit UV texture (`FittedFace.albedoTexture`). */
  albedoTexture?: boolean;
  /** A known focal length in pixels of the full photo (EXIF, --focal); estimated when absent. */
  focal?: number;
  /** Where `focal` came from (reported in the JSON); 'option' when `focal` is given without one. */
  focalSource?: FocalSource;
  /**
   * Where the landmark fit starts: 'linear' (a linear pose estimate from the landmarks, the mean face),
   * 'learned' (the one-pass regressor's pose, identity and expressions; needs a detection that carries one)
   * or 'auto' (learned where the detection carries a regression, else linear; the default).
   */
  init?: FitInit;
  /**
   * One pass: the regressor's answer refined by FAST_ITERATIONS Levenberg–Marquardt steps on the landmarks,
   * its identity the prior's centre (for batches and video). Needs the regressor; no photometric stage.
   */
  fast?: boolean;
  /**
   * The identity prior's centre for this face, e.g. from a face embedding (detect/identity-from-embedding.ts):
   * the landmark fit pulls towards it instead of the mean face.
   */
  identityMean?: ArrayLike<number>;
  /** The landmark fit's identity prior times this (default 1), e.g. to hold a face to `identityMean`. */
  identityStiffness?: number;
  /**
   * The landmark fit's and the photometric stage's expression priors times this (default
   * PHOTO_EXPRESSION_STIFFNESS; 1: the landmark fit's own, as video tracking has it).
   */
  expressionStiffness?: number;
  /** With init 'learned': the weight of the prior towards the regressor's rotation (default LEARNED_ROTATION_PRIOR). */
  rotationPrior?: number;
  /** Faces whose quality score is below this are `rejected` (default MIN_QUALITY). */
  minQuality?: number;
  timingsMs?: Record<string, number>;
  /** Called as each stage starts (progress lines in the CLI). */
  onStage?: (stage: 'landmark fit' | 'photometric fit' | 'texture') => void;
}

/**
 * With --init learned, how strongly the fit holds to the regressor's rotation (LandmarkFitOptions.rotationPrior)
 * on a face turned far to the side: the landmark net learned from 300-W, whose faces seldom turn past 45°,
 * and its points on profiles mislead the fit (held-out synthetic faces at |yaw| 60–90°: yaw off by 25°), while
 * the regressor saw synthetic faces to 90°. Near frontal the landmarks know better (0–30°: 2.1° against the
 * regressor's 5.9°), so the prior fades in with the regressed |yaw| from LEARNED_PRIOR_YAW[0] to [1] degrees.
 */
export const LEARNED_ROTATION_PRIOR = 3;
/**
 * Where the rotation prior holds, the identity prior is this many times stiffer: the landmarks that disagree
 * with the held pose would otherwise bend the face. Tuning set (seeds 5000 and 5100, 24 ICT-FaceKit and 24
 * Surrey faces; not the held-out set): 3D error 1.21 / 1.42 mm at 10×, 1.16 / 1.36 mm at 100× (the linear
 * start: 1.22 / 1.34 mm), pose error 5.6 / 4.8° and 5.8 / 4.9° (linear: 7.4 / 5.6°).
 */
export const LEARNED_IDENTITY_STIFFNESS = 100;
/**
 * With an identity from the face embedding (`fit`'s default for the shipped model), the landmark fit's identity
 * prior is this many times stiffer, around it: the 68 landmarks bend the identity away from the embedding's more
 * than they correct it. Tuning set (seeds 5000 and 5100, 24 ICT-FaceKit and 24 Surrey faces; not the held-out
 * set), 3D error ICT / Surrey: 1.30 / 1.48 mm for the landmark fit centred on the mean face, 1.15 / 1.30 mm for
 * the mean face; centred on the embedding's identity 1.21 / 1.26 mm at 10×, 1.18 / 1.25 mm at 100×. The price
 * is the landmarks' fit: on 60 held-out train-300w faces the fitted NME goes from 2.22 % to 2.62 % at 10×,
 * 2.90 % at 100×. The whole pipeline (photometric stage on, its prior centred there too), same set: 1.28 / 1.33
 * mm centred on the mean face; 1.21 / 1.25 mm at 1×, 1.19 / 1.23 at 3×, 1.19 / 1.20 at 10×, 1.18 / 1.20 at 30×
 * (fitted NME 2.20 % at 1×, 2.38 % at 3×). The photometric stage's own settings move it by 0.02 mm at most
 * (identity prior 1e-3 to 3e-2, 80 steps, landmark weight 2 or 18 gives 1.19–1.21 / 1.19–1.25). Checked again
 * with the stiffer expression prior (PHOTO_EXPRESSION_STIFFNESS), whole pipeline, 72 faces of each model: 1.06 /
 * 1.14 mm at 3×, 1.07 / 1.10 at 10×, 1.05 / 1.09 at 30×.
 */
export const EMBEDDING_IDENTITY_STIFFNESS = 10;
/**
 * A photo fit's expression priors (landmark fit and photometric stage) are this many times stiffer than the landmark
 * fit's own: from one photo's 68 detected points the 53 blendshapes fit mostly noise and the model's mismatch. On
 * 180 synthetic ICT-FaceKit faces (training seeds 7000+) no fitted blendshape weight correlated with the true one
 * (least-squares gain ≤ 0.11 for all but one), while brow-down and brow-up, mouth-frown and mouth-stretch each came
 * out near 0.2 on most faces; the fitted expression added 3D error. Whole pipeline on the tuning set (seeds 5000
 * and 5100, 72 faces of each model; not the held-out set), 3D error ICT / Surrey: 1.15 / 1.19 mm at 1×, 1.11 /
 * 1.14 at 3×, 1.07 / 1.10 at 10×, 1.00 / 1.13 at 30×. The price is the landmarks' fit: on 60 held-out train-300w
 * faces the fitted NME goes from 2.62 % to 2.66 % at 3×, 2.79 % at 10×, 2.94 % at 30×. Large expressions (an open
 * mouth, a broad smile) move the landmarks enough to be fitted through it.
 */
export const PHOTO_EXPRESSION_STIFFNESS = 10;
/** Levenberg–Marquardt steps of --fast after the regressor (the full fit takes 6–8). */
export const FAST_ITERATIONS = 2;
export const LEARNED_PRIOR_YAW = [25, 55] as const;

/**
 * The landmark fit's options for a face the regressor saw at its yaw: the rotation prior and the stiffer
 * identity, faded in between the two yaws of LEARNED_PRIOR_YAW (smoothstep).
 */
export function learnedFitOptions(
  regression: FaceRegression,
  focal: number | undefined,
  most = LEARNED_ROTATION_PRIOR,
): LandmarkFitOptions {
  const { yaw } = anglesFromRotation(regression.rotation);
  const [from, to] = LEARNED_PRIOR_YAW;
  const t = Math.min(1, Math.max(0, (Math.abs(yaw) - from) / (to - from)));
  const ramp = t * t * (3 - 2 * t);
  return {
    focal,
    rotationPrior: most * ramp,
    identityPrior: LANDMARK_FIT_DEFAULTS.identityPrior * (1 + (LEARNED_IDENTITY_STIFFNESS - 1) * ramp),
  };
}

export type FitInit = 'auto' | 'linear' | 'learned';

/**
 * Where the identity prior is centred (`fit --identity`): the embedding's prediction, the mean face
 * ('landmarks'), or 'auto', the embedding where the identity net was trained for the model.
 */
export const IDENTITY_CHOICES = ['auto', 'landmarks', 'embedding'] as const;
export type IdentityChoice = (typeof IDENTITY_CHOICES)[number];

export interface PhotoFitterOptions {
  /**
   * The name of the model's colour model in the reports (photometric.colorModel), e.g. its file's name; default
   * "in the model" when the model has one, else "none".
   */
  colorModel?: string;
}

/** The fitters for one model, made once and reused for every photo. */
export class PhotoFitter {
  readonly model: MorphableModel;
  readonly landmarkFitter: LandmarkFitter;
  /** What the reports name as the colour model (PhotoFitterOptions.colorModel). */
  readonly colorModel: string;
  private photometric: PhotometricFitter | undefined;

  constructor(model: MorphableModel, options: PhotoFitterOptions = {}) {
    this.model = model;
    this.landmarkFitter = new LandmarkFitter(model);
    this.colorModel = options.colorModel ?? (model.color ? 'in the model' : 'none');
  }

  /** Made on first use: landmark-only fitting never pays for the renderer and the face submodel. */
  get photometricFitter(): PhotometricFitter {
    this.photometric ??= new PhotometricFitter(this.model);
    return this.photometric;
  }

  /**
   * The `maxFaces` most confident faces in `photo`, numbered left to right (by box centre), landmarks
   * in full-photo coordinates.
   */
  async detect(landmarker: FaceLandmarker, photo: Photo, maxFaces = Infinity): Promise<FaceLandmarks[]> {
    const detected = [...(await landmarker.detect(photo.image))].sort((a, b) => b.score - a.score).slice(0, maxFaces);
    detected.sort((a, b) => a.box.x + a.box.width / 2 - (b.box.x + b.box.width / 2));
    return detected.map((d) => inFullPhoto(d, photo.scale));
  }

  /** Fits one face. `photometric` adds the colour stage: refined geometry, light, albedo, UV texture. */
  fit(photo: Photo, face: FaceLandmarks, index: number, options: PhotoFitOptions): FittedFace {
    const timings: Record<string, number> = { ...options.timingsMs };
    options.onStage?.('landmark fit');
    let t = performance.now();
    const regression = face.detection?.regression;
    const init = (options.init ?? 'auto') === 'auto' ? (regression ? 'learned' : 'linear') : options.init;
    const learned = options.fast || init === 'learned';
    if (learned && !regression) {
      throw new Error("init 'learned' and fast need a detection with the one-pass regressor's answer");
    }
    const start: LandmarkFitStart = {
      ...(learned ? regressionStart(regression!, photo.width, photo.height, options.focal) : {}),
      identityMean: options.identityMean ?? (options.fast ? regression!.identity : undefined),
    };
    const fitOptions: LandmarkFitOptions = learned
      ? learnedFitOptions(regression!, options.focal, options.rotationPrior)
      : { focal: options.focal };
    if (options.fast) Object.assign(fitOptions, { iterations: FAST_ITERATIONS, continuation: false });
    if (options.identityStiffness !== undefined)
      fitOptions.identityPrior =
        (fitOptions.identityPrior ?? LANDMARK_FIT_DEFAULTS.identityPrior) * options.identityStiffness;
    const expressionStiffness = options.expressionStiffness ?? PHOTO_EXPRESSION_STIFFNESS;
    fitOptions.expressionPrior = LANDMARK_FIT_DEFAULTS.expressionPrior * expressionStiffness;
    const landmarkFit = this.landmarkFitter.fit(face.landmarks, photo.width, photo.height, fitOptions, start);
    timings.landmarkFit = performance.now() - t;
    let state: Pick<LandmarkFitResult, 'camera' | 'identity' | 'expression'> = landmarkFit;
    let photometric: PhotometricFitResult | undefined;
    let texture: RgbImage | undefined;
    let albedoTexture: RgbImage | undefined;
    if (options.photometric && !options.fast) {
      options.onStage?.('photometric fit');
      t = performance.now();
      photometric = this.photometricFitter.fit(photo.image, photo.scale, face.landmarks, landmarkFit, {
        expressionPrior: PHOTOMETRIC_FIT_DEFAULTS.expressionPrior * expressionStiffness,
        ...(start.identityMean && { identityMean: start.identityMean }),
        ...options.photometricOptions,
      });
      timings.photometricFit = performance.now() - t;
      state = photometric;
    }
    const positions = evaluateShape(this.model, state.identity, state.expression);
    if (photometric) {
      options.onStage?.('texture');
      t = performance.now();
      const unwrapped = unwrapTexture(
        photo.image,
        photo.scale,
        this.model,
        positions,
        state.camera,
        TEXTURE_SIZE,
        meanColour(photometric.albedo),
        options.albedoTexture ? photometric : undefined,
      );
      texture = unwrapped.texture;
      albedoTexture = unwrapped.albedo?.texture;
      timings.texture = performance.now() - t;
    }
    const fittedLandmarks = projectLandmarks(this.model, positions, landmarkFit.landmarkVertices, state.camera);
    const report = faceFitReport(
      this.model,
      { file: photo.name, width: photo.width, height: photo.height },
      { index, detection: face.detection },
      face.detection ? 'detector' : 'file',
      face.landmarks,
      { ...state, fittedLandmarks, iterations: landmarkFit.iterations },
      timings,
      options.focal ? (options.focalSource ?? 'option') : 'default',
      photometric,
    );
    if (report.photometric) report.photometric.colorModel = this.colorModel;
    const rejected = report.quality.score < (options.minQuality ?? MIN_QUALITY);
    return {
      input: face,
      landmarkFit,
      photometric,
      positions,
      camera: state.camera,
      identity: state.identity,
      expression: state.expression,
      fittedLandmarks,
      texture,
      albedoTexture,
      report,
      rejected,
    };
  }
}

/**
 * The fit options that hold `face`'s identity to the embedding's prediction (`fit`'s default): the
 * prior's centre, and EMBEDDING_IDENTITY_STIFFNESS.
 */
export function embeddingIdentityOptions(
  predictor: IdentityPredictor,
  model: MorphableModel,
  photo: Photo,
  face: FaceLandmarks,
): Pick<PhotoFitOptions, 'identityMean' | 'identityStiffness'> {
  // The landmarks are in the full photo's pixels, the image is decoded at photo.scale.
  const landmarks = face.landmarks.map((v) => (v + 0.5) * photo.scale - 0.5);
  return {
    identityMean: predictIdentityFromEmbedding(predictor, photo.image, landmarks, model.identity.count),
    identityStiffness: EMBEDDING_IDENTITY_STIFFNESS,
  };
}

/** A detection in a photo decoded at `scale` × its size, in the full photo's pixel coordinates. */
export function inFullPhoto(d: DetectedFace, scale: number): FaceLandmarks {
  // Pixel centres sit at integers: a point at x in the shrunk image is at (x + 0.5) / s − 0.5.
  const toFull = (v: number) => (v + 0.5) / scale - 0.5;
  const box = { x: d.box.x / scale, y: d.box.y / scale, width: d.box.width / scale, height: d.box.height / scale };
  const r = d.regression;
  const regression = r && {
    ...r,
    pixelsPerMm: r.pixelsPerMm / scale,
    originX: toFull(r.originX),
    originY: toFull(r.originY),
  };
  return { detection: { ...d, box, regression }, landmarks: d.landmarks.map(toFull) };
}

/** "face 2 rejected (quality 0.12: landmark residual)", for the CLI and the web app. */
export function rejectionMessage(report: FaceFitReport): string {
  return (
    `face ${report.face.index + 1} rejected (quality ${report.quality.score.toFixed(2)}: `
    + `${QUALITY_PART_NAMES[report.quality.worst]})`
  );
}

/**
 * The 68 landmarks of a fitted mesh projected with `camera`: `vertices[i]` of `positions` plus the
 * model's calibrated offset (model/landmark-positions.ts); NaN where a vertex index is < 0.
 */
export function projectLandmarks(
  model: MorphableModel,
  positions: Float32Array,
  vertices: Int32Array,
  camera: Camera,
): Float32Array {
  const points = landmarkPositions(model, vertices, positions, null, null, new Float32Array(3 * vertices.length));
  const out = new Float32Array(2 * vertices.length);
  projectPoints(camera, points, vertices.length, out);
  return out;
}

/** Mean albedo as sRGB bytes: the colour of texels the camera never saw. */
function meanColour(albedo: Float32Array): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < albedo.length; i++) sum[i % 3] += albedo[i];
  const n = albedo.length / 3;
  return sum.map((v) => Math.round(255 * linearToSrgb(v / n))) as [number, number, number];
}

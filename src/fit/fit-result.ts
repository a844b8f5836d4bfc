import type { DetectedFace } from '../detect/face.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { modelViewMatrix } from '../geometry/camera.js';
import { coefficientMeanAbs, coefficientRms, fitQuality, type QualityPart } from './fit-quality.js';
import type { LandmarkFitResult } from './landmark-fit.js';
import { anglesFromRotation } from '../geometry/rotation.js';

/**
 * Where the focal length came from: EXIF (35 mm equivalent, or focal length × sensor resolution), --focal, or
 * the default guess (refined by the fit).
 */
export type FocalSource = 'exif-35mm' | 'exif-sensor' | 'option' | 'default';

/** What `morphable fit` reports per face (also what the web app shows): plain JSON. */
export interface FaceFitReport {
  model: string;
  units: 'mm';
  image: { file: string; width: number; height: number };
  face: { index: number; box: DetectedFace['box'] | null; score: number | null };
  landmarks: { source: 'detector' | 'file'; input: [number, number][]; fitted: [number, number][] };
  pose: {
    /** Degrees; see src/geometry/rotation.ts for the convention. */
    yaw: number;
    pitch: number;
    roll: number;
    /** Millimetres, camera space (camera looking down −z, y up). */
    translation: [number, number, number];
    /** Column-major 4×4 model → camera matrix. */
    modelView: number[];
    focalLength: number;
    principalPoint: [number, number];
  };
  identity: number[];
  /**
   * Where the identity prior was centred, where the caller says (`fit --identity`): the face-recognition
   * embedding's prediction, the one-pass regressor's (--fast), or the mean face.
   */
  identityFrom?: 'embedding' | 'regressor' | 'mean face';
  expression: Record<string, number>;
  /**
   * The focal length used (pixels of the full image) and its source; `default` is the fit's own estimate from a
   * 3 × long-side prior.
   */
  focal: { px: number; source: FocalSource };
  /**
   * The fit's residual and its plausibility (src/fit/fit-quality.ts): `score` in [0, 1] is the smallest of
   * `parts`; `identityRms` and `expressionMean` are what the identity and expression parts are computed from.
   */
  quality: {
    rmsErrorPx: number;
    nmePercent: number;
    iterations: number;
    score: number;
    parts: Record<QualityPart, number>;
    worst: QualityPart;
    identityRms: number;
    expressionMean: number;
  };
  /** The photometric stage, when it ran: RMSE over the face pixels (sRGB 0–1) before and after, and the light. */
  photometric?: {
    rmseBefore: number;
    rmseAfter: number;
    iterations: number;
    geometryRefined: boolean;
    light: number[];
    /** The colour model's fitted coefficients (standard deviations), when the fit had one. */
    color?: number[];
    /** Which colour model the fit used: its file's name, "in the model", or "none" (per-vertex albedo). */
    colorModel?: string;
  };
  timingsMs: Record<string, number>;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
const pairs = (values: ArrayLike<number>): [number, number][] => {
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < values.length; i += 2) out.push([round(values[i], 2), round(values[i + 1], 2)]);
  return out;
};

const distances = new Float64Array(68);

/**
 * The fit quality score's landmark part averages the best 80 % of the points: on a face turned far away the
 * landmark net misplaces the hidden side's points, which the fit rightly ignores (robust weights), and they
 * alone failed faces whose pose was right (tuning set of synthetic faces at |yaw| 60–90°, seeds from 5000:
 * 3 of 10 rejected with all points, none with 80 %). A false face fits badly everywhere.
 */
export const QUALITY_POINTS_KEPT = 0.8;

/**
 * Below this fraction of the landmark box's size (√(width·height)) the eye-corner distance stops normalising
 * (landmarkNme's `sizeFloor`): on train-300w it is 0.45 or more for 99 % of the faces, turned away it shrinks
 * as cos(yaw) and would inflate a profile's error threefold.
 */
const EYES_PER_FACE = 0.45;

/**
 * NME in %: mean point distance over the outer eye-corner distance of `b` (iBUG 37 and 46, 1-based). With
 * `sizeFloor`, over at least EYES_PER_FACE × the size of b's landmark box, so that faces turned far to the side
 * are measured as frontal ones are; with `kept` < 1, the mean of that fraction of the smallest distances (the
 * fit quality score uses both).
 */
export function landmarkNme(a: ArrayLike<number>, b: ArrayLike<number>, sizeFloor = false, kept = 1): number {
  let iod = Math.hypot(b[72] - b[90], b[73] - b[91]);
  if (sizeFloor) {
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < 136; i += 2) {
      if (!(Number.isFinite(b[i]) && Number.isFinite(b[i + 1]))) continue;
      minX = Math.min(minX, b[i]);
      maxX = Math.max(maxX, b[i]);
      minY = Math.min(minY, b[i + 1]);
      maxY = Math.max(maxY, b[i + 1]);
    }
    iod = Math.max(iod, EYES_PER_FACE * Math.sqrt((maxX - minX) * (maxY - minY)));
  }
  let count = 0;
  for (let i = 0; i < 68; i++) {
    const d = Math.hypot(a[2 * i] - b[2 * i], a[2 * i + 1] - b[2 * i + 1]);
    if (Number.isFinite(d)) distances[count++] = d;
  }
  // The mean of the `kept` fraction of smallest distances (all of them by default).
  const used = Math.max(1, Math.round(kept * count));
  if (used < count) distances.subarray(0, count).sort();
  let sum = 0;
  for (let i = 0; i < Math.min(used, count); i++) sum += distances[i];
  return (100 * sum) / used / iod;
}

export function faceFitReport(
  model: MorphableModel,
  image: FaceFitReport['image'],
  face: { index: number; detection?: DetectedFace },
  source: 'detector' | 'file',
  input: Float32Array,
  fit: Pick<LandmarkFitResult, 'camera' | 'identity' | 'expression' | 'fittedLandmarks' | 'iterations'>,
  timingsMs: Record<string, number>,
  focalSource: FocalSource,
  photometric?: {
    rmseBefore: number;
    rmseAfter: number;
    iterations: number;
    geometryRefined: boolean;
    sh: ArrayLike<number>;
    color?: ArrayLike<number>;
  },
): FaceFitReport {
  let sq = 0,
    used = 0;
  for (let i = 0; i < 136; i += 2) {
    const d = (fit.fittedLandmarks[i] - input[i]) ** 2 + (fit.fittedLandmarks[i + 1] - input[i + 1]) ** 2;
    if (Number.isFinite(d)) {
      sq += d;
      used++;
    }
  }
  const angles = anglesFromRotation(fit.camera.rotation);
  const t = fit.camera.translation;
  const nmePercent = landmarkNme(fit.fittedLandmarks, input);
  const identityRms = coefficientRms(fit.identity),
    expressionMean = coefficientMeanAbs(fit.expression);
  const q = fitQuality({
    nmePercent: landmarkNme(fit.fittedLandmarks, input, true, QUALITY_POINTS_KEPT),
    identityRms,
    expressionMean,
    roll: angles.roll,
    pitch: angles.pitch,
  });
  return {
    model: model.name,
    units: 'mm',
    image,
    face: {
      index: face.index,
      box: face.detection ? roundBox(face.detection.box) : null,
      score: face.detection ? round(face.detection.score, 3) : null,
    },
    landmarks: { source, input: pairs(input), fitted: pairs(fit.fittedLandmarks) },
    pose: {
      yaw: round(angles.yaw, 2),
      pitch: round(angles.pitch, 2),
      roll: round(angles.roll, 2),
      translation: [round(t[0], 2), round(t[1], 2), round(t[2], 2)],
      modelView: modelViewMatrix(fit.camera).map((v) => round(v, 6)),
      focalLength: round(fit.camera.focal, 2),
      principalPoint: [fit.camera.cx, fit.camera.cy],
    },
    identity: Array.from(fit.identity, (v) => round(v, 4)),
    expression: Object.fromEntries(model.expression.names.map((name, k) => [name, round(fit.expression[k], 4)])),
    focal: { px: round(fit.camera.focal, 2), source: focalSource },
    quality: {
      rmsErrorPx: round(Math.sqrt(sq / Math.max(1, used)), 3),
      nmePercent: round(nmePercent, 3),
      iterations: fit.iterations,
      score: round(q.score, 3),
      parts: Object.fromEntries(Object.entries(q.parts).map(([k, v]) => [k, round(v, 3)])) as Record<
        QualityPart,
        number
      >,
      worst: q.worst,
      identityRms: round(identityRms, 3),
      expressionMean: round(expressionMean, 4),
    },
    ...(photometric
      ? {
          photometric: {
            rmseBefore: round(photometric.rmseBefore, 4),
            rmseAfter: round(photometric.rmseAfter, 4),
            iterations: photometric.iterations,
            geometryRefined: photometric.geometryRefined,
            light: Array.from(photometric.sh, (v) => round(v, 4)),
            ...(photometric.color ? { color: Array.from(photometric.color, (v) => round(v, 4)) } : {}),
          },
        }
      : {}),
    timingsMs: Object.fromEntries(Object.entries(timingsMs).map(([k, v]) => [k, round(v, 2)])),
  };
}

function roundBox(box: DetectedFace['box']): DetectedFace['box'] {
  return { x: round(box.x, 1), y: round(box.y, 1), width: round(box.width, 1), height: round(box.height, 1) };
}

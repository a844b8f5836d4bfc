/**
 * How believable a fit is, as one score in [0, 1]: a detector's false face (a hair clip, a pattern)
 * still gets 68 landmarks and a fit, but the model can only follow them with a face far outside its
 * prior, saturated expressions, a head on its side, or landmarks it cannot reach. Each part is 1 up to
 * a "good" bound, falls linearly to 0 at a "bad" bound; the score is the smallest part.
 * The bounds sit above the 99th percentile of train-300w faces fitted from their annotations; the
 * scores of those faces and of the detector's false faces are in bench/README.md (bench/quality-threshold.ts).
 */

export type QualityPart = 'landmarks' | 'identity' | 'expression' | 'roll' | 'pitch';

/** What the parts are computed from: the fit's own numbers. */
export interface QualityMeasures {
  /**
   * Landmark residual over the outer eye-corner distance (floored by the face's size; the best 80 % of the
   * points: fit-result.ts), in %.
   */
  nmePercent: number;
  /** RMS of the identity coefficients (units of standard deviations). */
  identityRms: number;
  /** Mean absolute expression weight over all blendshapes (0 when the model has none). */
  expressionMean: number;
  /** Head roll and pitch in degrees. */
  roll: number;
  pitch: number;
}

export interface FitQuality {
  score: number;
  parts: Record<QualityPart, number>;
  /** The part that set the score. */
  worst: QualityPart;
}

/** [good, bad] per part, on the measure it is computed from. */
export const QUALITY_BOUNDS: Readonly<Record<QualityPart, readonly [number, number]>> = {
  landmarks: [3.5, 6],
  identity: [1.2, 2.5],
  expression: [0.2, 0.3],
  roll: [60, 100],
  pitch: [50, 80],
};

/** Default threshold: faces scoring below it are rejected (`morphable fit --min-quality`). */
export const MIN_QUALITY = 0.5;

/** Words for a part in messages ("face 2 rejected (quality 0.12: landmark residual)"). */
export const QUALITY_PART_NAMES: Readonly<Record<QualityPart, string>> = {
  landmarks: 'landmark residual',
  identity: 'implausible face shape',
  expression: 'implausible expression',
  roll: 'head roll',
  pitch: 'head pitch',
};

const ramp = (value: number, [good, bad]: readonly [number, number]) =>
  // NaN (a fit that failed numerically) scores 0.
  value <= good ? 1 : value >= bad ? 0 : Number.isNaN(value) ? 0 : (bad - value) / (bad - good);

export function fitQuality(m: QualityMeasures): FitQuality {
  const parts: Record<QualityPart, number> = {
    landmarks: ramp(m.nmePercent, QUALITY_BOUNDS.landmarks),
    identity: ramp(m.identityRms, QUALITY_BOUNDS.identity),
    expression: ramp(m.expressionMean, QUALITY_BOUNDS.expression),
    roll: ramp(Math.abs(m.roll), QUALITY_BOUNDS.roll),
    pitch: ramp(Math.abs(m.pitch), QUALITY_BOUNDS.pitch),
  };
  let worst: QualityPart = 'landmarks';
  for (const key of Object.keys(parts) as QualityPart[]) if (parts[key] < parts[worst]) worst = key;
  return { score: parts[worst], parts, worst };
}

/** RMS of the coefficients, and mean absolute value. */
export function coefficientRms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return values.length ? Math.sqrt(sum / values.length) : 0;
}
export function coefficientMeanAbs(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i]);
  return values.length ? sum / values.length : 0;
}

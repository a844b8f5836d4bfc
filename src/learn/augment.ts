/**
 * Training-time augmentation for the 68-landmark net: the crop at rest (detect/face-crop.ts) rotated,
 * scaled, shifted and mirrored at random, and pixel augmentation (colour, grey, blur, noise, occluders).
 * Pure TypeScript on typed arrays, no Node APIs; loops allocate nothing. Everything random draws from a
 * SeededRandom, so one seed gives byte-identical crops.
 */
import { type CropGeometry, canonicalGeometry } from '../detect/face-crop.js';
import type { SeededRandom } from '../model/random.js';

export interface GeometryJitter {
  /** Rotation uniform in ±this, degrees (30). */
  maxRotationDegrees: number;
  /** Side × a factor log-uniform in [1 − this, 1 + this] (0.25). */
  maxScale: number;
  /** Centre shifted uniformly by up to ± this × the canonical side in x and in y (0.1). */
  maxTranslation: number;
  /** Probability of a mirrored crop (0.5). */
  flipProbability: number;
}

export const DEFAULT_GEOMETRY_JITTER: Readonly<GeometryJitter> = {
  maxRotationDegrees: 30,
  maxScale: 0.25,
  maxTranslation: 0.1,
  flipProbability: 0.5,
};

/** canonicalGeometry jittered at random (GeometryJitter; its defaults for missing options). */
export function randomGeometry(
  landmarks: Float32Array,
  rng: SeededRandom,
  options: Partial<GeometryJitter> = {},
): CropGeometry {
  const o = { ...DEFAULT_GEOMETRY_JITTER, ...options };
  if (!(o.maxScale >= 0 && o.maxScale < 1)) throw new RangeError(`maxScale must be in [0, 1), got ${o.maxScale}`);
  const g = canonicalGeometry(landmarks);
  const angle = (2 * rng.uniform() - 1) * o.maxRotationDegrees * (Math.PI / 180) + 0; // + 0: no −0
  const logLow = Math.log(1 - o.maxScale),
    logHigh = Math.log(1 + o.maxScale);
  const scale = Math.exp(logLow + rng.uniform() * (logHigh - logLow));
  const dx = (2 * rng.uniform() - 1) * o.maxTranslation * g.side;
  const dy = (2 * rng.uniform() - 1) * o.maxTranslation * g.side;
  const flip = rng.uniform() < o.flipProbability;
  return { centreX: g.centreX + dx, centreY: g.centreY + dy, side: g.side * scale, angle, flip };
}

export interface PixelAugmentation {
  /** Each channel × a gain uniform in [1 − this, 1 + this] (0.2). */
  maxGain: number;
  /** Plus a brightness uniform in ±this × 255 (0.15). */
  maxBrightness: number;
  /** Contrast about the crop's mean × a factor uniform in [1 − this, 1 + this] (0.25). */
  maxContrast: number;
  /** Probability of a grey crop (luma in all three channels) (0.1). */
  greyProbability: number;
  /** Probability of a box blur (0.1) of radius 1..maxBlurRadius pixels (2), separable. */
  blurProbability: number;
  maxBlurRadius: number;
  /** Probability of gaussian noise (0.2) of σ uniform in [0, maxNoiseSigma] (8). */
  noiseProbability: number;
  maxNoiseSigma: number;
  /** Probability of occluders (0.3): then 1..maxOccluders rectangles (2). */
  occlusionProbability: number;
  maxOccluders: number;
  /** Each rectangle's width and height uniform in [min, max] × the crop side (0.1, 0.4). */
  minOccluderSize: number;
  maxOccluderSize: number;
}

export const DEFAULT_PIXEL_AUGMENTATION: Readonly<PixelAugmentation> = {
  maxGain: 0.2,
  maxBrightness: 0.15,
  maxContrast: 0.25,
  greyProbability: 0.1,
  blurProbability: 0.1,
  maxBlurRadius: 2,
  noiseProbability: 0.2,
  maxNoiseSigma: 8,
  occlusionProbability: 0.3,
  maxOccluders: 2,
  minOccluderSize: 0.1,
  maxOccluderSize: 0.4,
};

/** Scratch for the blur (grown on demand, reused). */
let blurScratch = new Float32Array(0);

/**
 * Augments a crop in place (size × size × 3, HWC RGB 0..255): per-channel gain, brightness and
 * contrast, then grey, blur, noise and occluding rectangles (flat colour or noise), each with its
 * probability; the result is clamped to 0..255. Options: PixelAugmentation, defaults for missing ones.
 */
export function augmentPixels(
  pixels: Float32Array,
  size: number,
  rng: SeededRandom,
  options: Partial<PixelAugmentation> = {},
): Float32Array {
  if (pixels.length !== size * size * 3)
    throw new RangeError(`pixels has ${pixels.length} values, expected ${size}×${size}×3`);
  const o = { ...DEFAULT_PIXEL_AUGMENTATION, ...options };
  const n = size * size;

  // Colour: v' = (g_c·v − m)·contrast + m + brightness, m the mean after the gains.
  const g0 = 1 + (2 * rng.uniform() - 1) * o.maxGain,
    g1 = 1 + (2 * rng.uniform() - 1) * o.maxGain,
    g2 = 1 + (2 * rng.uniform() - 1) * o.maxGain;
  const brightness = (2 * rng.uniform() - 1) * o.maxBrightness * 255;
  const contrast = 1 + (2 * rng.uniform() - 1) * o.maxContrast;
  let sum = 0;
  for (let p = 0; p < n; p++) sum += g0 * pixels[3 * p] + g1 * pixels[3 * p + 1] + g2 * pixels[3 * p + 2];
  const mean = sum / (3 * n);
  const shift = mean * (1 - contrast) + brightness;
  for (let p = 0; p < n; p++) {
    const i = 3 * p;
    pixels[i] = pixels[i] * g0 * contrast + shift;
    pixels[i + 1] = pixels[i + 1] * g1 * contrast + shift;
    pixels[i + 2] = pixels[i + 2] * g2 * contrast + shift;
  }

  if (rng.uniform() < o.greyProbability) {
    for (let i = 0; i < 3 * n; i += 3) {
      const luma = 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
      pixels[i] = luma;
      pixels[i + 1] = luma;
      pixels[i + 2] = luma;
    }
  }

  if (rng.uniform() < o.blurProbability && o.maxBlurRadius >= 1) {
    const radius = 1 + Math.min(Math.floor(rng.uniform() * o.maxBlurRadius), o.maxBlurRadius - 1);
    boxBlur(pixels, size, radius);
  }

  if (rng.uniform() < o.noiseProbability) {
    const sigma = rng.uniform() * o.maxNoiseSigma;
    for (let i = 0; i < 3 * n; i++) pixels[i] += sigma * rng.normal();
  }

  if (rng.uniform() < o.occlusionProbability && o.maxOccluders >= 1) {
    const count = 1 + Math.min(Math.floor(rng.uniform() * o.maxOccluders), o.maxOccluders - 1);
    for (let r = 0; r < count; r++) {
      const span = o.maxOccluderSize - o.minOccluderSize;
      const w = Math.max(1, Math.round((o.minOccluderSize + rng.uniform() * span) * size));
      const h = Math.max(1, Math.round((o.minOccluderSize + rng.uniform() * span) * size));
      // The rectangle's centre anywhere in the crop; the part outside is cut off.
      const x0 = Math.max(0, Math.floor(rng.uniform() * size - w / 2)),
        y0 = Math.max(0, Math.floor(rng.uniform() * size - h / 2));
      const x1 = Math.min(size, x0 + w),
        y1 = Math.min(size, y0 + h);
      const noise = rng.uniform() < 0.5;
      const c0 = 255 * rng.uniform(),
        c1 = 255 * rng.uniform(),
        c2 = 255 * rng.uniform();
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const i = 3 * (y * size + x);
          pixels[i] = noise ? 255 * rng.uniform() : c0;
          pixels[i + 1] = noise ? 255 * rng.uniform() : c1;
          pixels[i + 2] = noise ? 255 * rng.uniform() : c2;
        }
      }
    }
  }

  for (let i = 0; i < 3 * n; i++) {
    const v = pixels[i];
    pixels[i] = v < 0 ? 0 : Math.min(v, 255);
  }
  return pixels;
}

/** Separable box blur of radius r in place, edges clamped. */
function boxBlur(pixels: Float32Array, size: number, r: number): void {
  if (blurScratch.length < size * 3) blurScratch = new Float32Array(size * 3);
  const line = blurScratch;
  const norm = 1 / (2 * r + 1);
  for (let pass = 0; pass < 2; pass++) {
    // pass 0: along rows (stride 3 between neighbours); pass 1: along columns (stride 3·size).
    const stride = pass === 0 ? 3 : 3 * size;
    const lineStep = pass === 0 ? 3 * size : 3;
    for (let l = 0; l < size; l++) {
      const base = l * lineStep;
      for (let k = 0; k < size; k++) {
        const i = base + k * stride;
        line[3 * k] = pixels[i];
        line[3 * k + 1] = pixels[i + 1];
        line[3 * k + 2] = pixels[i + 2];
      }
      for (let k = 0; k < size; k++) {
        let s0 = 0,
          s1 = 0,
          s2 = 0;
        for (let d = -r; d <= r; d++) {
          const m = k + d < 0 ? 0 : k + d >= size ? size - 1 : k + d;
          s0 += line[3 * m];
          s1 += line[3 * m + 1];
          s2 += line[3 * m + 2];
        }
        const i = base + k * stride;
        pixels[i] = s0 * norm;
        pixels[i + 1] = s1 * norm;
        pixels[i + 2] = s2 * norm;
      }
    }
  }
}

/**
 * Training crops for the 68-landmark net: a square crop of a photo around its landmarks, rotated,
 * scaled, shifted and mirrored at random, and pixel augmentation (colour, grey, blur, noise, occluders).
 * Pure TypeScript on typed arrays, no Node APIs. Image coordinates as everywhere in the project: x right,
 * y down, the centre of the top-left pixel at (0, 0). Crops are Float32Array HWC RGB, 0..255. Functions
 * write into `out` parameters; their loops allocate nothing. Everything random draws from a SeededRandom,
 * so one seed gives byte-identical crops.
 */
import type { SeededRandom } from '../model/random.js';
import type { RgbImage } from '../render/rgb-image.js';

/** The crop's side over the landmarks' bounding box's longer side. */
export const CROP_SCALE = 1.2;

/**
 * A square crop of a photo, in the photo's pixels. Crop pixel (i, j) of a `size`-pixel crop samples
 * `centre + ((i + 0.5)/size − 0.5)·side·X + ((j + 0.5)/size − 0.5)·side·Y`, where X = (cos a, −sin a)
 * and Y = (sin a, cos a) are the image axes turned counter-clockwise on screen by `angle` (a), so that a
 * face rolled counter-clockwise by `angle` in the photo comes out upright. `flip` mirrors the crop
 * left–right (i → size − 1 − i) and swaps the left and right landmarks (MIRROR_68).
 */
export interface CropGeometry {
  centreX: number;
  centreY: number;
  side: number;
  /** Radians, counter-clockwise in the image (y down). */
  angle: number;
  flip: boolean;
}

/** A bounding box, in pixels: min and max of the points' x and y. */
export interface LandmarkBox {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/**
 * The iBUG-68 left–right mirror permutation, 0-based: point k of a mirrored face is point MIRROR_68[k]
 * of the face, mirrored. Jaw 0↔16 …, brows 17↔26 …, nose 31↔35 32↔34, eyes 36↔45 37↔44 38↔43 39↔42
 * 40↔47 41↔46, mouth 48↔54 49↔53 50↔52 55↔59 56↔58 60↔64 61↔63 65↔67; 27–30, 33, 51, 57, 62, 66 stay.
 */
export const MIRROR_68: Uint8Array = (() => {
  const m = Uint8Array.from({ length: 68 }, (_, i) => i);
  const pairs = [
    [17, 26],
    [18, 25],
    [19, 24],
    [20, 23],
    [21, 22],
    [31, 35],
    [32, 34],
    [36, 45],
    [37, 44],
    [38, 43],
    [39, 42],
    [40, 47],
    [41, 46],
    [48, 54],
    [49, 53],
    [50, 52],
    [55, 59],
    [56, 58],
    [60, 64],
    [61, 63],
    [65, 67],
  ];
  for (let i = 0; i <= 16; i++) pairs.push([i, 16 - i]);
  for (const [a, b] of pairs) {
    m[a] = b;
    m[b] = a;
  }
  return m;
})();

/** The bounding box of points x0 y0 x1 y1 … (any count). */
export function landmarkBox(landmarks: Float32Array, out?: LandmarkBox): LandmarkBox {
  if (landmarks.length < 2 || landmarks.length % 2 !== 0)
    throw new RangeError(`landmarks must hold x y pairs, got ${landmarks.length} values`);
  let minX = Infinity,
    minY = Infinity,
    maxX = -Infinity,
    maxY = -Infinity;
  for (let i = 0; i < landmarks.length; i += 2) {
    const x = landmarks[i],
      y = landmarks[i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const box = out ?? { minX: 0, minY: 0, maxX: 0, maxY: 0 };
  box.minX = minX;
  box.minY = minY;
  box.maxX = maxX;
  box.maxY = maxY;
  return box;
}

/** The crop at rest: centred on the landmarks' box, side CROP_SCALE × its longer side, upright, not mirrored. */
export function canonicalGeometry(landmarks: Float32Array): CropGeometry {
  const b = landmarkBox(landmarks);
  return {
    centreX: (b.minX + b.maxX) / 2,
    centreY: (b.minY + b.maxY) / 2,
    side: CROP_SCALE * Math.max(b.maxX - b.minX, b.maxY - b.minY),
    angle: 0,
    flip: false,
  };
}

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

/** Bilinear-sample accumulator of warpCrop (module scratch: no allocation per pixel). */
const acc = new Float64Array(3);

/** Adds weight × the bilinear sample of `image` at (x, y) to acc; black outside the image. */
function addBilinear(data: Uint8Array, width: number, height: number, x: number, y: number, weight: number): void {
  const x0 = Math.floor(x),
    y0 = Math.floor(y);
  const fx = x - x0,
    fy = y - y0;
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) {
    const i00 = 3 * (y0 * width + x0),
      i10 = i00 + 3,
      i01 = i00 + 3 * width,
      i11 = i01 + 3;
    const w00 = (1 - fx) * (1 - fy) * weight,
      w10 = fx * (1 - fy) * weight,
      w01 = (1 - fx) * fy * weight,
      w11 = fx * fy * weight;
    for (let c = 0; c < 3; c++)
      acc[c] += w00 * data[i00 + c] + w10 * data[i10 + c] + w01 * data[i01 + c] + w11 * data[i11 + c];
    return;
  }
  if (x0 + 1 < 0 || y0 + 1 < 0 || x0 >= width || y0 >= height) return;
  // On the border: only the corners inside count.
  for (let k = 0; k < 4; k++) {
    const px = x0 + (k & 1),
      py = y0 + (k >> 1);
    if (px < 0 || py < 0 || px >= width || py >= height) continue;
    const w = ((k & 1) === 1 ? fx : 1 - fx) * (k >> 1 === 1 ? fy : 1 - fy) * weight;
    const i = 3 * (py * width + px);
    acc[0] += w * data[i];
    acc[1] += w * data[i + 1];
    acc[2] += w * data[i + 2];
  }
}

/** Downsampling by more than this (photo pixels per crop pixel) is prefiltered. */
export const PREFILTER_ABOVE = 2;

/** Box-filtered halvings of images (level L at index L − 1), made when a crop first needs them. */
const mipmaps = new WeakMap<RgbImage, RgbImage[]>();

/**
 * `image` shrunk 2^level times by 2×2 box averages (black beyond an odd edge): pixel i of level L covers
 * photo pixels 2^L·i … 2^L·(i + 1) − 1, so photo x is level x (x + 0.5)/2^L − 0.5. Cached per image
 * object: images handed to warpCrop must not change afterwards.
 */
export function mipLevel(image: RgbImage, level: number): RgbImage {
  if (level === 0) return image;
  let levels = mipmaps.get(image);
  if (levels === undefined) {
    levels = [];
    mipmaps.set(image, levels);
  }
  while (levels.length < level) {
    const src = levels.length === 0 ? image : levels[levels.length - 1];
    const w = Math.ceil(src.width / 2),
      h = Math.ceil(src.height / 2);
    const data = new Uint8Array(w * h * 3);
    const sd = src.data,
      sw = src.width;
    for (let y = 0; y < h; y++) {
      const y1 = 2 * y + 1 < src.height ? 2 * y + 1 : -1;
      for (let x = 0; x < w; x++) {
        const x1 = 2 * x + 1 < sw ? 2 * x + 1 : -1;
        for (let c = 0; c < 3; c++) {
          let sum = sd[3 * (2 * y * sw + 2 * x) + c];
          if (x1 >= 0) sum += sd[3 * (2 * y * sw + x1) + c];
          if (y1 >= 0) sum += sd[3 * (y1 * sw + 2 * x) + c];
          if (x1 >= 0 && y1 >= 0) sum += sd[3 * (y1 * sw + x1) + c];
          data[3 * (y * w + x) + c] = (sum + 2) >> 2;
        }
      }
    }
    levels.push({ width: w, height: h, data });
  }
  return levels[level - 1];
}

/**
 * Resamples the crop `geometry` of `image` into `out` (size × size × 3, HWC RGB floats 0..255): bilinear,
 * black outside the image. When a crop pixel covers more than PREFILTER_ABOVE photo pixels, it samples
 * the mip level L = floor(log2(side/size)) (mipLevel: 2^L × 2^L box averages, made once per image)
 * instead, so that the crop is not aliased. `prefilter`: 'mip' (the default), 'supersample' (each crop
 * pixel averages ceil(side/size)² bilinear samples over its footprint: sharper, 10–20× slower) or 'none'.
 */
export function warpCrop(
  image: RgbImage,
  geometry: CropGeometry,
  size: number,
  out: Float32Array,
  options: { prefilter?: 'mip' | 'supersample' | 'none' } = {},
): Float32Array {
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (out.length !== size * size * 3) throw new RangeError(`out has ${out.length} values, expected ${size}×${size}×3`);
  if (!(geometry.side > 0)) throw new RangeError(`crop side must be positive, got ${geometry.side}`);
  const prefilter = options.prefilter ?? 'mip';
  let step = geometry.side / size; // photo pixels per crop pixel
  let source = image;
  let centreX = geometry.centreX,
    centreY = geometry.centreY;
  if (prefilter === 'mip' && step > PREFILTER_ABOVE) {
    const level = Math.floor(Math.log2(step));
    const s = 2 ** level;
    source = mipLevel(image, level);
    centreX = (centreX + 0.5) / s - 0.5;
    centreY = (centreY + 0.5) / s - 0.5;
    step /= s;
  }
  const { width, height, data } = source;
  const cos = Math.cos(geometry.angle),
    sin = Math.sin(geometry.angle);
  const f = geometry.flip ? -1 : 1;
  // Photo offset per crop column (along X, mirrored by f) and per crop row (along Y).
  const colX = f * cos * step,
    colY = -f * sin * step;
  const rowX = sin * step,
    rowY = cos * step;
  const taps = prefilter === 'supersample' && step > PREFILTER_ABOVE ? Math.ceil(step) : 1;
  const weight = 1 / (taps * taps);
  const half = size / 2;
  for (let j = 0; j < size; j++) {
    const v = j + 0.5 - half;
    for (let i = 0; i < size; i++) {
      const u = i + 0.5 - half;
      const x = centreX + u * colX + v * rowX;
      const y = centreY + u * colY + v * rowY;
      acc[0] = 0;
      acc[1] = 0;
      acc[2] = 0;
      if (taps === 1) addBilinear(data, width, height, x, y, 1);
      else {
        for (let b = 0; b < taps; b++) {
          const tv = (b + 0.5) / taps - 0.5;
          for (let a = 0; a < taps; a++) {
            const tu = (a + 0.5) / taps - 0.5;
            addBilinear(data, width, height, x + tu * colX + tv * rowX, y + tu * colY + tv * rowY, weight);
          }
        }
      }
      const o = 3 * (j * size + i);
      out[o] = acc[0];
      out[o + 1] = acc[1];
      out[o + 2] = acc[2];
    }
  }
  return out;
}

/**
 * Photo points → crop points: the map of warpCrop for landmarks (x0 y0 …), so that a point sits on the
 * same pixel content in the crop as in the photo. With `flip`, 136 values are expected and the points are
 * reordered by MIRROR_68 (the mirrored face's left eye is the photo's right eye). `out` may not be
 * `landmarks`.
 */
export function warpLandmarks(
  landmarks: Float32Array,
  geometry: CropGeometry,
  size: number,
  out: Float32Array,
): Float32Array {
  checkPoints(landmarks, geometry, out);
  const cos = Math.cos(geometry.angle),
    sin = Math.sin(geometry.angle);
  const f = geometry.flip ? -1 : 1;
  const k = size / geometry.side;
  const half = size / 2 - 0.5;
  const n = landmarks.length / 2;
  for (let p = 0; p < n; p++) {
    const q = geometry.flip ? MIRROR_68[p] : p;
    const dx = landmarks[2 * q] - geometry.centreX,
      dy = landmarks[2 * q + 1] - geometry.centreY;
    out[2 * p] = f * (dx * cos - dy * sin) * k + half;
    out[2 * p + 1] = (dx * sin + dy * cos) * k + half;
  }
  return out;
}

/** Crop points → photo points: the inverse of warpLandmarks (for predictions made on a crop). */
export function unwarpLandmarks(
  cropLandmarks: Float32Array,
  geometry: CropGeometry,
  size: number,
  out: Float32Array,
): Float32Array {
  checkPoints(cropLandmarks, geometry, out);
  const cos = Math.cos(geometry.angle),
    sin = Math.sin(geometry.angle);
  const f = geometry.flip ? -1 : 1;
  const k = geometry.side / size;
  const half = size / 2 - 0.5;
  const n = cropLandmarks.length / 2;
  for (let p = 0; p < n; p++) {
    const q = geometry.flip ? MIRROR_68[p] : p;
    const u = f * (cropLandmarks[2 * q] - half) * k,
      v = (cropLandmarks[2 * q + 1] - half) * k;
    out[2 * p] = geometry.centreX + u * cos + v * sin;
    out[2 * p + 1] = geometry.centreY - u * sin + v * cos;
  }
  return out;
}

function checkPoints(points: Float32Array, geometry: CropGeometry, out: Float32Array): void {
  if (points.length % 2 !== 0) throw new RangeError(`landmarks must hold x y pairs, got ${points.length} values`);
  if (geometry.flip && points.length !== 136)
    throw new RangeError(`a mirrored crop needs the 68 iBUG points (136 values), got ${points.length}`);
  if (out.length !== points.length) throw new RangeError(`out has ${out.length} values, expected ${points.length}`);
  if (out === points) throw new RangeError('out must not be the input array');
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

/**
 * The square face crops the landmark net sees, in training and at inference: where a crop sits in a photo
 * (CropGeometry: centre, side, angle, mirroring), the crop at rest around a face's landmarks, resampling
 * the photo into a crop (bilinear, with a mip-level prefilter when shrinking), and the same map for points,
 * both ways. Pure TypeScript on typed arrays. Image coordinates as everywhere in the project: x right, y
 * down, the centre of the top-left pixel at (0, 0). Crops are Float32Array HWC RGB, 0..255. Functions
 * write into `out` parameters; their loops allocate nothing.
 */
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

/**
 * The few EXIF tags a fit needs, read from a JPEG's APP1 segment (pure TypeScript on bytes): the
 * orientation and the camera's focal length, as its 35 mm equivalent or in millimetres with the
 * sensor's resolution. Anything malformed reads as absent: a broken EXIF block never stops a fit.
 */
import type { FocalSource } from '../fit/fit-result.js';

export interface ExifCamera {
  /** 1–8; 5–8 swap width and height. */
  orientation: number;
  /** FocalLengthIn35mmFilm (mm), when present and non-zero. */
  focal35mm?: number;
  /** FocalLength (mm). */
  focalLengthMm?: number;
  /** FocalPlaneXResolution converted to pixels per millimetre (of the stored image at pixelXDimension). */
  focalPlanePxPerMm?: number;
  /** PixelXDimension: the stored width the focal-plane resolution refers to. */
  pixelXDimension?: number;
}

const TAG_ORIENTATION = 0x0112,
  TAG_EXIF_IFD = 0x8769;
const TAG_FOCAL_LENGTH = 0x920a,
  TAG_FOCAL_35MM = 0xa405,
  TAG_PIXEL_X = 0xa002;
const TAG_FP_X_RESOLUTION = 0xa20e,
  TAG_FP_UNIT = 0xa210;
/** FocalPlaneResolutionUnit: 2 inch, 3 cm, 4 mm, 5 µm (the last two from EXIF 2.3's DNG use). */
const UNIT_MM: Record<number, number> = { 1: 25.4, 2: 25.4, 3: 10, 4: 1, 5: 0.001 };

/** The EXIF camera tags of a JPEG, or null when `bytes` is not a JPEG or holds no readable EXIF. */
export function readExif(bytes: Uint8Array): ExifCamera | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const marker = bytes[p + 1];
    if (marker === 0xff) {
      p++;
      continue;
    } // fill byte
    if (marker === 0xda || marker === 0xd9) return null; // image data: no EXIF before it
    const length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (length < 2 || p + 2 + length > bytes.length) return null;
    const start = p + 4,
      end = p + 2 + length;
    if (
      marker === 0xe1
      && end - start >= 14
      && bytes[start] === 0x45
      && bytes[start + 1] === 0x78
      && bytes[start + 2] === 0x69
      && bytes[start + 3] === 0x66
      && bytes[start + 4] === 0
      && bytes[start + 5] === 0
    ) {
      try {
        return readTiff(bytes.subarray(start + 6, end));
      } catch {
        return null;
      }
    }
    p = end;
  }
  return null;
}

function readTiff(tiff: Uint8Array): ExifCamera | null {
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return null;
  if (view.getUint16(2, little) !== 42) return null;
  const out: ExifCamera = { orientation: 1 };
  let exifIfd = 0;
  readIfd(view, view.getUint32(4, little), little, (tag, value) => {
    if (tag === TAG_ORIENTATION) {
      const o = value();
      if (o >= 1 && o <= 8) out.orientation = o;
    }
    if (tag === TAG_EXIF_IFD) exifIfd = value();
  });
  let xRes: number | undefined,
    unit = 2;
  if (exifIfd > 0) {
    readIfd(view, exifIfd, little, (tag, value) => {
      if (tag === TAG_FOCAL_LENGTH) out.focalLengthMm = value();
      else if (tag === TAG_FOCAL_35MM) out.focal35mm = value();
      else if (tag === TAG_PIXEL_X) out.pixelXDimension = value();
      else if (tag === TAG_FP_X_RESOLUTION) xRes = value();
      else if (tag === TAG_FP_UNIT) unit = value();
    });
  }
  const unitMm = UNIT_MM[unit];
  if (xRes !== undefined && xRes > 0 && unitMm) out.focalPlanePxPerMm = xRes / unitMm;
  for (const key of ['focal35mm', 'focalLengthMm', 'pixelXDimension'] as const) {
    const v = out[key];
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) delete out[key];
  }
  return out;
}

/** Calls `visit` with each entry's tag and a reader of its first value (SHORT, LONG or RATIONAL). */
function readIfd(
  view: DataView,
  offset: number,
  little: boolean,
  visit: (tag: number, value: () => number) => void,
): void {
  const count = view.getUint16(offset, little);
  for (let i = 0; i < count; i++) {
    const e = offset + 2 + 12 * i;
    const tag = view.getUint16(e, little),
      type = view.getUint16(e + 2, little);
    visit(tag, () => {
      switch (type) {
        case 3:
          return view.getUint16(e + 8, little); // SHORT, inline
        case 4:
          return view.getUint32(e + 8, little); // LONG, inline
        case 5: {
          // RATIONAL, at an offset
          const at = view.getUint32(e + 8, little);
          const den = view.getUint32(at + 4, little);
          return den ? view.getUint32(at, little) / den : NaN;
        }
        default:
          return NaN;
      }
    });
  }
}

/**
 * The focal length in pixels of a photo displayed at width × height (after orientation), from its EXIF:
 * the 35 mm equivalent (f35 / 36 mm × the long side: the long side of a 36 × 24 mm frame), else the focal
 * length in mm × the sensor's pixels per mm, rescaled when the photo was resized since. Null without either.
 */
export function exifFocalPixels(
  exif: ExifCamera | null,
  width: number,
  height: number,
): { px: number; source: FocalSource } | null {
  if (!exif) return null;
  if (exif.focal35mm) return { px: (exif.focal35mm / 36) * Math.max(width, height), source: 'exif-35mm' };
  if (exif.focalLengthMm && exif.focalPlanePxPerMm) {
    // The focal-plane resolution counts pixels of the stored (unrotated) width, PixelXDimension when given.
    const storedWidth = exif.orientation >= 5 ? height : width;
    const resized = exif.pixelXDimension ? storedWidth / exif.pixelXDimension : 1;
    return { px: exif.focalLengthMm * exif.focalPlanePxPerMm * resized, source: 'exif-sensor' };
  }
  return null;
}

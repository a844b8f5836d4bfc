/**
 * Photos in and out as 8-bit sRGB RGB (the RgbImage of render/rgb-image.ts), with sharp.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import type { RgbImage } from '../../render/rgb-image.js';
import { InputError } from '../../errors.js';
import { writeFileAtomic } from './atomic-write.js';

export interface LoadedImage {
  image: RgbImage;
  /** Size of the photo as displayed, after EXIF orientation, before any downscaling. */
  originalWidth: number;
  originalHeight: number;
  /** Loaded size / original size (1 unless maxSide shrank it). */
  scale: number;
}

/** Smaller photos hold no usable face. */
const MIN_SIDE = 32;
/** sharp's own default limit (0x3FFF²), checked from the header so that we can say what is wrong. */
const MAX_PIXELS = 0x3fff * 0x3fff;

/**
 * Reads a photo, applies its EXIF orientation, converts any colour format (greyscale, alpha flattened on
 * white, 16-bit, palette, CMYK) to 8-bit sRGB, and shrinks it so that its longer side is at most
 * `maxSide`. JPEGs are shrunk while decoding, so a 12000×12000 photo never exists at full size in memory.
 */
export async function loadImage(
  source: string | Uint8Array,
  options: { maxSide?: number; name?: string } = {},
): Promise<LoadedImage> {
  const { maxSide } = options;
  // In messages: the file, or for bytes in memory the name the caller gives them.
  const path = typeof source === 'string' ? source : (options.name ?? 'image bytes');
  if (maxSide !== undefined && !(Number.isInteger(maxSide) && maxSide >= MIN_SIDE)) {
    throw new RangeError(`maxSide must be an integer ≥ ${MIN_SIDE}, got ${maxSide}`);
  }
  const size =
    typeof source !== 'string'
      ? source.length
      : await stat(source).then(
          (s) => (s.isFile() ? s.size : -1),
          (err: NodeJS.ErrnoException) => {
            throw new InputError(
              path,
              err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`,
            );
          },
        );
  if (size < 0) throw new InputError(path, 'not a file');
  if (size === 0) throw new InputError(path, 'empty file');

  // 'truncated' rather than sharp's default 'warning': camera JPEGs often carry harmless warnings
  // (extraneous bytes before a marker), but a cut-off file must not load as a half-grey photo. The price:
  // a JPEG damaged in the middle but complete still loads, with the damage visible, as in any viewer.
  const input = { failOn: 'truncated', limitInputPixels: MAX_PIXELS } as const;
  // The header alone, without sharp's pixel limit, so that an oversized image is named by its size.
  const meta = await sharp(source, { ...input, limitInputPixels: false })
    .metadata()
    .catch((err: Error) => {
      throw new InputError(
        path,
        /unsupported image format/i.test(err.message) ? 'not an image (or an unsupported format)' : decodeProblem(err),
      );
    });
  // Orientations 5-8 swap width and height.
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0 && height > 0)) throw new InputError(path, 'not an image (or an unsupported format)');
  if (width * height > MAX_PIXELS) {
    throw new InputError(
      path,
      `image too large (${width}×${height} px, more than ${Math.round(MAX_PIXELS / 1e6)} megapixels)`,
    );
  }
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new InputError(path, `image too small (${width}×${height} px), at least ${MIN_SIDE} px a side needed`);
  }

  const longer = Math.max(width, height);
  const shrink = maxSide !== undefined && longer > maxSide ? maxSide / longer : 1;
  let pipeline = sharp(source, { ...input, autoOrient: true });
  if (shrink < 1) {
    pipeline = pipeline.resize({
      width: Math.max(1, Math.round(width * shrink)),
      height: Math.max(1, Math.round(height * shrink)),
      fit: 'fill',
    });
  }
  const { data, info } = await pipeline
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((err: Error) => {
      throw new InputError(path, decodeProblem(err));
    });
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`sharp gave ${info.channels} channels, ${data.length} bytes for ${info.width}×${info.height}`);
  }
  return {
    image: { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
    originalWidth: width,
    originalHeight: height,
    scale: Math.max(info.width, info.height) / longer,
  };
}

/** PNG bytes of an RgbImage. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const { width, height, data } = image;
  if (data.length !== width * height * 3)
    throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
  const png = await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}

/** Writes an RgbImage as PNG; the file appears complete or not at all. */
export async function savePng(path: string, image: RgbImage): Promise<void> {
  await writeFileAtomic(path, await encodePng(image));
}

function decodeProblem(err: Error): string {
  const message = err.message.split('\n')[0].trim();
  // e.g. HEIC photos: this sharp build reads the container but has no HEVC decoder.
  return /unsupported/i.test(message)
    ? `unsupported image format (${message})`
    : `truncated or corrupt image: ${message}`;
}

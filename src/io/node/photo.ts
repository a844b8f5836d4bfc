/**
 * A photo file (or its bytes) decoded for fitting, with its focal length: the one loader of `fitPhoto`
 * (node.ts) and the photo job (service/photo-job.ts).
 */
import { readFile } from 'node:fs/promises';
import { PHOTO_MAX_SIDE, type Photo } from '../../fit/photo.js';
import type { FocalSource } from '../../fit/fit-result.js';
import { exifFocalPixels, readExif } from '../exif.js';
import { loadImage } from './image.js';

export interface LoadedPhoto {
  photo: Photo;
  /** `focal` as given, else the photo's EXIF focal length; undefined when neither says. */
  focal?: { px: number; source: FocalSource };
  loadMs: number;
}

/** Decodes `source` (shrunk to PHOTO_MAX_SIDE); `name` names it in errors (default: the path). */
export async function loadPhoto(source: string | Uint8Array, name?: string, focal?: number): Promise<LoadedPhoto> {
  const start = performance.now();
  const photoName = name ?? (typeof source === 'string' ? source : 'image bytes');
  const loaded = await loadImage(source, { maxSide: PHOTO_MAX_SIDE, name: photoName });
  const photo: Photo = {
    name: photoName,
    image: loaded.image,
    width: loaded.originalWidth,
    height: loaded.originalHeight,
    scale: loaded.scale,
  };
  const loadMs = performance.now() - start;
  if (focal) return { photo, focal: { px: focal, source: 'option' }, loadMs };
  // A file that cannot be read again has no EXIF.
  const bytes = typeof source === 'string' ? await readFile(source).catch(() => new Uint8Array(0)) : source;
  return { photo, focal: exifFocalPixels(readExif(bytes), photo.width, photo.height) ?? undefined, loadMs };
}

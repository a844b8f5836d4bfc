/**
 * What a photo job reads from its files before any fitting: the photo, decoded, and its .pts landmarks.
 * Its own module, light on imports, so that `morphable fit` of one photo checks them first: a photo that is
 * missing, not an image or too small, or a bad .pts, fails in a fraction of a second instead of after the
 * model and the nets have loaded.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { type LoadedPhoto, loadPhoto } from '../io/node/photo.js';
import { parsePts } from '../io/pts.js';

export interface PhotoJobInputs {
  loaded: LoadedPhoto;
  /** The .pts file's 68 landmarks, when the job names one. */
  landmarks?: Float32Array;
}

/**
 * Decodes `job.photo` (named `job.name` in errors) and reads `job.pts`: InputErrors naming the file. `focal`, a
 * known focal length in pixels, goes before the photo's EXIF.
 */
export async function readPhotoJobInputs(
  job: { photo: string | Uint8Array; name?: string; pts?: string },
  focal?: number,
): Promise<PhotoJobInputs> {
  const loaded = await loadPhoto(job.photo, job.name, focal);
  if (!job.pts) return { loaded };
  const pts = job.pts;
  const text = await readFile(pts, 'utf8').catch(() => {
    throw new InputError(pts, 'no such file');
  });
  return { loaded, landmarks: parsePts(text, pts) };
}

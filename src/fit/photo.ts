/**
 * The decoded photo a fit takes, on its own: the Node loader (io/node/photo.ts) reads and checks a photo
 * without loading the fitting stack (a bad photo fails `morphable fit` before the model and nets load).
 */
import type { RgbImage } from '../render/rgb-image.js';

/** Photos are decoded to a copy whose longer side is at most this (detection, photometric fit, texture). */
export const PHOTO_MAX_SIDE = 1600;

/** A decoded photo, possibly shrunk: `image` is the photo at `scale` × its displayed size. */
export interface Photo {
  name: string;
  image: RgbImage;
  /** Displayed size (after EXIF orientation) before shrinking. */
  width: number;
  height: number;
  scale: number;
}

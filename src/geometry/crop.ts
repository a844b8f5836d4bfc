import type { Camera } from './camera.js';

/**
 * Cameras of scaled and cropped images. Pixel corners stay shared: a camera pixel centre c sits at
 * c + 0.5 from the image's corner, so scaling by s gives c' = s·(c + 0.5) − 0.5.
 */

/** A square region of a photo (full-image pixels: corner x, y and side) resampled to size × size pixels. */
export interface Crop {
  x: number;
  y: number;
  side: number;
  size: number;
}

function target(out: Camera | undefined): Camera {
  return out ?? { rotation: new Float64Array(9), translation: new Float64Array(3), focal: 0, cx: 0, cy: 0 };
}

/**
 * The camera for an image scaled by s (e.g. a photo's camera for a 256-pixel render): f' = s·f and
 * c' = s·(c + 0.5) − 0.5. Gradients w.r.t. the scaled focal length chain back as ∂L/∂f = s·∂L/∂f';
 * rotation and translation are unchanged. Writes into `out` if given (may be `camera`), else a new camera.
 */
export function scaleCamera(camera: Camera, s: number, out?: Camera): Camera {
  const o = target(out);
  o.rotation.set(camera.rotation);
  o.translation.set(camera.translation);
  o.focal = camera.focal * s;
  o.cx = s * (camera.cx + 0.5) - 0.5;
  o.cy = s * (camera.cy + 0.5) - 0.5;
  return o;
}

/** The camera of a crop, from the full photo's camera: scaled by size/side about the crop's corner. */
export function cropCamera(camera: Camera, crop: Crop, out?: Camera): Camera {
  const o = target(out),
    s = crop.size / crop.side;
  o.rotation.set(camera.rotation);
  o.translation.set(camera.translation);
  o.focal = camera.focal * s;
  o.cx = s * (camera.cx + 0.5 - crop.x) - 0.5;
  o.cy = s * (camera.cy + 0.5 - crop.y) - 0.5;
  return o;
}

/** Inverse of cropCamera: the full photo's camera from a crop's camera. */
export function uncropCamera(camera: Camera, crop: Crop, out?: Camera): Camera {
  const o = target(out),
    s = crop.size / crop.side;
  o.rotation.set(camera.rotation);
  o.translation.set(camera.translation);
  // f·(1/s), not f/s: the rounding the fits have always had (outputs stay bit-identical).
  o.focal = camera.focal * (1 / s);
  o.cx = (camera.cx + 0.5) / s + crop.x - 0.5;
  o.cy = (camera.cy + 0.5) / s + crop.y - 0.5;
  return o;
}

import type { Camera } from './camera.js';

/**
 * Model space → camera space → image, for the pinhole camera of camera.ts. Two pixel conventions:
 * the camera's (pixel centres at integers, `projectPoints`) and the rasteriser's (pixel corners at
 * integers, centres at +0.5, optionally scaled to an image stored smaller: `projectToRaster`).
 * The arithmetic is written once here; callers keep their own buffers (out-parameters).
 */

/** Camera-space position of one model point: out = R·(x, y, z) + t. Returns out. */
export function transformPoint(out: Float64Array, camera: Camera, x: number, y: number, z: number): Float64Array {
  const r = camera.rotation,
    t = camera.translation;
  out[0] = r[0] * x + r[1] * y + r[2] * z + t[0];
  out[1] = r[3] * x + r[4] * y + r[5] * z + t[1];
  out[2] = r[6] * x + r[7] * y + r[8] * z + t[2];
  return out;
}

/** Camera-space positions of n points (xyz, model space): out[3i..3i+2] = R·X + t. */
export function transformPoints(
  camera: Camera,
  points: ArrayLike<number>,
  n: number,
  out: Float64Array | Float32Array,
): void {
  const r = camera.rotation,
    t = camera.translation;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i],
      y = points[3 * i + 1],
      z = points[3 * i + 2];
    out[3 * i] = r[0] * x + r[1] * y + r[2] * z + t[0];
    out[3 * i + 1] = r[3] * x + r[4] * y + r[5] * z + t[1];
    out[3 * i + 2] = r[6] * x + r[7] * y + r[8] * z + t[2];
  }
}

/** Projects n points (xyz, model space) to the image (xy pixels). */
export function projectPoints(
  camera: Camera,
  points: ArrayLike<number>,
  n: number,
  out: Float64Array | Float32Array,
): void {
  const r = camera.rotation,
    t = camera.translation,
    f = camera.focal;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i],
      y = points[3 * i + 1],
      z = points[3 * i + 2];
    const xc = r[0] * x + r[1] * y + r[2] * z + t[0];
    const yc = r[3] * x + r[4] * y + r[5] * z + t[1];
    const d = -(r[6] * x + r[7] * y + r[8] * z + t[2]);
    out[2 * i] = camera.cx + (f * xc) / d;
    out[2 * i + 1] = camera.cy - (f * yc) / d;
  }
}

/**
 * Projects n points (xyz, model space) for the rasteriser: out[3i..3i+2] = (u, v, depth) with u, v
 * in the pixels of an image stored at `scale` times the camera's (pixel corners at integers,
 * so u = scale·(cx + f·xc/d + 0.5)) and depth d = −zc in millimetres. Also writes the camera-space
 * positions into `cameraOut` if given (stride 3).
 */
export function projectToRaster(
  camera: Camera,
  points: ArrayLike<number>,
  n: number,
  scale: number,
  out: Float32Array,
  cameraOut?: Float32Array,
): void {
  const r = camera.rotation,
    t = camera.translation,
    f = camera.focal,
    cx = camera.cx,
    cy = camera.cy;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i],
      y = points[3 * i + 1],
      z = points[3 * i + 2];
    const xc = r[0] * x + r[1] * y + r[2] * z + t[0];
    const yc = r[3] * x + r[4] * y + r[5] * z + t[1];
    const zc = r[6] * x + r[7] * y + r[8] * z + t[2];
    if (cameraOut) {
      cameraOut[3 * i] = xc;
      cameraOut[3 * i + 1] = yc;
      cameraOut[3 * i + 2] = zc;
    }
    const d = -zc;
    out[3 * i] = scale * (cx + (f * xc) / d + 0.5);
    out[3 * i + 1] = scale * (cy - (f * yc) / d + 0.5);
    out[3 * i + 2] = d;
  }
}

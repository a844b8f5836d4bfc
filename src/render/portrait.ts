/**
 * A face posed and framed like a portrait photo: the head centred by a 30° camera, lit by SH light,
 * with the model's colour (or a skin tone) on a grey background. What `morphable render` draws, and
 * what landmark calibration shows the face detector.
 */
import type { RgbImage } from './rgb-image.js';
import { createCamera, type Camera } from '../geometry/camera.js';
import { rotateVector, rotationFromAngles } from '../geometry/rotation.js';
import { linearToSrgbByte } from '../model/color.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { createPhotometricImage, PhotometricRenderer } from './photometric.js';

const SKIN = [0.62, 0.42, 0.33];
const BACKGROUND = 200;
/** sRGB grey of surfaces seen from behind (the inside of the head). */
export const INTERIOR = 24;

export interface PortraitOptions {
  yaw: number;
  pitch: number;
  roll: number;
  /** Image side in pixels. */
  size: number;
}

export function renderPortrait(
  model: MorphableModel,
  identity: ArrayLike<number>,
  expression: ArrayLike<number>,
  sh: ArrayLike<number>,
  o: PortraitOptions,
): { image: RgbImage; camera: Camera; positions: Float32Array } {
  const positions = evaluateShape(model, identity, expression);
  let minY = Infinity,
    maxY = -Infinity,
    minX = Infinity,
    maxX = -Infinity,
    cz = 0;
  for (let i = 0; i < model.vertexCount; i++) {
    minX = Math.min(minX, positions[3 * i]);
    maxX = Math.max(maxX, positions[3 * i]);
    minY = Math.min(minY, positions[3 * i + 1]);
    maxY = Math.max(maxY, positions[3 * i + 1]);
    cz += positions[3 * i + 2] / model.vertexCount;
  }
  const size = o.size;
  const camera = createCamera(size, size, size / (2 * Math.tan((15 * Math.PI) / 180)));
  rotationFromAngles(o.yaw, o.pitch, o.roll, camera.rotation);
  const extent = 1.15 * Math.max(maxX - minX, maxY - minY);
  const centre = [(minX + maxX) / 2, (minY + maxY) / 2, cz];
  const r = camera.rotation;
  // Put the head's centre on the optical axis at the distance where it fills the frame.
  const distance = (camera.focal * extent) / size;
  const t = rotateVector(camera.translation, r, centre[0], centre[1], centre[2]);
  for (let k = 0; k < 3; k++) t[k] = -t[k];
  camera.translation[2] -= distance;
  const albedo = model.color ? model.color.mean : new Float32Array(3 * model.vertexCount).map((_, i) => SKIN[i % 3]);
  const renderer = new PhotometricRenderer(model.triangles, model.vertexCount, size, size);
  const image = createPhotometricImage(size, size);
  renderer.render(positions, camera, albedo, sh, image);
  const data = new Uint8Array(3 * size * size).fill(BACKGROUND);
  const n = image.normal,
    f = camera.focal;
  for (let p = 0; p < size * size; p++) {
    if (!image.mask[p]) continue;
    // A surface seen from behind (inside the head, through the eye holes and the mouth) has no light
    // of its own: SH light evaluated on its inward normal gives odd colours (teal), so it is drawn dark.
    const x = p % size,
      y = (p - x) / size;
    const facing = (n[3 * p] * (x - camera.cx)) / f - (n[3 * p + 1] * (y - camera.cy)) / f - n[3 * p + 2];
    if (facing > 0) {
      data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = INTERIOR;
      continue;
    }
    for (let c = 0; c < 3; c++) data[3 * p + c] = linearToSrgbByte(image.color[3 * p + c]);
  }
  return { image: { width: size, height: size, data }, camera, positions };
}

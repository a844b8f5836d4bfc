import type { RgbImage } from '../detect/face.js';
import type { Camera } from '../fit/camera.js';
import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, interpolateAt, rasterize } from './rasterize.js';

export interface OverlayOptions {
  /** Image pixels per camera pixel (the overlay may be drawn on a downscaled copy of the photo). */
  scale?: number;
  /** Opacity of the shaded mesh. */
  opacity?: number;
  /** Landmark sets to draw as dots, in camera pixels, each with its colour. */
  points?: { landmarks: ArrayLike<number>; color: [number, number, number] }[];
}

/**
 * The fitted mesh drawn over the photo: shaded by a light at the camera, blended with the photo,
 * and landmark dots on top. Returns a new image; `image` is not changed.
 */
export function drawOverlay(image: RgbImage, positions: Float32Array, triangles: Uint32Array, camera: Camera, options: OverlayOptions = {}): RgbImage {
  const { width, height } = image;
  const scale = options.scale ?? 1;
  const opacity = options.opacity ?? 0.6;
  const n = positions.length / 3;
  const r = camera.rotation, t = camera.translation;
  const screen = new Float32Array(3 * n);
  const cameraSpace = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x = positions[3 * i], y = positions[3 * i + 1], z = positions[3 * i + 2];
    const xc = r[0] * x + r[1] * y + r[2] * z + t[0];
    const yc = r[3] * x + r[4] * y + r[5] * z + t[1];
    const zc = r[6] * x + r[7] * y + r[8] * z + t[2];
    cameraSpace[3 * i] = xc; cameraSpace[3 * i + 1] = yc; cameraSpace[3 * i + 2] = zc;
    const d = -zc;
    // Camera pixels have their centres at integers, the rasteriser's at +0.5: corners are shared.
    screen[3 * i] = scale * (camera.cx + (camera.focal * xc) / d + 0.5);
    screen[3 * i + 1] = scale * (camera.cy - (camera.focal * yc) / d + 0.5);
    screen[3 * i + 2] = d;
  }
  const raster = rasterize(screen, triangles, createRasterBuffers(width, height));
  const normals = vertexNormals(cameraSpace, triangles);
  const out = new Uint8Array(image.data);
  const normal = new Float64Array(3);
  for (let p = 0; p < width * height; p++) {
    if (raster.triangle[p] < 0) continue;
    interpolateAt(raster, triangles, normals, p, normal);
    const nx = normal[0], ny = normal[1], nz = normal[2];
    // Headlight from a little above: facing surfaces bright, grazing ones dark, so the shape reads.
    const shade = Math.abs(nx * 0 + ny * 0.3 + nz * 0.95) / (Math.hypot(nx, ny, nz) || 1);
    const level = 40 + 200 * shade;
    out[3 * p] = Math.round((1 - opacity) * out[3 * p] + opacity * level * 0.85);
    out[3 * p + 1] = Math.round((1 - opacity) * out[3 * p + 1] + opacity * level * 0.92);
    out[3 * p + 2] = Math.round((1 - opacity) * out[3 * p + 2] + opacity * level);
  }
  const radius = Math.max(2, Math.round(Math.max(width, height) / 320));
  for (const set of options.points ?? []) drawDots(out, width, height, set.landmarks, scale, radius, set.color);
  return { width, height, data: out };
}

function drawDots(data: Uint8Array, width: number, height: number, points: ArrayLike<number>, scale: number, radius: number, color: [number, number, number]): void {
  for (let i = 0; i + 1 < points.length; i += 2) {
    const cx = (points[i] + 0.5) * scale - 0.5, cy = (points[i + 1] + 0.5) * scale - 0.5;
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) continue;
    for (let y = Math.max(0, Math.floor(cy - radius)); y <= Math.min(height - 1, Math.ceil(cy + radius)); y++) {
      for (let x = Math.max(0, Math.floor(cx - radius)); x <= Math.min(width - 1, Math.ceil(cx + radius)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > radius * radius) continue;
        const p = 3 * (y * width + x);
        data[p] = color[0]; data[p + 1] = color[1]; data[p + 2] = color[2];
      }
    }
  }
}

import type { RgbImage } from './rgb-image.js';
import type { Camera } from '../geometry/camera.js';
import { projectToRaster } from '../geometry/projection.js';
import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, interpolateAt, rasterize } from './rasterize.js';

export interface OverlayOptions {
  /** Image pixels per camera pixel (the overlay may be drawn on a downscaled copy of the photo). */
  scale?: number;
  /** Opacity of the shaded mesh. */
  opacity?: number;
  /** Landmark sets to draw as dots, in camera pixels, each with its colour. */
  points?: { landmarks: ArrayLike<number>; color: [number, number, number] }[];
  /** Return only this rectangle of the overlay (image pixels, e.g. from faceRegion); default: all of it. */
  crop?: Rect;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The rectangle of `image` (width × height pixels) around a face: the bounds of its landmark sets
 * (camera pixels, NaN skipped) and its box, grown by `margin` × its size on every side, clipped to the image.
 */
export function faceRegion(
  width: number,
  height: number,
  scale: number,
  points: ArrayLike<number>[],
  box?: Rect,
  margin = 0.5,
): Rect {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  const add = (x: number, y: number) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  };
  for (const p of points) for (let i = 0; i + 1 < p.length; i += 2) add(p[i], p[i + 1]);
  if (box) {
    add(box.x, box.y);
    add(box.x + box.width, box.y + box.height);
  }
  if (!(x1 >= x0 && y1 >= y0)) return { x: 0, y: 0, width, height };
  const mx = margin * (x1 - x0),
    my = margin * (y1 - y0);
  const left = Math.max(0, Math.floor((x0 - mx + 0.5) * scale - 0.5));
  const top = Math.max(0, Math.floor((y0 - my + 0.5) * scale - 0.5));
  const right = Math.min(width, Math.ceil((x1 + mx + 0.5) * scale + 0.5));
  const bottom = Math.min(height, Math.ceil((y1 + my + 0.5) * scale + 0.5));
  if (right <= left || bottom <= top) return { x: 0, y: 0, width, height };
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/**
 * The fitted mesh drawn over the photo: shaded by a light at the camera, blended with the photo,
 * and landmark dots on top. Returns a new image; `image` is not changed.
 */
export function drawOverlay(
  image: RgbImage,
  positions: Float32Array,
  triangles: Uint32Array,
  camera: Camera,
  options: OverlayOptions = {},
): RgbImage {
  const { width, height } = image;
  const scale = options.scale ?? 1;
  const opacity = options.opacity ?? 0.6;
  const n = positions.length / 3;
  const screen = new Float32Array(3 * n);
  const cameraSpace = new Float32Array(3 * n);
  // Camera pixels have their centres at integers, the rasteriser's at +0.5: corners are shared.
  projectToRaster(camera, positions, n, scale, screen, cameraSpace);
  const raster = rasterize(screen, triangles, createRasterBuffers(width, height));
  const normals = vertexNormals(cameraSpace, triangles);
  const out = new Uint8Array(image.data);
  const normal = new Float64Array(3);
  for (let p = 0; p < width * height; p++) {
    if (raster.triangle[p] < 0) continue;
    interpolateAt(raster, triangles, normals, p, normal);
    const nx = normal[0],
      ny = normal[1],
      nz = normal[2];
    // Headlight from a little above: facing surfaces bright, grazing ones dark, so the shape reads.
    const shade = Math.abs(nx * 0 + ny * 0.3 + nz * 0.95) / (Math.hypot(nx, ny, nz) || 1);
    const level = 40 + 200 * shade;
    out[3 * p] = Math.round((1 - opacity) * out[3 * p] + opacity * level * 0.85);
    out[3 * p + 1] = Math.round((1 - opacity) * out[3 * p + 1] + opacity * level * 0.92);
    out[3 * p + 2] = Math.round((1 - opacity) * out[3 * p + 2] + opacity * level);
  }
  const radius = Math.max(2, Math.round(Math.max(width, height) / 320));
  for (const set of options.points ?? []) drawDots(out, width, height, set.landmarks, scale, radius, set.color);
  return options.crop ? cropImage({ width, height, data: out }, options.crop) : { width, height, data: out };
}

/** A copy of `rect` (clipped to the image) of `image`. */
export function cropImage(image: RgbImage, rect: Rect): RgbImage {
  const x0 = Math.max(0, Math.floor(rect.x)),
    y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(image.width, Math.floor(rect.x + rect.width)),
    y1 = Math.min(image.height, Math.floor(rect.y + rect.height));
  const w = Math.max(0, x1 - x0),
    h = Math.max(0, y1 - y0);
  const data = new Uint8Array(3 * w * h);
  for (let y = 0; y < h; y++)
    data.set(image.data.subarray(3 * ((y0 + y) * image.width + x0), 3 * ((y0 + y) * image.width + x0 + w)), 3 * y * w);
  return { width: w, height: h, data };
}

function drawDots(
  data: Uint8Array,
  width: number,
  height: number,
  points: ArrayLike<number>,
  scale: number,
  radius: number,
  color: [number, number, number],
): void {
  for (let i = 0; i + 1 < points.length; i += 2) {
    const cx = (points[i] + 0.5) * scale - 0.5,
      cy = (points[i + 1] + 0.5) * scale - 0.5;
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) continue;
    for (let y = Math.max(0, Math.floor(cy - radius)); y <= Math.min(height - 1, Math.ceil(cy + radius)); y++) {
      for (let x = Math.max(0, Math.floor(cx - radius)); x <= Math.min(width - 1, Math.ceil(cx + radius)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > radius * radius) continue;
        const p = 3 * (y * width + x);
        data[p] = color[0];
        data[p + 1] = color[1];
        data[p + 2] = color[2];
      }
    }
  }
}

import type { RgbImage } from './rgb-image.js';
import type { Camera } from '../geometry/camera.js';
import { projectToRaster, transformPoint } from '../geometry/projection.js';
import { rotateVector } from '../geometry/rotation.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, rasterize } from './rasterize.js';

/**
 * Unwraps the photo onto the model's UV layout: every texel's surface point (through the UV
 * triangles) is projected into the photo with the fitted camera and takes the photo's colour where
 * that point is visible (in front in the z-buffer, facing the camera). Texels the camera did not
 * see take the colour at the left/right mirror point of the face when that one was seen, else
 * `fill` (e.g. the mean albedo). Texture rows run top-down with v = 1 at the top (OBJ convention).
 */
export function unwrapTexture(
  photo: RgbImage,
  photoScale: number,
  model: MorphableModel,
  positions: Float32Array,
  camera: Camera,
  size: number,
  fill: [number, number, number],
): { texture: RgbImage; seen: number } {
  const n = model.vertexCount;
  // Visibility: a depth buffer of the whole mesh at the photo's stored resolution.
  const { width, height } = photo;
  const screen = new Float32Array(3 * n);
  projectToRaster(camera, positions, n, photoScale, screen);
  const depth = rasterize(screen, model.triangles, createRasterBuffers(width, height)).depth;
  const normals = vertexNormals(positions, model.triangles);

  const data = new Uint8Array(3 * size * size);
  const seenMask = new Uint8Array(size * size);
  const surface = new Float32Array(6 * size * size); // xyz and normal per texel, for the mirror pass
  const covered = new Uint8Array(size * size);
  // Rasterise the UV triangles into texel space (v up → rows down).
  const uvScreen = new Float32Array(3 * (model.uvs.length / 2));
  for (let i = 0; i < model.uvs.length / 2; i++) {
    uvScreen[3 * i] = model.uvs[2 * i] * size;
    uvScreen[3 * i + 1] = (1 - model.uvs[2 * i + 1]) * size;
    uvScreen[3 * i + 2] = 0;
  }
  const uvRaster = rasterize(uvScreen, model.uvTriangles, createRasterBuffers(size, size));
  const T = model.triangles;
  for (let p = 0; p < size * size; p++) {
    const tri = uvRaster.triangle[p];
    if (tri < 0) continue;
    covered[p] = 1;
    const b1 = uvRaster.barycentric[2 * p],
      b2 = uvRaster.barycentric[2 * p + 1],
      b0 = 1 - b1 - b2;
    const i0 = 3 * T[3 * tri],
      i1 = 3 * T[3 * tri + 1],
      i2 = 3 * T[3 * tri + 2];
    for (let c = 0; c < 3; c++) {
      surface[6 * p + c] = b0 * positions[i0 + c] + b1 * positions[i1 + c] + b2 * positions[i2 + c];
      surface[6 * p + 3 + c] = b0 * normals[i0 + c] + b1 * normals[i1 + c] + b2 * normals[i2 + c];
    }
    if (sample(surface, 6 * p, 1, photo, photoScale, camera, depth, data, 3 * p)) seenMask[p] = 1;
  }
  let seen = 0;
  for (let p = 0; p < size * size; p++) {
    if (!covered[p]) continue;
    if (seenMask[p]) {
      seen++;
      continue;
    }
    if (!sample(surface, 6 * p, -1, photo, photoScale, camera, depth, data, 3 * p)) {
      data[3 * p] = fill[0];
      data[3 * p + 1] = fill[1];
      data[3 * p + 2] = fill[2];
    }
  }
  return { texture: { width: size, height: size, data }, seen };
}

// Scratch for sample(): the surface point and its normal in camera space.
const cameraPoint = new Float64Array(3),
  cameraNormal = new Float64Array(3);

/** Samples the photo at the surface point (x mirrored when `mirror` is −1) if visible; writes RGB. */
function sample(
  surface: Float32Array,
  at: number,
  mirror: number,
  photo: RgbImage,
  scale: number,
  camera: Camera,
  depth: Float32Array,
  out: Uint8Array,
  o: number,
): boolean {
  const x = mirror * surface[at],
    y = surface[at + 1],
    z = surface[at + 2];
  const nx = mirror * surface[at + 3],
    ny = surface[at + 4],
    nz = surface[at + 5];
  const p = transformPoint(cameraPoint, camera, x, y, z),
    q = rotateVector(cameraNormal, camera.rotation, nx, ny, nz);
  const xc = p[0],
    yc = p[1],
    zc = p[2];
  // Facing the camera: the normal points back along the ray (camera at the origin).
  const nxc = q[0],
    nyc = q[1],
    nzc = q[2];
  if (nxc * xc + nyc * yc + nzc * zc > -0.2 * Math.hypot(nxc, nyc, nzc) * Math.hypot(xc, yc, zc)) return false;
  const d = -zc;
  const u = scale * (camera.cx + (camera.focal * xc) / d + 0.5),
    v = scale * (camera.cy - (camera.focal * yc) / d + 0.5);
  const { width, height, data } = photo;
  const px = Math.floor(u),
    py = Math.floor(v);
  if (px < 0 || py < 0 || px >= width || py >= height) return false;
  // In front: not more than 3 mm behind what the z-buffer holds there.
  if (d > depth[py * width + px] + 3) return false;
  const fx = u - 0.5,
    fy = v - 0.5;
  const x0 = Math.max(0, Math.min(width - 2, Math.floor(fx))),
    y0 = Math.max(0, Math.min(height - 2, Math.floor(fy)));
  const ax = Math.min(1, Math.max(0, fx - x0)),
    ay = Math.min(1, Math.max(0, fy - y0));
  for (let c = 0; c < 3; c++) {
    const a = data[3 * (y0 * width + x0) + c],
      b = data[3 * (y0 * width + x0 + 1) + c];
    const cc = data[3 * ((y0 + 1) * width + x0) + c],
      dd = data[3 * ((y0 + 1) * width + x0 + 1) + c];
    out[o + c] = Math.round((1 - ay) * ((1 - ax) * a + ax * b) + ay * ((1 - ax) * cc + ax * dd));
  }
  return true;
}

import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, interpolateAt, rasterize } from './rasterize.js';

/**
 * A quick grey clay render of a mesh seen from the front (orthographic, +z towards the viewer,
 * headlight plus a key light from the upper left), framed to fit: enough to look at samples.
 * Returns RGB bytes, width × height × 3.
 */
const LIGHT = [-0.4, 0.5, 0.77];
const CLAY = [0.82, 0.78, 0.74];

export function renderPreview(
  positions: Float32Array,
  triangles: Uint32Array,
  width: number,
  height: number,
  colors?: Float32Array,
): Uint8Array {
  const n = positions.length / 3;
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, positions[3 * i]);
    maxX = Math.max(maxX, positions[3 * i]);
    minY = Math.min(minY, positions[3 * i + 1]);
    maxY = Math.max(maxY, positions[3 * i + 1]);
  }
  const scale = 0.9 * Math.min(width / (maxX - minX), height / (maxY - minY));
  const cx = (minX + maxX) / 2,
    cy = (minY + maxY) / 2;
  const screen = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    screen[3 * i] = width / 2 + (positions[3 * i] - cx) * scale;
    screen[3 * i + 1] = height / 2 - (positions[3 * i + 1] - cy) * scale;
    screen[3 * i + 2] = -positions[3 * i + 2];
  }
  const raster = rasterize(screen, triangles, createRasterBuffers(width, height));
  const normals = vertexNormals(positions, triangles);
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const normal = new Float64Array(3),
    color = new Float64Array(3);
  for (let p = 0; p < width * height; p++) {
    if (raster.triangle[p] < 0) continue;
    interpolateAt(raster, triangles, normals, p, normal);
    const nx = normal[0],
      ny = normal[1],
      nz = normal[2];
    const len = Math.hypot(nx, ny, nz) || 1;
    // Two-sided: a normal facing away is flipped, so open meshes do not show black insides.
    const sign = nz < 0 ? -1 : 1;
    const diffuse = Math.max(0, (sign * (nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2])) / len);
    const shade = 1.15 * (0.25 + 0.45 * diffuse + 0.3 * Math.abs(nz / len));
    if (colors) interpolateAt(raster, triangles, colors, p, color);
    for (let c = 0; c < 3; c++) rgb[3 * p + c] = Math.round(255 * Math.min(1, (colors ? color[c] : CLAY[c]) * shade));
  }
  return rgb;
}

/**
 * Z-buffer rasteriser over screen-space vertices: for each pixel, the nearest triangle's id and the
 * barycentrics of the pixel centre in it (nvdiffrast's `rasterize`; shading is done by the caller).
 * Screen space: x right, y down, in pixels; smaller depth is nearer. Pixel (i, j) has centre (i+0.5, j+0.5).
 */
export interface RasterBuffers {
  width: number;
  height: number;
  /** Triangle index per pixel, -1 where empty. */
  triangle: Int32Array;
  /** Barycentric weights of the triangle's 2nd and 3rd vertex per pixel (the 1st is 1 − u − v). */
  barycentric: Float32Array;
  depth: Float32Array;
}

export function createRasterBuffers(width: number, height: number): RasterBuffers {
  return { width, height, triangle: new Int32Array(width * height), barycentric: new Float32Array(2 * width * height), depth: new Float32Array(width * height) };
}

/** `screen` holds x, y, depth per vertex. Triangles of both windings are drawn (no culling). */
export function rasterize(screen: Float32Array, triangles: Uint32Array, out: RasterBuffers): RasterBuffers {
  const { width, height, triangle, barycentric, depth } = out;
  triangle.fill(-1);
  depth.fill(Infinity);
  for (let t = 0; t < triangles.length / 3; t++) {
    const a = 3 * triangles[3 * t], b = 3 * triangles[3 * t + 1], c = 3 * triangles[3 * t + 2];
    const ax = screen[a], ay = screen[a + 1], az = screen[a + 2];
    const bx = screen[b], by = screen[b + 1], bz = screen[b + 2];
    const cx = screen[c], cy = screen[c + 1], cz = screen[c + 2];
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (area === 0 || !Number.isFinite(area)) continue;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx, cx))), x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx, cx)));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by, cy))), y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by, cy)));
    const inv = 1 / area;
    for (let y = y0; y <= y1; y++) {
      const py = y + 0.5;
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5;
        const u = ((px - ax) * (cy - ay) - (py - ay) * (cx - ax)) * inv;
        const v = ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) * inv;
        if (u < 0 || v < 0 || u + v > 1) continue;
        const z = az + u * (bz - az) + v * (cz - az);
        const p = y * width + x;
        if (z >= depth[p]) continue;
        depth[p] = z;
        triangle[p] = t;
        barycentric[2 * p] = u;
        barycentric[2 * p + 1] = v;
      }
    }
  }
  return out;
}

/**
 * nvdiffrast's `interpolate` for one pixel: the barycentric blend of a per-vertex 3-vector attribute
 * (normals, colours) at covered pixel p, into out[0..2]. The caller skips uncovered pixels.
 */
export function interpolateAt(raster: RasterBuffers, triangles: Uint32Array, attribute: ArrayLike<number>, p: number, out: Float64Array): void {
  const t = raster.triangle[p];
  const w1 = raster.barycentric[2 * p], w2 = raster.barycentric[2 * p + 1], w0 = 1 - w1 - w2;
  const i0 = 3 * triangles[3 * t], i1 = 3 * triangles[3 * t + 1], i2 = 3 * triangles[3 * t + 2];
  for (let c = 0; c < 3; c++) out[c] = w0 * attribute[i0 + c] + w1 * attribute[i1 + c] + w2 * attribute[i2 + c];
}

/**
 * Z-buffer rasteriser over screen-space vertices: for each pixel, the nearest triangle's id and the
 * barycentrics of the pixel centre in it (nvdiffrast's `rasterize`; interpolation and shading are done by
 * the caller). The one rasteriser of the renderers: the overlay, the preview, the UV texture's visibility
 * and the photometric renderer (render/photometric.ts) all draw with it, so their masks agree.
 * Screen space: x right, y down, in pixels; pixel (i, j) has centre (i+0.5, j+0.5) and is covered when
 * its centre lies inside the triangle or on its edge (barycentrics u ≥ 0, v ≥ 0, u + v ≤ 1).
 * Depth: the third screen coordinate, interpolated affinely in screen space; smaller is nearer, and on
 * a tie the earlier triangle keeps the pixel. Pass −1/d (d the distance along the view axis) for a
 * perspective-correct depth test, as the photometric renderer does.
 */
export interface RasterBuffers<F extends Float32Array | Float64Array = Float32Array | Float64Array> {
  width: number;
  height: number;
  /** Triangle index per pixel, -1 where empty. */
  triangle: Int32Array;
  /** Barycentric weights of the triangle's 2nd and 3rd vertex per pixel (the 1st is 1 − u − v). */
  barycentric: F;
  /** Interpolated depth of the nearest triangle per pixel, +Infinity where empty. */
  depth: F;
}

/** Single-precision buffers for `rasterize` (the photometric renderer holds double-precision ones). */
export function createRasterBuffers(width: number, height: number): RasterBuffers<Float32Array> {
  return {
    width,
    height,
    triangle: new Int32Array(width * height),
    barycentric: new Float32Array(2 * width * height),
    depth: new Float32Array(width * height),
  };
}

/**
 * `screen` holds x, y, depth per vertex. Triangles of both windings are drawn (no culling); a triangle of
 * zero or non-finite area (e.g. a NaN vertex, behind the camera) is skipped. Only the pixels whose
 * centres lie in the triangle's bounding box are tested.
 */
export function rasterize<F extends Float32Array | Float64Array>(
  screen: Float32Array | Float64Array,
  triangles: Uint32Array,
  out: RasterBuffers<F>,
): RasterBuffers<F> {
  const { width, height, triangle, barycentric, depth } = out;
  triangle.fill(-1);
  depth.fill(Infinity);
  const count = triangles.length / 3;
  for (let t = 0; t < count; t++) {
    const a = 3 * triangles[3 * t],
      b = 3 * triangles[3 * t + 1],
      c = 3 * triangles[3 * t + 2];
    const ax = screen[a],
      ay = screen[a + 1],
      az = screen[a + 2];
    const bx = screen[b],
      by = screen[b + 1],
      bz = screen[b + 2];
    const cx = screen[c],
      cy = screen[c + 1],
      cz = screen[c + 2];
    const abx = bx - ax,
      aby = by - ay,
      acx = cx - ax,
      acy = cy - ay;
    const area = abx * acy - aby * acx;
    if (area === 0 || !Number.isFinite(area)) continue;
    // The triangle's bounding box by comparisons (this runs per triangle).
    let minX = ax,
      maxX = ax,
      minY = ay,
      maxY = ay;
    if (bx < minX) minX = bx;
    else maxX = bx;
    if (cx < minX) minX = cx;
    else if (cx > maxX) maxX = cx;
    if (by < minY) minY = by;
    else maxY = by;
    if (cy < minY) minY = cy;
    else if (cy > maxY) maxY = cy;
    // The pixels whose centres x + 0.5 lie in [minX, maxX] (and likewise for y).
    const x0 = Math.max(0, Math.ceil(minX - 0.5)),
      x1 = Math.min(width - 1, Math.floor(maxX - 0.5));
    const y0 = Math.max(0, Math.ceil(minY - 0.5)),
      y1 = Math.min(height - 1, Math.floor(maxY - 0.5));
    const inv = 1 / area;
    const abz = bz - az,
      acz = cz - az;
    for (let y = y0; y <= y1; y++) {
      const py = y + 0.5 - ay;
      const uRow = py * acx,
        vRow = abx * py;
      const row = y * width;
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax;
        const u = (px * acy - uRow) * inv;
        const v = (vRow - aby * px) * inv;
        if (u < 0 || v < 0 || u + v > 1) continue;
        const z = az + u * abz + v * acz;
        const p = row + x;
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
export function interpolateAt(
  raster: RasterBuffers,
  triangles: Uint32Array,
  attribute: ArrayLike<number>,
  p: number,
  out: Float64Array,
): void {
  const t = raster.triangle[p];
  const w1 = raster.barycentric[2 * p],
    w2 = raster.barycentric[2 * p + 1],
    w0 = 1 - w1 - w2;
  const i0 = 3 * triangles[3 * t],
    i1 = 3 * triangles[3 * t + 1],
    i2 = 3 * triangles[3 * t + 2];
  for (let c = 0; c < 3; c++) out[c] = w0 * attribute[i0 + c] + w1 * attribute[i1 + c] + w2 * attribute[i2 + c];
}

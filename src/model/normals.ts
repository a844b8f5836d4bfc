/**
 * Area-weighted vertex normals of a triangle mesh (unnormalised cross products summed
 * per vertex, then normalised). `out` has the length of `positions`.
 */
export function vertexNormals(
  positions: Float32Array,
  triangles: Uint32Array,
  out: Float32Array = new Float32Array(positions.length),
): Float32Array {
  out.fill(0);
  accumulateTriangleNormals(positions, triangles, out);
  for (let i = 0; i < out.length; i += 3) {
    const len = Math.hypot(out[i], out[i + 1], out[i + 2]);
    if (len > 0) {
      out[i] /= len;
      out[i + 1] /= len;
      out[i + 2] /= len;
    }
  }
  return out;
}

/**
 * Adds each triangle's unnormalised normal (its edge cross product: twice its area, along the normal)
 * to the entries of its three vertices in `out`; callers zero `out` first and normalise after.
 */
export function accumulateTriangleNormals(
  positions: Float32Array | Float64Array,
  triangles: Uint32Array,
  out: Float32Array | Float64Array,
): void {
  for (let t = 0; t < triangles.length; t += 3) {
    const a = 3 * triangles[t],
      b = 3 * triangles[t + 1],
      c = 3 * triangles[t + 2];
    const e1x = positions[b] - positions[a],
      e1y = positions[b + 1] - positions[a + 1],
      e1z = positions[b + 2] - positions[a + 2];
    const e2x = positions[c] - positions[a],
      e2y = positions[c + 1] - positions[a + 1],
      e2z = positions[c + 2] - positions[a + 2];
    const nx = e1y * e2z - e1z * e2y,
      ny = e1z * e2x - e1x * e2z,
      nz = e1x * e2y - e1y * e2x;
    out[a] += nx;
    out[a + 1] += ny;
    out[a + 2] += nz;
    out[b] += nx;
    out[b + 1] += ny;
    out[b + 2] += nz;
    out[c] += nx;
    out[c + 1] += ny;
    out[c + 2] += nz;
  }
}

import type { MorphableModel } from './morphable-model.js';

/**
 * Where the 68 iBUG landmarks sit on the model: landmark i is its vertex, moved by the model's
 * calibrated offset (fit/landmark-calibration.ts measures it, the model file stores it). The one
 * place that adds the two: the landmark fit, the photometric fit's landmark term and the projected
 * landmarks of a fitted face all start from here.
 */

/**
 * The model's iBUG-68 landmark offsets, 204 values, zeros where it has none. An offset belongs to the
 * landmark's own vertex: a jaw point sliding to another vertex of the silhouette goes without it
 * (landmarkOffset).
 */
export function landmarkOffsets(model: MorphableModel): Float64Array {
  const offsets = model.landmarks.ibug68?.offsets;
  return offsets && offsets.length === 204 ? Float64Array.from(offsets) : new Float64Array(204);
}

/** Coordinate c of landmark i's offset when it sits at `vertex`. */
export function landmarkOffset(
  model: MorphableModel,
  offsets: Float64Array,
  i: number,
  vertex: number,
  c: number,
): number {
  return vertex >= 0 && vertex === model.landmarks.ibug68?.vertices[i] ? offsets[3 * i + c] : 0;
}

/**
 * Landmark i's 3D position when it sits at `vertex`, written to out[at], out[at + 1], out[at + 2]:
 * the vertex of `base` (3N: the model's mean, or an evaluated mesh), plus Σ_k identity[k]·(identity
 * component k) and likewise for `expression` where given (null: none), plus the calibrated offset.
 * NaN for a vertex < 0 (the model has no such landmark).
 */
export function landmarkPosition(
  model: MorphableModel,
  offsets: Float64Array,
  i: number,
  vertex: number,
  base: ArrayLike<number>,
  identity: ArrayLike<number> | null,
  expression: ArrayLike<number> | null,
  out: Float64Array | Float32Array,
  at = 3 * i,
): void {
  if (vertex < 0) {
    out[at] = out[at + 1] = out[at + 2] = NaN;
    return;
  }
  const n3 = 3 * model.vertexCount;
  for (let c = 0; c < 3; c++) {
    const row = 3 * vertex + c;
    let value = base[row];
    if (identity)
      for (let k = 0; k < model.identity.count; k++) value += identity[k] * model.identity.basis[k * n3 + row];
    if (expression)
      for (let k = 0; k < model.expression.count; k++) value += expression[k] * model.expression.basis[k * n3 + row];
    out[at + c] = value + landmarkOffset(model, offsets, i, vertex, c);
  }
}

/** landmarkPosition for every landmark i at `vertices[i]`, into out[3i…] (3 × vertices.length). */
export function landmarkPositions<T extends Float64Array | Float32Array>(
  model: MorphableModel,
  vertices: ArrayLike<number>,
  base: ArrayLike<number>,
  identity: ArrayLike<number> | null,
  expression: ArrayLike<number> | null,
  out: T,
  offsets = landmarkOffsets(model),
): T {
  for (let i = 0; i < vertices.length; i++)
    landmarkPosition(model, offsets, i, vertices[i], base, identity, expression, out);
  return out;
}

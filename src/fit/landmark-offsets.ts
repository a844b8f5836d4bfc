import type { MorphableModel } from '../model/morphable-model.js';

/**
 * The model's iBUG-68 landmark offsets (fit/landmark-calibration.ts), 204 values, zeros where it has
 * none. An offset belongs to the landmark's own vertex: a jaw point sliding to another vertex of the
 * silhouette goes without it (landmarkOffset).
 */
export function landmarkOffsets(model: MorphableModel): Float64Array {
  const offsets = model.landmarks.ibug68?.offsets;
  return offsets && offsets.length === 204 ? Float64Array.from(offsets) : new Float64Array(204);
}

/** Coordinate c of landmark i's offset when it sits at `vertex`. */
export function landmarkOffset(model: MorphableModel, offsets: Float64Array, i: number, vertex: number, c: number): number {
  return vertex >= 0 && vertex === model.landmarks.ibug68?.vertices[i] ? offsets[3 * i + c] : 0;
}

import type { ColorModel } from './morphable-model.js';

/**
 * A colour model learned over a region of a model's vertices (`vertexIds`, V of them; `region` has 3V entries)
 * spread over all `vertexCount` vertices: the region's vertices as learned, the others the region's mean colour
 * and no variation (the neck and scalp a photo's face crop rarely shows).
 */
export function spreadColorModel(vertexCount: number, vertexIds: ArrayLike<number>, region: ColorModel): ColorModel {
  const N = vertexCount;
  const V = vertexIds.length;
  const K = region.basis.count;
  const average = [0, 0, 0];
  for (let v = 0; v < V; v++) for (let c = 0; c < 3; c++) average[c] += region.mean[3 * v + c] / V;
  const mean = new Float32Array(3 * N);
  for (let i = 0; i < N; i++) mean.set(average, 3 * i);
  const basis = new Float32Array(K * 3 * N);
  for (let v = 0; v < V; v++) {
    const to = 3 * vertexIds[v];
    for (let c = 0; c < 3; c++) {
      mean[to + c] = region.mean[3 * v + c];
      for (let k = 0; k < K; k++) basis[k * 3 * N + to + c] = region.basis.basis[k * 3 * V + 3 * v + c];
    }
  }
  return { mean, basis: { ...region.basis, basis } };
}

/**
 * How many vertices the colour model varies (a non-zero basis entry): those it was learned over, where
 * spreadColorModel gave the others the mean colour alone.
 */
export function coveredVertexCount(color: ColorModel, vertexCount: number): number {
  const K = color.basis.count;
  const b = color.basis.basis;
  const n = 3 * vertexCount;
  let covered = 0;
  for (let v = 0; v < vertexCount; v++) {
    let varies = false;
    for (let k = 0; k < K && !varies; k++) {
      const at = k * n + 3 * v;
      varies = b[at] !== 0 || b[at + 1] !== 0 || b[at + 2] !== 0;
    }
    if (varies) covered++;
  }
  return covered;
}

import type { LinearBasis, MorphableModel } from './morphable-model.js';

/**
 * The model restricted to a vertex subset (e.g. the "face" region): vertices, bases, UVs,
 * landmarks, regions and contours re-indexed; triangles kept when all three corners are inside.
 * Landmarks outside the subset become -1 (missing).
 */
export function submodel(model: MorphableModel, vertices: ArrayLike<number>, name = model.name): MorphableModel {
  const n = model.vertexCount;
  const newIndex = new Int32Array(n).fill(-1);
  for (let i = 0; i < vertices.length; i++) newIndex[vertices[i]] = i;
  const m = vertices.length;

  const triangles: number[] = [];
  const uvTriangles: number[] = [];
  const t = model.triangles;
  const hasUvs = model.uvTriangles.length > 0;
  for (let i = 0; i < t.length; i += 3) {
    const a = newIndex[t[i]],
      b = newIndex[t[i + 1]],
      c = newIndex[t[i + 2]];
    if (a < 0 || b < 0 || c < 0) continue;
    triangles.push(a, b, c);
    // UV vertices are kept whole (unreferenced ones are harmless and keep this simple).
    if (hasUvs) uvTriangles.push(model.uvTriangles[i], model.uvTriangles[i + 1], model.uvTriangles[i + 2]);
  }
  const landmarks: MorphableModel['landmarks'] = {};
  for (const [key, set] of Object.entries(model.landmarks)) {
    landmarks[key] = { vertices: set.vertices.map((v) => (v >= 0 ? newIndex[v] : -1)) };
  }
  const remapList = (list: Uint32Array) => Uint32Array.from(Array.from(list, (v) => newIndex[v]).filter((v) => v >= 0));
  const regions: MorphableModel['regions'] = {};
  for (const [key, list] of Object.entries(model.regions)) {
    const kept = remapList(list);
    if (kept.length) regions[key] = kept;
  }
  const contours: MorphableModel['contours'] = {};
  for (const [key, list] of Object.entries(model.contours)) contours[key] = remapList(list);

  const result: MorphableModel = {
    name,
    licence: model.licence,
    vertexCount: m,
    mean: gather(model.mean, vertices, 3, 1, n),
    triangles: Uint32Array.from(triangles),
    uvs: model.uvs.slice(),
    uvTriangles: Uint32Array.from(uvTriangles),
    identity: subBasis(model.identity, vertices, n),
    expression: subBasis(model.expression, vertices, n),
    landmarks,
    regions,
    contours,
  };
  if (model.color)
    result.color = {
      mean: gather(model.color.mean, vertices, 3, 1, n),
      basis: subBasis(model.color.basis, vertices, n),
    };
  return result;
}

function subBasis(basis: LinearBasis, vertices: ArrayLike<number>, n: number): LinearBasis {
  // σ stays the same: it describes the distribution of the coefficients, not of this subset's displacements.
  return { ...basis, basis: gather(basis.basis, vertices, 3, basis.count, n), names: basis.names.slice() };
}

/** Rows of `stride` values for each kept vertex, for each of `blocks` contiguous blocks of n rows. */
function gather(
  source: Float32Array,
  vertices: ArrayLike<number>,
  stride: number,
  blocks: number,
  n: number,
): Float32Array {
  const m = vertices.length;
  const out = new Float32Array(blocks * m * stride);
  for (let k = 0; k < blocks; k++) {
    const src = k * n * stride,
      dst = k * m * stride;
    for (let i = 0; i < m; i++) {
      const from = src + vertices[i] * stride,
        to = dst + i * stride;
      for (let c = 0; c < stride; c++) out[to + c] = source[from + c];
    }
  }
  return out;
}

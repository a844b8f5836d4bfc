import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';

/**
 * A mesh ready to write: one evaluated face (or any triangle mesh) with optional per-vertex
 * colours, face-varying UVs and a texture image (already encoded, e.g. PNG).
 */
export interface Mesh {
  positions: Float32Array;
  triangles: Uint32Array;
  normals?: Float32Array;
  /** Linear RGB in [0, 1] per vertex, 3N (writers of sRGB formats convert). */
  colors?: Float32Array;
  uvs?: Float32Array;
  uvTriangles?: Uint32Array;
  texture?: { png: Uint8Array };
}

/**
 * A face of `model` (its evaluated positions, 3N in mm) as a mesh to write: the model's triangles and UVs,
 * fresh normals.
 */
export function meshFromModel(model: MorphableModel, positions: Float32Array): Mesh {
  return {
    positions,
    triangles: model.triangles,
    normals: vertexNormals(positions, model.triangles),
    uvs: model.uvs,
    uvTriangles: model.uvTriangles,
  };
}

/**
 * Splits vertices along UV seams so that each output vertex has one UV (what glTF and most
 * renderers need). `source[i]` is the original vertex of output vertex i.
 */
export function splitUvSeams(
  triangles: Uint32Array,
  uvTriangles: Uint32Array,
  uvs: Float32Array,
): { source: Uint32Array; uvs: Float32Array; triangles: Uint32Array } {
  const key = new Map<number, number>();
  const source: number[] = [];
  const outUvs: number[] = [];
  const out = new Uint32Array(triangles.length);
  const uvCount = uvs.length / 2;
  for (let i = 0; i < triangles.length; i++) {
    const k = triangles[i] * uvCount + uvTriangles[i];
    let index = key.get(k);
    if (index === undefined) {
      index = source.length;
      key.set(k, index);
      source.push(triangles[i]);
      outUvs.push(uvs[2 * uvTriangles[i]], uvs[2 * uvTriangles[i] + 1]);
    }
    out[i] = index;
  }
  return { source: Uint32Array.from(source), uvs: Float32Array.from(outUvs), triangles: out };
}

/** Rows of `stride` values picked by `source`. */
export function pickRows(values: Float32Array, source: Uint32Array, stride: number): Float32Array {
  const out = new Float32Array(source.length * stride);
  for (let i = 0; i < source.length; i++)
    for (let c = 0; c < stride; c++) out[i * stride + c] = values[source[i] * stride + c];
  return out;
}

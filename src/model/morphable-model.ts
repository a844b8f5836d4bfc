/**
 * The data of a 3D morphable model: plain typed arrays, no methods, so it moves
 * between Node, the browser and workers unchanged.
 *
 * Conventions (all importers normalise to these):
 * - Units are millimetres; +y is up, +z points out of the face towards the viewer, +x is the face's left.
 * - Vertex arrays are flat xyz: vertex v is at [3v, 3v+1, 3v+2].
 * - A basis is component-major: component k is the contiguous block [k*3N, (k+1)*3N),
 *   the displacement of all N vertices for a coefficient of 1 (the layout of glTF morph targets).
 * - PCA bases are stored pre-scaled by their standard deviations, so coefficients are in units
 *   of standard deviations with a unit-normal prior N(0, I); `stddev` keeps the original σ_k
 *   (= the norm of component k) for readers that want the orthonormal basis back.
 * - Blendshape bases are deltas from the mean with weights meant to lie in [0, 1].
 */

export type BasisKind = 'pca' | 'blendshapes';

export interface LinearBasis {
  kind: BasisKind;
  /** Number of components K. */
  count: number;
  /** K × 3N, component-major. */
  basis: Float32Array;
  /** σ_k per component (PCA), or the norm of each blendshape delta. */
  stddev: Float32Array;
  /** One name per component (blendshape names; "identity000"… or "pc0"… otherwise). */
  names: string[];
}

export interface ColorModel {
  /** Per-vertex linear RGB in [0, 1], 3N. */
  mean: Float32Array;
  /** PCA of colour, same conventions as a shape basis (K × 3N, scaled by σ). */
  basis: LinearBasis;
}

export interface LandmarkSet {
  /** Vertex index per landmark, -1 where the model has no vertex for that point. */
  vertices: Int32Array;
  /**
   * Optional, 3 per landmark (mm, model space): where a face detector puts each landmark relative to
   * its vertex, on average (fit/landmark-calibration.ts). Fitting adds them to the vertices; absent,
   * the landmarks sit at the vertices.
   */
  offsets?: Float32Array;
}

export interface MorphableModel {
  /** Human-readable model name, e.g. "ICT-FaceKit (face and head)". */
  name: string;
  /** Licence of the model data, with where it comes from. */
  licence: string;
  /** Number of vertices N. */
  vertexCount: number;
  /** Mean shape, 3N millimetres. */
  mean: Float32Array;
  /** Triangles as vertex index triples, 3T. */
  triangles: Uint32Array;
  /**
   * Texture coordinates (u, v), v up as in OBJ, 2U; empty if none. UVs are face-varying
   * (a vertex on a UV seam has several), so triangle corner i uses uvs[2·uvTriangles[i]].
   */
  uvs: Float32Array;
  /** 3T indices into `uvs`, parallel to `triangles`; empty if no UVs. */
  uvTriangles: Uint32Array;
  identity: LinearBasis;
  expression: LinearBasis;
  color?: ColorModel;
  /** Named landmark sets; "ibug68" holds the iBUG 68 points in iBUG order. */
  landmarks: Record<string, LandmarkSet>;
  /** Named vertex subsets (face, head, eyes…), as sorted vertex indices. */
  regions: Record<string, Uint32Array>;
  /**
   * Jaw-contour candidate vertices for the outline landmarks, ordered from the top of the
   * face down to the chin, one list per side ("right" is the person's right, image left).
   */
  contours: Record<string, Uint32Array>;
}

export function emptyBasis(kind: BasisKind): LinearBasis {
  return { kind, count: 0, basis: new Float32Array(0), stddev: new Float32Array(0), names: [] };
}

/** Norm of each component of a basis; σ_k of a σ-scaled PCA basis. */
export function componentNorms(basis: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const n = count === 0 ? 0 : basis.length / count;
  for (let k = 0; k < count; k++) {
    let s = 0;
    for (let i = k * n, end = i + n; i < end; i++) s += basis[i] * basis[i];
    out[k] = Math.sqrt(s);
  }
  return out;
}

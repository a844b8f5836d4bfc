/**
 * Importer for the Surrey Face Model (SFM) as shipped with eos
 * (github.com/patrikhuber/eos, share/ folder): the cereal-binary model, the expression
 * blendshapes, the iBUG-68 landmark mapping (TOML) and the jaw-contour vertex lists (cereal JSON).
 *
 * Pure TypeScript without Node APIs so it runs in the browser as well; callers read the files.
 *
 * Byte layout (cereal BinaryArchive, little-endian, no padding or alignment):
 * - A class that declares a version (MorphableModel: CEREAL_CLASS_VERSION 4) starts with a
 *   uint32 version the first time the type is written; PcaModel and Blendshape have none.
 * - std::vector / std::string / std::unordered_map: uint64 element count, then the elements;
 *   std::array<int|double, n> elements are written as raw scalars without a count.
 * - Eigen matrices (eos's eigen_cerealisation.hpp): int32 rows, int32 cols, then rows*cols
 *   float32 in Eigen's default column-major order.
 * - bool (std::optional's "nullopt" flag): one byte. std::variant: int32 index, then the value.
 *
 * MorphableModel, by class version:
 *   v1: shape PcaModel, colour PcaModel, texture_coordinates
 *   v2: + optional<variant<PcaModel, vector<Blendshape>>> expression model after the colour model
 *   v3: + optional<unordered_map<string, int32>> landmark definitions after that
 *   v4: + vector<array<int32, 3>> texture triangle indices at the end
 * PcaModel: mean (VectorXf, 3N×1, xyzxyz…), orthonormal basis (MatrixXf, 3N×K), eigenvalues
 * (VectorXf, K×1), triangle list (vector<array<int32, 3>>).
 * texture_coordinates: vector<array<double, 2>>, one (u, v) per vertex unless v4 texture
 * triangle indices say otherwise.
 * The public sfm_shape_3448.bin is version 1 and ends exactly after its texture coordinates.
 */

import { parse as parseToml, type TomlError } from 'smol-toml';
import { InputError } from '../../errors.js';
import {
  componentNorms,
  emptyBasis,
  type ColorModel,
  type LinearBasis,
  type MorphableModel,
} from '../../model/morphable-model.js';

export interface SurreyModelInput {
  /** sfm_shape_*.bin: an eos MorphableModel in cereal binary form. */
  shape: Uint8Array;
  /** How the user named the shape file, for error messages. */
  shapeName: string;
  /** expression_blendshapes_*.bin: a cereal-binary std::vector<eos::morphablemodel::Blendshape>. */
  blendshapes?: Uint8Array;
  blendshapesName?: string;
  /** ibug_to_sfm.txt: TOML with a [landmark_mappings] table, iBUG number (1-based) = vertex index. */
  ibugMapping?: string;
  ibugMappingName?: string;
  /** sfm_model_contours.json: cereal JSON with model_contour.right_contour / left_contour. */
  contours?: string;
  contoursName?: string;
}

const LICENCE = 'Surrey Face Model: free for research and testing, see cvssp.org/facemodel';
const IBUG_COUNT = 68;

export function importSurreyModel(input: SurreyModelInput): MorphableModel {
  const raw = parseEosModel(input.shape, input.shapeName);
  const n = raw.vertexCount;

  let expression: LinearBasis;
  const mean = raw.shape.mean;
  if (input.blendshapes !== undefined) {
    // A separate blendshapes file is what the user asked for, so it wins over an embedded model.
    expression = parseBlendshapes(input.blendshapes, input.blendshapesName ?? 'blendshapes file', n);
  } else if (raw.expressionPca !== undefined) {
    expression = scaledPcaBasis(raw.expressionPca);
    // eos adds the expression model's mean to the shape mean when it builds the mean mesh.
    const exprMean = raw.expressionPca.mean;
    for (let i = 0; i < mean.length; i++) mean[i] += exprMean[i];
  } else if (raw.expressionBlendshapes !== undefined) {
    expression = raw.expressionBlendshapes;
  } else {
    expression = emptyBasis('blendshapes');
  }

  const landmarks: MorphableModel['landmarks'] = {};
  if (input.ibugMapping !== undefined) {
    landmarks.ibug68 = {
      vertices: parseIbugMapping(input.ibugMapping, input.ibugMappingName ?? 'iBUG mapping file', n),
    };
  } else if (raw.ibugFromDefinitions !== undefined) {
    landmarks.ibug68 = { vertices: raw.ibugFromDefinitions };
  }

  const contours =
    input.contours === undefined ? {} : parseContours(input.contours, input.contoursName ?? 'contours file', n);

  const face = new Uint32Array(n);
  for (let v = 0; v < n; v++) face[v] = v;

  let color: ColorModel | undefined;
  if (raw.color !== undefined) {
    // eos keeps colour as RGB in [0, 1] in whatever encoding the model was built in, which it
    // does not record; re-encoding a PCA basis non-linearly would break it, so it passes as is.
    color = { mean: raw.color.mean, basis: scaledPcaBasis(raw.color) };
  }

  return {
    name: `Surrey Face Model ${n}${color === undefined ? ' (shape only)' : ''}`,
    licence: LICENCE,
    vertexCount: n,
    mean,
    triangles: raw.triangles,
    uvs: raw.uvs,
    uvTriangles: raw.uvTriangles,
    identity: scaledPcaBasis(raw.shape),
    expression,
    ...(color === undefined ? {} : { color }),
    landmarks,
    regions: { face },
    contours,
  };
}

// ---------------------------------------------------------------------------------------------
// cereal binary reading

/** Bounds-checked little-endian reader; every failure is an InputError about `subject`. */
class CerealReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly subject: string,
    private readonly fileKind: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  fail(what: string): never {
    throw new InputError(this.subject, `truncated or corrupt ${this.fileKind} (${what})`);
  }

  private need(byteCount: number, what: string): void {
    if (byteCount > this.remaining) {
      this.fail(`${what}: needs ${byteCount} bytes at offset ${this.offset}, only ${this.remaining} left`);
    }
  }

  bool(what: string): boolean {
    this.need(1, what);
    const b = this.view.getUint8(this.offset++);
    if (b > 1) this.fail(`${what}: expected a bool (0 or 1) at offset ${this.offset - 1}, found ${b}`);
    return b === 1;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }

  /**
   * A cereal uint64 size tag for `elementBytes`-byte elements. Checked against the bytes left
   * before anything is allocated, so a corrupt count cannot trigger a huge allocation or a loop.
   */
  count(what: string, elementBytes: number): number {
    this.need(8, `${what} count`);
    const at = this.offset;
    const c = this.view.getBigUint64(at, true);
    this.offset += 8;
    if (c * BigInt(elementBytes) > BigInt(this.remaining)) {
      this.fail(
        `${what}: count ${c} at offset ${at} needs ${c * BigInt(elementBytes)} bytes, only ${this.remaining} left`,
      );
    }
    return Number(c);
  }

  /** An Eigen matrix of float: int32 rows, int32 cols, column-major data. */
  matrix(what: string): { rows: number; cols: number; data: Float32Array } {
    const at = this.offset;
    const rows = this.i32(`${what} rows`);
    const cols = this.i32(`${what} cols`);
    if (rows < 0 || cols < 0) this.fail(`${what}: negative size ${rows}×${cols} at offset ${at}`);
    // Divide instead of multiplying so that two large int32 cannot overflow the check.
    if (cols > 0 && rows > this.remaining / 4 / cols) {
      this.fail(
        `${what}: ${rows}×${cols} floats at offset ${at} need ${rows * cols * 4} bytes, only ${this.remaining} left`,
      );
    }
    const length = rows * cols;
    const data = new Float32Array(length);
    const view = this.view;
    let p = this.offset;
    for (let i = 0; i < length; i++, p += 4) {
      const x = view.getFloat32(p, true);
      if (!Number.isFinite(x)) this.fail(`${what}: non-finite value at offset ${p}`);
      data[i] = x;
    }
    this.offset = p;
    return { rows, cols, data };
  }

  /** An Eigen column vector; empty vectors are written as 0×1 (VectorXf) or 0×0. */
  vector(what: string): Float32Array {
    const at = this.offset;
    const m = this.matrix(what);
    if (m.cols !== 1 && m.data.length > 0)
      this.fail(`${what}: expected a column vector at offset ${at}, found ${m.rows}×${m.cols}`);
    return m.data;
  }

  /** vector<array<int32, 3>>, checked to be non-negative here and against N by the caller. */
  triangles(what: string): Int32Array {
    const count = this.count(what, 12);
    const out = new Int32Array(count * 3);
    const view = this.view;
    let p = this.offset;
    for (let i = 0; i < out.length; i++, p += 4) out[i] = view.getInt32(p, true);
    this.offset = p;
    return out;
  }

  /** vector<array<double, 2>>. */
  doublePairs(what: string): Float64Array {
    const count = this.count(what, 16);
    const out = new Float64Array(count * 2);
    const view = this.view;
    let p = this.offset;
    for (let i = 0; i < out.length; i++, p += 8) {
      const x = view.getFloat64(p, true);
      if (!Number.isFinite(x)) this.fail(`${what}: non-finite value at offset ${p}`);
      out[i] = x;
    }
    this.offset = p;
    return out;
  }

  string(what: string): string {
    const length = this.count(what, 1);
    const at = this.offset;
    const slice = this.bytes.subarray(at, at + length);
    this.offset += length;
    try {
      return utf8.decode(slice);
    } catch {
      return this.fail(`${what}: ${length} bytes at offset ${at} are not UTF-8 text`);
    }
  }

  end(what: string): void {
    if (this.remaining !== 0)
      this.fail(`${this.remaining} unexpected bytes after the end of the ${what} at offset ${this.offset}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface RawPca {
  mean: Float32Array;
  /** 3N × K orthonormal eigenvectors, column-major, i.e. already component-major. */
  basis: Float32Array;
  eigenvalues: Float32Array;
  count: number;
  triangles: Int32Array;
}

function readPcaModel(r: CerealReader, label: string): RawPca {
  const mean = r.vector(`${label} mean`);
  const basisAt = r.position;
  const basis = r.matrix(`${label} orthonormal basis`);
  const eigenvalues = r.vector(`${label} eigenvalues`);
  const triangles = r.triangles(`${label} triangle list`);
  if (basis.data.length > 0 && basis.rows !== mean.length) {
    r.fail(`${label} basis at offset ${basisAt} has ${basis.rows} rows but the mean has ${mean.length}`);
  }
  if (eigenvalues.length !== basis.cols && basis.data.length > 0) {
    r.fail(`${label} has ${basis.cols} basis vectors but ${eigenvalues.length} eigenvalues`);
  }
  for (let k = 0; k < eigenvalues.length; k++) {
    if (eigenvalues[k] < 0) r.fail(`${label} eigenvalue ${k} is negative (${eigenvalues[k]})`);
  }
  return { mean, basis: basis.data, eigenvalues, count: basis.data.length > 0 ? basis.cols : 0, triangles };
}

/**
 * eos stores the *orthonormal* eigenvectors (PcaModel serialises orthonormal_pca_basis and
 * recomputes the rescaled basis on load), verified on sfm_shape_3448.bin where every column has
 * norm 1 and columns are mutually orthogonal. Eigen's column-major 3N×K layout puts each
 * eigenvector in one contiguous block, which is our component-major layout, so only the
 * scaling by σ_k = sqrt(λ_k) is needed.
 */
function scaledPcaBasis(pca: RawPca): LinearBasis {
  const k = pca.count;
  const dim = pca.mean.length;
  const basis = new Float32Array(k * dim);
  const stddev = new Float32Array(k);
  const names: string[] = [];
  for (let c = 0; c < k; c++) {
    const sigma = Math.sqrt(pca.eigenvalues[c]);
    stddev[c] = sigma;
    names.push(`pc${c}`);
    for (let i = c * dim, end = i + dim; i < end; i++) basis[i] = pca.basis[i] * sigma;
  }
  return { kind: 'pca', count: k, basis, stddev, names };
}

interface RawEosModel {
  vertexCount: number;
  shape: RawPca;
  color?: RawPca;
  expressionPca?: RawPca;
  expressionBlendshapes?: LinearBasis;
  ibugFromDefinitions?: Int32Array;
  triangles: Uint32Array;
  uvs: Float32Array;
  uvTriangles: Uint32Array;
}

function parseEosModel(bytes: Uint8Array, subject: string): RawEosModel {
  if (bytes.byteLength === 0) throw new InputError(subject, 'empty file, expected an eos model (.bin)');
  // Typed explicitly so that r.fail(): never narrows like a throw.
  const r: CerealReader = new CerealReader(bytes, subject, 'eos model file');

  const version = r.u32('MorphableModel class version');
  if (version < 1 || version > 4) {
    throw new InputError(
      subject,
      `not an eos model file: it starts with ${version}, expected the MorphableModel class version 1–4 `
        + '(version-0 files from before 2017 used OpenCV matrices and are not supported)',
    );
  }

  const shape = readPcaModel(r, 'shape model');
  const dim = shape.mean.length;
  if (dim === 0 || dim % 3 !== 0) r.fail(`shape mean has ${dim} values, expected a positive multiple of 3`);
  if (shape.count === 0) r.fail('shape model has no basis vectors');
  const n = dim / 3;

  const colorPca = readPcaModel(r, 'colour model');
  if (colorPca.mean.length !== 0 && colorPca.mean.length !== dim) {
    r.fail(`colour model has ${colorPca.mean.length} values, expected 0 or ${dim}`);
  }

  let expressionPca: RawPca | undefined;
  let expressionBlendshapes: LinearBasis | undefined;
  if (version >= 2) {
    const absent = r.bool('expression model optional flag');
    if (!absent) {
      const at = r.position;
      const index = r.i32('expression model variant index');
      if (index === 0) {
        expressionPca = readPcaModel(r, 'expression model');
        if (expressionPca.mean.length !== dim) {
          r.fail(`expression model has ${expressionPca.mean.length} values, expected ${dim}`);
        }
      } else if (index === 1) {
        expressionBlendshapes = readBlendshapeVector(r, n);
      } else {
        r.fail(`expression model variant index ${index} at offset ${at}, expected 0 (PCA) or 1 (blendshapes)`);
      }
    }
  }

  let ibugFromDefinitions: Int32Array | undefined;
  if (version >= 3) {
    const absent = r.bool('landmark definitions optional flag');
    if (!absent) {
      const entries = r.count('landmark definitions', 12);
      const ibug = new Int32Array(IBUG_COUNT).fill(-1);
      let anyIbug = false;
      for (let i = 0; i < entries; i++) {
        const name = r.string(`landmark definition ${i} name`);
        const vertex = r.i32(`landmark definition ${i} vertex`);
        if (vertex < 0 || vertex >= n) r.fail(`landmark "${name}" names vertex ${vertex}, the model has ${n}`);
        // Definitions keyed by iBUG number are the only ones our landmark sets can name.
        const number = /^\d+$/.test(name) ? Number(name) : 0;
        if (number >= 1 && number <= IBUG_COUNT) {
          ibug[number - 1] = vertex;
          anyIbug = true;
        }
      }
      if (anyIbug) ibugFromDefinitions = ibug;
    }
  }

  const texcoords = r.doublePairs('texture coordinates');
  const uvCount = texcoords.length / 2;
  const textureTriangles = version >= 4 ? r.triangles('texture triangle indices') : new Int32Array(0);
  r.end('model');

  const triangles = new Uint32Array(shape.triangles.length);
  for (let i = 0; i < triangles.length; i++) {
    const v = shape.triangles[i];
    if (v < 0 || v >= n) r.fail(`triangle ${Math.floor(i / 3)} names vertex ${v}, the model has ${n}`);
    triangles[i] = v;
  }

  // eos texture coordinates are in image convention (v = 0 at the top of the texture: the SFM's
  // chin has v ≈ 0.93 and its eyes v ≈ 0.36), ours have v up, hence the flip.
  const uvs = new Float32Array(texcoords.length);
  for (let i = 0; i < uvs.length; i += 2) {
    uvs[i] = texcoords[i];
    uvs[i + 1] = 1 - texcoords[i + 1];
  }
  let uvTriangles: Uint32Array;
  if (uvCount === 0) {
    uvTriangles = new Uint32Array(0);
  } else if (textureTriangles.length > 0) {
    // Version 4 models may split uvs at seams and index them with their own triangles.
    if (textureTriangles.length !== triangles.length) {
      r.fail(`${textureTriangles.length / 3} texture triangles for ${triangles.length / 3} triangles`);
    }
    uvTriangles = new Uint32Array(textureTriangles.length);
    for (let i = 0; i < uvTriangles.length; i++) {
      const t = textureTriangles[i];
      if (t < 0 || t >= uvCount)
        r.fail(`texture triangle ${Math.floor(i / 3)} names uv ${t}, the model has ${uvCount}`);
      uvTriangles[i] = t;
    }
  } else if (uvCount === n) {
    // One uv per vertex (the SFM): the uv triangles are the vertex triangles.
    uvTriangles = triangles.slice();
  } else {
    r.fail(`${uvCount} texture coordinates for ${n} vertices and no texture triangles`);
  }

  return {
    vertexCount: n,
    shape,
    ...(colorPca.mean.length > 0 ? { color: colorPca } : {}),
    ...(expressionPca === undefined ? {} : { expressionPca }),
    ...(expressionBlendshapes === undefined ? {} : { expressionBlendshapes }),
    ...(ibugFromDefinitions === undefined ? {} : { ibugFromDefinitions }),
    triangles,
    uvs,
    uvTriangles,
  };
}

/** std::vector<Blendshape>, each a name string and a 3N×1 deformation (delta from the mean). */
function readBlendshapeVector(r: CerealReader, vertexCount: number): LinearBasis {
  const dim = 3 * vertexCount;
  // Each blendshape needs at least a name count (8) and a matrix header (8).
  const count = r.count('blendshapes', 16);
  const basis = new Float32Array(count * dim);
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    const name = r.string(`blendshape ${k} name`);
    const at = r.position;
    const delta = r.vector(`blendshape "${name}" deformation`);
    if (delta.length !== dim) {
      r.fail(
        `blendshape "${name}" at offset ${at} has ${delta.length / 3} vertices, the shape model has ${vertexCount}`,
      );
    }
    basis.set(delta, k * dim);
    names.push(name);
  }
  return { kind: 'blendshapes', count, basis, stddev: componentNorms(basis, count), names };
}

function parseBlendshapes(bytes: Uint8Array, subject: string, vertexCount: number): LinearBasis {
  if (bytes.byteLength === 0) throw new InputError(subject, 'empty file, expected eos expression blendshapes (.bin)');
  const r: CerealReader = new CerealReader(bytes, subject, 'eos blendshapes file');
  const basis = readBlendshapeVector(r, vertexCount);
  if (basis.count === 0) r.fail('the file holds no blendshapes');
  r.end('blendshapes');
  return basis;
}

// ---------------------------------------------------------------------------------------------
// ibug_to_sfm.txt: TOML with a [landmark_mappings] table

/**
 * Reads `[landmark_mappings]` entries `ibug = vertex` (iBUG number 1-68 = vertex index; eos writes
 * them as bare integers, older files as strings). Returns one vertex per iBUG point, -1 where the
 * file has no mapping.
 */
export function parseIbugMapping(text: string, subject: string, vertexCount: number): Int32Array {
  let document: Record<string, unknown>;
  try {
    document = parseToml(text);
  } catch (error) {
    const e = error as TomlError;
    throw new InputError(
      subject,
      `line ${e.line}: not valid TOML (${String(e.message)
        .split('\n')[0]
        .replace(/^Invalid TOML document: /, '')})`,
    );
  }
  const table = document.landmark_mappings;
  if (!isObject(table)) throw new InputError(subject, 'no [landmark_mappings] table: not an eos landmark mapping file');
  const out = new Int32Array(IBUG_COUNT).fill(-1);
  for (const [key, value] of Object.entries(table)) {
    const fail = (problem: string): never => {
      throw new InputError(subject, `landmark_mappings: ${problem}`);
    };
    const ibug = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!(ibug >= 1 && ibug <= IBUG_COUNT))
      fail(`iBUG landmark number must be an integer from 1 to ${IBUG_COUNT}, found '${key}'`);
    const vertex =
      typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(vertex) || vertex < 0)
      fail(`vertex index for iBUG point ${ibug} must be a non-negative integer, found ${JSON.stringify(value)}`);
    if (vertex >= vertexCount)
      fail(`iBUG point ${ibug} maps to vertex ${vertex}, the model has ${vertexCount} vertices`);
    out[ibug - 1] = vertex;
  }
  return out;
}

/**
 * eos's ModelContour: `right_contour` holds the vertices matched to iBUG contour points 1–8,
 * the subject's own right side (image left when the face looks at the camera), `left_contour`
 * those of points 10–17. In the SFM the right contour has x < 0, and our +x is the face's left,
 * so eos's right/left is already our person's right/left. Both run from eyebrow height down
 * to the chin, the order our `contours` documents, so they are kept in file order.
 */
export function parseContours(text: string, subject: string, vertexCount: number): Record<string, Uint32Array> {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new InputError(subject, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(root)) throw new InputError(subject, 'expected a JSON object with "model_contour"');
  // Newer eos files name the root "model_contour"; cereal's default root name is "value0".
  const container = isObject(root.model_contour) ? root.model_contour : isObject(root.value0) ? root.value0 : root;
  const prefix = container === root ? '' : container === root.model_contour ? 'model_contour.' : 'value0.';
  const list = (side: string): Uint32Array => {
    const field = `${prefix}${side}_contour`;
    const values = container[`${side}_contour`];
    if (!Array.isArray(values))
      throw new InputError(subject, `missing "${field}": expected an array of vertex indices`);
    const out = new Uint32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v: unknown = values[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vertexCount) {
        throw new InputError(
          subject,
          `${field}[${i}] is ${JSON.stringify(v)}, expected a vertex index from 0 to ${vertexCount - 1}`,
        );
      }
      out[i] = v;
    }
    return out;
  };
  return { right: list('right'), left: list('left') };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

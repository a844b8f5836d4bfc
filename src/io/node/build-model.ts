import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { srgbToLinear } from '../../model/color.js';
import { InputError } from '../../errors.js';
import { emptyBasis, type MorphableModel } from '../../model/morphable-model.js';
import { pca, type PcaOptions, type PcaResult } from '../../model/pca.js';
import { parseObj } from '../obj-reader.js';

/**
 * `morphable model build`: a morphable model from a folder of registered meshes that share one
 * topology (same vertex count, same triangles, vertex i the same point of the face in every mesh),
 * by PCA of their shapes and, where the meshes have vertex colours, of their colours.
 *
 * The PLY reader and the sample collection are pure TypeScript on bytes; only
 * `buildModelFromFolder` touches the file system.
 */

export const DEFAULT_BUILD_LICENCE = 'built from user data; check the licence of your meshes';
export const UNITS = { mm: 1, cm: 10, m: 1000 } as const;
export type Units = keyof typeof UNITS;

export interface BuildOptions extends Pick<PcaOptions, 'varianceFraction' | 'maxComponents'> {
  /** Units of the mesh coordinates, converted to millimetres. Default 'mm'. */
  units?: Units;
  /** Text file with 68 vertex indices in iBUG order, one per line, -1 where missing. */
  landmarksFile?: string;
  /** Model name; default the folder's name. */
  name?: string;
  /** Licence text stored in the model; default DEFAULT_BUILD_LICENCE. */
  licence?: string;
  /** Called after each mesh is read. */
  onProgress?: (done: number, total: number) => void;
}

/** What a PCA left out of the model, for the summary. */
export type PcaSummary = Omit<PcaResult, 'mean' | 'basis'>;

export interface BuildResult {
  model: MorphableModel;
  /** The meshes read, in the order used (sorted by name). */
  files: string[];
  shape: PcaSummary;
  color?: PcaSummary;
}

/** Reads every .obj and .ply mesh in `folder` (sorted by name) and builds the model. */
export async function buildModelFromFolder(folder: string, options: BuildOptions = {}): Promise<BuildResult> {
  const info = await stat(folder).catch(() => {
    throw new InputError(folder, 'no such folder');
  });
  if (!info.isDirectory()) throw new InputError(folder, 'not a folder: give the folder that holds the meshes');
  // Dot files are skipped: macOS leaves "._name.obj" resource forks beside copied files.
  const names = (await readdir(folder))
    .filter((n) => !n.startsWith('.') && ['.obj', '.ply'].includes(extname(n).toLowerCase()))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new InputError(folder, 'no .obj or .ply meshes in this folder');
  const files = names.map((n) => join(folder, n));
  if (files.length < 2) throw new InputError(folder, `only one mesh (${names[0]}): a model needs at least 2 (PCA of how faces differ)`);

  // Read the landmarks first: a typo there should not cost the time of reading every mesh.
  const landmarkText = options.landmarksFile === undefined ? undefined : await readFile(options.landmarksFile, 'utf8').catch(() => {
    throw new InputError(options.landmarksFile!, 'cannot read the landmarks file');
  });

  const samples = new MeshSamples(files.length, options.units ?? 'mm');
  for (const [i, file] of files.entries()) {
    const bytes = await readFile(file).catch(() => {
      throw new InputError(file, 'cannot read this file');
    });
    samples.add(file, parseMesh(bytes, file));
    options.onProgress?.(i + 1, files.length);
  }
  const landmarks = landmarkText === undefined ? undefined : parseLandmarkIndices(landmarkText, options.landmarksFile!, samples.vertexCount);
  return { ...samples.build({ ...options, name: options.name ?? basename(folder) }, landmarks), files };
}

/** One mesh as read: positions as written (file units), colours as linear RGB in [0, 1] or empty. */
export interface SampleMesh {
  positions: Float32Array;
  colors: Float32Array;
  triangles: Uint32Array;
  uvs: Float32Array;
  uvTriangles: Uint32Array;
}

/** Reads an .obj or .ply mesh (by extension), colours converted from sRGB to linear. */
export function parseMesh(bytes: Uint8Array, fileName: string): SampleMesh {
  const ext = extname(fileName).toLowerCase();
  const mesh = ext === '.ply' ? parsePly(bytes, fileName) : parseObj(bytes, fileName);
  let maxColor = 0;
  for (const c of mesh.colors) if (!(c <= maxColor)) maxColor = c; // catches NaN as well
  if (!(maxColor <= 1)) throw new InputError(fileName, `vertex colour value ${maxColor} above 1 (expected r g b in 0..1)`);
  return { ...mesh, colors: mesh.colors.map(srgbToLinear) };
}

/**
 * Collects registered meshes as rows of an M×3N matrix (and M×3N colours), checking each against
 * the first, then runs the PCAs. Holds one float32 copy of the data, not the parsed meshes.
 */
export class MeshSamples {
  private first?: { file: string; mesh: SampleMesh };
  private shapes?: Float32Array;
  private colors?: Float32Array;
  private added = 0;
  private readonly scale: number;

  constructor(
    /** How many meshes will be added. */
    readonly total: number,
    units: Units = 'mm',
  ) {
    this.scale = UNITS[units];
  }

  /** Vertex count of the meshes (of the first one added), 0 before any. */
  vertexCount = 0;

  add(file: string, mesh: SampleMesh): void {
    if (this.added === this.total) throw new RangeError(`more than the ${this.total} meshes announced`);
    const n = mesh.positions.length / 3;
    for (let i = 0; i < mesh.positions.length; i++) {
      if (!Number.isFinite(mesh.positions[i])) throw new InputError(file, `vertex ${Math.floor(i / 3)} has a coordinate that is not a finite number`);
    }
    if (!this.first) {
      if (mesh.triangles.length === 0) throw new InputError(file, 'no faces (a point cloud?): the meshes need triangles');
      // Keep the first mesh's topology and UVs; its positions and colours live in the sample rows.
      this.first = { file, mesh: { ...mesh, positions: new Float32Array(0), colors: new Float32Array(0) } };
      this.vertexCount = n;
      this.shapes = new Float32Array(this.total * 3 * n);
      if (mesh.colors.length) this.colors = new Float32Array(this.total * 3 * n);
    } else {
      this.check(file, mesh);
    }
    const row = this.added * 3 * n;
    for (let i = 0; i < mesh.positions.length; i++) this.shapes![row + i] = this.scale * mesh.positions[i];
    if (this.colors) this.colors.set(mesh.colors, row);
    this.added++;
  }

  /** Same vertex count, same triangles, colours on all or none: the first mesh is the reference. */
  private check(file: string, mesh: SampleMesh): void {
    const ref = this.first!;
    const refName = basename(ref.file);
    const n = mesh.positions.length / 3;
    if (n !== this.vertexCount) throw new InputError(file, `has ${n} vertices, the first mesh (${refName}) has ${this.vertexCount}: the meshes must be registered to one topology`);
    const a = mesh.triangles, b = ref.mesh.triangles;
    if (a.length !== b.length) throw new InputError(file, `has ${a.length / 3} triangles, the first mesh (${refName}) has ${b.length / 3}: the meshes must share one topology`);
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        const t = i - (i % 3);
        throw new InputError(file, `triangle ${t / 3} is (${a.slice(t, t + 3).join(', ')}), in the first mesh (${refName}) it is (${b.slice(t, t + 3).join(', ')}): the meshes must share one topology`);
      }
    }
    if (!!mesh.colors.length !== !!this.colors) {
      throw new InputError(file, mesh.colors.length
        ? `has vertex colours, the first mesh (${refName}) has none: give all meshes colours or none`
        : `has no vertex colours, the first mesh (${refName}) has them: give all meshes colours or none`);
    }
  }

  /** Shape PCA, colour PCA (if coloured), topology and UVs of the first mesh. */
  build(options: Pick<BuildOptions, 'varianceFraction' | 'maxComponents' | 'name' | 'licence'>, landmarks?: Int32Array): Omit<BuildResult, 'files'> {
    if (this.added !== this.total || !this.first) throw new RangeError(`${this.added} of ${this.total} meshes added`);
    const pcaOptions = { varianceFraction: options.varianceFraction, maxComponents: options.maxComponents };
    const shape = pca(this.shapes!, this.total, pcaOptions);
    const color = this.colors ? pca(this.colors, this.total, pcaOptions) : undefined;
    const ref = this.first.mesh;
    const model: MorphableModel = {
      name: options.name ?? 'morphable model',
      licence: options.licence ?? DEFAULT_BUILD_LICENCE,
      vertexCount: this.vertexCount,
      mean: shape.mean,
      triangles: ref.triangles,
      uvs: ref.uvs,
      uvTriangles: ref.uvTriangles,
      identity: shape.basis,
      expression: emptyBasis('blendshapes'),
      landmarks: landmarks ? { ibug68: { vertices: landmarks } } : {},
      regions: {},
      contours: {},
    };
    // A mean of colours in [0, 1] stays in [0, 1]; clamping only removes float rounding.
    if (color) model.color = { mean: color.mean.map((c) => Math.min(1, Math.max(0, c))), basis: color.basis };
    return { model, shape: summary(shape), color: color && summary(color) };
  }
}

function summary({ variances, totalVariance, explained }: PcaResult): PcaSummary {
  return { variances, totalVariance, explained };
}

/**
 * 68 vertex indices in iBUG order, one per line, -1 where the mesh has no vertex for a point.
 * Blank lines and `#` comments are ignored.
 */
export function parseLandmarkIndices(text: string, fileName: string, vertexCount: number): Int32Array {
  const values: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    if (!/^-?\d+$/.test(line)) throw new InputError(fileName, `line ${i + 1}: "${line.slice(0, 20)}" is not a vertex index (one integer per line, -1 for missing)`);
    const v = Number(line);
    if (v < -1 || v >= vertexCount) throw new InputError(fileName, `line ${i + 1}: vertex ${v} out of range (the meshes have vertices 0..${vertexCount - 1}; -1 for missing)`);
    values.push(v);
  });
  if (values.length !== 68) throw new InputError(fileName, `${values.length} landmark indices, expected 68 (iBUG order, -1 for missing)`);
  return Int32Array.from(values);
}

// ---------------------------------------------------------------------------------------------
// PLY (ASCII and binary little-endian): what registered scans come as, besides OBJ.

type PlyType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
const PLY_TYPES: Record<string, PlyType> = {
  char: 'int8', int8: 'int8', uchar: 'uint8', uint8: 'uint8', short: 'int16', int16: 'int16', ushort: 'uint16', uint16: 'uint16',
  int: 'int32', int32: 'int32', uint: 'uint32', uint32: 'uint32', float: 'float32', float32: 'float32', double: 'float64', float64: 'float64',
};
const PLY_SIZES: Record<PlyType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

interface PlyProperty { name: string; type: PlyType; countType?: PlyType }
interface PlyElement { name: string; count: number; properties: PlyProperty[] }

/** A PLY mesh: positions, sRGB colours in [0, 1] (or empty), per-vertex UVs if present, triangles (polygons fanned). */
export function parsePly(bytes: Uint8Array, fileName: string): Omit<SampleMesh, 'colors'> & { colors: Float32Array } {
  const fail = (problem: string): never => {
    throw new InputError(fileName, problem);
  };
  const { format, elements, bodyStart } = parsePlyHeader(bytes, fail);
  const vertex = elements.find((e) => e.name === 'vertex');
  if (!vertex) return fail('no vertex element in the PLY header');
  const propIndex = (...names: string[]) => vertex.properties.findIndex((p) => names.includes(p.name) && !p.countType);
  const [ix, iy, iz] = [propIndex('x'), propIndex('y'), propIndex('z')];
  if (ix < 0 || iy < 0 || iz < 0) fail('the vertex element has no x, y, z properties');
  const [ir, ig, ib] = [propIndex('red', 'r'), propIndex('green', 'g'), propIndex('blue', 'b')];
  const hasColor = ir >= 0 && ig >= 0 && ib >= 0;
  const [iu, iv] = [propIndex('s', 'u', 'texture_u'), propIndex('t', 'v', 'texture_v')];
  const hasUv = iu >= 0 && iv >= 0;
  // Integer colours are 0..max of their type (uchar 0..255), float colours 0..1.
  const colorScale = hasColor ? colorDivisor(vertex.properties[ir].type) : 1;
  const n = vertex.count;
  const positions = new Float32Array(3 * n);
  const colors = new Float32Array(hasColor ? 3 * n : 0);
  const uvs = new Float32Array(hasUv ? 2 * n : 0);
  const triangles: number[] = [];

  const reader = format === 'ascii' ? asciiReader(bytes, bodyStart, fail) : binaryReader(bytes, bodyStart, fail);
  const values = new Float64Array(vertex.properties.length);
  for (const element of elements) {
    for (let e = 0; e < element.count; e++) {
      reader.where = `${element.name} ${e}`;
      if (element === vertex) {
        for (let p = 0; p < element.properties.length; p++) {
          const prop = element.properties[p];
          if (prop.countType) { const count = reader.read(prop.countType); for (let c = 0; c < count; c++) reader.read(prop.type); continue; }
          values[p] = reader.read(prop.type);
        }
        positions[3 * e] = values[ix]; positions[3 * e + 1] = values[iy]; positions[3 * e + 2] = values[iz];
        if (hasColor) { colors[3 * e] = values[ir] / colorScale; colors[3 * e + 1] = values[ig] / colorScale; colors[3 * e + 2] = values[ib] / colorScale; }
        if (hasUv) { uvs[2 * e] = values[iu]; uvs[2 * e + 1] = values[iv]; }
      } else if (element.name === 'face') {
        for (const prop of element.properties) {
          if (!prop.countType) { reader.read(prop.type); continue; }
          const count = reader.read(prop.countType);
          const isIndices = prop.name === 'vertex_indices' || prop.name === 'vertex_index';
          if (!isIndices) { for (let c = 0; c < count; c++) reader.read(prop.type); continue; }
          if (count < 3) fail(`face ${e} has ${count} corners`);
          let first = 0, previous = 0;
          for (let c = 0; c < count; c++) {
            const index = reader.read(prop.type);
            if (!(index >= 0 && index < n)) fail(`face ${e}: vertex index ${index} out of range (0..${n - 1})`);
            // Polygons are fanned from their first corner, as the OBJ reader does, so that one
            // topology gives the same triangles in both formats.
            if (c === 0) first = index;
            else if (c >= 2) triangles.push(first, previous, index);
            previous = index;
          }
        }
      } else {
        for (const prop of element.properties) {
          const count = prop.countType ? reader.read(prop.countType) : 1;
          for (let c = 0; c < count; c++) reader.read(prop.type);
        }
      }
    }
  }
  return { positions, colors, uvs, triangles: Uint32Array.from(triangles), uvTriangles: hasUv ? Uint32Array.from(triangles) : new Uint32Array(0) };
}

function colorDivisor(type: PlyType): number {
  if (type === 'float32' || type === 'float64') return 1;
  return type === 'uint16' || type === 'int16' ? 65535 : 255;
}

function parsePlyHeader(bytes: Uint8Array, fail: (problem: string) => never): { format: 'ascii' | 'binary'; elements: PlyElement[]; bodyStart: number } {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 65536)));
  if (!/^ply\r?\n/.test(head)) fail('not a PLY file (it does not start with "ply")');
  const end = /(^|\n)end_header[ \t]*\r?\n/.exec(head);
  if (!end) fail('truncated or corrupt PLY header (no end_header)');
  const bodyStart = end!.index + end![0].length;
  let format: 'ascii' | 'binary' | undefined;
  const elements: PlyElement[] = [];
  const lines = head.slice(0, end!.index).split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    const words = line.trim().split(/\s+/);
    const where = `PLY header line ${i + 1}`;
    if (words[0] === 'format') {
      if (words[1] === 'ascii') format = 'ascii';
      else if (words[1] === 'binary_little_endian') format = 'binary';
      else fail(`${where}: unsupported format "${words[1]}" (ascii and binary_little_endian are read)`);
    } else if (words[0] === 'element') {
      const count = Number(words[2]);
      if (words.length !== 3 || !Number.isInteger(count) || count < 0) fail(`${where}: malformed element line "${line.trim()}"`);
      elements.push({ name: words[1], count, properties: [] });
    } else if (words[0] === 'property') {
      const element = elements[elements.length - 1] ?? fail(`${where}: property before any element`);
      if (words[1] === 'list') {
        const countType = PLY_TYPES[words[2]], type = PLY_TYPES[words[3]];
        if (words.length !== 5 || !countType || !type) fail(`${where}: malformed property line "${line.trim()}"`);
        element.properties.push({ name: words[4], type, countType });
      } else {
        const type = PLY_TYPES[words[1]];
        if (words.length !== 3 || !type) fail(`${where}: malformed property line "${line.trim()}"`);
        element.properties.push({ name: words[2], type });
      }
    } else if (!['ply', 'comment', 'obj_info', ''].includes(words[0])) {
      fail(`${where}: unknown keyword "${words[0]}"`);
    }
  }
  if (!format) fail('corrupt PLY header (no format line)');
  return { format: format!, elements, bodyStart };
}

interface PlyReader { where: string; read(type: PlyType): number }

function binaryReader(bytes: Uint8Array, start: number, fail: (problem: string) => never): PlyReader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const reader: PlyReader = {
    where: '',
    read(type) {
      const size = PLY_SIZES[type];
      if (pos + size > bytes.length) fail(`truncated: the file ends in ${reader.where} (${bytes.length} bytes)`);
      const at = pos;
      pos += size;
      switch (type) {
        case 'int8': return view.getInt8(at);
        case 'uint8': return view.getUint8(at);
        case 'int16': return view.getInt16(at, true);
        case 'uint16': return view.getUint16(at, true);
        case 'int32': return view.getInt32(at, true);
        case 'uint32': return view.getUint32(at, true);
        case 'float32': return view.getFloat32(at, true);
        case 'float64': return view.getFloat64(at, true);
      }
    },
  };
  return reader;
}

function asciiReader(bytes: Uint8Array, start: number, fail: (problem: string) => never): PlyReader {
  const text = new TextDecoder('latin1').decode(bytes.subarray(start));
  const token = /\S+/g;
  const reader: PlyReader = {
    where: '',
    read(type) {
      const match = token.exec(text);
      if (!match) return fail(`truncated: the file ends in ${reader.where}`);
      const value = Number(match[0]);
      if (!Number.isFinite(value)) fail(`${reader.where}: expected a number, found "${match[0].slice(0, 20)}"`);
      if (type !== 'float32' && type !== 'float64' && !Number.isInteger(value)) fail(`${reader.where}: expected an integer, found "${match[0].slice(0, 20)}"`);
      return value;
    },
  };
  return reader;
}

import { InputError } from '../errors.js';

/**
 * PLY meshes (ASCII and binary little-endian): what registered scans come as, besides OBJ. Pure
 * TypeScript on bytes.
 */

/** A PLY mesh as read: positions as written, sRGB colours in [0, 1] (or empty), per-vertex UVs (or empty). */
export interface PlyMesh {
  positions: Float32Array;
  colors: Float32Array;
  triangles: Uint32Array;
  uvs: Float32Array;
  /** Equal to `triangles` when the vertices have UVs, else empty. */
  uvTriangles: Uint32Array;
}

type PlyType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
const PLY_TYPES: Record<string, PlyType> = {
  char: 'int8',
  int8: 'int8',
  uchar: 'uint8',
  uint8: 'uint8',
  short: 'int16',
  int16: 'int16',
  ushort: 'uint16',
  uint16: 'uint16',
  int: 'int32',
  int32: 'int32',
  uint: 'uint32',
  uint32: 'uint32',
  float: 'float32',
  float32: 'float32',
  double: 'float64',
  float64: 'float64',
};
const PLY_SIZES: Record<PlyType, number> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

interface PlyProperty {
  name: string;
  type: PlyType;
  countType?: PlyType;
}
interface PlyElement {
  name: string;
  count: number;
  properties: PlyProperty[];
}

/** A PLY mesh: positions, sRGB colours in [0, 1] (or empty), per-vertex UVs if present, triangles (polygons fanned). */
export function parsePly(bytes: Uint8Array, fileName: string): PlyMesh {
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
          if (prop.countType) {
            const count = reader.read(prop.countType);
            for (let c = 0; c < count; c++) reader.read(prop.type);
            continue;
          }
          values[p] = reader.read(prop.type);
        }
        positions[3 * e] = values[ix];
        positions[3 * e + 1] = values[iy];
        positions[3 * e + 2] = values[iz];
        if (hasColor) {
          colors[3 * e] = values[ir] / colorScale;
          colors[3 * e + 1] = values[ig] / colorScale;
          colors[3 * e + 2] = values[ib] / colorScale;
        }
        if (hasUv) {
          uvs[2 * e] = values[iu];
          uvs[2 * e + 1] = values[iv];
        }
      } else if (element.name === 'face') {
        for (const prop of element.properties) {
          if (!prop.countType) {
            reader.read(prop.type);
            continue;
          }
          const count = reader.read(prop.countType);
          const isIndices = prop.name === 'vertex_indices' || prop.name === 'vertex_index';
          if (!isIndices) {
            for (let c = 0; c < count; c++) reader.read(prop.type);
            continue;
          }
          if (count < 3) fail(`face ${e} has ${count} corners`);
          let first = 0,
            previous = 0;
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
  return {
    positions,
    colors,
    uvs,
    triangles: Uint32Array.from(triangles),
    uvTriangles: hasUv ? Uint32Array.from(triangles) : new Uint32Array(0),
  };
}

function colorDivisor(type: PlyType): number {
  if (type === 'float32' || type === 'float64') return 1;
  return type === 'uint16' || type === 'int16' ? 65535 : 255;
}

function parsePlyHeader(
  bytes: Uint8Array,
  fail: (problem: string) => never,
): { format: 'ascii' | 'binary'; elements: PlyElement[]; bodyStart: number } {
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
      if (words.length !== 3 || !Number.isInteger(count) || count < 0)
        fail(`${where}: malformed element line "${line.trim()}"`);
      elements.push({ name: words[1], count, properties: [] });
    } else if (words[0] === 'property') {
      const element = elements[elements.length - 1] ?? fail(`${where}: property before any element`);
      if (words[1] === 'list') {
        const countType = PLY_TYPES[words[2]],
          type = PLY_TYPES[words[3]];
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

interface PlyReader {
  where: string;
  read(type: PlyType): number;
}

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
        case 'int8':
          return view.getInt8(at);
        case 'uint8':
          return view.getUint8(at);
        case 'int16':
          return view.getInt16(at, true);
        case 'uint16':
          return view.getUint16(at, true);
        case 'int32':
          return view.getInt32(at, true);
        case 'uint32':
          return view.getUint32(at, true);
        case 'float32':
          return view.getFloat32(at, true);
        case 'float64':
          return view.getFloat64(at, true);
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
      if (type !== 'float32' && type !== 'float64' && !Number.isInteger(value))
        fail(`${reader.where}: expected an integer, found "${match[0].slice(0, 20)}"`);
      return value;
    },
  };
  return reader;
}

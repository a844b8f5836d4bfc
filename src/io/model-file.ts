import { Document, VertexLayout, WebIO, type Accessor } from '@gltf-transform/core';
import { InputError } from '../errors.js';
import type { LinearBasis, MorphableModel } from '../model/morphable-model.js';

/**
 * The native model file: glTF 2.0 binary (.glb). The mean is the mesh, identity and expression
 * components are its morph targets (named, so three.js or Blender show them as sliders), and what
 * glTF has no slot for lives in `extras.morphable` of the file (JSON) or in named accessors (arrays).
 * Pure TypeScript: reads from an ArrayBuffer in Node and in the browser.
 */

export const MODEL_FORMAT_VERSION = 1;
const ACCESSOR = {
  uvs: 'morphable/uvs',
  uvTriangles: 'morphable/uvTriangles',
  colorMean: 'morphable/color/mean',
  colorBasis: 'morphable/color/basis',
} as const;

interface BasisHeader {
  kind: LinearBasis['kind'];
  names: string[];
  stddev: number[];
}

interface ModelHeader {
  formatVersion: number;
  name: string;
  licence: string;
  units: 'mm';
  identity: BasisHeader;
  expression: BasisHeader;
  color?: BasisHeader;
  landmarks: Record<string, number[]>;
  /** Landmark sets' offsets (3 per landmark, mm), where a set has them. */
  landmarkOffsets?: Record<string, number[]>;
  /** Sorted vertex lists as inclusive [from, to] runs: ICT regions are a handful of ranges. */
  regions: Record<string, [number, number][]>;
  contours: Record<string, number[]>;
}

export async function encodeModel(model: MorphableModel): Promise<Uint8Array> {
  const doc = new Document();
  doc.getRoot().getAsset().generator = 'morphable';
  const buffer = doc.createBuffer();
  const accessor = (name: string, type: 'SCALAR' | 'VEC2' | 'VEC3', array: Float32Array | Uint32Array): Accessor =>
    doc.createAccessor(name).setType(type).setArray(array).setBuffer(buffer);

  const primitive = doc
    .createPrimitive()
    .setAttribute('POSITION', accessor('mean', 'VEC3', model.mean))
    .setIndices(accessor('triangles', 'SCALAR', model.triangles));
  const targetNames: string[] = [];
  const n = model.mean.length;
  for (const basis of [model.identity, model.expression]) {
    for (let k = 0; k < basis.count; k++) {
      const target = doc.createPrimitiveTarget(basis.names[k]);
      target.setAttribute('POSITION', accessor(basis.names[k], 'VEC3', basis.basis.subarray(k * n, (k + 1) * n)));
      primitive.addTarget(target);
      targetNames.push(basis.names[k]);
    }
  }
  if (model.uvs.length) {
    accessor(ACCESSOR.uvs, 'VEC2', model.uvs);
    accessor(ACCESSOR.uvTriangles, 'SCALAR', model.uvTriangles);
  }
  if (model.color) {
    primitive.setAttribute('COLOR_0', accessor(ACCESSOR.colorMean, 'VEC3', model.color.mean));
    accessor(ACCESSOR.colorBasis, 'VEC3', model.color.basis.basis);
  }
  const mesh = doc.createMesh(model.name).addPrimitive(primitive).setWeights(new Array(targetNames.length).fill(0));
  mesh.setExtras({ targetNames });
  doc.createScene().addChild(doc.createNode(model.name).setMesh(mesh));

  const header: ModelHeader = {
    formatVersion: MODEL_FORMAT_VERSION,
    name: model.name,
    licence: model.licence,
    units: 'mm',
    identity: basisHeader(model.identity),
    expression: basisHeader(model.expression),
    landmarks: Object.fromEntries(Object.entries(model.landmarks).map(([k, v]) => [k, Array.from(v.vertices)])),
    regions: Object.fromEntries(Object.entries(model.regions).map(([k, v]) => [k, toRuns(v)])),
    contours: Object.fromEntries(Object.entries(model.contours).map(([k, v]) => [k, Array.from(v)])),
  };
  if (model.color) header.color = basisHeader(model.color.basis);
  const offsets = Object.entries(model.landmarks).filter(([, v]) => v.offsets);
  if (offsets.length) header.landmarkOffsets = Object.fromEntries(offsets.map(([k, v]) => [k, Array.from(v.offsets!, (x) => Math.round(x * 1000) / 1000)]));
  doc.getRoot().setExtras({ morphable: header });
  // Separate (non-interleaved) attributes, so that the reader can view every array in place.
  return new WebIO().setVertexLayout(VertexLayout.SEPARATE).writeBinary(doc);
}

function basisHeader(basis: LinearBasis): BasisHeader {
  return { kind: basis.kind, names: basis.names, stddev: Array.from(basis.stddev) };
}

function toRuns(sorted: Uint32Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const last = runs[runs.length - 1];
    if (last && sorted[i] === last[1] + 1) last[1] = sorted[i];
    else runs.push([sorted[i], sorted[i]]);
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// Reading: a direct GLB parse rather than glTF-Transform's document model, because arrays can then
// be views into the file's bytes (the ICT model is 50 MB of morph targets) and loading stays fast.

interface GltfJson {
  asset?: { version?: string };
  extras?: { morphable?: ModelHeader };
  meshes?: { primitives: { attributes: Record<string, number>; indices?: number; targets?: Record<string, number>[] }[] }[];
  accessors?: { bufferView?: number; byteOffset?: number; componentType: number; count: number; type: string; name?: string }[];
  bufferViews?: { buffer: number; byteOffset?: number; byteLength: number; byteStride?: number }[];
}

const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };
const FLOAT = 5126, UNSIGNED_INT = 5125, UNSIGNED_SHORT = 5123;

export function decodeModel(bytes: Uint8Array, fileName: string): MorphableModel {
  try {
    return decode(bytes, fileName);
  } catch (error) {
    // A header edited by hand can break the reader in ways not checked one by one.
    if (error instanceof InputError) throw error;
    throw new InputError(fileName, `corrupt model file (${(error as Error).message})`);
  }
}

function decode(bytes: Uint8Array, fileName: string): MorphableModel {
  const fail = (problem: string): never => {
    throw new InputError(fileName, problem);
  };
  if (bytes.length < 20) fail('not a morphable model file (too short for a .glb)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x46546c67) fail('not a morphable model file (not a glTF binary .glb)');
  if (view.getUint32(4, true) !== 2) fail(`unsupported glTF version ${view.getUint32(4, true)}`);
  const declared = view.getUint32(8, true);
  if (declared > bytes.length) fail(`truncated: the file says ${declared} bytes, it has ${bytes.length}`);
  let json: GltfJson | undefined;
  let bin: Uint8Array | undefined;
  for (let offset = 12; offset + 8 <= declared; ) {
    const length = view.getUint32(offset, true);
    const type = view.getUint32(offset + 4, true);
    const start = offset + 8;
    if (start + length > declared) fail('truncated or corrupt .glb (a chunk runs past the end)');
    const chunk = bytes.subarray(start, start + length);
    if (type === 0x4e4f534a) {
      try {
        json = JSON.parse(new TextDecoder().decode(chunk));
      } catch {
        fail('corrupt .glb (its JSON chunk does not parse)');
      }
    } else if (type === 0x004e4942) bin = chunk;
    offset = start + length;
  }
  const header = json?.extras?.morphable;
  if (!json || !header) fail('a glTF file, but not a morphable model (no extras.morphable); import a model with `morphable model import`');
  if (header!.formatVersion !== MODEL_FORMAT_VERSION) fail(`model format version ${header!.formatVersion}, this morphable reads ${MODEL_FORMAT_VERSION}`);
  const gltf = json!;
  const binary = bin ?? fail('corrupt .glb (no binary chunk)');

  const readAccessor = (index: number | undefined, what: string): Float32Array | Uint32Array => {
    const acc = index === undefined ? undefined : gltf.accessors?.[index];
    if (!acc || acc.bufferView === undefined) return fail(`corrupt model file (${what} is missing)`);
    const bv = gltf.bufferViews?.[acc.bufferView];
    const width = COMPONENTS[acc.type];
    if (!bv || !width || (bv.byteStride && bv.byteStride !== width * 4 && acc.componentType !== UNSIGNED_SHORT)) {
      return fail(`corrupt model file (${what} has an unsupported layout)`);
    }
    const start = (bv.byteOffset ?? 0) + (acc.byteOffset ?? 0);
    const length = acc.count * width;
    const bytesPer = acc.componentType === UNSIGNED_SHORT ? 2 : 4;
    if (start + length * bytesPer > binary.length || start + length * bytesPer > (bv.byteOffset ?? 0) + bv.byteLength) {
      return fail(`truncated or corrupt model file (${what} runs past the end of the data)`);
    }
    const at = binary.byteOffset + start;
    if (acc.componentType === FLOAT) return viewOrCopy(binary, at, length, Float32Array);
    if (acc.componentType === UNSIGNED_INT) return viewOrCopy(binary, at, length, Uint32Array);
    if (acc.componentType === UNSIGNED_SHORT) return Uint32Array.from(new Uint16Array(binary.buffer.slice(at, at + 2 * length)));
    return fail(`corrupt model file (${what} has component type ${acc.componentType})`);
  };
  const byName = (name: string) => {
    const index = gltf.accessors?.findIndex((a) => a.name === name);
    return index === undefined || index < 0 ? undefined : index;
  };

  const primitive = gltf.meshes?.[0]?.primitives?.[0] ?? fail('corrupt model file (no mesh)');
  const mean = readAccessor(primitive.attributes.POSITION, 'the mean shape') as Float32Array;
  const triangles = Uint32Array.from(readAccessor(primitive.indices, 'the triangles'));
  const vertexCount = mean.length / 3;
  const targets = primitive.targets ?? [];
  const h = header!;
  if (targets.length !== h.identity.names.length + h.expression.names.length) fail('corrupt model file (morph target count does not match the header)');
  const basis = (b: BasisHeader, first: number): LinearBasis => {
    const out = new Float32Array(b.names.length * mean.length);
    for (let k = 0; k < b.names.length; k++) {
      const target = readAccessor(targets[first + k].POSITION, `component ${b.names[k]}`);
      if (target.length !== mean.length) fail(`corrupt model file (component ${b.names[k]} has the wrong size)`);
      out.set(target, k * mean.length);
    }
    return { kind: b.kind, count: b.names.length, basis: out, stddev: Float32Array.from(b.stddev), names: b.names.slice() };
  };
  for (const t of triangles) if (t >= vertexCount) fail('corrupt model file (a triangle refers to a missing vertex)');

  const uvIndex = byName(ACCESSOR.uvs);
  const model: MorphableModel = {
    name: h.name,
    licence: h.licence,
    vertexCount,
    mean,
    triangles,
    uvs: uvIndex === undefined ? new Float32Array(0) : (readAccessor(uvIndex, 'the UVs') as Float32Array),
    uvTriangles: uvIndex === undefined ? new Uint32Array(0) : Uint32Array.from(readAccessor(byName(ACCESSOR.uvTriangles), 'the UV triangles')),
    identity: basis(h.identity, 0),
    expression: basis(h.expression, h.identity.names.length),
    landmarks: Object.fromEntries(Object.entries(h.landmarks).map(([k, v]) => {
      const offsets = h.landmarkOffsets?.[k];
      if (offsets && offsets.length !== 3 * v.length) fail(`corrupt model file (landmark set ${k} has ${offsets.length} offset values for ${v.length} landmarks)`);
      return [k, offsets ? { vertices: Int32Array.from(v), offsets: Float32Array.from(offsets) } : { vertices: Int32Array.from(v) }];
    })),
    regions: Object.fromEntries(Object.entries(h.regions).map(([k, runs]) => [k, fromRuns(runs)])),
    contours: Object.fromEntries(Object.entries(h.contours).map(([k, v]) => [k, Uint32Array.from(v)])),
  };
  if (h.color) {
    const colorBasis = readAccessor(byName(ACCESSOR.colorBasis), 'the colour basis') as Float32Array;
    model.color = {
      mean: readAccessor(byName(ACCESSOR.colorMean), 'the colour mean') as Float32Array,
      basis: { kind: h.color.kind, count: h.color.names.length, basis: colorBasis, stddev: Float32Array.from(h.color.stddev), names: h.color.names.slice() },
    };
  }
  return model;
}

function viewOrCopy<T extends Float32Array | Uint32Array>(bin: Uint8Array, at: number, length: number, Type: { new (buffer: ArrayBufferLike, offset: number, length: number): T; new (length: number): T }): T {
  if (at % 4 === 0) return new Type(bin.buffer, at, length);
  const copy = new Type(length);
  new Uint8Array(copy.buffer).set(new Uint8Array(bin.buffer, at, length * 4));
  return copy;
}

function fromRuns(runs: [number, number][]): Uint32Array {
  let total = 0;
  for (const [from, to] of runs) total += to - from + 1;
  const out = new Uint32Array(total);
  let i = 0;
  for (const [from, to] of runs) for (let v = from; v <= to; v++) out[i++] = v;
  return out;
}

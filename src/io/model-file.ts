import { Document, VertexLayout, WebIO, type Accessor } from '@gltf-transform/core';
import { MeshoptDecoder } from 'meshoptimizer/decoder';
import { InputError } from '../errors.js';
import type { LinearBasis, MorphableModel } from '../model/morphable-model.js';

/**
 * The native model file: glTF 2.0 binary (.glb). The mean is the mesh, identity and expression
 * components are its morph targets (named, so three.js or Blender show them as sliders), and what
 * glTF has no slot for lives in `extras.morphable` of the file (JSON) or in named accessors (arrays).
 * Pure TypeScript: reads from an ArrayBuffer in Node and in the browser.
 *
 * Units: the arrays are millimetres (morphable's unit) and the mesh node carries the scale to glTF's
 * metre (format version 2; version 1 files, without it, still read). A compact file stores the mean
 * and the shape components as int16 multiples of one step (KHR_mesh_quantization, the step times
 * 0.001 as the node's scale) and compresses its buffers with EXT_meshopt_compression.
 */

export const MODEL_FORMAT_VERSION = 2;
const READABLE_VERSIONS = [1, 2];
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
  /** Compact files: the mean and the shape components are int16 multiples of `step` mm. */
  quantization?: { step: number };
}

export interface EncodeModelOptions {
  /**
   * int16 positions and shape components (one step for all: 0.006 mm on the ICT head) and meshopt
   * compression: a few MB instead of tens, read back by `decodeModel` as float millimetres.
   */
  compact?: boolean;
}

export async function encodeModel(model: MorphableModel, options: EncodeModelOptions = {}): Promise<Uint8Array> {
  const doc = new Document();
  doc.getRoot().getAsset().generator = 'morphable';
  const buffer = doc.createBuffer();
  const accessor = (
    name: string,
    type: 'SCALAR' | 'VEC2' | 'VEC3',
    array: Float32Array | Uint32Array | Int16Array,
  ): Accessor => doc.createAccessor(name).setType(type).setArray(array).setBuffer(buffer);

  // Compact: one step for the mean and every component, since glTF scales a morph target with its mesh.
  let step = 0;
  if (options.compact) {
    let largest = 0;
    for (const array of [model.mean, model.identity.basis, model.expression.basis]) {
      for (let i = 0; i < array.length; i++) largest = Math.max(largest, Math.abs(array[i]));
    }
    step = (largest || 1) / 32767;
  }
  const positions = (array: Float32Array): Float32Array | Int16Array => {
    if (!step) return array;
    const q = new Int16Array(array.length);
    for (let i = 0; i < array.length; i++) q[i] = Math.round(array[i] / step);
    return q;
  };

  // meshopt's index codec may rotate a triangle's corners: compact files start each triangle (and its
  // UV triangle alike) at its smallest vertex, which the reader restores.
  const triangles = step ? smallestFirst(model.triangles, model.uvTriangles) : model.triangles;
  const uvTriangles =
    step && model.uvTriangles.length ? smallestFirst(model.triangles, model.uvTriangles, true) : model.uvTriangles;
  const primitive = doc
    .createPrimitive()
    .setAttribute('POSITION', accessor('mean', 'VEC3', positions(model.mean)))
    .setIndices(accessor('triangles', 'SCALAR', triangles));
  const targetNames: string[] = [];
  const n = model.mean.length;
  for (const basis of [model.identity, model.expression]) {
    for (let k = 0; k < basis.count; k++) {
      const target = doc.createPrimitiveTarget(basis.names[k]);
      target.setAttribute(
        'POSITION',
        accessor(basis.names[k], 'VEC3', positions(basis.basis.subarray(k * n, (k + 1) * n))),
      );
      primitive.addTarget(target);
      targetNames.push(basis.names[k]);
    }
  }
  if (model.uvs.length) {
    accessor(ACCESSOR.uvs, 'VEC2', model.uvs);
    accessor(ACCESSOR.uvTriangles, 'SCALAR', uvTriangles);
  }
  if (model.color) {
    primitive.setAttribute('COLOR_0', accessor(ACCESSOR.colorMean, 'VEC3', model.color.mean));
    accessor(ACCESSOR.colorBasis, 'VEC3', model.color.basis.basis);
  }
  const mesh = doc.createMesh(model.name).addPrimitive(primitive).setWeights(new Array(targetNames.length).fill(0));
  mesh.setExtras({ targetNames });
  // glTF's unit is the metre: the node scales the millimetres (or compact steps) for glTF clients.
  const scale = step ? step / 1000 : 0.001;
  doc.createScene().addChild(doc.createNode(model.name).setMesh(mesh).setScale([scale, scale, scale]));

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
  if (step) header.quantization = { step };
  const offsets = Object.entries(model.landmarks).filter(([, v]) => v.offsets);
  if (offsets.length)
    header.landmarkOffsets = Object.fromEntries(
      offsets.map(([k, v]) => [k, Array.from(v.offsets!, (x) => Math.round(x * 1000) / 1000)]),
    );
  doc.getRoot().setExtras({ morphable: header });
  // Separate (non-interleaved) attributes, so that the reader can view every array in place.
  const io = new WebIO().setVertexLayout(VertexLayout.SEPARATE);
  if (step) {
    // Loaded only here: every command reads models, few write compact ones.
    const [{ EXTMeshoptCompression, KHRMeshQuantization }, { MeshoptEncoder }] = await Promise.all([
      import('@gltf-transform/extensions'),
      import('meshoptimizer/encoder'),
    ]);
    doc.createExtension(KHRMeshQuantization).setRequired(true);
    doc
      .createExtension(EXTMeshoptCompression)
      .setRequired(true)
      .setEncoderOptions({ method: EXTMeshoptCompression.EncoderMethod.QUANTIZE });
    await MeshoptEncoder.ready;
    io.registerExtensions([KHRMeshQuantization, EXTMeshoptCompression]).registerDependencies({
      'meshopt.encoder': MeshoptEncoder,
    });
  }
  return io.writeBinary(doc);
}

/** Each triangle rotated (winding kept) to start at its smallest vertex; `uv`: the UV triangles rotated alike. */
function smallestFirst(triangles: Uint32Array, uvTriangles: Uint32Array, uv = false): Uint32Array {
  const source = uv ? uvTriangles : triangles;
  const out = new Uint32Array(source.length);
  for (let t = 0; t < triangles.length; t += 3) {
    const a = triangles[t],
      b = triangles[t + 1],
      c = triangles[t + 2];
    const r = a <= b && a <= c ? 0 : b <= c ? 1 : 2;
    out[t] = source[t + r];
    out[t + 1] = source[t + ((r + 1) % 3)];
    out[t + 2] = source[t + ((r + 2) % 3)];
  }
  return out;
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
  extensionsRequired?: string[];
  meshes?: {
    primitives: { attributes: Record<string, number>; indices?: number; targets?: Record<string, number>[] }[];
  }[];
  accessors?: {
    bufferView?: number;
    byteOffset?: number;
    componentType: number;
    count: number;
    type: string;
    name?: string;
    normalized?: boolean;
  }[];
  bufferViews?: {
    buffer: number;
    byteOffset?: number;
    byteLength: number;
    byteStride?: number;
    extensions?: {
      EXT_meshopt_compression?: {
        buffer: number;
        byteOffset?: number;
        byteLength: number;
        byteStride: number;
        count: number;
        mode: string;
        filter?: string;
      };
    };
  }[];
}

const COMPONENTS: Record<string, number> = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };
const FLOAT = 5126,
  UNSIGNED_INT = 5125,
  UNSIGNED_SHORT = 5123,
  SHORT = 5122;
const BYTES: Record<number, number> = { [FLOAT]: 4, [UNSIGNED_INT]: 4, [UNSIGNED_SHORT]: 2, [SHORT]: 2 };
const KNOWN_EXTENSIONS = ['KHR_mesh_quantization', 'EXT_meshopt_compression'];

// The meshopt decoder is a small WebAssembly module embedded in its JavaScript; it is ready in a few
// milliseconds, once, so that decodeModel can stay synchronous.
await MeshoptDecoder.ready;

/** Whether a native model file is compact (int16 + meshopt), so that rewriting it can keep it so. */
export function isCompactModel(bytes: Uint8Array): boolean {
  if (bytes.length < 20) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(12, true);
  try {
    return !!(JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + length))) as GltfJson).extras?.morphable
      ?.quantization;
  } catch {
    return false;
  }
}

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
  if (!json || !header)
    fail('a glTF file, but not a morphable model (no extras.morphable); import a model with `morphable model import`');
  if (!READABLE_VERSIONS.includes(header!.formatVersion))
    fail(`model format version ${header!.formatVersion}, this morphable reads ${READABLE_VERSIONS.join(' and ')}`);
  const unknown = (json!.extensionsRequired ?? []).filter((e) => !KNOWN_EXTENSIONS.includes(e));
  if (unknown.length) fail(`needs glTF extension ${unknown.join(', ')}, which morphable does not read`);
  const gltf = json!;
  const binary = bin ?? fail('corrupt .glb (no binary chunk)');
  const step = header!.quantization?.step;

  // A buffer view's bytes: in the binary chunk, or decompressed from it (EXT_meshopt_compression).
  const decoded = new Map<number, Uint8Array>();
  const viewBytes = (index: number, what: string): Uint8Array => {
    const bv = gltf.bufferViews?.[index] ?? fail(`corrupt model file (${what} is missing)`);
    const meshopt = bv.extensions?.EXT_meshopt_compression;
    if (!meshopt) {
      const start = bv.byteOffset ?? 0;
      if (start + bv.byteLength > binary.length)
        fail(`truncated or corrupt model file (${what} runs past the end of the data)`);
      return binary.subarray(start, start + bv.byteLength);
    }
    let out = decoded.get(index);
    if (!out) {
      const start = meshopt.byteOffset ?? 0;
      if (meshopt.buffer !== 0 || start + meshopt.byteLength > binary.length)
        fail(`truncated or corrupt model file (${what} runs past the end of the data)`);
      out = new Uint8Array(meshopt.count * meshopt.byteStride);
      try {
        MeshoptDecoder.decodeGltfBuffer(
          out,
          meshopt.count,
          meshopt.byteStride,
          binary.subarray(start, start + meshopt.byteLength),
          meshopt.mode as 'ATTRIBUTES',
          meshopt.filter as 'NONE',
        );
      } catch {
        fail(`corrupt model file (${what} does not decompress)`);
      }
      decoded.set(index, out);
    }
    return out;
  };

  /** Floats (int16 steps of compact files become floats in mm) or unsigned integers. */
  const readAccessor = (index: number | undefined, what: string, into?: Float32Array): Float32Array | Uint32Array => {
    const acc = index === undefined ? undefined : gltf.accessors?.[index];
    if (!acc || acc.bufferView === undefined) return fail(`corrupt model file (${what} is missing)`);
    const width = COMPONENTS[acc.type];
    const bytesPer = BYTES[acc.componentType];
    if (!bytesPer) return fail(`corrupt model file (${what} has component type ${acc.componentType})`);
    if (acc.componentType === SHORT && (!step || acc.normalized))
      return fail(`corrupt model file (${what} is quantised, but the header gives no step)`);
    const data = viewBytes(acc.bufferView, what);
    const elementSize = width * bytesPer;
    const stride =
      gltf.bufferViews![acc.bufferView].extensions?.EXT_meshopt_compression?.byteStride
      ?? gltf.bufferViews![acc.bufferView].byteStride
      ?? elementSize;
    if (!width || stride < elementSize) return fail(`corrupt model file (${what} has an unsupported layout)`);
    const start = acc.byteOffset ?? 0;
    const length = acc.count * width;
    if (acc.count && start + (acc.count - 1) * stride + elementSize > data.length) {
      return fail(`truncated or corrupt model file (${what} runs past the end of the data)`);
    }
    const at = data.byteOffset + start;
    if (stride === elementSize && acc.componentType === FLOAT) return viewOrCopy(data, at, length, Float32Array);
    if (stride === elementSize && acc.componentType === UNSIGNED_INT) return viewOrCopy(data, at, length, Uint32Array);
    if (acc.componentType === SHORT && at % 2 === 0 && stride % 2 === 0) {
      // Compact positions and components (meshopt pads each int16 VEC3 to 8 bytes).
      const q = new Int16Array(data.buffer, at, ((acc.count - 1) * stride + elementSize) / 2);
      const out = into && into.length === length ? into : new Float32Array(length);
      const pitch = stride / 2;
      for (let e = 0, i = 0; e < acc.count; e++) for (let c = 0; c < width; c++, i++) out[i] = q[e * pitch + c] * step!;
      return out;
    }
    const dv = new DataView(data.buffer, at);
    const out =
      acc.componentType === FLOAT || acc.componentType === SHORT ? new Float32Array(length) : new Uint32Array(length);
    for (let e = 0, i = 0; e < acc.count; e++) {
      const base = e * stride;
      for (let c = 0; c < width; c++, i++) {
        const o = base + c * bytesPer;
        if (acc.componentType === SHORT) out[i] = dv.getInt16(o, true) * step!;
        else if (acc.componentType === UNSIGNED_SHORT) out[i] = dv.getUint16(o, true);
        else if (acc.componentType === FLOAT) out[i] = dv.getFloat32(o, true);
        else out[i] = dv.getUint32(o, true);
      }
    }
    return out;
  };
  const byName = (name: string) => {
    const index = gltf.accessors?.findIndex((a) => a.name === name);
    return index === undefined || index < 0 ? undefined : index;
  };

  const primitive = gltf.meshes?.[0]?.primitives?.[0] ?? fail('corrupt model file (no mesh)');
  const mean = readAccessor(primitive.attributes.POSITION, 'the mean shape') as Float32Array;
  let triangles: Uint32Array = Uint32Array.from(readAccessor(primitive.indices, 'the triangles'));
  if (step) triangles = smallestFirst(triangles, triangles);
  const vertexCount = mean.length / 3;
  const targets = primitive.targets ?? [];
  const h = header!;
  if (targets.length !== h.identity.names.length + h.expression.names.length)
    fail('corrupt model file (morph target count does not match the header)');
  const basis = (b: BasisHeader, first: number): LinearBasis => {
    const out = new Float32Array(b.names.length * mean.length);
    for (let k = 0; k < b.names.length; k++) {
      const slot = out.subarray(k * mean.length, (k + 1) * mean.length);
      const target = readAccessor(targets[first + k].POSITION, `component ${b.names[k]}`, slot);
      if (target.length !== mean.length) fail(`corrupt model file (component ${b.names[k]} has the wrong size)`);
      if (target !== slot) slot.set(target);
    }
    return {
      kind: b.kind,
      count: b.names.length,
      basis: out,
      stddev: Float32Array.from(b.stddev),
      names: b.names.slice(),
    };
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
    uvTriangles:
      uvIndex === undefined
        ? new Uint32Array(0)
        : Uint32Array.from(readAccessor(byName(ACCESSOR.uvTriangles), 'the UV triangles')),
    identity: basis(h.identity, 0),
    expression: basis(h.expression, h.identity.names.length),
    landmarks: Object.fromEntries(
      Object.entries(h.landmarks).map(([k, v]) => {
        const offsets = h.landmarkOffsets?.[k];
        if (offsets && offsets.length !== 3 * v.length)
          fail(`corrupt model file (landmark set ${k} has ${offsets.length} offset values for ${v.length} landmarks)`);
        return [
          k,
          offsets
            ? { vertices: Int32Array.from(v), offsets: Float32Array.from(offsets) }
            : { vertices: Int32Array.from(v) },
        ];
      }),
    ),
    regions: Object.fromEntries(Object.entries(h.regions).map(([k, runs]) => [k, fromRuns(runs)])),
    contours: Object.fromEntries(Object.entries(h.contours).map(([k, v]) => [k, Uint32Array.from(v)])),
  };
  if (h.color) {
    const colorBasis = readAccessor(byName(ACCESSOR.colorBasis), 'the colour basis') as Float32Array;
    model.color = {
      mean: readAccessor(byName(ACCESSOR.colorMean), 'the colour mean') as Float32Array,
      basis: {
        kind: h.color.kind,
        count: h.color.names.length,
        basis: colorBasis,
        stddev: Float32Array.from(h.color.stddev),
        names: h.color.names.slice(),
      },
    };
  }
  return model;
}

function viewOrCopy<T extends Float32Array | Uint32Array>(
  bin: Uint8Array,
  at: number,
  length: number,
  Type: { new (buffer: ArrayBufferLike, offset: number, length: number): T; new (length: number): T },
): T {
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

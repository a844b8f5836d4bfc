/**
 * The landmark net's weight file: "MLNW", a little-endian uint32 header length, a JSON header (format,
 * tensor names/shapes/offsets, and free-form `training` facts: command, seed, data hash, time), then every
 * tensor as float16 — half the bytes of float32, and the net's outputs move by far less than a pixel.
 * Pure TS, so a browser reads the same bytes it fetched.
 */
import { LANDMARK_HEADS, type LandmarkHead, landmarkNetShapes } from './landmark-net.js';

const MAGIC = 'MLNW';
const FORMAT = 1;

export interface LandmarkNetFile {
  head: LandmarkHead;
  /** Parameters by name, float32, in landmarkNetShapes(head) order. */
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
  /** How the weights were made (command, seed, data hash, training time, validation NME…). */
  training: Record<string, unknown>;
}

interface Header {
  format: number;
  head: LandmarkHead;
  dtype: 'float16';
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
  training: Record<string, unknown>;
}

export function encodeLandmarkNetFile(file: LandmarkNetFile): Uint8Array {
  const entries: Header['tensors'] = [];
  let offset = 0;
  for (const [name, { shape }] of file.tensors) {
    entries.push({ name, shape, offset });
    offset += shape.reduce((a, b) => a * b, 1);
  }
  const header: Header = {
    format: FORMAT,
    head: file.head,
    dtype: 'float16',
    tensors: entries,
    training: file.training,
  };
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((8 + json.length) % 4)) % 4); // keeps the float16 data 2-byte aligned and tidy
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + 2 * offset);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(4, headerBytes.length, true);
  bytes.set(headerBytes, 8);
  const data = new DataView(bytes.buffer, 8 + headerBytes.length);
  let at = 0;
  for (const { values } of file.tensors.values()) {
    for (let i = 0; i < values.length; i++, at++) data.setUint16(2 * at, toHalf(values[i]), true);
  }
  return bytes;
}

/** Throws an Error naming the problem; `source` (a file name or URL) goes into the message. */
export function decodeLandmarkNetFile(bytes: Uint8Array, source: string): LandmarkNetFile {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a morphable landmark net file (${what})`);
  };
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) fail('no MLNW signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength > bytes.length) fail('truncated header');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return fail('unreadable header');
  }
  if (header.format !== FORMAT) fail(`format ${header.format}, this version reads ${FORMAT}`);
  if (!LANDMARK_HEADS.includes(header.head)) fail(`unknown head ${JSON.stringify(header.head)}`);
  const expected = landmarkNetShapes(header.head);
  if (header.tensors.length !== expected.length) fail(`${header.tensors.length} tensors, expected ${expected.length}`);
  const tensors: LandmarkNetFile['tensors'] = new Map();
  const dataStart = 8 + headerLength;
  for (let t = 0; t < expected.length; t++) {
    const [name, shape] = expected[t];
    const entry = header.tensors[t];
    if (entry.name !== name || entry.shape.join() !== shape.join()) {
      fail(`tensor ${t} is ${entry.name} [${entry.shape}], expected ${name} [${shape}]`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (dataStart + 2 * (entry.offset + count) > bytes.length) fail(`truncated at ${name}`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = fromHalf(view.getUint16(dataStart + 2 * (entry.offset + i), true));
    tensors.set(name, { shape, values });
  }
  return { head: header.head, tensors, training: header.training ?? {} };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `value`, rounded to nearest even; overflow → ±Infinity. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (half + (rest > halfway || (rest === halfway && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // Rounding may carry into the exponent, which is still the right binary16 value.
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

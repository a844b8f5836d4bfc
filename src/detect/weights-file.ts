/**
 * The project's float16 weight files: 4 magic bytes naming the kind, a little-endian uint32 header length, a
 * JSON header (format, the kind's own fields, tensor names/shapes/offsets, and free-form `training` facts:
 * command, seed, data hash, time), then every tensor as float16 — half the bytes of float32, and the nets'
 * outputs move by far less than they are wrong. Pure TS, so a browser reads the same bytes it fetched.
 * Each kind (landmark-net-file.ts, face-regressor-file.ts) checks the tensors against its expected shapes.
 */

const FORMAT = 1;

export type Tensors = Map<string, { shape: number[]; values: Float32Array }>;

interface Header {
  format: number;
  dtype: 'float16';
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
  training: Record<string, unknown>;
  [field: string]: unknown;
}

/** The file's bytes: `fields` go into the header beside the tensor table and `training`. */
export function encodeWeights(
  magic: string,
  fields: Record<string, unknown>,
  tensors: Tensors,
  training: Record<string, unknown>,
): Uint8Array {
  const entries: Header['tensors'] = [];
  let offset = 0;
  for (const [name, { shape }] of tensors) {
    entries.push({ name, shape, offset });
    offset += shape.reduce((a, b) => a * b, 1);
  }
  const header: Header = { format: FORMAT, ...fields, dtype: 'float16', tensors: entries, training };
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((8 + json.length) % 4)) % 4); // keeps the float16 data 2-byte aligned and tidy
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + 2 * offset);
  bytes.set(new TextEncoder().encode(magic), 0);
  new DataView(bytes.buffer).setUint32(4, headerBytes.length, true);
  bytes.set(headerBytes, 8);
  const data = new DataView(bytes.buffer, 8 + headerBytes.length);
  let at = 0;
  for (const { values } of tensors.values()) {
    for (let i = 0; i < values.length; i++, at++) data.setUint16(2 * at, toHalf(values[i]), true);
  }
  return bytes;
}

/**
 * The header and tensors of a file of kind `magic`. `expected(header)` gives the tensor names and shapes the
 * file must hold, in order, or throws with what is wrong in the header. Throws an Error naming `source` (a file
 * name or URL) and the problem, e.g. "x.bin: not a morphable landmark net file (truncated header)".
 */
export function decodeWeights(
  bytes: Uint8Array,
  source: string,
  magic: string,
  what: string,
  expected: (header: Record<string, unknown>) => Array<[string, number[]]>,
): { header: Record<string, unknown>; tensors: Tensors; training: Record<string, unknown> } {
  const fail = (problem: string): never => {
    throw new Error(`${source}: not a morphable ${what} file (${problem})`);
  };
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== magic) fail(`no ${magic} signature`);
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
  let shapes: Array<[string, number[]]> = [];
  try {
    shapes = expected(header);
  } catch (error) {
    fail((error as Error).message);
  }
  if (!Array.isArray(header.tensors) || header.tensors.length !== shapes.length)
    fail(`${header.tensors?.length} tensors, expected ${shapes.length}`);
  const tensors: Tensors = new Map();
  const dataStart = 8 + headerLength;
  for (let t = 0; t < shapes.length; t++) {
    const [name, shape] = shapes[t];
    const entry = header.tensors[t];
    if (entry.name !== name || entry.shape.join() !== shape.join()) {
      fail(`tensor ${t} is ${entry.name} [${entry.shape}], expected ${name} [${shape}]`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (dataStart + 2 * (entry.offset + count) > bytes.length) fail(`truncated at ${name}`);
    const values = new Float32Array(count);
    halvesToFloats(view, dataStart + 2 * entry.offset, values);
    tensors.set(name, { shape, values });
  }
  return { header, tensors, training: header.training ?? {} };
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

/**
 * `out[i] = fromHalf(half i)` for the out.length little-endian binary16 values at `byteOffset` of `view`. A normal
 * number's bits are moved into place (exact: every binary16 value is a binary32 one), the rest go through
 * fromHalf: a 2-MB colour model decodes in a few ms instead of about 60, at every `fit`'s start.
 */
export function halvesToFloats(view: DataView, byteOffset: number, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) {
    const half = view.getUint16(byteOffset + 2 * i, true);
    const exponent = half & 0x7c00;
    // Exponent bias 15 → 127: add 112 to the exponent field, then shift the 10-bit mantissa to 23 bits.
    if (exponent !== 0 && exponent !== 0x7c00) bits[i] = ((half & 0x8000) << 16) | (((half & 0x7fff) + 0x1c000) << 13);
    else out[i] = fromHalf(half);
  }
}

export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

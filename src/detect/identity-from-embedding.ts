/**
 * Identity from a face-recognition embedding (Genova et al. 2018): face-api's 128-D embedding of the face
 * (face-embedding.ts) → a small MLP → the leading K identity coefficients of a morphable model (standard
 * units, the model's N(0, I) prior), the rest zero. Trained by src/learn/identity-training.ts on rendered
 * random faces; the weights ship in models/identity-from-embedding.bin.
 *
 * The MLP: x = (e − mean) · scale (per-dimension standardisation of the embedding, measured on the
 * training renders), h = ReLU(x·W1 + b1), α = h·W2 + b2.
 *
 * The weight file, a sibling of the landmark net's (landmark-net-file.ts): "MIDN", a little-endian uint32
 * header length, a JSON header (format, the model it predicts for, sizes, tensor names/shapes/offsets and
 * free-form `training` facts: command, seed, data, time, held-out error), then every tensor as float16.
 *
 * Pure TypeScript + tfjs-core ops on a `tf` handed in; no Node APIs.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { RgbImage } from '../render/rgb-image.js';
import {
  EMBEDDING_INPUT,
  EMBEDDING_SIZE,
  embeddingCrop,
  type FaceEmbeddingParams,
  faceEmbeddingForward,
} from './face-embedding.js';
import { fromHalf, toHalf } from './landmark-net-file.js';
import type { Tf } from './landmark-net.js';

const MAGIC = 'MIDN';
const FORMAT = 1;

export interface IdentityNetFile {
  /** The model the coefficients belong to (its name) and its identity count. */
  model: string;
  identityCount: number;
  /** Hidden units and predicted coefficients K. */
  hidden: number;
  outputs: number;
  /** Parameters by name, float32, in identityNetShapes order. */
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
  training: Record<string, unknown>;
}

/** Parameter names and shapes, in file order. */
export function identityNetShapes(hidden: number, outputs: number): Array<[string, number[]]> {
  return [
    ['input/mean', [EMBEDDING_SIZE]],
    ['input/scale', [EMBEDDING_SIZE]],
    ['hidden/weights', [EMBEDDING_SIZE, hidden]],
    ['hidden/bias', [hidden]],
    ['out/weights', [hidden, outputs]],
    ['out/bias', [outputs]],
  ];
}

export type IdentityNetParams = Record<string, TfCore.Tensor>;

/** Call inside tf.tidy. Identity coefficients [B, K] from embeddings [B, 128]. */
export function identityNetForward(tf: Tf, params: IdentityNetParams, embeddings: TfCore.Tensor2D): TfCore.Tensor2D {
  const x = tf.mul(tf.sub(embeddings, params['input/mean']), params['input/scale']) as TfCore.Tensor2D;
  const h = tf.relu(tf.add(tf.matMul(x, params['hidden/weights'] as TfCore.Tensor2D), params['hidden/bias']));
  return tf.add(tf.matMul(h as TfCore.Tensor2D, params['out/weights'] as TfCore.Tensor2D), params['out/bias']);
}

/** A loaded predictor: the embedding net's and the MLP's weights as tensors. */
export interface IdentityPredictor {
  tf: Tf;
  embedding: FaceEmbeddingParams;
  net: IdentityNetParams;
  file: IdentityNetFile;
}

/** Tensors of a decoded file (dispose them with disposeParams). */
export function identityNetParams(tf: Tf, file: IdentityNetFile): IdentityNetParams {
  const params: IdentityNetParams = {};
  for (const [name, { shape, values }] of file.tensors) params[name] = tf.tensor(values, shape);
  return params;
}

/**
 * The identity of the face with these 68 landmarks (image pixels) in `image`: its embedding crop
 * (face-embedding.ts), embedded, mapped by the MLP; model.identity.count values (`identityCount`), zero
 * beyond the K predicted.
 */
export function predictIdentityFromEmbedding(
  predictor: IdentityPredictor,
  image: RgbImage,
  landmarks: Float32Array,
  identityCount = predictor.file.identityCount,
): Float32Array {
  const { tf } = predictor;
  const crop = embeddingCrop(image, landmarks);
  const values = tf.tidy(() => {
    const input = tf.tensor4d(crop, [1, EMBEDDING_INPUT, EMBEDDING_INPUT, 3]);
    return identityNetForward(tf, predictor.net, faceEmbeddingForward(tf, predictor.embedding, input)).dataSync();
  });
  const out = new Float32Array(identityCount);
  out.set(values.subarray(0, Math.min(identityCount, values.length)));
  return out;
}

interface Header {
  format: number;
  dtype: 'float16';
  model: string;
  identityCount: number;
  hidden: number;
  outputs: number;
  tensors: Array<{ name: string; shape: number[]; offset: number }>;
  training: Record<string, unknown>;
}

export function encodeIdentityNetFile(file: IdentityNetFile): Uint8Array {
  const entries: Header['tensors'] = [];
  let offset = 0;
  for (const [name, { shape }] of file.tensors) {
    entries.push({ name, shape, offset });
    offset += shape.reduce((a, b) => a * b, 1);
  }
  const header: Header = {
    format: FORMAT,
    dtype: 'float16',
    model: file.model,
    identityCount: file.identityCount,
    hidden: file.hidden,
    outputs: file.outputs,
    tensors: entries,
    training: file.training,
  };
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((8 + json.length) % 4)) % 4);
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
export function decodeIdentityNetFile(bytes: Uint8Array, source: string): IdentityNetFile {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a morphable identity net file (${what})`);
  };
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) fail('no MIDN signature');
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
  const { hidden, outputs, identityCount } = header;
  for (const [key, v] of Object.entries({ hidden, outputs, identityCount })) {
    if (!(Number.isInteger(v) && v > 0)) fail(`${key} ${JSON.stringify(v)}`);
  }
  if (outputs > identityCount) fail(`${outputs} outputs for ${identityCount} identity coefficients`);
  const expected = identityNetShapes(hidden, outputs);
  if (!Array.isArray(header.tensors) || header.tensors.length !== expected.length) {
    fail(`${header.tensors?.length} tensors, expected ${expected.length}`);
  }
  const tensors: IdentityNetFile['tensors'] = new Map();
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
  return { model: header.model, identityCount, hidden, outputs, tensors, training: header.training ?? {} };
}

/**
 * Identity from a face-recognition embedding (Genova et al. 2018): face-api's 128-D embedding of the face
 * (face-embedding.ts) → a small MLP → the leading K identity coefficients of a morphable model (standard
 * units, the model's N(0, I) prior), the rest zero. Trained by src/learn/identity-training.ts on rendered
 * random faces; the weights ship in models/identity-from-embedding.bin.
 *
 * The MLP: x = (e − mean) · scale (per-dimension standardisation of the embedding, measured on the
 * training renders), h = ReLU(x·W1 + b1), α = h·W2 + b2.
 *
 * The weight file: "MIDN", a float16 weights file (weights-file.ts) whose header also holds the model it
 * predicts for, its identity count and the MLP's sizes.
 *
 * Pure TypeScript + tfjs-core ops on a `tf` handed in; no Node APIs.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { MorphableModel } from '../model/morphable-model.js';
import type { RgbImage } from '../render/rgb-image.js';
import {
  EMBEDDING_INPUT,
  EMBEDDING_SIZE,
  embeddingCrop,
  type FaceEmbeddingParams,
  faceEmbeddingForward,
} from './face-embedding.js';
import type { Tf } from './landmark-net.js';
import { decodeWeights, encodeWeights, type Tensors } from './weights-file.js';

const MAGIC = 'MIDN';

export interface IdentityNetFile {
  /** The model the coefficients belong to (its name) and its identity count. */
  model: string;
  identityCount: number;
  /** Hidden units and predicted coefficients K. */
  hidden: number;
  outputs: number;
  /** Parameters by name, float32, in identityNetShapes order. */
  tensors: Tensors;
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

/** The names of ICT-FaceKit's regions as the importer makes them (io/importers/ict-facekit.ts ictModelName). */
const ICT_FACEKIT_REGION = /^ICT-FaceKit( \((face|face and head)\))?$/;

/**
 * Whether the net predicts `model`'s identities: it was trained for a model of its name and identity count, or
 * for another region of ICT-FaceKit with as many modes (every region is cut from the same identity modes, so
 * one coefficient vector is one face in all of them; test/ict.test.ts compares them).
 */
export function identityNetMatches(file: IdentityNetFile, model: MorphableModel): boolean {
  const family = (name: string) => (ICT_FACEKIT_REGION.test(name) ? 'ICT-FaceKit' : name);
  return family(file.model) === family(model.name) && file.identityCount === model.identity.count;
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

export function encodeIdentityNetFile(file: IdentityNetFile): Uint8Array {
  const { model, identityCount, hidden, outputs } = file;
  return encodeWeights(MAGIC, { model, identityCount, hidden, outputs }, file.tensors, file.training);
}

/** Throws an Error naming the problem; `source` (a file name or URL) goes into the message. */
export function decodeIdentityNetFile(bytes: Uint8Array, source: string): IdentityNetFile {
  const { header, tensors, training } = decodeWeights(bytes, source, MAGIC, 'identity net', (h) => {
    const { hidden, outputs, identityCount } = h;
    for (const [key, v] of Object.entries({ hidden, outputs, identityCount })) {
      if (!(Number.isInteger(v) && (v as number) > 0)) throw new Error(`${key} ${JSON.stringify(v)}`);
    }
    if ((outputs as number) > (identityCount as number)) {
      throw new Error(`${outputs} outputs for ${identityCount} identity coefficients`);
    }
    return identityNetShapes(hidden as number, outputs as number);
  });
  return {
    model: String(header.model),
    identityCount: header.identityCount as number,
    hidden: header.hidden as number,
    outputs: header.outputs as number,
    tensors,
    training,
  };
}

/**
 * Training of the identity-from-embedding MLP (detect/identity-from-embedding.ts) without any 3D scans, by
 * loopback on rendered random faces (Genova et al. 2018): random identities α ~ N(0, I) are rendered in
 * several near-frontal views each (learn/identity-data.ts), each view is embedded by face-api's recognition
 * net, and the MLP learns embedding → the leading K coefficients with
 * - the loopback loss: the mean squared vertex distance ‖B(α̂ − α)‖² / V over a subset of the face region's
 *   vertices, in mm² (3DDFA's VDC on the identity part);
 * - Genova's batch-distribution loss: ‖mean(α̂)‖² / K + ‖cov(α̂) − I‖²_F / K² over each batch, so that the
 *   predictions keep the prior's spread instead of shrinking to the mean face.
 * Adam (adam.ts), a seeded initialisation and sample order; the identities are split into training and
 * held-out ones (no identity on both sides), and the held-out views measure the result.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import { loadFaceApiWeights } from '../detect/face-api-detector.js';
import { EMBEDDING_SIZE, type FaceEmbeddingParams } from '../detect/face-embedding.js';
import {
  decodeIdentityNetFile,
  encodeIdentityNetFile,
  type IdentityNetFile,
  type IdentityNetParams,
  identityNetForward,
  identityNetParams,
  identityNetShapes,
} from '../detect/identity-from-embedding.js';
import type { Tf } from '../detect/landmark-net.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { faceApiInNode } from '../io/node/face-landmarker.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import type { RgbImage } from '../render/rgb-image.js';
import { SeededRandom } from '../model/random.js';
import { Adam } from './adam.js';
import { embedFaces, type IdentityView, IdentityViewRenderer } from './identity-data.js';
import { IdentityTransfer } from './identity-transfer.js';
import { loadLandmarkDataset } from './landmark-dataset.js';
import { photoTextures } from './synthetic-faces.js';
import { trainingTf } from './tf-node.js';
import { DEFAULT_IDENTITY_TRAINING, type IdentityTrainingSettings } from './identity-training-settings.js';

export { DEFAULT_IDENTITY_TRAINING, type IdentityTrainingSettings } from './identity-training-settings.js';

/** Share of the skin and background photos kept for the held-out identities. */
const HELD_OUT_PHOTOS = 0.1;

/**
 * The photos of a dataset that give skins and backgrounds (a seeded shuffle; `photos` of each kind), each
 * kind split into those of the training identities and those of the held-out ones (HELD_OUT_PHOTOS).
 */
export function identityPhotoSplit<T>(faces: readonly T[], seed: number, photos: number) {
  const shuffled = [...faces];
  const pick = new SeededRandom(seed ^ 0xface);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(pick.uniform() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const n = Math.min(photos, Math.floor(shuffled.length / 2));
  const held = Math.max(1, Math.round(n * HELD_OUT_PHOTOS));
  return {
    skins: { train: shuffled.slice(held, n), heldOut: shuffled.slice(0, held) },
    backgrounds: { train: shuffled.slice(n + held, 2 * n), heldOut: shuffled.slice(n, n + held) },
  };
}

/** Every vertex of the face region with this stride enters the loopback loss. */
const LOSS_VERTEX_STRIDE = 8;

/** Rendered, embedded views of random identities. */
export interface IdentityData {
  /** Identity coefficients, identities × model.identity.count. */
  identities: Float32Array;
  identityCount: number;
  /** Per view: embedding (128 each), which identity, pose (degrees). */
  embeddings: Float32Array;
  viewIdentity: Int32Array;
  yaw: Float32Array;
  renderSeconds: number;
  embedSeconds: number;
}

/**
 * The label of a rendered identity when the rendered model is not the trained one: `count` coefficients of
 * the trained model (e.g. IdentityTransfer's fit of the rendered face, the rest 0) from the rendered model's.
 */
export interface IdentityLabel {
  count: number;
  of: (identity: Float32Array, out: Float32Array) => void;
}

/**
 * Renders `views` views of each of `identities` random identities (α ~ N(0, I), all modes) and embeds them;
 * everything random comes from `seed`. `renderer` is one renderer or one per identity (e.g. held-out
 * identities with skins and backgrounds training never sees). Each identity's label is its coefficients, or
 * `label`'s.
 */
export function makeIdentityData(
  tf: Tf,
  embedding: FaceEmbeddingParams,
  renderer: IdentityViewRenderer | ((identity: number) => IdentityViewRenderer),
  identities: number,
  views: number,
  seed: number,
  onProgress?: (done: number, total: number) => void,
  label?: IdentityLabel,
): IdentityData {
  const rendererOf = typeof renderer === 'function' ? renderer : () => renderer;
  const { model } = rendererOf(0);
  const drawn = model.identity.count;
  const count = label?.count ?? drawn;
  const random = new SeededRandom(seed);
  const alpha = new Float32Array(identities * count);
  const identity = new Float32Array(drawn);
  const n = identities * views;
  const embeddings = new Float32Array(n * EMBEDDING_SIZE);
  const viewIdentity = new Int32Array(n);
  const yaw = new Float32Array(n);
  let renderSeconds = 0,
    embedSeconds = 0;
  const chunk: IdentityView[] = [];
  let embedded = 0;
  const flush = () => {
    const t = performance.now();
    embedFaces(tf, embedding, chunk, embeddings.subarray(embedded * EMBEDDING_SIZE));
    embedSeconds += (performance.now() - t) / 1000;
    embedded += chunk.length;
    chunk.length = 0;
    onProgress?.(embedded, n);
  };
  for (let i = 0; i < identities; i++) {
    for (let k = 0; k < drawn; k++) identity[k] = random.normal();
    if (label) label.of(identity, alpha.subarray(i * count, (i + 1) * count));
    else alpha.set(identity, i * count);
    for (let v = 0; v < views; v++) {
      const t = performance.now();
      const view = rendererOf(i).render(identity, random);
      // The renderer reuses its image: keep a copy until the chunk is embedded.
      chunk.push({ ...view, image: { ...view.image, data: view.image.data.slice() } });
      renderSeconds += (performance.now() - t) / 1000;
      viewIdentity[i * views + v] = i;
      yaw[i * views + v] = view.yaw;
      if (chunk.length === 32) flush();
    }
  }
  if (chunk.length > 0) flush();
  return { identities: alpha, identityCount: count, embeddings, viewIdentity, yaw, renderSeconds, embedSeconds };
}

/** Two sets of views as one (labels of the same model): `b`'s identities numbered after `a`'s. */
export function concatIdentityData(a: IdentityData, b: IdentityData): IdentityData {
  if (a.identityCount !== b.identityCount) throw new RangeError('identity data with different label sizes');
  const identities = a.identities.length / a.identityCount;
  const viewIdentity = new Int32Array(a.viewIdentity.length + b.viewIdentity.length);
  viewIdentity.set(a.viewIdentity);
  for (let i = 0; i < b.viewIdentity.length; i++)
    viewIdentity[a.viewIdentity.length + i] = identities + b.viewIdentity[i];
  const join = (x: Float32Array, y: Float32Array) => {
    const out = new Float32Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    identities: join(a.identities, b.identities),
    identityCount: a.identityCount,
    embeddings: join(a.embeddings, b.embeddings),
    viewIdentity,
    yaw: join(a.yaw, b.yaw),
    renderSeconds: a.renderSeconds + b.renderSeconds,
    embedSeconds: a.embedSeconds + b.embedSeconds,
  };
}

/** Identities split by a seeded shuffle: the first `heldOut` share held out. */
export function splitIdentities(identities: number, heldOut: number, seed: number) {
  const order = Int32Array.from({ length: identities }, (_, i) => i);
  const random = new SeededRandom(seed ^ 0x5eed);
  for (let i = identities - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = Math.max(1, Math.round(heldOut * identities));
  const isHeld = new Uint8Array(identities);
  for (let i = 0; i < held; i++) isHeld[order[i]] = 1;
  return { isHeld };
}

/** The identity basis at every LOSS_VERTEX_STRIDE-th face-region vertex: [K, 3V] row-major. */
function lossBasis(model: MorphableModel, outputs: number): { values: Float32Array; vertices: number } {
  const region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
  const vertices = Math.ceil(region.length / LOSS_VERTEX_STRIDE);
  const n3 = model.mean.length;
  const values = new Float32Array(outputs * 3 * vertices);
  for (let k = 0; k < outputs; k++) {
    for (let j = 0; j < vertices; j++) {
      const v = region[j * LOSS_VERTEX_STRIDE];
      for (let c = 0; c < 3; c++) values[k * 3 * vertices + 3 * j + c] = model.identity.basis[k * n3 + 3 * v + c];
    }
  }
  return { values, vertices };
}

export interface EpochReport {
  epoch: number;
  loopback: number;
  distribution: number;
  seconds: number;
}

/**
 * Trains the MLP on the views whose identity is not held out; returns its parameters as float32 arrays
 * (identityNetShapes order).
 */
export function trainIdentityMlp(
  tf: Tf,
  model: MorphableModel,
  data: IdentityData,
  isHeld: Uint8Array,
  settings: IdentityTrainingSettings,
  onEpoch?: (report: EpochReport) => void,
): Map<string, { shape: number[]; values: Float32Array }> {
  const { outputs: K, hidden: H } = settings;
  if (K > model.identity.count) throw new RangeError(`${K} outputs, the model has ${model.identity.count} modes`);
  const train: number[] = [];
  for (let i = 0; i < data.viewIdentity.length; i++) if (!isHeld[data.viewIdentity[i]]) train.push(i);
  // A small run (a quick trial) trains on batches of all its views.
  const batchSize = Math.min(settings.batchSize, train.length);

  // Standardisation of the embedding, from the training views.
  const mean = new Float32Array(EMBEDDING_SIZE);
  const scale = new Float32Array(EMBEDDING_SIZE);
  for (const i of train) for (let d = 0; d < EMBEDDING_SIZE; d++) mean[d] += data.embeddings[i * EMBEDDING_SIZE + d];
  for (let d = 0; d < EMBEDDING_SIZE; d++) mean[d] /= train.length;
  for (const i of train) {
    for (let d = 0; d < EMBEDDING_SIZE; d++) scale[d] += (data.embeddings[i * EMBEDDING_SIZE + d] - mean[d]) ** 2;
  }
  for (let d = 0; d < EMBEDDING_SIZE; d++) scale[d] = 1 / Math.sqrt(scale[d] / train.length + 1e-12);

  const random = new SeededRandom(settings.seed);
  const init = (rows: number, cols: number, gain: number) =>
    Float32Array.from({ length: rows * cols }, () => gain * Math.sqrt(2 / rows) * random.normal());
  const shapes = identityNetShapes(H, K);
  const initial: Record<string, Float32Array> = {
    'input/mean': mean,
    'input/scale': scale,
    'hidden/weights': init(EMBEDDING_SIZE, H, 1),
    'hidden/bias': new Float32Array(H),
    'out/weights': init(H, K, 0.5),
    'out/bias': new Float32Array(K),
  };
  const vars = new Map<string, TfCore.Variable>();
  for (const [name, shape] of shapes) {
    const trainable = !name.startsWith('input/');
    vars.set(name, tf.variable(tf.tensor(initial[name], shape), trainable, `identity-net/${name}`));
  }
  const params = Object.fromEntries(vars) as IdentityNetParams;
  const trainables = [...vars.entries()].filter(([n]) => !n.startsWith('input/')).map(([, v]) => v);
  const adam = new Adam(tf, trainables);
  const basis = lossBasis(model, K);
  const B = tf.tensor2d(basis.values, [K, 3 * basis.vertices]);
  const eye = tf.eye(K);
  const count = data.identityCount;
  const xs = new Float32Array(batchSize * EMBEDDING_SIZE);
  const ys = new Float32Array(batchSize * K);
  const order = Int32Array.from(train);
  const steps = Math.floor(train.length / batchSize);
  const totalSteps = steps * settings.epochs;
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      const started = performance.now();
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      let loopbackSum = 0,
        distributionSum = 0;
      for (let s = 0; s < steps; s++) {
        for (let b = 0; b < batchSize; b++) {
          const view = order[s * batchSize + b];
          xs.set(data.embeddings.subarray(view * EMBEDDING_SIZE, (view + 1) * EMBEDDING_SIZE), b * EMBEDDING_SIZE);
          const id = data.viewIdentity[view];
          ys.set(data.identities.subarray(id * count, id * count + K), b * K);
        }
        const progress = (epoch * steps + s) / totalSteps;
        const lr = settings.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
        const x = tf.tensor2d(xs, [batchSize, EMBEDDING_SIZE]);
        const y = tf.tensor2d(ys, [batchSize, K]);
        let parts: number[] = [];
        adam.minimize(() => {
          const pred = identityNetForward(tf, params, x);
          const { loopback, distribution } = losses(tf, pred, y, B, eye, basis.vertices);
          parts = [loopback.dataSync()[0], distribution.dataSync()[0]];
          const decay = tf.add(tf.sum(tf.square(params['hidden/weights'])), tf.sum(tf.square(params['out/weights'])));
          return tf.addN([
            loopback,
            tf.mul(distribution, settings.distributionWeight),
            tf.mul(decay, settings.weightDecay),
          ]) as TfCore.Scalar;
        }, lr);
        loopbackSum += parts[0];
        distributionSum += parts[1];
        x.dispose();
        y.dispose();
      }
      onEpoch?.({
        epoch: epoch + 1,
        loopback: loopbackSum / steps,
        distribution: distributionSum / steps,
        seconds: (performance.now() - started) / 1000,
      });
    }
    const out = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const [name, shape] of shapes) out.set(name, { shape, values: vars.get(name)!.dataSync() as Float32Array });
    return out;
  } finally {
    adam.dispose();
    for (const v of vars.values()) v.dispose();
    B.dispose();
    eye.dispose();
  }
}

/** Loopback (mean squared vertex distance, mm²) and batch-distribution losses of a batch. */
function losses(
  tf: Tf,
  pred: TfCore.Tensor2D,
  truth: TfCore.Tensor2D,
  B: TfCore.Tensor2D,
  eye: TfCore.Tensor,
  V: number,
) {
  const [n, K] = pred.shape;
  const offsets = tf.matMul(tf.sub(pred, truth), B);
  const loopback = tf.div(tf.sum(tf.square(offsets)), n * V) as TfCore.Scalar;
  const mu = tf.mean(pred, 0);
  const centred = tf.sub(pred, mu);
  const cov = tf.div(tf.matMul(centred, centred, true, false), n - 1);
  const distribution = tf.add(
    tf.div(tf.sum(tf.square(mu)), K),
    tf.div(tf.sum(tf.square(tf.sub(cov, eye))), K * K),
  ) as TfCore.Scalar;
  return { loopback, distribution };
}

/** What the held-out views say about a net. Distances in mm over the face region (RMS over its vertices). */
export interface IdentityEvaluation {
  views: number;
  identities: number;
  /** Mean over views of the RMS distance of the predicted face to the true one, and of the mean face's. */
  predictedRmsMm: number;
  meanFaceRmsMm: number;
  /** predictedRmsMm / meanFaceRmsMm, and the median over views of the per-view ratio. */
  ratio: number;
  medianRatio: number;
  /** The best any K-coefficient prediction can do: the truth truncated to K modes. */
  truncatedRmsMm: number;
  /** Mean RMS distance between a view's predicted face and the mean of its identity's predictions. */
  viewSpreadRmsMm: number;
  /** Mean RMS distance between the mean predictions of two different identities (random pairs). */
  betweenIdentityRmsMm: number;
}

/** Face-region RMS (mm) of the shape offset Σ_k d_k B_k (d: model.identity.count values, zeros allowed). */
export function identityOffsetRms(model: MorphableModel, d: ArrayLike<number>, scratch: Float32Array): number {
  const region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
  const n3 = model.mean.length;
  scratch.fill(0);
  for (let k = 0; k < model.identity.count; k++) {
    const c = d[k];
    if (c === 0) continue;
    const b = model.identity.basis;
    const o = k * n3;
    for (let i = 0; i < n3; i++) scratch[i] += c * b[o + i];
  }
  let sum = 0;
  for (let j = 0; j < region.length; j++) {
    const p = 3 * region[j];
    sum += scratch[p] ** 2 + scratch[p + 1] ** 2 + scratch[p + 2] ** 2;
  }
  return Math.sqrt(sum / region.length);
}

/** Predictions of the net for `embeddings` (n × 128) → n × K. */
export function predictIdentities(tf: Tf, net: IdentityNetParams, embeddings: Float32Array): Float32Array {
  const n = embeddings.length / EMBEDDING_SIZE;
  return tf.tidy(() =>
    identityNetForward(tf, net, tf.tensor2d(embeddings, [n, EMBEDDING_SIZE])).dataSync(),
  ) as Float32Array;
}

export function evaluateIdentityNet(
  tf: Tf,
  model: MorphableModel,
  net: IdentityNetParams,
  data: IdentityData,
  isHeld: Uint8Array,
): IdentityEvaluation {
  const count = data.identityCount;
  const views: number[] = [];
  for (let i = 0; i < data.viewIdentity.length; i++) if (isHeld[data.viewIdentity[i]]) views.push(i);
  const embeddings = new Float32Array(views.length * EMBEDDING_SIZE);
  views.forEach((v, j) =>
    embeddings.set(data.embeddings.subarray(v * EMBEDDING_SIZE, (v + 1) * EMBEDDING_SIZE), j * EMBEDDING_SIZE),
  );
  const pred = predictIdentities(tf, net, embeddings);
  const K = pred.length / views.length;
  const scratch = new Float32Array(model.mean.length);
  const d = new Float32Array(count);
  let predicted = 0,
    meanFace = 0,
    truncated = 0;
  const ratios: number[] = [];
  const byIdentity = new Map<number, number[]>();
  views.forEach((v, j) => {
    const id = data.viewIdentity[v];
    const truth = data.identities.subarray(id * count, (id + 1) * count);
    for (let k = 0; k < count; k++) d[k] = (k < K ? pred[j * K + k] : 0) - truth[k];
    const e = identityOffsetRms(model, d, scratch);
    const m = identityOffsetRms(model, truth, scratch);
    for (let k = 0; k < count; k++) d[k] = k < K ? 0 : truth[k];
    truncated += identityOffsetRms(model, d, scratch);
    predicted += e;
    meanFace += m;
    ratios.push(e / m);
    byIdentity.set(id, [...(byIdentity.get(id) ?? []), j]);
  });
  // Consistency across views of one identity.
  const ids = [...byIdentity.keys()];
  const centres = new Map<number, Float32Array>();
  let spread = 0,
    spreadCount = 0;
  for (const id of ids) {
    const members = byIdentity.get(id)!;
    const centre = new Float32Array(count);
    for (const j of members) for (let k = 0; k < K; k++) centre[k] += pred[j * K + k] / members.length;
    centres.set(id, centre);
    for (const j of members) {
      for (let k = 0; k < count; k++) d[k] = k < K ? pred[j * K + k] - centre[k] : 0;
      spread += identityOffsetRms(model, d, scratch);
      spreadCount++;
    }
  }
  let between = 0;
  for (let i = 0; i < ids.length; i++) {
    const a = centres.get(ids[i])!,
      b = centres.get(ids[(i + 1) % ids.length])!;
    for (let k = 0; k < count; k++) d[k] = a[k] - b[k];
    between += identityOffsetRms(model, d, scratch);
  }
  ratios.sort((a, b) => a - b);
  const n = views.length;
  return {
    views: n,
    identities: ids.length,
    predictedRmsMm: predicted / n,
    meanFaceRmsMm: meanFace / n,
    ratio: predicted / meanFace,
    medianRatio: ratios[Math.floor(n / 2)],
    truncatedRmsMm: truncated / n,
    viewSpreadRmsMm: spread / spreadCount,
    betweenIdentityRmsMm: between / ids.length,
  };
}

/** face-api's recognition net weights, as tensors of `tf`. */
export async function faceApiEmbeddingParams(): Promise<FaceEmbeddingParams> {
  const { faceapi, readModelFile } = faceApiInNode();
  return (await loadFaceApiWeights(faceapi, readModelFile, 'face_recognition_model')) as unknown as FaceEmbeddingParams;
}

export interface TrainIdentityNetOptions extends Partial<IdentityTrainingSettings> {
  model: MorphableModel;
  /**
   * A second model whose random faces are rendered and embedded too (`otherIdentities` of them), each labelled
   * with the identity of `model` that fits it best (IdentityTransfer): faces `model` cannot make exactly.
   */
  otherModel?: MorphableModel;
  /** A train-300w-like folder: skin textures and backgrounds from its photos (null: flat skin, grey). */
  dataDir: string | null;
  outFile: string;
  command?: string;
  onStage?: (stage: string) => void;
  onProgress?: (done: number, total: number) => void;
  onEpoch?: (report: EpochReport) => void;
}

export interface TrainIdentityNetResult {
  file: IdentityNetFile;
  evaluation: IdentityEvaluation;
  /** On the second model's held-out faces, against their labels. */
  otherEvaluation?: IdentityEvaluation;
  data: { views: number; identities: number; renderSeconds: number; embedSeconds: number; textureSeconds: number };
  trainSeconds: number;
  seconds: number;
}

/** A whole run: skins, renders, embeddings, training, held-out evaluation, the weight file. */
export async function trainIdentityNet(options: TrainIdentityNetOptions): Promise<TrainIdentityNetResult> {
  const started = performance.now();
  const settings: IdentityTrainingSettings = { ...DEFAULT_IDENTITY_TRAINING };
  for (const key of Object.keys(settings) as Array<keyof IdentityTrainingSettings>) {
    if (options[key] !== undefined) settings[key] = options[key] as number;
  }
  const { model } = options;
  if (settings.outputs > model.identity.count) {
    throw new InputError('--outputs', `must be at most the model's ${model.identity.count} identity modes`);
  }
  const tf = await trainingTf();
  const faceRegion = (m: MorphableModel) => m.regions.face ?? Uint32Array.from({ length: m.vertexCount }, (_, i) => i);
  const region = faceRegion(model);
  const { otherModel } = options;
  let skins: { train: Float32Array[]; heldOut: Float32Array[] } | null = null;
  let otherSkins: { train: Float32Array[]; heldOut: Float32Array[] } | null = null;
  let backgrounds: { train: RgbImage[]; heldOut: RgbImage[] } | null = null;
  let textureSeconds = 0;
  let dataHash: string | null = null;
  if (options.dataDir !== null) {
    const t = performance.now();
    const dataset = await loadLandmarkDataset(options.dataDir);
    options.onStage?.('skin textures');
    dataHash = dataset.manifestHash;
    const split = identityPhotoSplit(dataset.faces, settings.seed, settings.photos);
    skins = {
      train: photoTextures(model, split.skins.train, region).textures,
      heldOut: photoTextures(model, split.skins.heldOut, region).textures,
    };
    if (otherModel) {
      otherSkins = {
        train: photoTextures(otherModel, split.skins.train, faceRegion(otherModel)).textures,
        heldOut: photoTextures(otherModel, split.skins.heldOut, faceRegion(otherModel)).textures,
      };
    }
    backgrounds = {
      train: split.backgrounds.train.map((f) => f.image),
      heldOut: split.backgrounds.heldOut.map((f) => f.image),
    };
    textureSeconds = (performance.now() - t) / 1000;
  }
  const embedding = await faceApiEmbeddingParams();
  try {
    options.onStage?.('rendering and embedding faces');
    const { isHeld } = splitIdentities(settings.identities, settings.heldOut, settings.seed);
    const trainRenderer = new IdentityViewRenderer(model, skins?.train ?? null, backgrounds?.train ?? null);
    const heldRenderer = new IdentityViewRenderer(model, skins?.heldOut ?? null, backgrounds?.heldOut ?? null);
    const renderer = (identity: number) => (isHeld[identity] ? heldRenderer : trainRenderer);
    const otherViews = otherModel ? settings.otherIdentities * settings.views : 0;
    const total = settings.identities * settings.views + otherViews;
    let data = makeIdentityData(tf, embedding, renderer, settings.identities, settings.views, settings.seed, (done) =>
      options.onProgress?.(done, total),
    );
    let isHeldAll = isHeld;
    let otherHeld: Uint8Array | null = null;
    if (otherModel) {
      const other = splitIdentities(settings.otherIdentities, settings.heldOut, settings.seed + 1);
      const train = new IdentityViewRenderer(otherModel, otherSkins?.train ?? null, backgrounds?.train ?? null);
      const held = new IdentityViewRenderer(otherModel, otherSkins?.heldOut ?? null, backgrounds?.heldOut ?? null);
      const transfer = new IdentityTransfer(model, otherModel, { count: settings.outputs });
      const shape = new Float32Array(otherModel.mean.length);
      const otherData = makeIdentityData(
        tf,
        embedding,
        (identity) => (other.isHeld[identity] ? held : train),
        settings.otherIdentities,
        settings.views,
        settings.seed + 1,
        (done) => options.onProgress?.(data.viewIdentity.length + done, total),
        {
          count: model.identity.count,
          of: (identity, out) => {
            out.fill(0);
            transfer.apply(evaluateShape(otherModel, identity, [], shape), out.subarray(0, transfer.count));
          },
        },
      );
      isHeldAll = new Uint8Array(isHeld.length + other.isHeld.length);
      isHeldAll.set(isHeld);
      isHeldAll.set(other.isHeld, isHeld.length);
      otherHeld = new Uint8Array(isHeldAll.length);
      otherHeld.set(other.isHeld, isHeld.length);
      data = concatIdentityData(data, otherData);
    }
    options.onStage?.('training');
    const t = performance.now();
    const tensors = trainIdentityMlp(tf, model, data, isHeldAll, settings, options.onEpoch);
    const trainSeconds = (performance.now() - t) / 1000;
    const file: IdentityNetFile = {
      model: model.name,
      identityCount: model.identity.count,
      hidden: settings.hidden,
      outputs: settings.outputs,
      tensors,
      training: {},
    };
    // Evaluate the float16 weights that ship, not the float32 ones trained.
    const shipped = decodeIdentityNetFile(encodeIdentityNetFile(file), options.outFile);
    const net = identityNetParams(tf, shipped);
    const evaluation = evaluateIdentityNet(tf, model, net, data, isHeld);
    const otherEvaluation = otherHeld ? evaluateIdentityNet(tf, model, net, data, otherHeld) : undefined;
    for (const t of Object.values(net)) t.dispose();
    const seconds = (performance.now() - started) / 1000;
    const heldIdentities = isHeld.reduce((a, b) => a + b, 0);
    file.training = {
      command: options.command ?? null,
      seed: settings.seed,
      settings,
      data: {
        description:
          `${settings.identities} random identities α ~ N(0, I) of ${model.name} (all ${model.identity.count} modes), `
          + `${settings.views} views each: |yaw| ≤ 30°, |pitch|, |roll| ≤ 10°, up to 2 expressions ≤ 0.4, random SH `
          + 'light; face region rendered by render/synthetic-face.ts over a background, '
          + (skins && backgrounds
            ? `skin from ${skins.train.length} + ${skins.heldOut.length} train-300w photos and backgrounds from `
              + `${backgrounds.train.length} + ${backgrounds.heldOut.length} others (training + held-out `
              + 'identities, none shared)'
            : 'flat skin tone over grey gradients')
          + "; embedded by face-api's face_recognition_model on the dlib-style crop from the exact landmarks"
          + (otherModel
            ? `; and ${settings.otherIdentities} random identities of ${otherModel.name}, rendered and embedded the `
              + `same way (their own skins from the same photos), each labelled with the ${settings.outputs} leading `
              + `identity coefficients of ${model.name} that fit its face best (learn/identity-transfer.ts)`
            : ''),
        trainIdentities: settings.identities - heldIdentities,
        heldOutIdentities: heldIdentities,
        manifestSha256: dataHash,
        renderSeconds: Math.round(data.renderSeconds),
        embedSeconds: Math.round(data.embedSeconds),
        textureSeconds: Math.round(textureSeconds),
      },
      heldOut: roundAll(evaluation),
      ...(otherEvaluation ? { heldOutOtherModel: roundAll(otherEvaluation) } : {}),
      trainingSeconds: Math.round(trainSeconds),
      totalSeconds: Math.round(seconds),
      embeddingNet: 'face-api 1.7.15 face_recognition_model (MIT), unchanged',
      licence: skins ? 'skin textures from 300-W photos: research use only (see the 300-W terms)' : 'MIT',
    };
    shipped.training = file.training;
    await mkdir(dirname(options.outFile), { recursive: true });
    await writeFileAtomic(options.outFile, encodeIdentityNetFile(file));
    return {
      file,
      evaluation,
      otherEvaluation,
      data: {
        views: data.viewIdentity.length,
        identities: settings.identities + (otherModel ? settings.otherIdentities : 0),
        renderSeconds: data.renderSeconds,
        embedSeconds: data.embedSeconds,
        textureSeconds,
      },
      trainSeconds,
      seconds,
    };
  } finally {
    for (const t of Object.values(embedding)) t.dispose();
  }
}

function roundAll<T extends object>(o: T): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round((v as number) * 1000) / 1000]));
}

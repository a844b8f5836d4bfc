/**
 * A nonlinear decoder of face albedo (issue 18, item 3), trained as an auto-decoder (Park et al. 2019,
 * DeepSDF): every training face gets a latent code of k values, learned jointly with the decoder
 * (model/mlp-decoder.ts: k → tanh hidden layers → d outputs), by Adam on
 *
 *   Σ_faces Σ_j w_j (decoded_j − x_j)² / s² / W̄  +  λ Σ_faces ‖z‖²,   λ = noise / W̄,
 *
 * (s: the data's spread, W̄: the average sum of weights per face, `noise`: the per-entry noise variance in
 * units of s², as projectWeighted's ridge) — the MAP estimate under a N(0, I) latent prior, so that missing
 * entries (weight 0) are handled as the weighted PCA handles them. A held-out face's latent is fitted the same
 * way with the decoder fixed (fitLatents). The network is an architecture's (DecoderArchitecture): the MLP by
 * default (mlpArchitecture), or another, e.g. the UV-space convolutional one (uv-conv-network.ts). The data need
 * not be albedo: the joint shape + texture decoder trains on rows [identity coefficients; albedo] with their own
 * weights.
 *
 * The latents may start from given values (e.g. the weighted PCA's σ-unit coefficients of the same k): only
 * where to start, they are learned. Node (tfjs on the wasm backend, single-threaded); everything is seeded.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../detect/landmark-net.js';
import type { DecoderLayer, MlpDecoder } from '../model/mlp-decoder.js';
import { SeededRandom } from '../model/random.js';
import { Adam } from './adam.js';

/** A decoder network in tfjs: latents (m × k) → outputs (m × d) before the output scale (normalised units). */
export interface DecoderNetwork {
  /** Trainable variables (none for a trained decoder's fixed network). */
  variables: TfCore.Variable[];
  forward(z: TfCore.Tensor2D): TfCore.Tensor2D;
  dispose(): void;
}

/** What every trained decoder has: its latent size and per-entry output offset and scale (data units). */
export interface LatentDecoder {
  latent: number;
  offset: Float32Array;
  scale: Float32Array;
}

/**
 * A trained layer's weights copied out of tfjs (its variables live on): the layer of a pure-TS decoder
 * (model/mlp-decoder.ts, uv-conv-decoder.ts, mesh-conv-decoder.ts all store inputs, outputs, weight, bias).
 */
export function exportLayer(layer: { w: TfCore.Variable; b: TfCore.Variable }, inputs: number): DecoderLayer {
  return {
    inputs,
    outputs: layer.b.shape[0],
    weight: Float32Array.from(layer.w.dataSync() as Float32Array),
    bias: Float32Array.from(layer.b.dataSync() as Float32Array),
  };
}

/** A kind of decoder network: fresh (to train) and fixed (a trained one's, to fit latents with). */
export interface DecoderArchitecture<D extends LatentDecoder> {
  /** A network of latent size k and d outputs, its weights drawn from `random`; `export` reads them out. */
  create(
    tf: Tf,
    k: number,
    d: number,
    random: SeededRandom,
  ): DecoderNetwork & { export(offset: Float32Array, scale: Float32Array): D };
  fixed(tf: Tf, decoder: D): DecoderNetwork;
}

export interface AutoDecoderOptions<D extends LatentDecoder = MlpDecoder> {
  /** Latent size k. */
  latent: number;
  /** The network (default: the MLP of `hidden`). */
  architecture?: DecoderArchitecture<D>;
  /** The MLP's hidden layer widths (default [128, 256]), when no architecture is given. */
  hidden?: number[];
  /** Passes over the training faces (default 300). */
  epochs?: number;
  /** Faces per step (default 32). */
  batch?: number;
  /** Adam's learning rate (default 1e-3), decayed by cosine to 5 % at the end. */
  learningRate?: number;
  /** Latents learn this much faster than the decoder (default 10). */
  latentRateFactor?: number;
  /** Per-entry noise variance in units of the data's variance: the weight of the latent prior (default 0.01). */
  noise?: number;
  /**
   * Fixed per-entry multipliers of the last layer's output (d values, default 1): for entries whose spread is
   * far from the data's overall one (identity coefficients beside albedo), so that the net's outputs stay
   * near unit size; the loss is unchanged (data units).
   */
  outputScale?: Float32Array;
  /** Initial latents (n × k); default N(0, 0.01²). */
  initialLatents?: Float32Array;
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface TrainedAutoDecoder<D extends LatentDecoder = MlpDecoder> {
  decoder: D;
  architecture: DecoderArchitecture<D>;
  /** The training faces' learned latents, n × k. */
  latents: Float32Array;
  /** The options' noise, kept for fitting held-out faces with the same prior. */
  noise: number;
  /** Average weight sum per training face (W̄). */
  weightPerFace: number;
  /** The data's overall spread s (the loss's unit). */
  dataScale: number;
  finalLoss: number;
  seconds: number;
}

/** Weighted mean per entry and one spread for all (weighted RMS about that mean), of n rows of d. */
export function normalisation(
  data: Float32Array,
  weights: Float32Array,
  n: number,
  d: number,
): { offset: Float32Array; scale: number; weightPerFace: number } {
  const sum = new Float64Array(d);
  const wsum = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const w = weights[i * d + j];
      if (w === 0) continue;
      sum[j] += w * data[i * d + j];
      wsum[j] += w;
    }
  }
  const offset = new Float32Array(d);
  for (let j = 0; j < d; j++) offset[j] = wsum[j] > 0 ? sum[j] / wsum[j] : 0;
  let sq = 0,
    total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const w = weights[i * d + j];
      if (w === 0) continue;
      const e = data[i * d + j] - offset[j];
      sq += w * e * e;
      total += w;
    }
  }
  const scale = total > 0 && sq > 0 ? Math.sqrt(sq / total) : 1;
  return { offset, scale, weightPerFace: total / n };
}

/** Targets in normalised units ((x − offset) / scale; 0 where unseen). */
function normalised(
  data: Float32Array,
  weights: Float32Array,
  n: number,
  d: number,
  offset: Float32Array,
  scale: number,
) {
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const o = i * d + j;
      y[o] = weights[o] === 0 ? 0 : (data[o] - offset[j]) / scale;
    }
  }
  return y;
}

/** The MLP of model/mlp-decoder.ts: k → tanh hidden layers → d, Glorot-initialised. */
export function mlpArchitecture(hidden: number[] = [128, 256]): DecoderArchitecture<MlpDecoder> {
  const network = (tf: Tf, layers: { w: TfCore.Tensor2D; b: TfCore.Tensor1D }[]) => ({
    forward(z: TfCore.Tensor2D): TfCore.Tensor2D {
      let h = z;
      for (let l = 0; l < layers.length; l++) {
        const a = tf.add(tf.matMul(h, layers[l].w), layers[l].b) as TfCore.Tensor2D;
        h = l < layers.length - 1 ? tf.tanh(a) : a;
      }
      return h;
    },
    dispose() {
      for (const l of layers) tf.dispose([l.w, l.b]);
    },
  });
  return {
    create(tf, k, d, random) {
      const sizes = [k, ...hidden, d];
      const layers = sizes.slice(1).map((outputs, l) => {
        const inputs = sizes[l];
        const std = Math.sqrt(2 / (inputs + outputs)); // Glorot
        const w = Float32Array.from({ length: inputs * outputs }, () => std * random.normal());
        return {
          w: tf.variable(tf.tensor2d(w, [inputs, outputs]), true, `decoder-w${l}`) as TfCore.Variable<TfCore.Rank.R2>,
          b: tf.variable(tf.zeros([outputs]), true, `decoder-b${l}`) as TfCore.Variable<TfCore.Rank.R1>,
        };
      });
      return {
        ...network(tf, layers),
        variables: layers.flatMap((l) => [l.w, l.b]),
        export: (offset, scale) => ({
          latent: k,
          layers: layers.map((l, i) => exportLayer(l, sizes[i])),
          offset,
          scale,
        }),
      };
    },
    fixed(tf, decoder) {
      const layers = decoder.layers.map((l) => ({
        w: tf.tensor2d(l.weight, [l.inputs, l.outputs]),
        b: tf.tensor1d(l.bias),
      }));
      return { ...network(tf, layers), variables: [] };
    },
  };
}

/**
 * Trains a decoder and the n training faces' latents on rows of d values (`data`, row-major) with per-entry
 * weights in [0, 1] (0: unseen, never read).
 */
export function trainAutoDecoder<D extends LatentDecoder = MlpDecoder>(
  tf: Tf,
  data: Float32Array,
  weights: Float32Array,
  n: number,
  d: number,
  options: AutoDecoderOptions<D>,
): TrainedAutoDecoder<D> {
  const start = performance.now();
  const k = options.latent;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`latent size must be an integer ≥ 1, got ${k}`);
  if (data.length !== n * d || weights.length !== n * d) throw new RangeError(`data and weights must be ${n}×${d}`);
  const architecture = options.architecture ?? (mlpArchitecture(options.hidden) as unknown as DecoderArchitecture<D>);
  const epochs = options.epochs ?? 300;
  const batch = Math.min(n, options.batch ?? 32);
  const rate = options.learningRate ?? 1e-3;
  const latentRate = options.latentRateFactor ?? 10;
  const noise = options.noise ?? 0.01;
  const random = new SeededRandom(options.seed ?? 1);

  const { offset, scale, weightPerFace } = normalisation(data, weights, n, d);
  const prior = noise / weightPerFace;
  const network = architecture.create(tf, k, d, random);
  const z0 = options.initialLatents ?? Float32Array.from({ length: n * k }, () => 0.01 * random.normal());
  if (z0.length !== n * k) throw new RangeError(`initial latents: ${z0.length} values, expected ${n}×${k}`);
  const latents = tf.variable(tf.tensor2d(z0, [n, k]), true, 'decoder-latents');
  const y = tf.tensor2d(normalised(data, weights, n, d, offset, scale), [n, d]);
  const w = tf.tensor2d(weights, [n, d]);
  const outputScale = options.outputScale;
  if (outputScale && outputScale.length !== d)
    throw new RangeError(`outputScale: ${outputScale.length} values, not ${d}`);
  const multiplier = outputScale ? tf.tensor1d(outputScale) : undefined;

  const decoderVariables = network.variables;
  const adam = new Adam(tf, decoderVariables);
  // The latents' own optimiser: each face's code is only touched when its face is in the batch.
  const latentAdam = new Adam(tf, [latents]);
  const order = Array.from({ length: n }, (_, i) => i);
  const steps = Math.ceil(n / batch);
  let loss = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random.uniform() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const lr = rate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)));
    let sum = 0;
    for (let s = 0; s < steps; s++) {
      const chosen = order.slice(s * batch, Math.min(n, (s + 1) * batch));
      const m = chosen.length;
      const ids = tf.tensor1d(chosen, 'int32');
      // The batch's latents as a one-hot product (the wasm backend has no gradient kernel for gather).
      const pick = new Float32Array(m * n);
      chosen.forEach((f, r) => {
        pick[r * n + f] = 1;
      });
      const select = tf.tensor2d(pick, [m, n]);
      const lossFn = () =>
        tf.tidy(() => {
          const z = tf.matMul(select, latents) as TfCore.Tensor2D;
          const out = network.forward(z);
          const pred = multiplier ? tf.mul(out, multiplier) : out;
          const e = tf.sub(pred, tf.gather(y, ids));
          const data = tf.div(tf.sum(tf.mul(tf.gather(w, ids), tf.square(e))), m * weightPerFace);
          return tf.add(data, tf.mul(tf.sum(tf.square(z)), prior / m)) as TfCore.Scalar;
        });
      // One gradient for both: decoder and latents step together.
      const { value, grads } = tf.variableGrads(lossFn, [...decoderVariables, latents]);
      sum += value.dataSync()[0] * m;
      value.dispose();
      applyAdam(tf, adam, grads, lr);
      applyAdam(tf, latentAdam, grads, lr * latentRate);
      for (const g of Object.values(grads)) g.dispose();
      ids.dispose();
      select.dispose();
    }
    loss = sum / n;
    options.onEpoch?.(epoch, loss);
  }

  const decoder = network.export(
    offset,
    outputScale ? outputScale.map((r) => r * scale) : new Float32Array(d).fill(scale),
  );
  const learned = latents.dataSync() as Float32Array;
  network.dispose();
  for (const v of [latents, y, w]) v.dispose();
  multiplier?.dispose();
  adam.dispose();
  latentAdam.dispose();
  return {
    decoder,
    architecture,
    latents: learned,
    noise,
    weightPerFace,
    dataScale: scale,
    finalLoss: loss,
    seconds: (performance.now() - start) / 1000,
  };
}

/** One Adam step of `adam`'s variables from precomputed gradients (adam.ts's update, without its own grads). */
function applyAdam(tf: Tf, adam: Adam, grads: TfCore.NamedTensorMap, learningRate: number): void {
  adam.step++;
  const b1 = 0.9,
    b2 = 0.999;
  const lr = (learningRate * Math.sqrt(1 - b2 ** adam.step)) / (1 - b1 ** adam.step);
  tf.tidy(() => {
    adam.variables.forEach((v, i) => {
      const g = grads[v.name];
      const m = tf.add(tf.mul(adam.first[i], b1), tf.mul(g, 1 - b1));
      const s = tf.add(tf.mul(adam.second[i], b2), tf.mul(tf.square(g), 1 - b2));
      adam.first[i].assign(m);
      adam.second[i].assign(s);
      v.assign(tf.sub(v, tf.div(tf.mul(m, lr), tf.add(tf.sqrt(s), 1e-8))));
    });
  });
}

export interface FitLatentOptions {
  /** Adam steps (default 300) and learning rate (default 0.05, cosine-decayed to 5 %). */
  steps?: number;
  learningRate?: number;
  /** Per-entry noise variance in units of the data's variance (default: the training's). */
  noise?: number;
  /** Average weight per face that scales the prior (default: the training's). */
  weightPerFace?: number;
  /** Starting latents, m × k (default 0: the prior's mode). */
  initial?: Float32Array;
}

/**
 * The latents of m faces (rows of d values with weights, as in training) under a trained decoder: the MAP
 * fit, all faces at once (their problems are independent), decoder fixed. Returns m × k values.
 */
export function fitLatents<D extends LatentDecoder>(
  tf: Tf,
  trained: Pick<TrainedAutoDecoder<D>, 'decoder' | 'architecture' | 'noise' | 'weightPerFace' | 'dataScale'>,
  data: Float32Array,
  weights: Float32Array,
  m: number,
  options: FitLatentOptions = {},
): Float32Array {
  const { decoder } = trained;
  const k = decoder.latent;
  const d = decoder.offset.length;
  if (data.length !== m * d || weights.length !== m * d) throw new RangeError(`data and weights must be ${m}×${d}`);
  const steps = options.steps ?? 300;
  const rate = options.learningRate ?? 0.05;
  const noise = options.noise ?? trained.noise;
  const prior = noise / (options.weightPerFace ?? trained.weightPerFace);
  // The loss in units of the training data's overall spread s, as in training; the decoder's per-entry scale
  // is s times its output multiplier.
  const scale = trained.dataScale;
  const network = trained.architecture.fixed(tf, decoder);
  const multiplier = tf.tensor1d(decoder.scale.map((x) => x / scale));
  const y = tf.tensor2d(normalised(data, weights, m, d, decoder.offset, scale), [m, d]);
  const w = tf.tensor2d(weights, [m, d]);
  const z = tf.variable(tf.tensor2d(options.initial ?? new Float32Array(m * k), [m, k]), true, 'fit-latents');
  const adam = new Adam(tf, [z]);
  for (let s = 0; s < steps; s++) {
    const lr = rate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * s) / steps)));
    adam.minimize(
      () =>
        tf.tidy(() => {
          const e = tf.sub(tf.mul(network.forward(z), multiplier), y);
          const fit = tf.sum(tf.mul(w, tf.square(e)));
          return tf.add(tf.div(fit, trained.weightPerFace), tf.mul(tf.sum(tf.square(z)), prior)) as TfCore.Scalar;
        }),
      lr,
    );
  }
  const out = z.dataSync() as Float32Array;
  network.dispose();
  for (const t of [y, w, z, multiplier]) t.dispose();
  adam.dispose();
  return Float32Array.from(out);
}

/** The tfjs forward pass of a decoder (outputs m × d in data units), for checking the pure-TS one. */
export function decodeWithTf<D extends LatentDecoder = MlpDecoder>(
  tf: Tf,
  decoder: D,
  latents: Float32Array,
  m: number,
  architecture: DecoderArchitecture<D> = mlpArchitecture() as unknown as DecoderArchitecture<D>,
): Float32Array {
  const network = architecture.fixed(tf, decoder);
  const out = tf.tidy(() => {
    const y = network.forward(tf.tensor2d(latents, [m, decoder.latent]));
    return tf.add(tf.mul(y, tf.tensor1d(decoder.scale)), tf.tensor1d(decoder.offset)).dataSync() as Float32Array;
  });
  network.dispose();
  return out;
}

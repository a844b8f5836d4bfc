import type { Tf } from '../../src/detect/landmark-net.js';
import {
  type DecoderArchitecture,
  fitLatents,
  type LatentDecoder,
  trainAutoDecoder,
} from '../../src/learn/albedo-decoder.js';
import type { SeededRandom } from '../../src/model/random.js';

/**
 * The auto-decoder check of a decoder architecture: 200 training and 20 held-out samples of a teacher (a
 * random decoder of latent size 2: the truth), 30 % of their entries unseen; the architecture trained on the
 * training ones (100 epochs), each held-out latent fitted to the even entries. Returns the decoder's squared
 * error on the odd entries over that of the training mean (below 1: it predicts what it did not see).
 */
export function heldOutErrorRatio<D extends LatentDecoder>(
  tf: Tf,
  architecture: DecoderArchitecture<D>,
  teacher: (z: number[], out: Float32Array) => void,
  decode: (decoder: D, z: Float32Array, out: Float32Array) => void,
  d: number,
  random: SeededRandom,
): number {
  const draw = (count: number) => {
    const clean = new Float32Array(count * d),
      data = new Float32Array(count * d),
      weights = new Float32Array(count * d);
    for (let i = 0; i < count; i++) {
      teacher([random.normal(), random.normal()], clean.subarray(i * d, (i + 1) * d));
      for (let j = i * d; j < (i + 1) * d; j++) {
        const seen = random.uniform() > 0.3;
        weights[j] = seen ? 1 : 0;
        data[j] = seen ? clean[j] : 1000;
      }
    }
    return { clean, data, weights };
  };
  const n = 200,
    m = 20;
  const train = draw(n),
    test = draw(m);
  const trained = trainAutoDecoder(tf, train.data, train.weights, n, d, {
    latent: 2,
    architecture,
    epochs: 100,
    batch: 50,
    learningRate: 1e-2,
    noise: 0.001,
    seed: 2,
  });
  const even = test.weights.map((w, j) => (j % 2 === 0 ? w : 0));
  const z = fitLatents(tf, trained, test.data, even, m, { steps: 150 });
  // Odd entries: the decoder's prediction against the training mean's.
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += train.clean[i * d + j] / n;
  const out = new Float32Array(d);
  let decoderSq = 0,
    meanSq = 0;
  for (let i = 0; i < m; i++) {
    decode(trained.decoder, z.subarray(2 * i, 2 * i + 2), out);
    for (let j = 1; j < d; j += 2) {
      decoderSq += (out[j] - test.clean[i * d + j]) ** 2;
      meanSq += (mean[j] - test.clean[i * d + j]) ** 2;
    }
  }
  return decoderSq / meanSq;
}

/**
 * The pure-TS decode against tfjs's on m latents of size k: the largest difference between the two, and the
 * largest distance of the pure-TS output from the decoder's offset (how much the outputs depend on the net).
 */
export function differenceFromTf<D extends LatentDecoder & { offset: ArrayLike<number> }>(
  decoder: D,
  decode: (decoder: D, z: Float32Array, out: Float32Array) => void,
  reference: Float32Array,
  latents: Float32Array,
  m: number,
  d: number,
): { largest: number; spread: number } {
  const k = latents.length / m;
  const out = new Float32Array(d);
  let largest = 0,
    spread = 0;
  for (let i = 0; i < m; i++) {
    decode(decoder, latents.subarray(k * i, k * (i + 1)), out);
    for (let j = 0; j < d; j++) {
      largest = Math.max(largest, Math.abs(out[j] - reference[i * d + j]));
      spread = Math.max(spread, Math.abs(out[j] - decoder.offset[j]));
    }
  }
  return { largest, spread };
}

/**
 * A small nonlinear decoder (issue 18): a multilayer perceptron from a latent code of k values to d outputs
 * (a face's per-vertex albedo, or identity coefficients and albedo together), in pure TS on typed arrays so
 * that the browser runs it as Node does. Every hidden layer is x ↦ tanh(W x + b); the last one is linear,
 * and the output is `offset + scale ∘ (W x + b)` (the training data's mean and spread, per entry).
 * Weights come from src/learn/albedo-decoder.ts (trained with tfjs); the forward pass here matches tfjs's.
 */

export interface DecoderLayer {
  inputs: number;
  outputs: number;
  /** inputs × outputs, row-major: weight[i·outputs + o]. */
  weight: Float32Array;
  bias: Float32Array;
}

export interface MlpDecoder {
  /** Latent size k. */
  latent: number;
  /** Hidden layers (tanh) and the linear output layer, in order. */
  layers: DecoderLayer[];
  /** Output = offset + scale · (last layer), d values each. */
  offset: Float32Array;
  scale: Float32Array;
}

/** Work arrays for decode: one per hidden layer, reused between calls. */
export class DecoderWorkspace {
  readonly hidden: Float64Array[];
  constructor(decoder: MlpDecoder) {
    this.hidden = decoder.layers.slice(0, -1).map((l) => new Float64Array(l.outputs));
  }
}

/** Output size d of a decoder. */
export function decoderOutputs(decoder: MlpDecoder): number {
  return decoder.layers[decoder.layers.length - 1].outputs;
}

/**
 * Decodes `latent` (k values) into `out` (d values; a new array when not given). Allocates nothing when a
 * workspace made for this decoder is given.
 */
export function decode(
  decoder: MlpDecoder,
  latent: ArrayLike<number>,
  out?: Float32Array,
  workspace: DecoderWorkspace = new DecoderWorkspace(decoder),
): Float32Array {
  if (latent.length !== decoder.latent) {
    throw new RangeError(`the decoder takes ${decoder.latent} latent values, got ${latent.length}`);
  }
  const d = decoderOutputs(decoder);
  const result = out ?? new Float32Array(d);
  if (result.length !== d) throw new RangeError(`output has ${result.length} values, expected ${d}`);
  let input: ArrayLike<number> = latent;
  const L = decoder.layers.length;
  for (let l = 0; l < L - 1; l++) {
    const { inputs, outputs, weight, bias } = decoder.layers[l];
    const h = workspace.hidden[l];
    for (let o = 0; o < outputs; o++) h[o] = bias[o];
    for (let i = 0; i < inputs; i++) {
      const x = input[i];
      if (x === 0) continue;
      const row = i * outputs;
      for (let o = 0; o < outputs; o++) h[o] += x * weight[row + o];
    }
    for (let o = 0; o < outputs; o++) h[o] = Math.tanh(h[o]);
    input = h;
  }
  // The output layer straight into `result`: float32 accumulation over a few hundred inputs, as tfjs does.
  const { inputs, weight, bias } = decoder.layers[L - 1];
  result.set(bias);
  for (let i = 0; i < inputs; i++) {
    const x = input[i];
    if (x === 0) continue;
    const row = i * d;
    for (let o = 0; o < d; o++) result[o] += x * weight[row + o];
  }
  const { offset, scale } = decoder;
  for (let o = 0; o < d; o++) result[o] = offset[o] + scale[o] * result[o];
  return result;
}

/** Number of parameters (weights and biases). */
export function decoderParameters(decoder: MlpDecoder): number {
  return decoder.layers.reduce((s, l) => s + l.weight.length + l.bias.length, 0);
}

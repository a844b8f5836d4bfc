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
    const h = dense(input, inputs, weight, bias, workspace.hidden[l]);
    for (let o = 0; o < outputs; o++) h[o] = Math.tanh(h[o]);
    input = h;
  }
  // The output layer straight into `result`: float32 accumulation over a few hundred inputs, as tfjs does.
  const { inputs, weight, bias } = decoder.layers[L - 1];
  dense(input, inputs, weight, bias, result);
  const { offset, scale } = decoder;
  for (let o = 0; o < d; o++) result[o] = offset[o] + scale[o] * result[o];
  return result;
}

/**
 * A dense layer without its activation: out = bias + input · weight, `weight` inputs × out.length row-major
 * (tfjs's layout), accumulated in `out`'s precision. Shared by the decoders (UV-conv, mesh-conv).
 */
export function dense<Out extends Float32Array | Float64Array>(
  input: ArrayLike<number>,
  inputs: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  out: Out,
): Out {
  const outputs = out.length;
  out.set(bias);
  for (let i = 0; i < inputs; i++) {
    const x = input[i];
    if (x === 0) continue;
    const row = i * outputs;
    for (let o = 0; o < outputs; o++) out[o] += x * weight[row + o];
  }
  return out;
}

/** ELU with α = 1 (tfjs's elu). */
export function elu(x: number): number {
  return x > 0 ? x : Math.expm1(x);
}

/** Number of parameters (weights and biases). */
export function decoderParameters(decoder: MlpDecoder): number {
  return decoder.layers.reduce((s, l) => s + l.weight.length + l.bias.length, 0);
}

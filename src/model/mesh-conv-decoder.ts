/**
 * A mesh-convolution decoder (issue 18; Zhou et al. 2019's joint texture & shape decoder, after Ranjan et al.'s
 * COMA): a latent code of k values → a dense layer (ELU) → C₀ channels on each vertex of the coarsest level of a
 * mesh hierarchy (model/mesh-hierarchy.ts) → per finer level: upsampling (each vertex from ≤ 3 coarse ones) and
 * a Chebyshev graph convolution, with ELU but on the mesh itself, where the convolution gives the c channels →
 * `offset + scale ∘ output` per entry (the training data's mean and spread, as model/mlp-decoder.ts), vertex-major
 * (v · c + channel): albedo RGB (c = 3), or albedo and the shape's offset from the mean (c = 6).
 *
 * A Chebyshev convolution of order K of the upsampled features U x (C per vertex) to O outputs:
 *   y = b + Σ_{t<K} T_t(L̃) U x W_t,   T_0 = I, T_1 = L̃, T_t = 2 L̃ T_{t−1} − T_{t−2},
 * with the level's scaled Laplacian L̃ and the upsampling U (fixed-degree gathers). W_t mixes channels and
 * U, L̃ mix vertices, so they commute: each layer first mixes on the coarse level (a_t = x W_t, K·O values per
 * coarse vertex: one C × K·O matrix), then upsamples those, then sums Σ_t T_t(L̃) a_t by Clenshaw's recursion
 * over O channels — cheaper than convolving C channels on the finer level, as O < C in a decoder. The same
 * steps run in tfjs (learn/mesh-conv-network.ts; the sparse ones through this module's functions), so trained
 * weights decode here as there. Pure TS on typed arrays; a workspace makes the decode allocation-free.
 */
import { dense, elu } from './mlp-decoder.js';
import { applyGather, type MeshHierarchy, type SparseGather } from './mesh-hierarchy.js';

export interface ChebLayer {
  inputs: number;
  outputs: number;
  /** inputs × (order · outputs), row-major: column t · outputs + o is W_t's column o. */
  weight: Float32Array;
  bias: Float32Array;
}

export interface MeshConvDecoder {
  /** Latent size k. */
  latent: number;
  /** Chebyshev order K (number of polynomial terms). */
  order: number;
  hierarchy: MeshHierarchy;
  /** The dense layer: k × (V_coarsest · C₀), row-major (vertex-major columns), and its bias. */
  dense: { weight: Float32Array; bias: Float32Array };
  /** One per level between the coarsest and the mesh, coarse to fine: upsample, convolve, ELU. */
  blocks: ChebLayer[];
  /** Upsampling to the mesh and the last convolution (linear, to c channels). */
  output: ChebLayer;
  /** Output = offset + scale · y, d = V · output.outputs values each (v · c + channel). */
  offset: Float32Array;
  scale: Float32Array;
}

/** Work arrays of a decoder, made once and reused by every decode. */
export class MeshDecoderWorkspace {
  /** The dense layer's output (V_coarsest · C₀). */
  readonly coarse: Float32Array;
  /** Per layer (blocks, then the output): its coarse level's a_t (V_coarse · K·O). */
  readonly mixed: Float32Array[];
  /** Per layer: the upsampled a_t, then the Clenshaw recursion in place (V · K·O). */
  readonly terms: Float32Array[];
  /** Per layer: its output features (V · O; the last: the decoder's output before offset and scale). */
  readonly features: Float32Array[];
  /** Per layer: W transposed (K·O × C), one dot product per mixed value. */
  readonly filters: Float32Array[];
  /** L̃ times one term (V₀ · the widest O). */
  readonly scratch: Float32Array;

  constructor(decoder: MeshConvDecoder) {
    const { hierarchy, blocks, output, order } = decoder;
    const L = hierarchy.levels.length - 1;
    if (blocks.length !== L - 1) throw new RangeError(`${blocks.length} blocks for a hierarchy of ${L + 1} levels`);
    const size = (level: number) => hierarchy.levels[level].vertices.length;
    this.coarse = new Float32Array(size(L) * (blocks[0]?.inputs ?? output.inputs));
    const layers = [...blocks, output];
    this.mixed = layers.map((layer, i) => new Float32Array(size(L - i) * order * layer.outputs));
    this.terms = layers.map((layer, i) => new Float32Array(size(L - 1 - i) * order * layer.outputs));
    this.features = layers.map((layer, i) => new Float32Array(size(L - 1 - i) * layer.outputs));
    this.filters = layers.map(({ inputs, outputs, weight }) => {
      const width = order * outputs;
      if (weight.length !== inputs * width)
        throw new RangeError(`a layer has ${weight.length} weights, not ${inputs}×${width}`);
      const t = new Float32Array(weight.length);
      for (let c = 0; c < inputs; c++) for (let j = 0; j < width; j++) t[j * inputs + c] = weight[c * width + j];
      return t;
    });
    this.scratch = new Float32Array(size(0) * Math.max(...layers.map((l) => l.outputs)));
  }
}

/**
 * In place on V rows of [T_0 x | … | T_{K−1} x] (K·C values; T_0 x = x given in each row's first C): fills the
 * rest by T_1 x = L̃ x, T_t x = 2 L̃ T_{t−1} x − T_{t−2} x. (The gradient of chebyshevSum: L̃ is symmetric.)
 */
export function chebyshevStack(laplacian: SparseGather, stack: Float32Array, channels: number, order: number): void {
  const width = order * channels;
  for (let t = 1; t < order; t++) {
    applyGather(laplacian, stack, width, (t - 1) * channels, channels, stack, width, t * channels);
    if (t < 2) continue;
    for (let v = 0; v < laplacian.rows; v++) {
      const o = v * width + t * channels;
      for (let c = 0; c < channels; c++) stack[o + c] = 2 * stack[o + c] - stack[o - 2 * channels + c];
    }
  }
}

/**
 * In place on V rows of [a_0 | … | a_{K−1}] (K·C values): leaves Σ_t T_t(L̃) a_t in each row's first C, by
 * Clenshaw's recursion b_t = a_t + 2 L̃ b_{t+1} − b_{t+2} (t = K−1 … 1, b_K = b_{K+1} = 0), then
 * a_0 + L̃ b_1 − b_2. `scratch` holds V · C values.
 */
export function chebyshevSum(
  laplacian: SparseGather,
  terms: Float32Array,
  channels: number,
  order: number,
  scratch: Float32Array,
): void {
  const width = order * channels,
    V = laplacian.rows;
  for (let t = order - 2; t >= 0; t--) {
    applyGather(laplacian, terms, width, (t + 1) * channels, channels, scratch, channels, 0);
    const factor = t === 0 ? 1 : 2;
    if (t + 2 < order) {
      for (let v = 0; v < V; v++) {
        const o = v * width + t * channels;
        for (let c = 0; c < channels; c++) {
          terms[o + c] += factor * scratch[v * channels + c] - terms[o + 2 * channels + c];
        }
      }
    } else {
      for (let v = 0; v < V; v++) {
        const o = v * width + t * channels;
        for (let c = 0; c < channels; c++) terms[o + c] += factor * scratch[v * channels + c];
      }
    }
  }
}

/** out (rows × J) = input (rows × C) × W, with the filter transposed (J × C). */
function mix(input: Float32Array, rows: number, C: number, filter: Float32Array, out: Float32Array): void {
  const J = filter.length / C;
  for (let v = 0; v < rows; v++) {
    const from = v * C,
      to = v * J;
    for (let j = 0; j < J; j++) {
      let sum = 0;
      const row = j * C;
      for (let c = 0; c < C; c++) sum += input[from + c] * filter[row + c];
      out[to + j] = sum;
    }
  }
}

/**
 * Decodes `latent` (k values) into `out` (d = V·c values; a new array when not given). Allocates nothing
 * when a workspace made for this decoder is given.
 */
export function decodeMesh(
  decoder: MeshConvDecoder,
  latent: ArrayLike<number>,
  out?: Float32Array,
  workspace: MeshDecoderWorkspace = new MeshDecoderWorkspace(decoder),
): Float32Array {
  const k = decoder.latent;
  if (latent.length !== k) throw new RangeError(`the decoder takes ${k} latent values, got ${latent.length}`);
  const { hierarchy, blocks, output, order, offset, scale } = decoder;
  const d = offset.length;
  const result = out ?? new Float32Array(d);
  if (result.length !== d) throw new RangeError(`output has ${result.length} values, expected ${d}`);

  const coarse = workspace.coarse;
  const width = coarse.length;
  dense(latent, k, decoder.dense.weight, decoder.dense.bias, coarse);
  for (let o = 0; o < width; o++) coarse[o] = elu(coarse[o]);

  const L = hierarchy.levels.length - 1;
  let input = coarse;
  const layers = blocks.length + 1;
  for (let b = 0; b < layers; b++) {
    const layer = b < blocks.length ? blocks[b] : output;
    const level = L - 1 - b;
    const { inputs, outputs, bias } = layer;
    const width = order * outputs;
    const mixed = workspace.mixed[b],
      terms = workspace.terms[b],
      features = workspace.features[b];
    mix(input, hierarchy.levels[level + 1].vertices.length, inputs, workspace.filters[b], mixed);
    applyGather(hierarchy.upsample[level], mixed, width, 0, width, terms, width, 0);
    chebyshevSum(hierarchy.levels[level].laplacian, terms, outputs, order, workspace.scratch);
    const rows = hierarchy.levels[level].vertices.length;
    const activate = b < blocks.length;
    for (let v = 0; v < rows; v++) {
      for (let o = 0; o < outputs; o++) {
        const x = terms[v * width + o] + bias[o];
        features[v * outputs + o] = activate ? elu(x) : x;
      }
    }
    input = features;
  }
  const y = workspace.features[blocks.length];
  for (let j = 0; j < d; j++) result[j] = offset[j] + scale[j] * y[j];
  return result;
}

/** Number of parameters (weights and biases). */
export function meshDecoderParameters(decoder: MeshConvDecoder): number {
  return [decoder.dense, ...decoder.blocks, decoder.output].reduce((s, l) => s + l.weight.length + l.bias.length, 0);
}

/**
 * A convolutional decoder in UV space (issue 18; the decoder of Tran & Liu's Nonlinear 3DMM, 2018): a latent
 * code of k values → a dense layer → a base × base × C₀ feature map → upsampling blocks (nearest-neighbour 2×
 * resize, 3×3 'same' convolution, ELU) → a 3×3 convolution to an R × R × c image over the face region's UV
 * layout → each vertex's value sampled bilinearly at its UV → `offset + scale ∘ sample` per entry (the
 * training data's mean and spread, as model/mlp-decoder.ts). Pure TS on typed arrays, NHWC and tfjs's filter
 * layout ([3, 3, inputs, outputs]), so that weights trained by src/learn/uv-conv-network.ts decode here as
 * in tfjs. The decode only computes the texels that the vertices' samples depend on (the face region covers
 * part of the image, and each layer only needs the 3×3 neighbourhoods of what the next one reads).
 */
import { dense, elu } from './mlp-decoder.js';
import type { MorphableModel } from './morphable-model.js';

/** Where each vertex reads the image: 4 texels (row-major y·R + x) and their bilinear weights per vertex. */
export interface UvSampling {
  resolution: number;
  /** 4V texel indices. */
  texels: Uint32Array;
  /** 4V weights, summing to 1 per vertex. */
  weights: Float32Array;
}

export interface ConvLayer {
  inputs: number;
  outputs: number;
  /** 3 × 3 × inputs × outputs, row-major (tfjs's conv2d filter layout). */
  weight: Float32Array;
  bias: Float32Array;
}

export interface UvConvDecoder {
  /** Latent size k. */
  latent: number;
  /** Side of the first feature map (the dense layer's output is base × base × channels of blocks[0]'s input). */
  base: number;
  /** The dense layer: k × (base² · C₀), row-major, and its bias. */
  dense: { weight: Float32Array; bias: Float32Array };
  /** Upsampling blocks (2× nearest, conv, ELU), then the last conv (linear) to the image's channels. */
  blocks: ConvLayer[];
  output: ConvLayer;
  sampling: UvSampling;
  /** Output = offset + scale · sample, d = V · output.outputs values each (vertex-major: v · c + channel). */
  offset: Float32Array;
  scale: Float32Array;
}

/** The image side R of a decoder: base · 2^blocks. */
export function uvResolution(decoder: Pick<UvConvDecoder, 'base' | 'blocks'>): number {
  return decoder.base << decoder.blocks.length;
}

/**
 * One UV per face-region vertex: the first UV any triangle corner of the vertex uses (a vertex on a UV seam
 * has several; its first is kept). Returns 2V values (u, v up); throws if the model has no UVs or a vertex
 * is in no triangle.
 */
export function vertexUvs(
  model: Pick<MorphableModel, 'uvs' | 'uvTriangles' | 'triangles' | 'vertexCount'>,
  vertexIds: Uint32Array,
): Float32Array {
  if (model.uvTriangles.length === 0) throw new Error('the model has no UV coordinates');
  const first = new Int32Array(model.vertexCount).fill(-1);
  for (let i = 0; i < model.triangles.length; i++) {
    if (first[model.triangles[i]] < 0) first[model.triangles[i]] = model.uvTriangles[i];
  }
  const out = new Float32Array(2 * vertexIds.length);
  for (let j = 0; j < vertexIds.length; j++) {
    const t = first[vertexIds[j]] ?? -1;
    if (t < 0) throw new Error(`vertex ${vertexIds[j]} is in no triangle: it has no UV`);
    out[2 * j] = model.uvs[2 * t];
    out[2 * j + 1] = model.uvs[2 * t + 1];
  }
  return out;
}

/**
 * Bilinear sampling of an R × R image at the given UVs (2V values, v up), their bounding box scaled
 * (aspect kept) and centred to span texel centres 1 … R − 2, so that the face region fills the image and
 * every sample's 4 texels lie inside it.
 */
export function bilinearSampling(uvs: ArrayLike<number>, resolution: number): UvSampling {
  const V = uvs.length / 2;
  let minU = Infinity,
    maxU = -Infinity,
    minV = Infinity,
    maxV = -Infinity;
  for (let j = 0; j < V; j++) {
    minU = Math.min(minU, uvs[2 * j]);
    maxU = Math.max(maxU, uvs[2 * j]);
    minV = Math.min(minV, uvs[2 * j + 1]);
    maxV = Math.max(maxV, uvs[2 * j + 1]);
  }
  const span = resolution - 3;
  const unit = span / Math.max(maxU - minU, maxV - minV, 1e-12);
  const x0 = 1 + (span - (maxU - minU) * unit) / 2,
    y0 = 1 + (span - (maxV - minV) * unit) / 2;
  const texels = new Uint32Array(4 * V),
    weights = new Float32Array(4 * V);
  for (let j = 0; j < V; j++) {
    // Texel (x, y) has its centre at (x, y) in these coordinates; image rows go down, v goes up.
    const x = x0 + (uvs[2 * j] - minU) * unit,
      y = y0 + (maxV - uvs[2 * j + 1]) * unit;
    const ix = Math.min(resolution - 2, Math.floor(x)),
      iy = Math.min(resolution - 2, Math.floor(y));
    const fx = x - ix,
      fy = y - iy;
    const t = iy * resolution + ix;
    texels.set([t, t + 1, t + resolution, t + resolution + 1], 4 * j);
    weights.set([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 4 * j);
  }
  return { resolution, texels, weights };
}

/**
 * Work arrays and the texels to compute per layer (from the sampling backwards: each layer only where the
 * next one reads), made once per decoder and reused by every decode.
 */
export class UvDecoderWorkspace {
  /** Feature maps: [0] the dense layer's (base²·C₀), then one per block (r²·C), row-major pixels. */
  readonly maps: Float32Array[];
  /** The output image, R²·c (only the sampled texels are written). */
  readonly image: Float32Array;
  /** Per block, then the output conv: the pixels it computes. */
  readonly active: Uint32Array[];
  /** Per block, then the output conv: its filter as outputs × (9 · inputs), so that each output is one dot product. */
  readonly filters: Float32Array[];
  /** One pixel's 3×3 input neighbourhood (9 · inputs, zeros outside the image). */
  readonly patch: Float32Array;

  constructor(decoder: UvConvDecoder) {
    const { base, blocks, output, sampling } = decoder;
    const R = uvResolution(decoder);
    if (sampling.resolution !== R) throw new RangeError(`sampling is for ${sampling.resolution}², the net makes ${R}²`);
    this.maps = [new Float32Array(base * base * (blocks[0]?.inputs ?? output.inputs))];
    blocks.forEach((b, i) => {
      const r = base << (i + 1);
      this.maps.push(new Float32Array(r * r * b.outputs));
    });
    this.image = new Float32Array(R * R * output.outputs);
    // The output conv at the sampled texels; each layer below only where the layer above reads.
    const sampled = new Uint8Array(R * R);
    for (const t of sampling.texels) sampled[t] = 1;
    let needed = readBy(sampled, R, 0);
    const active: Uint32Array[] = [];
    for (let level = blocks.length; level >= 1; level--) {
      active.unshift(pixels(needed));
      needed = readBy(needed, base << level, 1);
    }
    active.push(pixels(sampled));
    this.active = active;
    this.filters = [...blocks, output].map(({ inputs, outputs, weight }) => {
      const t = new Float32Array(weight.length);
      for (let j = 0; j < 9 * inputs; j++)
        for (let o = 0; o < outputs; o++) t[o * 9 * inputs + j] = weight[j * outputs + o];
      return t;
    });
    this.patch = new Float32Array(9 * Math.max(output.inputs, ...blocks.map((b) => b.inputs)));
  }
}

/**
 * The pixels that a 3×3 'same' conv at the pixels of `mask` (r × r) reads from its input: at the same
 * resolution (shift 0), or at half of it through a 2× nearest-neighbour upsampling (shift 1).
 */
function readBy(mask: Uint8Array, r: number, shift: 0 | 1): Uint8Array {
  const side = r >> shift;
  const out = new Uint8Array(side * side);
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const y = Math.floor(p / r),
      x = p % r;
    for (let yy = Math.max(0, y - 1); yy <= Math.min(r - 1, y + 1); yy++) {
      for (let xx = Math.max(0, x - 1); xx <= Math.min(r - 1, x + 1); xx++)
        out[(yy >> shift) * side + (xx >> shift)] = 1;
    }
  }
  return out;
}

function pixels(mask: Uint8Array): Uint32Array {
  let count = 0;
  for (const m of mask) count += m;
  const out = new Uint32Array(count);
  let i = 0;
  for (let p = 0; p < mask.length; p++) if (mask[p]) out[i++] = p;
  return out;
}

/**
 * A 3×3 'same' conv of `input` (inSide², `layer.inputs` channels; read through a 2× nearest-neighbour
 * upsampling when shift is 1) at the `active` pixels of `output` (side², `layer.outputs` channels): per pixel,
 * its input neighbourhood gathered into `patch`, then one dot product per output channel with `filter`
 * (outputs × 9·inputs).
 */
function convolve(
  input: Float32Array,
  inSide: number,
  shift: 0 | 1,
  layer: ConvLayer,
  filter: Float32Array,
  output: Float32Array,
  side: number,
  active: Uint32Array,
  patch: Float32Array,
  activate: boolean,
): void {
  const { inputs, outputs, bias } = layer;
  const taps = 9 * inputs;
  for (let a = 0; a < active.length; a++) {
    const p = active[a];
    const y = Math.floor(p / side),
      x = p - y * side;
    for (let ky = 0; ky < 3; ky++) {
      const yy = y + ky - 1;
      for (let kx = 0; kx < 3; kx++) {
        const xx = x + kx - 1;
        const at = (ky * 3 + kx) * inputs;
        if (yy < 0 || yy >= side || xx < 0 || xx >= side) {
          patch.fill(0, at, at + inputs);
          continue;
        }
        const src = ((yy >> shift) * inSide + (xx >> shift)) * inputs;
        for (let i = 0; i < inputs; i++) patch[at + i] = input[src + i];
      }
    }
    const dst = p * outputs;
    let o = 0;
    // Four outputs per pass over the patch, then the rest one by one.
    for (; o + 4 <= outputs; o += 4) {
      let s0 = bias[o],
        s1 = bias[o + 1],
        s2 = bias[o + 2],
        s3 = bias[o + 3];
      const r0 = o * taps,
        r1 = r0 + taps,
        r2 = r1 + taps,
        r3 = r2 + taps;
      for (let j = 0; j < taps; j++) {
        const v = patch[j];
        s0 += v * filter[r0 + j];
        s1 += v * filter[r1 + j];
        s2 += v * filter[r2 + j];
        s3 += v * filter[r3 + j];
      }
      output[dst + o] = activate ? elu(s0) : s0;
      output[dst + o + 1] = activate ? elu(s1) : s1;
      output[dst + o + 2] = activate ? elu(s2) : s2;
      output[dst + o + 3] = activate ? elu(s3) : s3;
    }
    for (; o < outputs; o++) {
      let sum = bias[o];
      const row = o * taps;
      for (let j = 0; j < taps; j++) sum += patch[j] * filter[row + j];
      output[dst + o] = activate ? elu(sum) : sum;
    }
  }
}

/**
 * Decodes `latent` (k values) into `out` (d = V·c values; a new array when not given). Allocates nothing
 * when a workspace made for this decoder is given.
 */
export function decodeUv(
  decoder: UvConvDecoder,
  latent: ArrayLike<number>,
  out?: Float32Array,
  workspace: UvDecoderWorkspace = new UvDecoderWorkspace(decoder),
): Float32Array {
  const k = decoder.latent;
  if (latent.length !== k) throw new RangeError(`the decoder takes ${k} latent values, got ${latent.length}`);
  const { base, blocks, output, sampling, offset, scale } = decoder;
  const c = output.outputs,
    d = offset.length,
    V = d / c;
  const result = out ?? new Float32Array(d);
  if (result.length !== d) throw new RangeError(`output has ${result.length} values, expected ${d}`);

  const first = workspace.maps[0];
  const width = first.length;
  dense(latent, k, decoder.dense.weight, decoder.dense.bias, first);
  for (let o = 0; o < width; o++) first[o] = elu(first[o]);

  let side = base;
  for (let b = 0; b < blocks.length; b++) {
    const map = workspace.maps[b + 1];
    const { filters, active, patch } = workspace;
    convolve(workspace.maps[b], side, 1, blocks[b], filters[b], map, 2 * side, active[b], patch, true);
    side *= 2;
  }
  const image = workspace.image;
  const last = workspace.maps[blocks.length];
  const B = blocks.length;
  convolve(last, side, 0, output, workspace.filters[B], image, side, workspace.active[B], workspace.patch, false);

  const { texels, weights } = sampling;
  for (let v = 0; v < V; v++) {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let q = 4 * v; q < 4 * v + 4; q++) s += weights[q] * image[texels[q] * c + ch];
      const o = v * c + ch;
      result[o] = offset[o] + scale[o] * s;
    }
  }
  return result;
}

/** Number of parameters (weights and biases). */
export function uvDecoderParameters(decoder: UvConvDecoder): number {
  return [decoder.dense, ...decoder.blocks, decoder.output].reduce((s, l) => s + l.weight.length + l.bias.length, 0);
}

/**
 * Decodes per second of a full face for the linear model (weighted-pca.ts reconstruct), the MLP decoder
 * (model/mlp-decoder.ts decode), the UV-space convolutional decoder (model/uv-conv-decoder.ts decodeUv) and the
 * mesh-convolution decoder (model/mesh-conv-decoder.ts decodeMesh, on the hierarchy of the real mesh), on
 * random weights of the given shapes (the speed does not depend on the values; the UV decoder's does on which
 * texels the real UVs read). Pure TS: bench/color-decoder.ts runs it in Node and bundles it with esbuild for
 * Chromium, so both measure the same code the same way.
 */
import type { MeshConvShape } from '../src/learn/mesh-conv-network.js';
import type { UvConvShape } from '../src/learn/uv-conv-network.js';
import {
  type ChebLayer,
  decodeMesh,
  type MeshConvDecoder,
  MeshDecoderWorkspace,
} from '../src/model/mesh-conv-decoder.js';
import { type MeshHierarchy, meshHierarchy } from '../src/model/mesh-hierarchy.js';
import { decode, DecoderWorkspace, type MlpDecoder } from '../src/model/mlp-decoder.js';
import type { ColorModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import {
  bilinearSampling,
  type ConvLayer,
  decodeUv,
  type UvConvDecoder,
  UvDecoderWorkspace,
} from '../src/model/uv-conv-decoder.js';
import { reconstruct } from '../src/model/weighted-pca.js';

export interface RateShapes {
  /** Albedo values of the full face region (3V). */
  albedo: number;
  /** Identity coefficients (for the joint decoders: identity → face-region vertices, 3V values). */
  identity: number;
  latents: number[];
  hidden: number[];
  /** The UV decoder's layout and the face region's vertex UVs (2V; the decode only computes what they read). */
  uv?: { shape: UvConvShape; uvs: number[] };
  /**
   * The mesh decoder's layout (its outputs: 3, albedo; the joint one has 6) and the face region's mesh (mean
   * shape, 3V; triangles) with its coarser levels' sizes: the hierarchy is built from them where it runs.
   */
  mesh?: { shape: MeshConvShape; positions: number[]; triangles: number[]; sizes: number[] };
  /** Seconds per measurement (default 0.5). */
  seconds?: number;
}

export interface Rates {
  k: number;
  /** Albedo only: PCA reconstruct, MLP decode, UV decodeUv, mesh decodeMesh (NaN when not measured). */
  pca: number;
  decoder: number;
  uvDecoder: number;
  meshDecoder: number;
  /**
   * Shape (face-region vertices) + albedo: joint PCA reconstruct of both; joint MLP + linear identity; the
   * joint mesh decoder (6 channels per vertex: both at once).
   */
  jointPca: number;
  jointDecoder: number;
  jointMeshDecoder: number;
}

function linearModel(random: SeededRandom, count: number, d: number): ColorModel {
  const stddev = new Float32Array(count).fill(1);
  return {
    mean: Float32Array.from({ length: d }, () => random.normal()),
    basis: {
      kind: 'pca',
      count,
      basis: Float32Array.from({ length: count * d }, () => 0.01 * random.normal()),
      stddev,
      names: Array.from({ length: count }, (_, i) => `c${i}`),
    },
  };
}

function randomDecoder(random: SeededRandom, k: number, hidden: number[], d: number): MlpDecoder {
  const sizes = [k, ...hidden, d];
  return {
    latent: k,
    layers: sizes.slice(1).map((outputs, l) => ({
      inputs: sizes[l],
      outputs,
      weight: Float32Array.from({ length: sizes[l] * outputs }, () => random.normal() / Math.sqrt(sizes[l])),
      bias: Float32Array.from({ length: outputs }, () => 0.1 * random.normal()),
    })),
    offset: new Float32Array(d).fill(0.3),
    scale: new Float32Array(d).fill(0.1),
  };
}

/** A UV decoder of the shape with random weights (biases too), reading a c-channel image at `uvs`. */
export function randomUvDecoder(
  random: SeededRandom,
  k: number,
  shape: UvConvShape,
  uvs: ArrayLike<number>,
): UvConvDecoder {
  const { base, channels } = shape;
  const c = shape.outputs ?? 3;
  const values = (n: number, s: number) => Float32Array.from({ length: n }, () => s * random.normal());
  const conv = (inputs: number, outputs: number): ConvLayer => ({
    inputs,
    outputs,
    weight: values(9 * inputs * outputs, 1 / Math.sqrt(9 * inputs)),
    bias: values(outputs, 0.3),
  });
  const width = base * base * channels[0];
  const d = (uvs.length / 2) * c;
  return {
    latent: k,
    base,
    dense: { weight: values(k * width, 1), bias: values(width, 0.3) },
    blocks: channels.slice(1).map((o, i) => conv(channels[i], o)),
    output: conv(channels[channels.length - 1], c),
    sampling: bilinearSampling(uvs, base << (channels.length - 1)),
    offset: values(d, 0.5),
    scale: Float32Array.from({ length: d }, () => 0.1 + random.uniform()),
  };
}

/** A mesh-convolution decoder of the shape on the hierarchy, with random weights (biases too). */
export function randomMeshDecoder(
  random: SeededRandom,
  k: number,
  shape: MeshConvShape,
  hierarchy: MeshHierarchy,
): MeshConvDecoder {
  const { channels } = shape;
  const order = shape.order ?? 3,
    c = shape.outputs ?? 3;
  const values = (n: number, s: number) => Float32Array.from({ length: n }, () => s * random.normal());
  const cheb = (inputs: number, outputs: number): ChebLayer => ({
    inputs,
    outputs,
    weight: values(inputs * order * outputs, 1 / Math.sqrt(order * inputs)),
    bias: values(outputs, 0.3),
  });
  const L = hierarchy.levels.length - 1;
  const width = hierarchy.levels[L].vertices.length * channels[0];
  const d = hierarchy.levels[0].vertices.length * c;
  return {
    latent: k,
    order,
    hierarchy,
    dense: { weight: values(k * width, 1), bias: values(width, 0.3) },
    blocks: channels.slice(1).map((o, i) => cheb(channels[i], o)),
    output: cheb(channels[L - 1], c),
    offset: values(d, 0.5),
    scale: Float32Array.from({ length: d }, () => 0.1 + random.uniform()),
  };
}

/** Calls per second of `fn` over about `seconds` (after one warm-up second's worth of a quarter). */
function rate(fn: () => void, seconds: number): number {
  let calls = 0;
  const warm = performance.now();
  while (performance.now() - warm < 250 * seconds) fn();
  const start = performance.now();
  let now = start;
  while (now - start < 1000 * seconds) {
    fn();
    calls++;
    now = performance.now();
  }
  return (1000 * calls) / (now - start);
}

export function measureRates(shapes: RateShapes): Rates[] {
  const random = new SeededRandom(5);
  const seconds = shapes.seconds ?? 0.5;
  const { albedo, identity } = shapes;
  const identityModel = linearModel(random, identity, albedo);
  const shape = new Float32Array(albedo);
  const mesh = shapes.mesh;
  const hierarchy = mesh && meshHierarchy(mesh.positions, mesh.triangles, mesh.sizes);
  const meshOut = new Float32Array(2 * albedo);
  return shapes.latents.map((k) => {
    const pca = linearModel(random, k, albedo);
    const jointPca = linearModel(random, k, 2 * albedo);
    const decoder = randomDecoder(random, k, shapes.hidden, albedo);
    const joint = randomDecoder(random, k, shapes.hidden, identity + albedo);
    const z = Float64Array.from({ length: k }, () => random.normal());
    const out = new Float32Array(albedo),
      jointOut = new Float32Array(2 * albedo),
      decoded = new Float32Array(identity + albedo);
    const work = new DecoderWorkspace(decoder),
      jointWork = new DecoderWorkspace(joint);
    const uv = shapes.uv && randomUvDecoder(random, k, shapes.uv.shape, shapes.uv.uvs);
    const uvWork = uv && new UvDecoderWorkspace(uv);
    const meshRate = (outputs: number) => {
      if (!mesh || !hierarchy) return NaN;
      const decoder = randomMeshDecoder(random, k, { ...mesh.shape, outputs }, hierarchy);
      const work = new MeshDecoderWorkspace(decoder),
        into = meshOut.subarray(0, decoder.offset.length);
      return rate(() => decodeMesh(decoder, z, into, work), seconds);
    };
    return {
      k,
      pca: rate(() => reconstruct(pca, z, out), seconds),
      decoder: rate(() => decode(decoder, z, out, work), seconds),
      uvDecoder: uv && uvWork ? rate(() => decodeUv(uv, z, out, uvWork), seconds) : NaN,
      meshDecoder: meshRate(3),
      jointPca: rate(() => reconstruct(jointPca, z, jointOut), seconds),
      jointDecoder: rate(() => {
        decode(joint, z, decoded, jointWork);
        reconstruct(identityModel, decoded.subarray(0, identity), shape);
      }, seconds),
      jointMeshDecoder: meshRate(6),
    };
  });
}

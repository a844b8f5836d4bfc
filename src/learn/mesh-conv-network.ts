/**
 * The mesh-convolution decoder (model/mesh-conv-decoder.ts) as a tfjs network to train as an auto-decoder
 * (albedo-decoder.ts's trainAutoDecoder / fitLatents with `architecture: meshConvArchitecture(…)`): dense →
 * C₀ per coarsest vertex → [upsample, Chebyshev conv, ELU] per level above the mesh → upsample, Chebyshev conv
 * → c per mesh vertex.
 * Each layer is a tfjs matMul on the coarse level (x → [a_0 | … | a_{K−1}]) and one custom-gradient op for its
 * sparse part (upsampling, then Σ_t T_t(L̃) a_t), which runs on the CPU inside the graph as uv-conv-network.ts's
 * sampling does: its forward is the pure-TS decoder's own code (applyGather, chebyshevSum), its gradient the
 * transposed gathers — the wasm backend has no gradient kernel for gather, and one op per layer instead of
 * tfjs ops per Chebyshev term (concat / slice / sub) was faster.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../detect/landmark-net.js';
import { type ChebLayer, chebyshevStack, chebyshevSum, type MeshConvDecoder } from '../model/mesh-conv-decoder.js';
import { applyGather, type MeshHierarchy, type SparseGather } from '../model/mesh-hierarchy.js';
import { type DecoderArchitecture, type DecoderNetwork, exportLayer } from './albedo-decoder.js';

export interface MeshConvShape {
  /** Channels per level, coarsest first, one per level but the mesh (where the outputs are). */
  channels: number[];
  /** Chebyshev order K (default 3: T_0, T_1, T_2). */
  order?: number;
  /** Channels per finest vertex (default 3: RGB albedo; 6 with the shape). */
  outputs?: number;
}

interface Weights<T> {
  dense: { w: T; b: T };
  blocks: { w: T; b: T }[];
  output: { w: T; b: T };
}

/** The transpose of a gather from `inputs` rows, padded to its own largest degree. */
export function transposeGather(op: SparseGather, inputs: number): SparseGather {
  const count = new Uint32Array(inputs);
  for (let j = 0; j < op.indices.length; j++) if (op.weights[j] !== 0) count[op.indices[j]]++;
  let degree = 1;
  for (const c of count) degree = Math.max(degree, c);
  const indices = new Uint32Array(inputs * degree),
    weights = new Float32Array(inputs * degree);
  for (let i = 0; i < inputs; i++) indices.fill(i, i * degree, (i + 1) * degree);
  count.fill(0);
  for (let r = 0; r < op.rows; r++) {
    for (let j = r * op.degree; j < (r + 1) * op.degree; j++) {
      const w = op.weights[j];
      if (w === 0) continue;
      const i = op.indices[j],
        at = i * degree + count[i]++;
      indices[at] = r;
      weights[at] = w;
    }
  }
  return { rows: inputs, degree, indices, weights };
}

/**
 * One layer's sparse part as a tfjs op: the coarse level's mixed a_t ([m, Vc, K·O]) → Σ_t T_t(L̃) U a_t on the
 * finer level ([m, V, O]), by the pure-TS decoder's own applyGather and chebyshevSum. Its gradient: the
 * Chebyshev terms of the incoming gradient (chebyshevStack; L̃ is symmetric), then U's transpose.
 */
function chebyshevOp(
  tf: Tf,
  upsample: SparseGather,
  coarseRows: number,
  laplacian: SparseGather,
  order: number,
  outputs: number,
) {
  const transposed = transposeGather(upsample, coarseRows);
  const V = upsample.rows,
    width = order * outputs;
  return tf.customGrad((...args) => {
    const a = args[0] as TfCore.Tensor;
    const m = a.shape[0];
    const values = a.dataSync() as Float32Array;
    const out = new Float32Array(m * V * outputs);
    const terms = new Float32Array(V * width),
      scratch = new Float32Array(V * outputs);
    for (let f = 0; f < m; f++) {
      applyGather(
        upsample,
        values.subarray(f * coarseRows * width, (f + 1) * coarseRows * width),
        width,
        0,
        width,
        terms,
        width,
        0,
      );
      chebyshevSum(laplacian, terms, outputs, order, scratch);
      for (let v = 0; v < V; v++) {
        for (let o = 0; o < outputs; o++) out[(f * V + v) * outputs + o] = terms[v * width + o];
      }
    }
    const gradFunc = (dy: TfCore.Tensor) => {
      const g = dy.dataSync() as Float32Array;
      const grad = new Float32Array(m * coarseRows * width);
      for (let f = 0; f < m; f++) {
        for (let v = 0; v < V; v++) {
          for (let o = 0; o < outputs; o++) terms[v * width + o] = g[(f * V + v) * outputs + o];
        }
        chebyshevStack(laplacian, terms, outputs, order);
        applyGather(
          transposed,
          terms,
          width,
          0,
          width,
          grad.subarray(f * coarseRows * width, (f + 1) * coarseRows * width),
          width,
          0,
        );
      }
      return tf.tensor3d(grad, [m, coarseRows, width]);
    };
    return { value: tf.tensor3d(out, [m, V, outputs]), gradFunc };
  }) as (a: TfCore.Tensor3D) => TfCore.Tensor3D;
}

/** The architecture on a hierarchy (one channel count per level). */
export function meshConvArchitecture(
  hierarchy: MeshHierarchy,
  shape: MeshConvShape,
): DecoderArchitecture<MeshConvDecoder> {
  const { channels } = shape;
  const order = shape.order ?? 3;
  const outputs = shape.outputs ?? 3;
  const L = hierarchy.levels.length - 1;
  if (channels.length !== L || L < 1) {
    throw new RangeError(`${channels.length} channel counts for a hierarchy of ${L + 1} levels (need ${L})`);
  }
  const size = (level: number) => hierarchy.levels[level].vertices.length;
  const V = size(0);

  const network = (tf: Tf, weights: Weights<TfCore.Tensor>): DecoderNetwork => {
    // Layer l: level l + 1 → level l (its output channels: the next channel count, or the decoder's outputs).
    const outs = (l: number) => (l === 0 ? outputs : channels[L - l]);
    const sparse = hierarchy.upsample.map((op, l) =>
      chebyshevOp(tf, op, size(l + 1), hierarchy.levels[l].laplacian, order, outs(l)),
    );
    const layer = (x: TfCore.Tensor3D, level: number, weights: { w: TfCore.Tensor; b: TfCore.Tensor }) => {
      const [m, coarseRows, C] = x.shape;
      const mixed = tf.matMul(tf.reshape(x, [m * coarseRows, C]) as TfCore.Tensor2D, weights.w as TfCore.Tensor2D);
      const y = sparse[level](tf.reshape(mixed, [m, coarseRows, order * outs(level)]) as TfCore.Tensor3D);
      return tf.add(y, weights.b) as TfCore.Tensor3D;
    };
    return {
      variables: [],
      forward(z: TfCore.Tensor2D): TfCore.Tensor2D {
        const m = z.shape[0];
        const first = tf.elu(tf.add(tf.matMul(z, weights.dense.w as TfCore.Tensor2D), weights.dense.b));
        let h = tf.reshape(first, [m, size(L), channels[0]]) as TfCore.Tensor3D;
        weights.blocks.forEach((block, i) => {
          const level = L - 1 - i;
          h = tf.elu(layer(h, level, block));
        });
        return tf.reshape(layer(h, 0, weights.output), [m, V * outputs]) as TfCore.Tensor2D;
      },
      dispose() {
        tf.dispose([weights.dense, ...weights.blocks, weights.output].flatMap((l) => [l.w, l.b]));
      },
    };
  };

  return {
    create(tf, k, d, random) {
      if (d !== V * outputs) throw new RangeError(`${d} outputs, but the mesh gives ${V} × ${outputs}`);
      const variable = (values: Float32Array, dims: number[], name: string) =>
        tf.variable(tf.tensor(values, dims), true, name);
      // Glorot normal, biases 0.
      const glorot = (fanIn: number, fanOut: number) => {
        const std = Math.sqrt(2 / (fanIn + fanOut));
        return Float32Array.from({ length: fanIn * fanOut }, () => std * random.normal());
      };
      const layer = (inputs: number, outs: number, name: string) => ({
        w: variable(glorot(inputs, order * outs), [inputs, order * outs], `${name}-w`),
        b: variable(new Float32Array(outs), [outs], `${name}-b`),
      });
      const width = size(L) * channels[0];
      const weights: Weights<TfCore.Variable> = {
        dense: {
          w: variable(glorot(k, width), [k, width], 'mesh-dense-w'),
          b: variable(new Float32Array(width), [width], 'mesh-dense-b'),
        },
        blocks: channels.slice(1).map((c, i) => layer(channels[i], c, `mesh-conv${i}`)),
        output: layer(channels[L - 1], outputs, 'mesh-output'),
      };
      const layers = [weights.dense, ...weights.blocks, weights.output];
      return {
        ...network(tf, weights),
        variables: layers.flatMap((l) => [l.w, l.b]),
        export: (offset, scale): MeshConvDecoder => ({
          latent: k,
          order,
          hierarchy,
          dense: exportLayer(weights.dense, k),
          blocks: weights.blocks.map((b, i) => exportLayer(b, channels[i])),
          output: exportLayer(weights.output, channels[L - 1]),
          offset,
          scale,
        }),
      };
    },
    fixed(tf, decoder) {
      if (decoder.order !== order || decoder.output.outputs !== outputs || decoder.blocks.length !== L - 1) {
        throw new RangeError('the decoder does not have the architecture’s shape');
      }
      const cheb = (l: ChebLayer) => ({
        w: tf.tensor2d(l.weight, [l.inputs, order * l.outputs]),
        b: tf.tensor1d(l.bias),
      });
      const width = size(L) * channels[0];
      return network(tf, {
        dense: { w: tf.tensor2d(decoder.dense.weight, [decoder.latent, width]), b: tf.tensor1d(decoder.dense.bias) },
        blocks: decoder.blocks.map(cheb),
        output: cheb(decoder.output),
      });
    },
  };
}

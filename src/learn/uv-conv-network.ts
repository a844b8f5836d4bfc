/**
 * The UV-space convolutional decoder (model/uv-conv-decoder.ts) as a tfjs network to train as an auto-decoder
 * (albedo-decoder.ts's trainAutoDecoder / fitLatents with `architecture: uvConvArchitecture(…)`): dense →
 * base × base × C₀ → [2× nearest resize, 3×3 conv, ELU] per block → 3×3 conv → R × R × c image → each
 * vertex's bilinear sample (a fixed gather of its 4 texels). The sampling runs on the CPU inside the graph
 * (a custom gradient): the wasm backend has no gradient kernel for gather (UnsortedSegmentSum) and its gather
 * was slow, so the forward is the weighted gather and the gradient its transpose, a scatter-add over the same
 * 4V texels.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../detect/landmark-net.js';
import { type ConvLayer, type UvConvDecoder, type UvSampling, uvResolution } from '../model/uv-conv-decoder.js';
import { type DecoderArchitecture, type DecoderNetwork, exportLayer } from './albedo-decoder.js';

export interface UvConvShape {
  /** Side of the first feature map (e.g. 8). */
  base: number;
  /** Channels of the first map, then of each upsampling block's output: R = base · 2^(channels.length − 1). */
  channels: number[];
  /** Channels of the image (default 3: RGB albedo). */
  outputs?: number;
}

interface Weights<T> {
  dense: { w: T; b: T };
  blocks: { w: T; b: T }[];
  output: { w: T; b: T };
}

/** The architecture for a sampling (its resolution must be the shape's R). */
export function uvConvArchitecture(sampling: UvSampling, shape: UvConvShape): DecoderArchitecture<UvConvDecoder> {
  const { base, channels } = shape;
  const outputs = shape.outputs ?? 3;
  const R = base << (channels.length - 1);
  if (sampling.resolution !== R) {
    throw new RangeError(`the sampling is for ${sampling.resolution}² texels, the shape makes ${R}²`);
  }
  const V = sampling.texels.length / 4;

  const network = (tf: Tf, weights: Weights<TfCore.Tensor>): DecoderNetwork => {
    // Both ways on the CPU: the wasm GatherV2 took half of a training step (and its gradient has no kernel).
    const sample = tf.customGrad((...args) => {
      const image = args[0] as TfCore.Tensor;
      const m = image.shape[0];
      const pixels = image.dataSync();
      const values = new Float32Array(m * V * outputs);
      for (let f = 0; f < m; f++) {
        for (let v = 0; v < V; v++) {
          const to = (f * V + v) * outputs;
          for (let q = 4 * v; q < 4 * v + 4; q++) {
            const from = (f * R * R + sampling.texels[q]) * outputs,
              w = sampling.weights[q];
            for (let ch = 0; ch < outputs; ch++) values[to + ch] += w * pixels[from + ch];
          }
        }
      }
      // The transpose of the sampling: each output's gradient back to its 4 texels.
      const gradFunc = (dy: TfCore.Tensor) => {
        const g = dy.dataSync();
        const grad = new Float32Array(m * R * R * outputs);
        for (let f = 0; f < m; f++) {
          for (let v = 0; v < V; v++) {
            const from = (f * V + v) * outputs;
            for (let q = 4 * v; q < 4 * v + 4; q++) {
              const to = (f * R * R + sampling.texels[q]) * outputs,
                w = sampling.weights[q];
              for (let ch = 0; ch < outputs; ch++) grad[to + ch] += w * g[from + ch];
            }
          }
        }
        return tf.tensor3d(grad, [m, R * R, outputs]);
      };
      return { value: tf.tensor2d(values, [m, V * outputs]), gradFunc };
    });
    return {
      variables: [],
      forward(z: TfCore.Tensor2D): TfCore.Tensor2D {
        const m = z.shape[0];
        const first = tf.add(tf.matMul(z, weights.dense.w as TfCore.Tensor2D), weights.dense.b);
        let h = tf.reshape(tf.elu(first), [m, base, base, channels[0]]) as TfCore.Tensor4D;
        for (const block of weights.blocks) {
          const side = 2 * h.shape[1];
          const up = tf.image.resizeNearestNeighbor(h, [side, side]);
          h = tf.elu(tf.add(tf.conv2d(up, block.w as TfCore.Tensor4D, 1, 'same'), block.b)) as TfCore.Tensor4D;
        }
        const image = tf.add(tf.conv2d(h, weights.output.w as TfCore.Tensor4D, 1, 'same'), weights.output.b);
        return sample(tf.reshape(image, [m, R * R, outputs])) as TfCore.Tensor2D;
      },
      dispose() {
        tf.dispose([weights.dense, ...weights.blocks, weights.output].flatMap((l) => [l.w, l.b]));
      },
    };
  };

  return {
    create(tf, k, d, random) {
      if (d !== V * outputs) throw new RangeError(`${d} outputs, but the sampling gives ${V} × ${outputs}`);
      const variable = (values: Float32Array, dims: number[], name: string) =>
        tf.variable(tf.tensor(values, dims), true, name);
      // Glorot normal, biases 0.
      const glorot = (count: number, fanIn: number, fanOut: number) => {
        const std = Math.sqrt(2 / (fanIn + fanOut));
        return Float32Array.from({ length: count }, () => std * random.normal());
      };
      const width = base * base * channels[0];
      const weights: Weights<TfCore.Variable> = {
        dense: {
          w: variable(glorot(k * width, k, width), [k, width], 'uv-dense-w'),
          b: variable(new Float32Array(width), [width], 'uv-dense-b'),
        },
        blocks: channels.slice(1).map((c, i) => ({
          w: variable(glorot(9 * channels[i] * c, 9 * channels[i], 9 * c), [3, 3, channels[i], c], `uv-conv-w${i}`),
          b: variable(new Float32Array(c), [c], `uv-conv-b${i}`),
        })),
        output: {
          w: variable(
            glorot(9 * channels[channels.length - 1] * outputs, 9 * channels[channels.length - 1], 9 * outputs),
            [3, 3, channels[channels.length - 1], outputs],
            'uv-output-w',
          ),
          b: variable(new Float32Array(outputs), [outputs], 'uv-output-b'),
        },
      };
      const layers = [weights.dense, ...weights.blocks, weights.output];
      return {
        ...network(tf, weights),
        variables: layers.flatMap((l) => [l.w, l.b]),
        export: (offset, scale): UvConvDecoder => ({
          latent: k,
          base,
          dense: exportLayer(weights.dense, k),
          blocks: weights.blocks.map((b, i) => exportLayer(b, channels[i])),
          output: exportLayer(weights.output, channels[channels.length - 1]),
          sampling,
          offset,
          scale,
        }),
      };
    },
    fixed(tf, decoder) {
      if (uvResolution(decoder) !== R || decoder.output.outputs !== outputs) {
        throw new RangeError('the decoder does not have the architecture’s shape');
      }
      const conv = (l: ConvLayer) => ({
        w: tf.tensor4d(l.weight, [3, 3, l.inputs, l.outputs]),
        b: tf.tensor1d(l.bias),
      });
      const width = base * base * channels[0];
      return network(tf, {
        dense: { w: tf.tensor2d(decoder.dense.weight, [decoder.latent, width]), b: tf.tensor1d(decoder.dense.bias) },
        blocks: decoder.blocks.map(conv),
        output: conv(decoder.output),
      });
    },
  };
}

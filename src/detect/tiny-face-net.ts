/**
 * TinyFaceDetector's forward pass (face-api's TinyYolov2 `runMobilenet` with its 'tiny_face_detector_model'
 * weights), one layer at a time, each layer's input freed as soon as the next is made.
 *
 * face-api's own pass runs inside one tf.tidy, so every layer's output, and inside each layer its padded
 * copy, depthwise output, bias sum and the four tensors of its leaky ReLU, stay allocated to the end: on the
 * detector's finest pyramid level of a 1280 × 1024 photo (a 1152 × 928 input) that is over 500 MB of wasm
 * heap, which never shrinks, and the first touch of those pages was most of a fit's first detection (1.3 s
 * against 0.3 s warm). Here bias and leaky ReLU ride on the convolution (tf.fused.conv2d) and at most a
 * layer's input and output are alive.
 *
 * The arithmetic is face-api's but for the leaky ReLU: face-api computes relu(x − 0.1x) + 0.1x, the fused
 * kernel max(x, 0.1x), equal to a float32 rounding (test/tiny-face-net.test.ts compares the two passes).
 */
import type * as TfCore from '@tensorflow/tfjs-core';

interface ConvParams {
  filters: TfCore.Tensor4D;
  bias: TfCore.Tensor1D;
}

interface SeparableConvParams {
  depthwise_filter: TfCore.Tensor4D;
  pointwise_filter: TfCore.Tensor4D;
  bias: TfCore.Tensor1D;
}

/** TinyFaceDetector's weights as face-api holds them (TinyYolov2 with separable convolutions). */
export interface TinyFaceNetParams {
  conv0: ConvParams;
  conv1: SeparableConvParams;
  conv2: SeparableConvParams;
  conv3: SeparableConvParams;
  conv4: SeparableConvParams;
  conv5: SeparableConvParams;
  conv6?: SeparableConvParams;
  conv7?: SeparableConvParams;
  conv8: ConvParams;
}

const LEAK = 0.1;

/**
 * Throws unless `params` has the layers of face-api's TinyFaceDetector ('tiny_face_detector_model': a full
 * 3 × 3 convolution first, separable ones after, a 1 × 1 convolution last).
 */
export function checkTinyFaceNetParams(params: unknown): asserts params is TinyFaceNetParams {
  const p = params as Record<string, Record<string, { shape?: number[] }> | undefined>;
  const has = (layer: string, ...names: string[]) => names.every((n) => p?.[layer]?.[n]?.shape);
  const separable = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'].every((l) =>
    has(l, 'depthwise_filter', 'pointwise_filter', 'bias'),
  );
  if (!(has('conv0', 'filters', 'bias') && separable && has('conv8', 'filters', 'bias'))) {
    throw new Error("the face detector weights are not TinyFaceDetector's (conv0 … conv8)");
  }
}

/**
 * The net's output grid for `x` ([1, h, w, 3], float32, already mean-subtracted and scaled to face-api's
 * input range): [1, h / 32, w / 32, 5 anchors × 5]. `x` is left to the caller; every other tensor made
 * here is freed.
 */
export function runTinyFaceNet(tf: typeof TfCore, x: TfCore.Tensor4D, params: TinyFaceNetParams): TfCore.Tensor4D {
  /** Replaces `current` by `next(current)`, freeing `current` unless it is the caller's input. */
  let current = x;
  const step = (next: (input: TfCore.Tensor4D) => TfCore.Tensor4D) => {
    const input = current;
    current = next(input);
    if (input !== x) input.dispose();
  };
  const separable = (p: SeparableConvParams) =>
    step((input) => {
      const depthwise = tf.depthwiseConv2d(input, p.depthwise_filter, 1, 'same');
      try {
        return tf.fused.conv2d({
          x: depthwise,
          filter: p.pointwise_filter,
          strides: 1,
          pad: 'valid',
          bias: p.bias,
          activation: 'leakyrelu',
          leakyreluAlpha: LEAK,
        });
      } finally {
        depthwise.dispose();
      }
    });
  const pool = (stride: number) => step((input) => tf.maxPool(input, 2, stride, 'same'));

  step((input) =>
    tf.fused.conv2d({
      x: input,
      filter: params.conv0.filters,
      strides: 1,
      pad: 'valid',
      bias: params.conv0.bias,
      activation: 'leakyrelu',
      leakyreluAlpha: LEAK,
    }),
  );
  pool(2);
  separable(params.conv1);
  pool(2);
  separable(params.conv2);
  pool(2);
  separable(params.conv3);
  pool(2);
  separable(params.conv4);
  pool(2);
  separable(params.conv5);
  pool(1);
  if (params.conv6) separable(params.conv6);
  if (params.conv7) separable(params.conv7);
  step((input) =>
    tf.fused.conv2d({ x: input, filter: params.conv8.filters, strides: 1, pad: 'valid', bias: params.conv8.bias }),
  );
  return current;
}

/**
 * The project's own 68-point landmark network: face-api's FaceLandmark68Net feature extractor (four dense
 * blocks of separable convolutions, 112×112 → 7×7×256) with one of two heads:
 * - 'regression': face-api's own head (global average pool + a fully connected layer to 136 coordinates)
 *   plus a spatial branch that face-api's pooling throws away: a 1×1 convolution to 16 channels, the 7×7×16
 *   map flattened, a fully connected layer to 136 corrections (zero at the start, so training starts from
 *   face-api's answer);
 * - 'pip': a PIPNet-style head (Jin et al. 2021): a 1×1 convolution gives, in each of the 7×7 cells, a score
 *   and an x/y offset for every landmark; a landmark is the best-scoring cell plus its offset.
 *
 * Pure tfjs-core ops on a `tf` namespace handed in, so the same code trains in Node (src/learn/) and runs in a
 * browser (face-api's bundled tfjs).
 */
import type * as TfCore from '@tensorflow/tfjs-core';

export type Tf = typeof TfCore;

/** Input side in pixels. */
export const LANDMARK_NET_INPUT = 112;
/** Cells per side of the output grid (input side / 16). */
export const LANDMARK_NET_GRID = 7;
export const LANDMARK_COUNT = 68;
/** Output channels of the 'pip' head: 68 scores, 68 x offsets, 68 y offsets. */
export const LANDMARK_NET_CHANNELS = 3 * LANDMARK_COUNT;
/** Channels of the regression head's spatial branch. */
const SPATIAL_CHANNELS = 16;

export type LandmarkHead = 'regression' | 'pip';
export const LANDMARK_HEADS: readonly LandmarkHead[] = ['regression', 'pip'];

/** face-api's input normalisation: RGB mean subtracted, then / 255. */
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** Parameter names and shapes, in file order. Names follow face-api's weight map (`fc/*` too); `head/*` is ours. */
export function landmarkNetShapes(head: LandmarkHead): Array<[string, number[]]> {
  const shapes: Array<[string, number[]]> = [
    ['dense0/conv0/filters', [3, 3, 3, 32]],
    ['dense0/conv0/bias', [32]],
  ];
  const channels = [32, 32, 64, 128, 256];
  for (let block = 0; block < 4; block++) {
    for (let conv = block === 0 ? 1 : 0; conv < 4; conv++) {
      const cin = conv === 0 ? channels[block] : channels[block + 1];
      const cout = channels[block + 1];
      const prefix = `dense${block}/conv${conv}`;
      shapes.push([`${prefix}/depthwise_filter`, [3, 3, cin, 1]]);
      shapes.push([`${prefix}/pointwise_filter`, [1, 1, cin, cout]]);
      shapes.push([`${prefix}/bias`, [cout]]);
    }
  }
  if (head === 'pip') {
    shapes.push(['head/filters', [1, 1, 256, LANDMARK_NET_CHANNELS]]);
    shapes.push(['head/bias', [LANDMARK_NET_CHANNELS]]);
  } else {
    const g = LANDMARK_NET_GRID;
    shapes.push(['fc/weights', [256, 2 * LANDMARK_COUNT]]);
    shapes.push(['fc/bias', [2 * LANDMARK_COUNT]]);
    shapes.push(['head/reduce', [1, 1, 256, SPATIAL_CHANNELS]]);
    shapes.push(['head/reduce_bias', [SPATIAL_CHANNELS]]);
    shapes.push(['head/spatial', [g * g * SPATIAL_CHANNELS, 2 * LANDMARK_COUNT]]);
    shapes.push(['head/spatial_bias', [2 * LANDMARK_COUNT]]);
  }
  return shapes;
}

export type LandmarkNetParams = Record<string, TfCore.Tensor>;

function separable(tf: Tf, x: TfCore.Tensor4D, p: LandmarkNetParams, prefix: string, stride: 1 | 2): TfCore.Tensor4D {
  const y = tf.separableConv2d(
    x,
    p[`${prefix}/depthwise_filter`] as TfCore.Tensor4D,
    p[`${prefix}/pointwise_filter`] as TfCore.Tensor4D,
    stride,
    'same',
  );
  return tf.add(y, p[`${prefix}/bias`]);
}

function denseBlock(tf: Tf, x: TfCore.Tensor4D, p: LandmarkNetParams, block: number): TfCore.Tensor4D {
  const prefix = `dense${block}`;
  const first =
    block === 0
      ? tf.add(tf.conv2d(x, p[`${prefix}/conv0/filters`] as TfCore.Tensor4D, 2, 'same'), p[`${prefix}/conv0/bias`])
      : separable(tf, x, p, `${prefix}/conv0`, 2);
  const out1 = tf.relu(first) as TfCore.Tensor4D;
  const out2 = separable(tf, out1, p, `${prefix}/conv1`, 1);
  const in3 = tf.relu(tf.add(out1, out2)) as TfCore.Tensor4D;
  const out3 = separable(tf, in3, p, `${prefix}/conv2`, 1);
  const in4 = tf.relu(tf.add(tf.add(out1, out2), out3)) as TfCore.Tensor4D;
  const out4 = separable(tf, in4, p, `${prefix}/conv3`, 1);
  return tf.relu(tf.add(tf.add(tf.add(out1, out2), out3), out4)) as TfCore.Tensor4D;
}

/**
 * Call inside tf.tidy. Raw head output for crops [B, 112, 112, 3] of RGB values in 0..255:
 * 'regression': [B, 136], landmark coordinates in crop units (see decodeLandmarkNetOutput);
 * 'pip': [B, 7, 7, 204], per cell 68 score logits, then 68 x and 68 y offsets in cell units from the cell's
 * top-left corner.
 */
export function landmarkNetForward(
  tf: Tf,
  params: LandmarkNetParams,
  crops: TfCore.Tensor4D,
  head: LandmarkHead,
): TfCore.Tensor {
  return landmarkNetHead(tf, params, landmarkNetFeatures(tf, params, crops), head);
}

/** The head alone, on the feature extractor's output [B, 7, 7, 256] (see landmarkNetForward). */
export function landmarkNetHead(
  tf: Tf,
  params: LandmarkNetParams,
  features: TfCore.Tensor4D,
  head: LandmarkHead,
): TfCore.Tensor {
  if (head === 'pip') {
    return tf.add(tf.conv2d(features, params['head/filters'] as TfCore.Tensor4D, 1, 'valid'), params['head/bias']);
  }
  const batch = features.shape[0];
  const pooled = tf.reshape(tf.mean(features, [1, 2]), [batch, 256]);
  const global = tf.add(tf.matMul(pooled, params['fc/weights'] as TfCore.Tensor2D), params['fc/bias']);
  const reduced = tf.relu(
    tf.add(tf.conv2d(features, params['head/reduce'] as TfCore.Tensor4D, 1, 'valid'), params['head/reduce_bias']),
  );
  const flat = tf.reshape(reduced, [batch, LANDMARK_NET_GRID * LANDMARK_NET_GRID * SPATIAL_CHANNELS]);
  const spatial = tf.add(tf.matMul(flat, params['head/spatial'] as TfCore.Tensor2D), params['head/spatial_bias']);
  return tf.add(global, spatial);
}

/** The feature extractor alone: [B, 7, 7, 256], as face-api's FaceFeatureExtractor before its pooling. */
export function landmarkNetFeatures(tf: Tf, params: LandmarkNetParams, crops: TfCore.Tensor4D): TfCore.Tensor4D {
  const mean = tf.tensor1d(MEAN_RGB as unknown as number[]);
  let x = tf.div(tf.sub(crops, mean), 255) as TfCore.Tensor4D;
  for (let block = 0; block < 4; block++) x = denseBlock(tf, x, params, block);
  return x;
}

/**
 * Landmarks from the head output of `batch` crops, as crop coordinates in units of the crop side (0..1,
 * pixel-centre convention: pixel i's centre is at (i + 0.5) / 112), 136 values per crop, into `out`.
 */
export function decodeLandmarkNetOutput(
  output: Float32Array,
  batch: number,
  head: LandmarkHead,
  out: Float32Array = new Float32Array(batch * 2 * LANDMARK_COUNT),
): Float32Array {
  const n = LANDMARK_COUNT;
  if (head === 'regression') {
    out.set(output.subarray(0, batch * 2 * n));
    return out;
  }
  const g = LANDMARK_NET_GRID;
  const c = LANDMARK_NET_CHANNELS;
  for (let b = 0; b < batch; b++) {
    const base = b * g * g * c;
    for (let k = 0; k < n; k++) {
      let best = 0;
      let bestScore = -Infinity;
      for (let cell = 0; cell < g * g; cell++) {
        const s = output[base + cell * c + k];
        if (s > bestScore) {
          bestScore = s;
          best = cell;
        }
      }
      const row = Math.floor(best / g);
      const col = best - row * g;
      const at = base + best * c;
      out[b * 2 * n + 2 * k] = (col + output[at + n + k]) / g;
      out[b * 2 * n + 2 * k + 1] = (row + output[at + 2 * n + k]) / g;
    }
  }
  return out;
}

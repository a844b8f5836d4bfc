/**
 * face-api's face-recognition net (FaceRecognitionNet, MIT; a port of dlib's ResNet-29 face descriptor):
 * a 150×150 RGB crop → a 128-D embedding in which photos of one person lie close together (face-api calls
 * two faces the same person below a Euclidean distance of 0.6). Written here with tfjs-core ops on a
 * parameter record (the names of face-api's weight map), so that gradients can flow through it; the same
 * numbers as face-api's `computeFaceDescriptor` on the same 150×150 input.
 *
 * The net: mean RGB subtracted and / 255; a 7×7 stride-2 'valid' convolution to 32 channels; a 3×3
 * stride-2 max pool; residual blocks (two 3×3 convolutions, each followed by a per-channel scale and
 * shift, ReLU after the first and after the sum) at 32, 64, 128 and 256 channels, the first of each width
 * (and a last one at 256) halving the resolution with a stride-2 'valid' convolution against a 2×2
 * average pool of its input, zero-padded in channels (and by one row and column where the sizes differ);
 * then a global mean and a 256 × 128 matrix.
 *
 * The crop (`embeddingCropGeometry`) mimics face-api's `withFaceDescriptor`, which aligns the box from
 * the 68 landmarks with its "dlib alignment": a square of side ⌊a / 0.45⌋, where a is the mean distance
 * from the mouth's centroid to the two eyes' centroids, centred horizontally on the centroid c of those
 * three points and with its top at c.y − 0.43 · side. Differences, on purpose: the box is not rounded to
 * whole pixels, clipped at the image border and padded back to a square (here: black outside the image,
 * the box stays centred), and the crop is resampled with face-crop's `warpCrop` (bilinear with a mip
 * prefilter) instead of tfjs's unfiltered bilinear resize, so that a large face is not aliased. Like
 * face-api, the crop is not turned to undo the head's roll.
 *
 * Pure tfjs-core ops on a `tf` handed in; no Node APIs.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { RgbImage } from '../render/rgb-image.js';
import { type CropGeometry, warpCrop } from './face-crop.js';
import type { Tf } from './landmark-net.js';

/** Input side in pixels. */
export const EMBEDDING_INPUT = 150;
/** Embedding length. */
export const EMBEDDING_SIZE = 128;

/** face-api's input normalisation for this net: RGB mean subtracted, then / 255. */
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** Residual blocks in order: name, channels, whether it halves the resolution. */
const BLOCKS: ReadonlyArray<readonly [string, number, boolean]> = [
  ['conv32_1', 32, false],
  ['conv32_2', 32, false],
  ['conv32_3', 32, false],
  ['conv64_down', 64, true],
  ['conv64_1', 64, false],
  ['conv64_2', 64, false],
  ['conv64_3', 64, false],
  ['conv128_down', 128, true],
  ['conv128_1', 128, false],
  ['conv128_2', 128, false],
  ['conv256_down', 256, true],
  ['conv256_1', 256, false],
  ['conv256_2', 256, false],
  ['conv256_down_out', 256, true],
];

/** Parameter names and shapes of face-api's face_recognition_model weight map. */
export function faceEmbeddingShapes(): Array<[string, number[]]> {
  const layer = (prefix: string, k: number, cin: number, cout: number): Array<[string, number[]]> => [
    [`${prefix}/conv/filters`, [k, k, cin, cout]],
    [`${prefix}/conv/bias`, [cout]],
    [`${prefix}/scale/weights`, [cout]],
    [`${prefix}/scale/biases`, [cout]],
  ];
  const shapes = layer('conv32_down', 7, 3, 32);
  let cin = 32;
  for (const [name, c] of BLOCKS) {
    shapes.push(...layer(`${name}/conv1`, 3, cin, c), ...layer(`${name}/conv2`, 3, c, c));
    cin = c;
  }
  shapes.push(['fc', [256, EMBEDDING_SIZE]]);
  return shapes;
}

export type FaceEmbeddingParams = Record<string, TfCore.Tensor>;

/** Convolution + bias, then the per-channel scale and shift, and a ReLU if asked. */
function convLayer(
  tf: Tf,
  x: TfCore.Tensor4D,
  p: FaceEmbeddingParams,
  prefix: string,
  stride: 1 | 2,
  relu: boolean,
  pad: 'same' | 'valid' = 'same',
): TfCore.Tensor4D {
  let y = tf.add(tf.conv2d(x, p[`${prefix}/conv/filters`] as TfCore.Tensor4D, stride, pad), p[`${prefix}/conv/bias`]);
  y = tf.add(tf.mul(y, p[`${prefix}/scale/weights`]), p[`${prefix}/scale/biases`]);
  return (relu ? tf.relu(y) : y) as TfCore.Tensor4D;
}

function residual(tf: Tf, x: TfCore.Tensor4D, p: FaceEmbeddingParams, name: string, down: boolean): TfCore.Tensor4D {
  if (!down) {
    const y = convLayer(tf, convLayer(tf, x, p, `${name}/conv1`, 1, true), p, `${name}/conv2`, 1, false);
    return tf.relu(tf.add(y, x)) as TfCore.Tensor4D;
  }
  let y = convLayer(tf, convLayer(tf, x, p, `${name}/conv1`, 2, true, 'valid'), p, `${name}/conv2`, 1, false);
  let shortcut = tf.avgPool(x, 2, 2, 'valid');
  const [, h, w, c] = y.shape;
  if (shortcut.shape[1] !== h || shortcut.shape[2] !== w) {
    // face-api pads the convolution branch with a zero row and column at the end.
    y = tf.pad(y, [
      [0, 0],
      [0, shortcut.shape[1] - h],
      [0, shortcut.shape[2] - w],
      [0, 0],
    ]);
  }
  if (shortcut.shape[3] !== c) {
    shortcut = tf.pad(shortcut, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, c - shortcut.shape[3]],
    ]);
  }
  return tf.relu(tf.add(shortcut, y)) as TfCore.Tensor4D;
}

/**
 * Call inside tf.tidy. Embeddings [B, 128] of crops [B, 150, 150, 3] of RGB values in 0..255 (not
 * normalised to unit length, as face-api's descriptors).
 */
export function faceEmbeddingForward(tf: Tf, params: FaceEmbeddingParams, crops: TfCore.Tensor4D): TfCore.Tensor2D {
  const mean = tf.tensor1d(MEAN_RGB as unknown as number[]);
  let x = tf.div(tf.sub(crops, mean), 255) as TfCore.Tensor4D;
  x = convLayer(tf, x, params, 'conv32_down', 2, true, 'valid');
  x = tf.maxPool(x, 3, 2, 'valid');
  for (const [name, , down] of BLOCKS) x = residual(tf, x, params, name, down);
  const pooled = tf.mean(x, [1, 2]) as TfCore.Tensor2D;
  return tf.matMul(pooled, params.fc as TfCore.Tensor2D);
}

/** face-api's dlib-style alignment box for 68 iBUG landmarks (x0 y0 …, image pixels), as a crop geometry. */
export function embeddingCropGeometry(landmarks: Float32Array): CropGeometry {
  if (landmarks.length !== 136) throw new RangeError(`expected 68 landmarks (136 values), got ${landmarks.length}`);
  // Points a model lacks (NaN: the Surrey model's inner lip corners, in renders of it) are left out.
  const centroid = (from: number, to: number) => {
    let x = 0,
      y = 0,
      n = 0;
    for (let i = from; i < to; i++) {
      if (!Number.isFinite(landmarks[2 * i]) || !Number.isFinite(landmarks[2 * i + 1])) continue;
      x += landmarks[2 * i];
      y += landmarks[2 * i + 1];
      n++;
    }
    return [x / n, y / n];
  };
  const [lx, ly] = centroid(36, 42);
  const [rx, ry] = centroid(42, 48);
  const [mx, my] = centroid(48, 68);
  const a = (Math.hypot(mx - lx, my - ly) + Math.hypot(mx - rx, my - ry)) / 2;
  const side = a / 0.45;
  const cx = (lx + rx + mx) / 3,
    cy = (ly + ry + my) / 3;
  return { centreX: cx, centreY: cy - 0.43 * side + side / 2, side, angle: 0, flip: false };
}

/** The 150×150 crop the embedding net sees of a face with these 68 landmarks, into `out` (HWC, 0..255). */
export function embeddingCrop(
  image: RgbImage,
  landmarks: Float32Array,
  out: Float32Array = new Float32Array(EMBEDDING_INPUT * EMBEDDING_INPUT * 3),
): Float32Array {
  return warpCrop(image, embeddingCropGeometry(landmarks), EMBEDDING_INPUT, out);
}

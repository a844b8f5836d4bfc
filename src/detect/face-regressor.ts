/**
 * One-pass 3DMM regression (3DDFA_V2-style, Guo et al. 2020): from the landmark net's crop straight to the
 * model's pose, leading identity modes and expressions, with no fitting.
 *
 * It is a head on the landmark net (landmark-net.ts), not a second CNN: it reads the net's 7×7×256 features
 * of the crop and its 136 landmark outputs, so on top of the landmark pass it costs one small matrix product
 * (the landmark net is face-api's feature extractor, the part that costs the time). The head: the features
 * average-pooled (256), a 1×1 convolution of them to 16 channels flattened (784), and the landmark outputs
 * (136), concatenated → 256 ReLU units → the parameters.
 *
 * Parameters (3DDFA's affine camera with its scale folded into the rotation rows): 1000·s·r₀ and 1000·s·r₁
 * (the first two rows of the rotation, model → camera, times the crop-units-per-mm scale s), the 2D position
 * of the model origin in the crop (units of the crop side, x right, y down), the first `identity` identity
 * coefficients (standard deviations) and every expression coefficient. Weak perspective:
 *   u = tx + s·r₀·X,  v = ty − s·r₁·X  (crop units), X the model-space point (mm).
 * Pure tfjs-core ops on a `tf` handed in (training in Node, inference in a browser).
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { CropGeometry } from './face-crop.js';
import { LANDMARK_COUNT, LANDMARK_NET_GRID, type LandmarkNetParams, type Tf } from './landmark-net.js';

const REDUCED_CHANNELS = 16;
const HIDDEN = 256;
/** The scale s·r rows are predicted ×1000 (crop units per metre): values of order 1–10. */
export const ROW_SCALE = 1000;
/** Outputs before the identity: s·r₀ (3), s·r₁ (3), tx, ty. */
export const POSE_OUTPUTS = 8;

export interface FaceRegressorLayout {
  /** Leading identity modes predicted. */
  identity: number;
  /** Expression coefficients predicted (all of the model's). */
  expression: number;
}

export function regressorOutputs(layout: FaceRegressorLayout): number {
  return POSE_OUTPUTS + layout.identity + layout.expression;
}

/** Parameter names and shapes, in file order. */
export function faceRegressorShapes(layout: FaceRegressorLayout): Array<[string, number[]]> {
  const g = LANDMARK_NET_GRID;
  const inputs = 256 + g * g * REDUCED_CHANNELS + 2 * LANDMARK_COUNT;
  return [
    ['regressor/reduce', [1, 1, 256, REDUCED_CHANNELS]],
    ['regressor/reduce_bias', [REDUCED_CHANNELS]],
    ['regressor/hidden', [inputs, HIDDEN]],
    ['regressor/hidden_bias', [HIDDEN]],
    ['regressor/out', [HIDDEN, regressorOutputs(layout)]],
    ['regressor/out_bias', [regressorOutputs(layout)]],
  ];
}

/**
 * Call inside tf.tidy. Raw parameters [B, outputs] from the landmark net's features [B, 7, 7, 256] and its
 * regression output [B, 136] (crop units).
 */
export function faceRegressorForward(
  tf: Tf,
  params: LandmarkNetParams,
  features: TfCore.Tensor4D,
  landmarks: TfCore.Tensor2D,
): TfCore.Tensor2D {
  const batch = features.shape[0];
  const g = LANDMARK_NET_GRID;
  const pooled = tf.reshape(tf.mean(features, [1, 2]), [batch, 256]);
  const reduced = tf.relu(
    tf.add(
      tf.conv2d(features, params['regressor/reduce'] as TfCore.Tensor4D, 1, 'valid'),
      params['regressor/reduce_bias'],
    ),
  );
  const flat = tf.reshape(reduced, [batch, g * g * REDUCED_CHANNELS]);
  const input = tf.concat([pooled, flat, tf.sub(landmarks, 0.5)], 1);
  const hidden = tf.relu(
    tf.add(tf.matMul(input, params['regressor/hidden'] as TfCore.Tensor2D), params['regressor/hidden_bias']),
  );
  return tf.add(tf.matMul(hidden, params['regressor/out'] as TfCore.Tensor2D), params['regressor/out_bias']);
}

/** A regressed face: weak-perspective pose in the photo, identity and expression. */
export interface FaceRegression {
  /** Row-major 3×3, model → camera, orthonormal. */
  rotation: Float64Array;
  /** Image pixels per millimetre at the face. */
  pixelsPerMm: number;
  /** Where the model origin projects, image pixels. */
  originX: number;
  originY: number;
  /** Model identity count (zeros past the predicted modes). */
  identity: Float32Array;
  expression: Float32Array;
}

/**
 * Decodes one row of raw output (at `offset`) for a crop of `geometry` seen at `size` pixels. An upright,
 * unmirrored crop only (the landmark passes' canonical crops are). `bounded`: blendshape weights, clamped
 * to [0, 1].
 */
export function decodeFaceRegression(
  output: ArrayLike<number>,
  offset: number,
  layout: FaceRegressorLayout,
  geometry: CropGeometry,
  identityCount: number,
  bounded: boolean,
): FaceRegression {
  const o = (i: number) => output[offset + i];
  const rotation = new Float64Array(9);
  const scale = rotationFromScaledRows(output, offset, rotation) / ROW_SCALE;
  const identity = new Float32Array(identityCount);
  for (let k = 0; k < Math.min(layout.identity, identityCount); k++) identity[k] = o(POSE_OUTPUTS + k);
  const expression = new Float32Array(layout.expression);
  for (let k = 0; k < layout.expression; k++) {
    const v = o(POSE_OUTPUTS + layout.identity + k);
    expression[k] = bounded ? Math.min(1, Math.max(0, v)) : v;
  }
  return {
    rotation,
    pixelsPerMm: scale * geometry.side,
    originX: geometry.centreX + (o(6) - 0.5) * geometry.side,
    originY: geometry.centreY + (o(7) - 0.5) * geometry.side,
    identity,
    expression,
  };
}

/**
 * The rotation (row-major, into `out`) whose first two rows, times a scale, are the six values at `offset`
 * (Gram–Schmidt: the first row kept, the second made orthogonal to it, the third their cross product).
 * Returns the scale: the two rows' mean length.
 */
export function rotationFromScaledRows(values: ArrayLike<number>, offset: number, out: Float64Array): number {
  const a0 = values[offset],
    a1 = values[offset + 1],
    a2 = values[offset + 2];
  const b0 = values[offset + 3],
    b1 = values[offset + 4],
    b2 = values[offset + 5];
  const na = Math.hypot(a0, a1, a2);
  const x0 = a0 / na,
    x1 = a1 / na,
    x2 = a2 / na;
  const dot = x0 * b0 + x1 * b1 + x2 * b2;
  const c0 = b0 - dot * x0,
    c1 = b1 - dot * x1,
    c2 = b2 - dot * x2;
  const nc = Math.hypot(c0, c1, c2);
  const y0 = c0 / nc,
    y1 = c1 / nc,
    y2 = c2 / nc;
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = y0;
  out[4] = y1;
  out[5] = y2;
  out[6] = x1 * y2 - x2 * y1;
  out[7] = x2 * y0 - x0 * y2;
  out[8] = x0 * y1 - x1 * y0;
  return (na + Math.hypot(b0, b1, b2)) / 2;
}

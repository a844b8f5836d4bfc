/**
 * Trains the one-pass 3DMM regressor head (detect/face-regressor.ts) on stored examples
 * (regressor-dataset.ts). The landmark net stays frozen, so its features are computed once and an epoch is
 * one small MLP pass over them.
 *
 * Loss per example (3DDFA's terms, Guo et al. 2020 / Zhu et al. 2016):
 * - projection (VDC in the image): the predicted mesh at the label vertices, projected with the predicted
 *   weak-perspective camera, against the true projections; mean squared distance in % of the crop side;
 * - shape (VDC in 3D): ‖B_id(α̂ − α) + B_ex(β̂ − β)‖² at the label vertices, mean per vertex, in mm²;
 * - camera (WPDC's pose part): the squared difference of the six scaled rotation-row outputs;
 * plus a small parameter-distance term on the identity (standard-deviation units).
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import {
  type FaceRegressorLayout,
  faceRegressorForward,
  faceRegressorShapes,
  POSE_OUTPUTS,
  regressorOutputs,
  rotationFromScaledRows,
} from '../detect/face-regressor.js';
import { LANDMARK_COUNT, type Tf } from '../detect/landmark-net.js';
import { anglesFromRotation } from '../geometry/rotation.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { Adam } from './adam.js';
import { FEATURE_SIZE, type RegressorExamples } from './regressor-dataset.js';

export interface RegressorTrainingOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Loss weights. */
  projection: number;
  shape: number;
  camera: number;
  parameters: number;
}

export const DEFAULT_REGRESSOR_TRAINING: RegressorTrainingOptions = {
  epochs: 40,
  batchSize: 64,
  learningRate: 1e-3,
  seed: 16,
  projection: 1,
  shape: 1,
  camera: 1,
  parameters: 0.1,
};

/** Validation measures of one epoch. */
export interface RegressorScores {
  loss: number;
  /** Mean absolute yaw / pitch / roll error, degrees. */
  yaw: number;
  pitch: number;
  roll: number;
  /** Mean label-vertex 3D error of the predicted shape, mm, and the mean face's, on the same examples. */
  shapeMm: number;
  meanFaceMm: number;
  /** Mean projected label-vertex error, % of the crop side. */
  projectionPercent: number;
}

export interface TrainedRegressor {
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
  history: Array<{ epoch: number; trainLoss: number; validation: RegressorScores; seconds: number }>;
}

/** The label vertices' mean and basis rows, as constants of the loss. */
function basisTensors(tf: Tf, model: MorphableModel, layout: FaceRegressorLayout, vertices: Int32Array) {
  const V = vertices.length;
  const n3 = 3 * model.vertexCount;
  const mean = new Float32Array(3 * V);
  const id = new Float32Array(layout.identity * 3 * V);
  const ex = new Float32Array(layout.expression * 3 * V);
  for (let j = 0; j < V; j++) {
    for (let c = 0; c < 3; c++) {
      const at = 3 * vertices[j] + c;
      mean[3 * j + c] = model.mean[at];
      for (let k = 0; k < layout.identity; k++) id[k * 3 * V + 3 * j + c] = model.identity.basis[k * n3 + at];
      for (let k = 0; k < layout.expression; k++) ex[k * 3 * V + 3 * j + c] = model.expression.basis[k * n3 + at];
    }
  }
  return {
    mean: tf.tensor1d(mean),
    identity: tf.tensor2d(id, [layout.identity, 3 * V]),
    expression: tf.tensor2d(ex, [layout.expression, 3 * V]),
  };
}

export function trainFaceRegressor(
  tf: Tf,
  model: MorphableModel,
  layout: FaceRegressorLayout,
  vertices: Int32Array,
  train: RegressorExamples,
  validation: RegressorExamples,
  options: RegressorTrainingOptions = DEFAULT_REGRESSOR_TRAINING,
  onEpoch?: (epoch: number, trainLoss: number, scores: RegressorScores) => void,
): TrainedRegressor {
  const random = new SeededRandom(options.seed);
  const shapes = faceRegressorShapes(layout);
  // He initialisation from the seeded source; biases zero except the output bias, which starts at the
  // training targets' mean (the average face in the average crop).
  const outputs = regressorOutputs(layout);
  const targetMean = new Float32Array(outputs);
  for (let i = 0; i < train.count; i++)
    for (let o = 0; o < outputs; o++) targetMean[o] += train.targets[i * outputs + o] / train.count;
  const variables = shapes.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name === 'regressor/out_bias') values.set(targetMean);
    else if (shape.length > 1) {
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const std = Math.sqrt((name === 'regressor/out' ? 0.1 : 2) / fanIn);
      for (let i = 0; i < size; i++) values[i] = std * random.normal();
    }
    return tf.variable(tf.tensor(values, shape), true, name);
  });
  const params: Record<string, TfCore.Tensor> = {};
  shapes.forEach(([name], i) => {
    params[name] = variables[i];
  });
  const basis = basisTensors(tf, model, layout, vertices);
  const V = vertices.length;
  const adam = new Adam(tf, variables);
  const history: TrainedRegressor['history'] = [];
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  const B = options.batchSize;

  const lossOf = (batch: Batch): TfCore.Scalar => {
    const pred = faceRegressorForward(tf, params, batch.features, batch.landmarks);
    return regressorLoss(tf, pred, batch, basis, layout, V, options).total;
  };

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random.uniform() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    // Cosine decay over the run.
    const lr = options.learningRate * 0.5 * (1 + Math.cos((Math.PI * (epoch - 1)) / options.epochs));
    let sum = 0,
      batches = 0;
    for (let start = 0; start + B <= order.length; start += B) {
      const batch = gatherBatch(tf, train, order.subarray(start, start + B), outputs, V);
      sum += adam.minimize(() => lossOf(batch), lr);
      batches++;
      disposeBatch(batch);
    }
    const scores = scoreRegressor(tf, params, validation, layout, vertices, basis, options);
    const seconds = (performance.now() - started) / 1000;
    history.push({ epoch, trainLoss: sum / batches, validation: scores, seconds });
    onEpoch?.(epoch, sum / batches, scores);
  }
  const tensors: TrainedRegressor['tensors'] = new Map();
  shapes.forEach(([name, shape], i) => {
    tensors.set(name, { shape, values: variables[i].dataSync() as Float32Array });
  });
  adam.dispose();
  for (const v of variables) v.dispose();
  for (const t of Object.values(basis)) t.dispose();
  return { tensors, history };
}

interface Batch {
  features: TfCore.Tensor4D;
  landmarks: TfCore.Tensor2D;
  targets: TfCore.Tensor2D;
  projections: TfCore.Tensor3D;
}

function gatherBatch(
  tf: Tf,
  examples: RegressorExamples,
  indices: ArrayLike<number>,
  outputs: number,
  V: number,
): Batch {
  const n = indices.length;
  const features = new Float32Array(n * FEATURE_SIZE);
  const landmarks = new Float32Array(n * 2 * LANDMARK_COUNT);
  const targets = new Float32Array(n * outputs);
  const projections = new Float32Array(n * 2 * V);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    features.set(examples.features.subarray(i * FEATURE_SIZE, (i + 1) * FEATURE_SIZE), b * FEATURE_SIZE);
    landmarks.set(examples.landmarks.subarray(i * 136, (i + 1) * 136), b * 136);
    targets.set(examples.targets.subarray(i * outputs, (i + 1) * outputs), b * outputs);
    projections.set(examples.projections.subarray(i * 2 * V, (i + 1) * 2 * V), b * 2 * V);
  }
  return {
    features: tf.tensor4d(features, [n, 7, 7, 256]),
    landmarks: tf.tensor2d(landmarks, [n, 136]),
    targets: tf.tensor2d(targets, [n, outputs]),
    projections: tf.tensor3d(projections, [n, V, 2]),
  };
}

function disposeBatch(batch: Batch): void {
  for (const t of Object.values(batch)) t.dispose();
}

function regressorLoss(
  tf: Tf,
  pred: TfCore.Tensor2D,
  batch: Batch,
  basis: ReturnType<typeof basisTensors>,
  layout: FaceRegressorLayout,
  V: number,
  options: RegressorTrainingOptions,
) {
  const n = pred.shape[0];
  const K = layout.identity,
    E = layout.expression;
  const rows = tf.div(tf.slice(pred, [0, 0], [n, 6]), 1000);
  const t = tf.slice(pred, [0, 6], [n, 2]);
  const alpha = tf.slice(pred, [0, POSE_OUTPUTS], [n, K]);
  const beta = tf.slice(pred, [0, POSE_OUTPUTS + K], [n, E]);
  const trueAlpha = tf.slice(batch.targets, [0, POSE_OUTPUTS], [n, K]);
  const trueBeta = tf.slice(batch.targets, [0, POSE_OUTPUTS + K], [n, E]);
  const shape = tf.reshape(
    tf.add(tf.add(basis.mean, tf.matMul(alpha, basis.identity)), tf.matMul(beta, basis.expression)),
    [n, V, 3],
  );
  // [n, V, 3] × [n, 3, 2] → the two weak-perspective coordinates before the shift.
  const r = tf.transpose(tf.reshape(rows, [n, 2, 3]), [0, 2, 1]);
  const ab = tf.matMul(shape, r);
  const sign = tf.tensor1d([1, -1]);
  const uv = tf.add(tf.mul(ab, sign), tf.reshape(t, [n, 1, 2]));
  const projection = tf.mul(tf.mean(tf.sum(tf.square(tf.sub(uv, batch.projections)), 2)), 1e4);
  const delta = tf.add(
    tf.matMul(tf.sub(alpha, trueAlpha), basis.identity),
    tf.matMul(tf.sub(beta, trueBeta), basis.expression),
  );
  const shapeLoss = tf.mul(tf.mean(tf.sum(tf.square(tf.reshape(delta, [n, V, 3])), 2)), 1);
  const camera = tf.mean(tf.square(tf.sub(tf.slice(pred, [0, 0], [n, 6]), tf.slice(batch.targets, [0, 0], [n, 6]))));
  const parameters = tf.mean(tf.square(tf.sub(alpha, trueAlpha)));
  const total = tf.addN([
    tf.mul(projection, options.projection),
    tf.mul(shapeLoss, options.shape),
    tf.mul(camera, options.camera),
    tf.mul(parameters, options.parameters),
  ]) as TfCore.Scalar;
  return { total, uv, shape };
}

/** Validation scores of the current parameters on `examples`. */
export function scoreRegressor(
  tf: Tf,
  params: Record<string, TfCore.Tensor>,
  examples: RegressorExamples,
  layout: FaceRegressorLayout,
  vertices: Int32Array,
  basis: ReturnType<typeof basisTensors>,
  options: RegressorTrainingOptions,
): RegressorScores {
  const outputs = regressorOutputs(layout);
  const V = vertices.length;
  const all = Int32Array.from({ length: examples.count }, (_, i) => i);
  const sums = { loss: 0, yaw: 0, pitch: 0, roll: 0, shapeMm: 0, meanFaceMm: 0, projectionPercent: 0 };
  const step = 128;
  for (let start = 0; start < examples.count; start += step) {
    const idx = all.subarray(start, start + step);
    const batch = gatherBatch(tf, examples, idx, outputs, V);
    const [loss, pred, uv, delta, meanDelta] = tf.tidy(() => {
      const p = faceRegressorForward(tf, params, batch.features, batch.landmarks);
      const l = regressorLoss(tf, p, batch, basis, layout, V, options);
      const K = layout.identity,
        E = layout.expression;
      const n = idx.length;
      const dShape = tf.sub(
        tf.add(
          tf.matMul(tf.slice(p, [0, POSE_OUTPUTS], [n, K]), basis.identity),
          tf.matMul(tf.slice(p, [0, POSE_OUTPUTS + K], [n, E]), basis.expression),
        ),
        tf.add(
          tf.matMul(tf.slice(batch.targets, [0, POSE_OUTPUTS], [n, K]), basis.identity),
          tf.matMul(tf.slice(batch.targets, [0, POSE_OUTPUTS + K], [n, E]), basis.expression),
        ),
      );
      const dMean = tf.neg(
        tf.add(
          tf.matMul(tf.slice(batch.targets, [0, POSE_OUTPUTS], [n, K]), basis.identity),
          tf.matMul(tf.slice(batch.targets, [0, POSE_OUTPUTS + K], [n, E]), basis.expression),
        ),
      );
      return [l.total, p, l.uv, dShape, dMean];
    });
    sums.loss += (loss.dataSync()[0] * idx.length) / examples.count;
    const p = pred.dataSync() as Float32Array;
    const projected = uv.dataSync() as Float32Array;
    const d = delta.dataSync() as Float32Array;
    const dm = meanDelta.dataSync() as Float32Array;
    for (let b = 0; b < idx.length; b++) {
      const i = idx[b];
      const truth = anglesOfRows(examples.targets, i * outputs);
      const guess = anglesOfRows(p, b * outputs);
      sums.yaw += Math.abs(guess[0] - truth[0]);
      sums.pitch += Math.abs(guess[1] - truth[1]);
      sums.roll += Math.abs(guess[2] - truth[2]);
      let e = 0,
        em = 0,
        ep = 0;
      for (let j = 0; j < V; j++) {
        e += Math.hypot(d[b * 3 * V + 3 * j], d[b * 3 * V + 3 * j + 1], d[b * 3 * V + 3 * j + 2]);
        em += Math.hypot(dm[b * 3 * V + 3 * j], dm[b * 3 * V + 3 * j + 1], dm[b * 3 * V + 3 * j + 2]);
        ep += Math.hypot(
          projected[b * 2 * V + 2 * j] - examples.projections[i * 2 * V + 2 * j],
          projected[b * 2 * V + 2 * j + 1] - examples.projections[i * 2 * V + 2 * j + 1],
        );
      }
      sums.shapeMm += e / V;
      sums.meanFaceMm += em / V;
      sums.projectionPercent += (100 * ep) / V;
    }
    for (const t of [loss, pred, uv, delta, meanDelta]) t.dispose();
    disposeBatch(batch);
  }
  const n = examples.count;
  return {
    loss: sums.loss,
    yaw: sums.yaw / n,
    pitch: sums.pitch / n,
    roll: sums.roll / n,
    shapeMm: sums.shapeMm / n,
    meanFaceMm: sums.meanFaceMm / n,
    projectionPercent: sums.projectionPercent / n,
  };
}

const rotationScratch = new Float64Array(9);

/** Yaw, pitch, roll (degrees) of the rotation whose scaled first two rows start at `offset`. */
export function anglesOfRows(values: ArrayLike<number>, offset: number): [number, number, number] {
  rotationFromScaledRows(values, offset, rotationScratch);
  const { yaw, pitch, roll } = anglesFromRotation(rotationScratch);
  return [yaw, pitch, roll];
}

/**
 * Training of the landmark net (src/detect/landmark-net.ts): batches of augmented crops, a PIPNet loss
 * (softmax cross-entropy over the 7×7 cells for each landmark + L1 on the offsets at the true cell), Adam
 * with a cosine learning rate, a validation NME after every epoch, checkpoints to resume from, and the
 * best epoch's weights written as the float16 file the landmarkers load.
 *
 * Reproducible: every random choice (initial head, sample order, augmentation) comes from SeededRandom
 * streams derived from the seed and the epoch number, so a resumed run continues as an uninterrupted one.
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import {
  LANDMARK_COUNT,
  LANDMARK_NET_CHANNELS,
  LANDMARK_NET_GRID,
  LANDMARK_NET_INPUT,
  type LandmarkHead,
  type LandmarkNetParams,
  type Tf,
  landmarkNetForward,
  landmarkNetShapes,
} from '../detect/landmark-net.js';
import { SeededRandom } from '../model/random.js';
import { type CropGeometry, canonicalGeometry, warpCrop, warpLandmarks } from '../detect/face-crop.js';
import { type LoadedLandmarkNet, landmarkPass } from '../detect/net-landmarker.js';
import { augmentPixels, randomGeometry } from './augment.js';
import type { LandmarkFace } from './landmark-dataset.js';
import { landmarkNme } from '../fit/fit-result.js';
import type { Adam } from './adam.js';

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Peak Adam learning rate; cosine decay to 1 % of it over all epochs. */
  learningRate: number;
  /** 'regression' (face-api's head + a spatial branch) or 'pip' (cell scores + offsets). */
  head: LandmarkHead;
  /** 'pip' only: weight of the offset L1 term (offsets in cell units) against the cell cross-entropy. */
  offsetWeight: number;
  /**
   * The first dense blocks kept as face-api trained them (0–4). Their 56- and 28-px layers cost most of
   * the backward pass, and with them frozen nothing below dense2 is differentiated at all.
   */
  frozenBlocks: number;
}

/** Names of the parameters a run trains: all but those of the first `frozenBlocks` dense blocks. */
export function trainableNames(head: LandmarkHead, frozenBlocks: number): string[] {
  return landmarkNetShapes(head)
    .map(([name]) => name)
    .filter((name) => !/^dense(\d)\//.test(name) || Number(name[5]) >= frozenBlocks);
}

/**
 * Narrower scale and shift than augment.ts's defaults (±25 %, ±10 %): with those, 55 % of crops cut off
 * landmarks, while the crops the net sees at inference come from a detector box (first pass, about ±10 %
 * off) or from its own first-pass points (second pass, nearly canonical).
 */
export const TRAINING_JITTER = { maxScale: 0.2, maxTranslation: 0.08 } as const;

/** The settings of the shipped weights (models/README.md). */
export const DEFAULT_TRAINING: TrainingSettings = {
  epochs: 10,
  batchSize: 16,
  seed: 15,
  learningRate: 3e-4,
  head: 'regression',
  offsetWeight: 2,
  frozenBlocks: 0,
};

/**
 * Starting weights: face-api's (feature extractor, and for 'regression' its fully connected layer) by name,
 * and a seeded random head: small random filters; the spatial correction starts at zero, so a regression
 * net starts as face-api's net; the pip offsets start at the cell centres.
 */
export function initialParams(
  tf: Tf,
  pretrained: Map<string, Float32Array>,
  head: LandmarkHead,
  seed: number,
): Map<string, TfCore.Variable> {
  const rng = new SeededRandom(seed);
  const vars = new Map<string, TfCore.Variable>();
  for (const [name, shape] of landmarkNetShapes(head)) {
    const count = shape.reduce((a, b) => a * b, 1);
    let values = pretrained.get(name);
    if (!values) {
      if (!name.startsWith('head/')) throw new Error(`pretrained weights lack ${name}`);
      values = new Float32Array(count);
      if (name === 'head/filters' || name === 'head/reduce') {
        for (let i = 0; i < count; i++) values[i] = 0.01 * rng.normal();
      } else if (name === 'head/bias') for (let i = LANDMARK_COUNT; i < LANDMARK_NET_CHANNELS; i++) values[i] = 0.5;
    }
    if (values.length !== count) throw new Error(`${name} has ${values.length} values, expected ${count}`);
    vars.set(
      name,
      tf.tidy(() => tf.variable(tf.tensor(values, shape), true)),
    );
  }
  return vars;
}

/** Reusable buffers of one batch: crops, cell one-hots and offset targets. */
export class LandmarkBatch {
  readonly pixels: Float32Array;
  /** [B, 68, 49] one-hot of each landmark's cell (the cross-entropy's layout). */
  readonly cells: Float32Array;
  /** [B, 49, 68] the same one-hot in the head's layout, masking the offset loss. */
  readonly mask: Float32Array;
  /** [B, 49, 68] x and y offset targets (meaningful at the masked cell only). */
  readonly offsetX: Float32Array;
  readonly offsetY: Float32Array;
  /** [B, 136] landmark positions in crop units (the regression head's targets). */
  readonly coordinates: Float32Array;
  private readonly points = new Float32Array(2 * LANDMARK_COUNT);

  constructor(readonly size: number) {
    const s = LANDMARK_NET_INPUT;
    const cells = LANDMARK_NET_GRID * LANDMARK_NET_GRID;
    this.pixels = new Float32Array(size * s * s * 3);
    this.cells = new Float32Array(size * LANDMARK_COUNT * cells);
    this.mask = new Float32Array(size * cells * LANDMARK_COUNT);
    this.offsetX = new Float32Array(size * cells * LANDMARK_COUNT);
    this.offsetY = new Float32Array(size * cells * LANDMARK_COUNT);
    this.coordinates = new Float32Array(size * 2 * LANDMARK_COUNT);
  }

  /** Fills slot `b` with `face` seen through `geometry`. */
  set(b: number, face: LandmarkFace, geometry: CropGeometry): void {
    const s = LANDMARK_NET_INPUT;
    const g = LANDMARK_NET_GRID;
    const n = LANDMARK_COUNT;
    warpCrop(face.image, geometry, s, this.pixels.subarray(b * s * s * 3, (b + 1) * s * s * 3));
    warpLandmarks(face.landmarks, geometry, s, this.points);
    const cellBase = b * n * g * g;
    const headBase = b * g * g * n;
    this.cells.fill(0, cellBase, cellBase + n * g * g);
    this.mask.fill(0, headBase, headBase + n * g * g);
    for (let k = 0; k < n; k++) {
      // Crop pixel i's centre is at (i + 0.5) / s of the side; in cells, × g.
      this.coordinates[b * 2 * n + 2 * k] = (this.points[2 * k] + 0.5) / s;
      this.coordinates[b * 2 * n + 2 * k + 1] = (this.points[2 * k + 1] + 0.5) / s;
      const u = ((this.points[2 * k] + 0.5) / s) * g;
      const v = ((this.points[2 * k + 1] + 0.5) / s) * g;
      const col = Math.min(g - 1, Math.max(0, Math.floor(u)));
      const row = Math.min(g - 1, Math.max(0, Math.floor(v)));
      const cell = row * g + col;
      this.cells[cellBase + k * g * g + cell] = 1;
      const at = headBase + cell * n + k;
      this.mask[at] = 1;
      this.offsetX[at] = u - col;
      this.offsetY[at] = v - row;
    }
  }
}

/** The training loss of one batch (call inside tf.tidy or an optimizer's minimize). */
export function landmarkLoss(
  tf: Tf,
  params: LandmarkNetParams,
  batch: LandmarkBatch,
  settings: Pick<TrainingSettings, 'head' | 'offsetWeight'>,
): TfCore.Scalar {
  const s = LANDMARK_NET_INPUT;
  const cells = LANDMARK_NET_GRID * LANDMARK_NET_GRID;
  const n = LANDMARK_COUNT;
  const b = batch.size;
  const out = landmarkNetForward(tf, params, tf.tensor4d(batch.pixels, [b, s, s, 3]), settings.head);
  if (settings.head === 'regression') {
    // L1 in crop pixels, averaged over the coordinates.
    const error = tf.abs(tf.sub(out, tf.tensor2d(batch.coordinates, [b, 2 * n])));
    return tf.mul(tf.mean(error), s) as TfCore.Scalar;
  }
  const flat = tf.reshape(out, [b, cells, LANDMARK_NET_CHANNELS]);
  const logits = tf.transpose(tf.slice(flat, [0, 0, 0], [b, cells, n]), [0, 2, 1]);
  const cellLoss = tf.losses.softmaxCrossEntropy(tf.tensor3d(batch.cells, [b, n, cells]), logits);
  const mask = tf.tensor3d(batch.mask, [b, cells, n]);
  const dx = tf.abs(tf.sub(tf.slice(flat, [0, 0, n], [b, cells, n]), tf.tensor3d(batch.offsetX, [b, cells, n])));
  const dy = tf.abs(tf.sub(tf.slice(flat, [0, 0, 2 * n], [b, cells, n]), tf.tensor3d(batch.offsetY, [b, cells, n])));
  const offsetLoss = tf.div(tf.sum(tf.mul(mask, tf.add(dx, dy))), b * n);
  return tf.add(cellLoss, tf.mul(offsetLoss, settings.offsetWeight)) as TfCore.Scalar;
}

/**
 * Landmarks of `faces` in image coordinates, the way a landmarker finds them (detect/net-landmarker.ts):
 * a first pass on a crop about `start` geometry, a second (mirrored too, if asked) on the canonical crop
 * around the first pass's points.
 */
export function predictTwoPass(
  net: LoadedLandmarkNet,
  faces: LandmarkFace[],
  starts: CropGeometry[],
  mirrored: boolean,
  batchSize = 32,
): Float32Array[] {
  const results: Float32Array[] = [];
  for (let first = 0; first < faces.length; first += batchSize) {
    const chunk = faces.slice(first, first + batchSize);
    const points = landmarkPass(
      net,
      chunk.map((face, i) => ({ image: face.image, geometry: starts[first + i] })),
      false,
    );
    results.push(
      ...landmarkPass(
        net,
        chunk.map((face, i) => ({ image: face.image, geometry: canonicalGeometry(points[i]) })),
        mirrored,
      ),
    );
  }
  return results;
}

/** Deterministic "detector-like" first-pass crops for validation: the canonical crop moved and resized. */
export function validationStarts(faces: LandmarkFace[], seed: number): CropGeometry[] {
  const rng = new SeededRandom(seed ^ 0x5eed);
  return faces.map((face) => {
    const g = canonicalGeometry(face.landmarks);
    const scale = Math.exp(0.1 * (2 * rng.uniform() - 1));
    return {
      ...g,
      centreX: g.centreX + 0.05 * g.side * (2 * rng.uniform() - 1),
      centreY: g.centreY + 0.05 * g.side * (2 * rng.uniform() - 1),
      side: g.side * scale,
    };
  });
}

export interface EpochReport {
  epoch: number;
  loss: number;
  validationNmeMean: number;
  validationNmeMedian: number;
  seconds: number;
}

export interface TrainingProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  samplesPerSecond: number;
  loss: number;
}

/** One epoch of training: shuffled, augmented batches; returns the mean loss. */
export function trainEpoch(
  tf: Tf,
  vars: Map<string, TfCore.Variable>,
  optimizer: Adam,
  faces: LandmarkFace[],
  epoch: number,
  settings: TrainingSettings,
  onProgress?: (p: TrainingProgress) => void,
): number {
  const rng = new SeededRandom(settings.seed * 7919 + epoch);
  const order = Array.from(faces.keys());
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const batch = new LandmarkBatch(settings.batchSize);
  const steps = Math.floor(order.length / settings.batchSize);
  const params = Object.fromEntries(vars) as LandmarkNetParams;
  const learningRate = learningRateAt(settings, epoch);
  const start = Date.now();
  let lossSum = 0;
  for (let step = 0; step < steps; step++) {
    for (let b = 0; b < settings.batchSize; b++) {
      const face = faces[order[step * settings.batchSize + b]];
      batch.set(b, face, randomGeometry(face.landmarks, rng, TRAINING_JITTER));
      const s = LANDMARK_NET_INPUT;
      augmentPixels(batch.pixels.subarray(b * s * s * 3, (b + 1) * s * s * 3), s, rng);
    }
    const value = optimizer.minimize(() => landmarkLoss(tf, params, batch, settings), learningRate);
    if (!Number.isFinite(value)) throw new Error(`training diverged at epoch ${epoch + 1}, step ${step + 1}`);
    lossSum += value;
    onProgress?.({
      epoch,
      epochs: settings.epochs,
      step: step + 1,
      steps,
      samplesPerSecond: ((step + 1) * settings.batchSize) / ((Date.now() - start) / 1000),
      loss: lossSum / (step + 1),
    });
  }
  return lossSum / Math.max(1, steps);
}

/** Mean and median NME (%, outer eye corners) of the two-pass prediction on `faces`. */
export function validate(
  tf: Tf,
  vars: Map<string, TfCore.Variable> | LandmarkNetParams,
  head: LandmarkHead,
  faces: LandmarkFace[],
  seed: number,
  mirrored = true,
): { mean: number; median: number; perFace: Float64Array } {
  const params = (vars instanceof Map ? Object.fromEntries(vars) : vars) as LandmarkNetParams;
  const predicted = predictTwoPass({ tf, params, head }, faces, validationStarts(faces, seed), mirrored);
  const perFace = new Float64Array(faces.length);
  for (let i = 0; i < faces.length; i++) perFace[i] = landmarkNme(predicted[i], faces[i].landmarks);
  const sorted = Float64Array.from(perFace).sort();
  const mean = perFace.reduce((a, b) => a + b, 0) / Math.max(1, perFace.length);
  const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : Number.NaN;
  return { mean, median, perFace };
}

/** Learning rate of `epoch` (0-based): cosine from `peak` to 1 % of it. */
export function learningRateAt(settings: TrainingSettings, epoch: number): number {
  const t = settings.epochs > 1 ? epoch / (settings.epochs - 1) : 0;
  return settings.learningRate * (0.01 + 0.99 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

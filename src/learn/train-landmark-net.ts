/**
 * A whole training run of the landmark net (Node): data, split by photo, epochs, a checkpoint after every
 * epoch (weights + Adam moments + history) to resume from, and the best epoch by validation NME written
 * as `landmark-net.bin` (float16) with the facts needed to make it again.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import { encodeLandmarkNetFile, type LandmarkNetFile } from '../detect/landmark-net-file.js';
import { landmarkNetShapes } from '../detect/landmark-net.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { Adam } from './adam.js';
import { faceApiLandmarkWeights } from './face-api-weights.js';
import { type LandmarkFace, loadLandmarkDataset, splitByPhoto } from './landmark-dataset.js';
import {
  DEFAULT_TRAINING,
  type EpochReport,
  type TrainingProgress,
  type TrainingSettings,
  initialParams,
  trainableNames,
  trainEpoch,
  validate,
} from './landmark-training.js';
import { trainingTf } from './tf-node.js';

export interface TrainLandmarkNetOptions extends Partial<TrainingSettings> {
  dataDir: string;
  outDir: string;
  /** More training faces in the same format (e.g. rendered profiles); faces of validation photos are dropped. */
  extraDirs?: string[];
  resume?: boolean;
  /** Use only the first N faces of the data (quick runs and tests). */
  limit?: number;
  /** The command line, recorded beside the weights. */
  command?: string;
  onProgress?: (progress: TrainingProgress) => void;
  onEpoch?: (report: EpochReport, best: boolean) => void;
}

export interface TrainLandmarkNetResult {
  weightsPath: string;
  best: EpochReport;
  history: EpochReport[];
  trainFaces: number;
  validationFaces: number;
  seconds: number;
}

interface Checkpoint {
  settings: TrainingSettings;
  dataHash: string;
  limit: number | null;
  extraDirs: string[];
  epochsDone: number;
  adamStep: number;
  history: EpochReport[];
  seconds: number;
}

const CHECKPOINT = 'checkpoint.bin';
const WEIGHTS = 'landmark-net.bin';

export async function trainLandmarkNet(options: TrainLandmarkNetOptions): Promise<TrainLandmarkNetResult> {
  const settings: TrainingSettings = {
    epochs: options.epochs ?? DEFAULT_TRAINING.epochs,
    batchSize: options.batchSize ?? DEFAULT_TRAINING.batchSize,
    seed: options.seed ?? DEFAULT_TRAINING.seed,
    learningRate: options.learningRate ?? DEFAULT_TRAINING.learningRate,
    head: options.head ?? DEFAULT_TRAINING.head,
    offsetWeight: options.offsetWeight ?? DEFAULT_TRAINING.offsetWeight,
    frozenBlocks: options.frozenBlocks ?? DEFAULT_TRAINING.frozenBlocks,
  };
  const { faces: all, manifestHash } = await loadLandmarkDataset(options.dataDir);
  const faces = options.limit ? all.slice(0, options.limit) : all;
  const split = splitByPhoto(faces, { seed: settings.seed });
  const validationPhotos = new Set(split.validation.map((f) => f.photo));
  const train: LandmarkFace[] = [...split.train];
  for (const dir of options.extraDirs ?? []) {
    for (const face of (await loadLandmarkDataset(dir)).faces) if (!validationPhotos.has(face.photo)) train.push(face);
  }
  if (train.length < settings.batchSize) {
    throw new InputError(
      options.dataDir,
      `${train.length} training faces, fewer than one batch of ${settings.batchSize}`,
    );
  }
  if (split.validation.length === 0) throw new InputError(options.dataDir, 'too few photos for a validation split');

  const tf = await trainingTf();
  await mkdir(options.outDir, { recursive: true });
  const checkpointPath = join(options.outDir, CHECKPOINT);
  const run: Checkpoint = {
    settings,
    dataHash: manifestHash,
    limit: options.limit ?? null,
    extraDirs: options.extraDirs ?? [],
    epochsDone: 0,
    adamStep: 0,
    history: [],
    seconds: 0,
  };
  const vars = initialParams(tf, await faceApiLandmarkWeights(), settings.head, settings.seed);
  const names = landmarkNetShapes(settings.head).map(([name]) => name);
  const adam = new Adam(
    tf,
    trainableNames(settings.head, settings.frozenBlocks).map((n) => vars.get(n)!),
  );
  try {
    if (options.resume) {
      const saved = await readCheckpoint(checkpointPath);
      for (const key of ['settings', 'dataHash', 'limit', 'extraDirs'] as const) {
        if (JSON.stringify(saved.state[key]) !== JSON.stringify(run[key])) {
          throw new InputError(
            checkpointPath,
            `made with other ${key} (${JSON.stringify(saved.state[key])}); resume with the same options`,
          );
        }
      }
      Object.assign(run, saved.state);
      adam.step = run.adamStep;
      const targets = [...adam.variables, ...adam.first, ...adam.second];
      if (saved.tensors.length !== targets.length) throw new InputError(checkpointPath, 'tensor count differs');
      targets.forEach((v, i) => v.assign(tf.tensor(saved.tensors[i], v.shape)));
    }
    const best = () => run.history.reduce((a, b) => (b.validationNmeMean < a.validationNmeMean ? b : a));
    for (let epoch = run.epochsDone; epoch < settings.epochs; epoch++) {
      const start = Date.now();
      const loss = trainEpoch(tf, vars, adam, train, epoch, settings, options.onProgress);
      const nme = validate(tf, vars, settings.head, split.validation, settings.seed);
      const report: EpochReport = {
        epoch: epoch + 1,
        loss,
        validationNmeMean: nme.mean,
        validationNmeMedian: nme.median,
        seconds: (Date.now() - start) / 1000,
      };
      run.history.push(report);
      run.epochsDone = epoch + 1;
      run.adamStep = adam.step;
      run.seconds += report.seconds;
      const isBest = best() === report;
      if (isBest) await writeWeights(join(options.outDir, WEIGHTS), vars, names, run, options, train.length, split);
      await writeCheckpoint(checkpointPath, run, [...adam.variables, ...adam.first, ...adam.second]);
      options.onEpoch?.(report, isBest);
    }
    return {
      weightsPath: join(options.outDir, WEIGHTS),
      best: best(),
      history: run.history,
      trainFaces: train.length,
      validationFaces: split.validation.length,
      seconds: run.seconds,
    };
  } finally {
    adam.dispose();
    for (const v of vars.values()) v.dispose();
  }
}

async function writeWeights(
  path: string,
  vars: Map<string, TfCore.Variable>,
  names: string[],
  run: Checkpoint,
  options: TrainLandmarkNetOptions,
  trainFaces: number,
  split: { train: LandmarkFace[]; validation: LandmarkFace[] },
): Promise<void> {
  const tensors: LandmarkNetFile['tensors'] = new Map();
  for (const name of names) {
    const v = vars.get(name)!;
    tensors.set(name, { shape: v.shape, values: v.dataSync() as Float32Array });
  }
  const best = run.history[run.history.length - 1];
  const training = {
    command: options.command ?? null,
    seed: run.settings.seed,
    settings: run.settings,
    dataManifestSha256: run.dataHash,
    faces: { train: trainFaces, validation: split.validation.length, limit: run.limit },
    extraDirs: run.extraDirs,
    epoch: best.epoch,
    validationNme: { mean: round(best.validationNmeMean), median: round(best.validationNmeMedian) },
    trainingSeconds: Math.round(run.seconds),
    startedFrom: 'face-api 1.7.15 face_landmark_68_model (MIT) feature extractor',
    licence: 'trained on 300-W faces: research use only (see the 300-W terms)',
  };
  await writeFileAtomic(path, encodeLandmarkNetFile({ head: run.settings.head, tensors, training }));
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** Checkpoint: "MLCK", uint32 header length, JSON state + tensor sizes, float32 tensors. */
async function writeCheckpoint(path: string, state: Checkpoint, tensors: TfCore.Variable[]): Promise<void> {
  const sizes = tensors.map((t) => t.size);
  const header = new TextEncoder().encode(JSON.stringify({ state, sizes }));
  const pad = (4 - ((8 + header.length) % 4)) % 4;
  const total = sizes.reduce((a, b) => a + b, 0);
  const bytes = new Uint8Array(8 + header.length + pad + 4 * total);
  bytes.set(new TextEncoder().encode('MLCK'), 0);
  new DataView(bytes.buffer).setUint32(4, header.length + pad, true);
  bytes.set(header, 8);
  bytes.fill(32, 8 + header.length, 8 + header.length + pad);
  const data = new Float32Array(bytes.buffer, 8 + header.length + pad, total);
  let at = 0;
  for (const t of tensors) {
    data.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  await writeFileAtomic(path, bytes);
}

async function readCheckpoint(path: string): Promise<{ state: Checkpoint; tensors: Float32Array[] }> {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? 'no checkpoint to resume from' : `cannot read (${err.code})`);
  });
  if (bytes.length < 8 || bytes.subarray(0, 4).toString('latin1') !== 'MLCK') {
    throw new InputError(path, 'not a landmark training checkpoint');
  }
  const headerLength = bytes.readUInt32LE(4);
  const { state, sizes } = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as {
    state: Checkpoint;
    sizes: number[];
  };
  const aligned = new Uint8Array(bytes.length - 8 - headerLength);
  aligned.set(bytes.subarray(8 + headerLength));
  const data = new Float32Array(aligned.buffer);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (data.length !== total) throw new InputError(path, 'truncated checkpoint');
  const tensors: Float32Array[] = [];
  let at = 0;
  for (const size of sizes) {
    tensors.push(data.subarray(at, at + size));
    at += size;
  }
  return { state, tensors };
}

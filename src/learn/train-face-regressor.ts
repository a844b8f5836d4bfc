/**
 * A whole training run of the one-pass 3DMM regressor (Node): makes the training data (issue 16, 1a and 1b),
 * computes the frozen landmark net's features once, trains the head, writes it as a float16 weights file
 * with the facts needed to make it again.
 *
 * Data, all from train-300w split by photo exactly as the landmark net was (seed 15), so that no validation
 * photo was seen by either net:
 * - real: each training face fitted to its ground-truth landmarks (pseudo-labels; poor fits skipped);
 * - profiled: the same fit turned to a random |yaw| of 35–80° (face-profiling.ts), one view per face;
 * - synthetic: random ICT faces (yaw ±90°) with skin from the training photos over their backgrounds.
 * Validation: the same three kinds made from the validation photos only (synthetic from their skins and
 * backgrounds, another seed).
 */
import { type FaceRegressorLayout, faceRegressorShapes } from '../detect/face-regressor.js';
import { decodeLandmarkNetFile } from '../detect/landmark-net-file.js';
import { loadLandmarkNet } from '../detect/net-landmarker.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { FaceProfiler } from './face-profiling.js';
import { type LandmarkFace, loadLandmarkDataset, splitByPhoto } from './landmark-dataset.js';
import {
  buildRegressorExamples,
  labelVertices,
  type RegressorExamples,
  type RegressorSample,
} from './regressor-dataset.js';
import {
  DEFAULT_REGRESSOR_TRAINING,
  type RegressorScores,
  type RegressorTrainingOptions,
  trainFaceRegressor,
} from './regressor-training.js';
import { SyntheticFaceGenerator } from './synthetic-faces.js';
import { trainingTf } from './tf-node.js';

export const REGRESSOR_LAYOUT_IDENTITY = 40;

export interface TrainRegressorOptions extends Partial<RegressorTrainingOptions> {
  model: MorphableModel;
  dataDir: string;
  landmarkNet: Uint8Array;
  landmarkNetName: string;
  /** Synthetic training faces (default 4000; validation gets a tenth). */
  synthetic?: number;
  /** Use only the first N faces of the data (quick runs and tests). */
  limit?: number;
  command?: string;
  /** Examples made earlier by the same settings (experiments); made here when absent. */
  examples?: { train: RegressorExamples; validation: RegressorExamples };
  onExamples?: (examples: { train: RegressorExamples; validation: RegressorExamples }) => void;
  onStage?: (stage: string, done: number, total: number) => void;
  onEpoch?: (epoch: number, trainLoss: number, scores: RegressorScores) => void;
}

export interface DataRecord {
  kind: string;
  samples: number;
  seconds: number;
}

export interface TrainRegressorResult {
  tensors: Map<string, { shape: number[]; values: Float32Array }>;
  layout: FaceRegressorLayout;
  training: Record<string, unknown>;
  final: RegressorScores;
  data: DataRecord[];
}

const VALIDATION_SEED_OFFSET = 1000;

export async function trainFaceRegressorRun(options: TrainRegressorOptions): Promise<TrainRegressorResult> {
  const started = performance.now();
  const settings: RegressorTrainingOptions = { ...DEFAULT_REGRESSOR_TRAINING, ...definedOnly(options) };
  const { model } = options;
  const layout: FaceRegressorLayout = {
    identity: Math.min(REGRESSOR_LAYOUT_IDENTITY, model.identity.count),
    expression: model.expression.count,
  };
  const { faces: all, manifestHash } = await loadLandmarkDataset(options.dataDir);
  const faces = options.limit ? all.slice(0, options.limit) : all;
  const split = splitByPhoto(faces, { seed: 15 });
  const tf = await trainingTf();
  const net = loadLandmarkNet(tf, decodeLandmarkNetFile(options.landmarkNet, options.landmarkNetName));
  const vertices = labelVertices(model);
  const syntheticCount = options.synthetic ?? 4000;
  const data: DataRecord[] = [];
  const stage = options.onStage ?? (() => {});

  const makeSet = (set: readonly LandmarkFace[], seed: number, synthetic: number, label: string) => {
    const random = new SeededRandom(seed);
    const profiler = new FaceProfiler(model);
    const region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    const samples: RegressorSample[] = [];
    const textures: Float32Array[] = [];
    let t = performance.now();
    let profiled = 0;
    set.forEach((face, i) => {
      const source = profiler.prepare(face.image, face.landmarks);
      stage(`${label}: fitting and profiling photos`, i + 1, set.length);
      if (!source) return;
      const { fit } = source;
      samples.push({ kind: 'real', image: face.image, landmarks: face.landmarks, ...pick(fit) });
      textures.push(profiler.vertexColours(source, region, new Float32Array(3 * region.length)));
      const turn = profiler.turnToward(source, 35 + 45 * random.uniform(), random.uniform() < 0.5 ? 1 : -1);
      if (turn === null) return;
      const view = profiler.render(source, turn);
      samples.push({
        kind: 'profiled',
        image: view.image,
        landmarks: view.landmarks,
        camera: view.camera,
        identity: fit.identity,
        expression: fit.expression,
      });
      profiled++;
    });
    const realCount = samples.length - profiled;
    data.push({ kind: `${label} real (fit + texture)`, samples: realCount, seconds: (performance.now() - t) / 1000 });
    data.push({ kind: `${label} profiled`, samples: profiled, seconds: 0 });
    t = performance.now();
    const generator = new SyntheticFaceGenerator(
      model,
      textures,
      set.map((f) => f.image),
      { size: 192 },
    );
    for (let i = 0; i < synthetic; i++) {
      const face = generator.generate(random);
      samples.push({ kind: 'synthetic', ...face });
      stage(`${label}: rendering synthetic faces`, i + 1, synthetic);
    }
    data.push({ kind: `${label} synthetic`, samples: synthetic, seconds: (performance.now() - t) / 1000 });
    t = performance.now();
    const examples = buildRegressorExamples(net, model, samples, layout, vertices, random, (done) =>
      stage(`${label}: landmark net features`, done, samples.length),
    );
    data.push({
      kind: `${label} features (two landmark passes)`,
      samples: samples.length,
      seconds: (performance.now() - t) / 1000,
    });
    return examples;
  };

  const train = options.examples?.train ?? makeSet(split.train, settings.seed, syntheticCount, 'train');
  const validation =
    options.examples?.validation
    ?? makeSet(split.validation, settings.seed + VALIDATION_SEED_OFFSET, Math.round(syntheticCount / 10), 'validation');
  options.onExamples?.({ train, validation });
  const trainStarted = performance.now();
  const trained = trainFaceRegressor(tf, model, layout, vertices, train, validation, settings, options.onEpoch);
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  for (const t of Object.values(net.params)) t.dispose();
  const final = trained.history[trained.history.length - 1].validation;
  const training: Record<string, unknown> = {
    command: options.command ?? null,
    model: model.name,
    landmarkNet: options.landmarkNetName,
    dataManifestSha256: manifestHash,
    split: 'train-300w by photo, seed 15 (as the landmark net)',
    seed: settings.seed,
    settings,
    trainExamples: countKinds(train),
    validationExamples: countKinds(validation),
    data,
    trainSeconds: Math.round(trainSeconds),
    totalSeconds: Math.round((performance.now() - started) / 1000),
    validation: final,
  };
  // Shapes check: what the file will hold.
  faceRegressorShapes(layout);
  return { tensors: trained.tensors, layout, training, final, data };
}

function pick(fit: { camera: RegressorSample['camera']; identity: Float32Array; expression: Float32Array }) {
  return { camera: fit.camera, identity: fit.identity, expression: fit.expression };
}

function countKinds(examples: RegressorExamples): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of examples.kinds) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

function definedOnly(options: Partial<RegressorTrainingOptions>): Partial<RegressorTrainingOptions> {
  const out: Partial<RegressorTrainingOptions> = {};
  for (const key of Object.keys(DEFAULT_REGRESSOR_TRAINING) as Array<keyof RegressorTrainingOptions>) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out;
}

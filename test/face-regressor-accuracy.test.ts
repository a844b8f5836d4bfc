import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaceLandmarker } from '../src/detect/face.js';
import { decodeFaceRegressorFile } from '../src/detect/face-regressor-file.js';
import { decodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { embeddedModelPath, shippedFaceRegressorPath } from '../src/io/node/model-paths.js';
import { loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import {
  buildEvaluationSet,
  type EvaluationReport,
  evaluateVariants,
  learnedVariants,
} from '../src/learn/synthetic-evaluation.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SHARED } from './helpers/shared.js';

const DATA = `${SHARED}data/train-300w`;
// Without the training data (skin and backgrounds of the faces) the check is skipped with a warning, except
// under CI, where it fails.
const hasData = existsSync(DATA);
if (!hasData && !process.env.CI) console.warn(`face-regressor-accuracy.test.ts skipped: no ${DATA}`);

/**
 * The shipped regressor on a fixed set of 9 held-out synthetic ICT faces (the first of bench/cross-model.ts's,
 * seeds from 1600: 3 per |yaw| bin 0–30°, 30–60°, 60–90°; skin and backgrounds from train-300w validation
 * photos), through the whole Node pipeline. The bounds sit above what the shipped weights measured, so that a
 * broken or mismatched regressor fails.
 */
const PER_MODEL = 9;
/**
 * Measured with the shipped weights: the regressor alone 3.33° mean pose error and 0.95 mm 3D error (median
 * over the 7 faces found; the detector misses 2 of the 9, at |yaw| 60–90°).
 * On 12 faces the same weights with their output layer's weights shuffled gave 20.4° and 1.60 mm (fails).
 */
const MAX_REGRESSION_POSE = 5;
const MAX_REGRESSION_3D = 1.3;
const MAX_MISSED = 3;

describe.skipIf(!hasData && !process.env.CI)('shipped one-pass regressor', () => {
  let landmarker: FaceLandmarker;
  let model: MorphableModel;
  let report: EvaluationReport;
  beforeAll(async () => {
    model = decodeModel(new Uint8Array(readFileSync(embeddedModelPath())), 'embedded');
    const { faces } = await loadLandmarkDataset(DATA);
    const validation = splitByPhoto(faces, { seed: 15 }).validation;
    const set = buildEvaluationSet(model, undefined, {
      perModel: PER_MODEL,
      appearance: {
        faces: validation.slice(0, 24),
        backgrounds: validation.slice(24, 64).map((f) => f.image),
        name: 'validation photos',
      },
    });
    landmarker = await createNodeLandmarker({ regressor: { model } });
    // The regressor's answer alone: each variant costs an ICP alignment per face (the suite's time); the fit's
    // use of it is tested in fit.test.ts and measured by bench/cross-model.ts.
    const variants = learnedVariants(model, landmarker).filter((v) => v.name === 'regression only');
    report = await evaluateVariants(set, model, variants);
  }, 300_000);
  afterAll(() => landmarker?.dispose());

  it('records how it was made', () => {
    const file = decodeFaceRegressorFile(new Uint8Array(readFileSync(shippedFaceRegressorPath())), 'shipped');
    expect(file.model.name).toBe(model.name);
    expect(String(file.training.command)).toMatch(/^morphable train regressor /);
    expect(String(file.training.dataManifestSha256)).toMatch(/^[0-9a-f]{64}$/);
    expect(file.training.seed).toBeTypeOf('number');
  });

  it(`gives the pose within ${MAX_REGRESSION_POSE}° and a face no worse than ${MAX_REGRESSION_3D} mm`, () => {
    // All bins together: the last entry.
    const summary = (name: string) => report.summaries.find((s) => s.variant === name)!.bins.at(-1)!;
    const regression = summary('regression only');
    console.log(
      `shipped regressor: pose MAE ${regression.pose.toFixed(2)}°, 3D ${regression.error.toFixed(2)} mm, `
        + `missed ${regression.missed}`,
    );
    expect(regression.missed).toBeLessThanOrEqual(MAX_MISSED);
    expect(regression.pose).toBeLessThan(MAX_REGRESSION_POSE);
    expect(regression.error).toBeLessThan(MAX_REGRESSION_3D);
  });
});

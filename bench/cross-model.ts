/**
 * Cross-model 3D error and pose on held-out synthetic faces (src/learn/synthetic-evaluation.ts): faces
 * rendered from ICT-FaceKit and from the Surrey Face Model (../shared/models/sfm) with known mesh and pose,
 * yaw to ±90°, skin and backgrounds from the train-300w validation split (photos no landmark net trained on),
 * fitted by the default pipeline without its photometric stage ('landmark fit': detector, the project's
 * landmark net, landmark fit of the shipped ICT model), by its mean face at the fitted pose ('mean face'), by
 * the landmark fit given the true landmarks ('fit to true landmarks': the fit alone, without detection), and by
 * the whole pipeline, photometric stage included ('whole pipeline').
 *
 *   npx tsx bench/cross-model.ts [--per-model N] [--size PX] [--painted] [--verbose]
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { PhotoFitter } from '../src/fit/fit-photo.js';
import { decodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../src/io/node/identity-predictor.js';
import { importModel } from '../src/io/node/import-model.js';
import { embeddedModelPath, shippedColorModelPath } from '../src/io/node/model-paths.js';
import { loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import {
  buildEvaluationSet,
  defaultVariants,
  type EvaluationSetOptions,
  evaluateVariants,
  formatEvaluation,
  embeddingVariants,
  learnedVariants,
  trueLandmarksVariant,
  wholePipelineVariant,
} from '../src/learn/synthetic-evaluation.js';
import { decodeColorModelFile, withColorModel } from '../src/io/color-model-file.js';

export interface CrossModelOptions {
  perModel?: number;
  size?: number;
  /** Painted skin over noise instead of photo skin and backgrounds. */
  painted?: boolean;
  log?: (line: string) => void;
}

/** The section for bench/RESULTS.md: how the set was made, the table, and the time it took. */
export async function crossModelBench(shared: string, options: CrossModelOptions = {}): Promise<string> {
  const start = performance.now();
  const load = loadavg()[0];
  const ict = decodeModel(new Uint8Array(readFileSync(embeddedModelPath())), 'ict-facekit-face-head');
  const sfm = await importModel(join(shared, 'models/sfm'));
  let appearance: EvaluationSetOptions['appearance'];
  if (!options.painted) {
    const { faces } = await loadLandmarkDataset(join(shared, 'data/train-300w'));
    const validation = splitByPhoto(faces, { seed: 15 }).validation;
    appearance = {
      faces: validation.slice(0, 24),
      backgrounds: validation.slice(24, 64).map((f) => f.image),
      name: 'skin of 24 train-300w validation faces, backgrounds from 40 others',
    };
  }
  const setStart = performance.now();
  const set = buildEvaluationSet(ict, sfm, { perModel: options.perModel ?? 24, size: options.size ?? 288, appearance });
  const setMs = performance.now() - setStart;
  // The regressor rides on the landmarker; the default variants ignore it.
  const landmarker = await createNodeLandmarker({ regressor: { model: ict } });
  const predictor = await loadIdentityPredictor();
  try {
    const colorModel = decodeColorModelFile(new Uint8Array(readFileSync(shippedColorModelPath())), 'color model');
    const wholeFitter = new PhotoFitter(withColorModel(ict, colorModel));
    const variants = [
      ...defaultVariants(ict, landmarker),
      ...learnedVariants(ict, landmarker),
      ...embeddingVariants(ict, landmarker, predictor),
      trueLandmarksVariant(new PhotoFitter(ict)),
      wholePipelineVariant(wholeFitter, landmarker, 'whole pipeline, --identity landmarks'),
      wholePipelineVariant(wholeFitter, landmarker, 'whole pipeline, --expression-stiffness 1', predictor, {
        expressionStiffness: 1,
      }),
      wholePipelineVariant(wholeFitter, landmarker, 'whole pipeline (the default)', predictor),
    ];
    const report = await evaluateVariants(set, ict, variants, options.log);
    const perModel = set.faces.length / set.sources.length;
    return [
      `${perModel} faces per model (${perModel / 3} per |yaw| bin), ${set.size}×${set.size} px, seeds from 1600 (ICT) `
        + `and 1700 (Surrey); ${set.appearance}. Fitted: the shipped ICT model (models/), the default detector and `
        + "landmark net, landmark fit only (`--no-photometric`); the mean face takes that fit's pose; 'fit to "
        + "true landmarks' is the same landmark fit given the true 68 points (Surrey: the 50 it maps, the chin "
        + 'but no other outline point), no detector; `--init learned` and `--fast` start from the one-pass '
        + 'regressor (models/face-regressor-300w.bin); "regression only" is its answer with no fitting; '
        + '"embedding identity" is the default fit (`--init auto`) with its identity prior centred on the face '
        + "embedding's identity and ten times stiffer (models/identity-from-embedding.bin, `--identity embedding`; "
        + 'that net learned from random faces of both models, other than these), and "alone" that identity at the '
        + 'fit\'s pose. "Whole pipeline" is `morphable fit` as it runs by default: landmark fit, then the '
        + 'photometric stage with the shipped colour model (models/color-model-300w.bin) as the albedo prior, the '
        + "identity held to the embedding's (`--identity auto`), or centred on the mean face (`--identity "
        + 'landmarks`), and with the expression priors of the landmark fit itself (`--expression-stiffness 1`, the '
        + 'default before; the default holds the expressions ten times more firmly, as every other variant here '
        + 'does). '
        + 'Pose MAE in degrees; 3D error: NoW-style median over faces of the per-face median distance (mm) of the '
        + 'true mesh within 95 mm of the nose tip to the fitted surface after landmark similarity + ICP '
        + '(src/geometry/shape-error.ts). ms: detection + fit per face, median.',
      '',
      formatEvaluation(report),
      `Set made in ${(setMs / 1000).toFixed(1)} s, whole run ${((performance.now() - start) / 1000).toFixed(0)} s `
        + `(${cpus()[0]?.model ?? 'unknown CPU'}, load average ${load.toFixed(2)} at the start, `
        + `${loadavg()[0].toFixed(2)} at the end).`,
      '',
    ].join('\n');
  } finally {
    landmarker.dispose();
    disposeIdentityPredictor(predictor);
  }
}

if (process.argv[1]?.endsWith('cross-model.ts') || process.argv[1]?.endsWith('cross-model.js')) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const verbose = args.includes('--verbose');
  console.log(
    await crossModelBench('../shared', {
      perModel: option('--per-model'),
      size: option('--size'),
      painted: args.includes('--painted'),
      log: verbose ? (line) => console.error(line) : undefined,
    }),
  );
}

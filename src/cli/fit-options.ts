/**
 * The options that say how a photo is fitted (model, landmarker, start, stages, quality gate), shared by
 * `morphable fit`, `morphable worker` and `morphable serve`, and their FitSettings.
 */
import { type Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { type FitInit, IDENTITY_CHOICES, type IdentityChoice, PHOTO_EXPRESSION_STIFFNESS } from '../fit/fit-photo.js';
import { MIN_QUALITY } from '../fit/fit-quality.js';
import { LANDMARKER_KINDS, type LandmarkerKind } from '../detect/face.js';
import { defaultModelPath } from '../io/node/model-paths.js';
import { OUTPUT_KINDS, type OutputKind } from '../service/output-files.js';
import type { FitSettings } from '../service/photo-job.js';
import { listOption, positiveIntOption, positiveNumberOption, unitIntervalOption } from './parse.js';

export interface FitSettingsOptions {
  model: string;
  maxFaces: number;
  focal?: number;
  photometric: boolean;
  colorModel?: string;
  minQuality: number;
  landmarker: LandmarkerKind;
  landmarkNet?: string;
  init: FitInit;
  fast?: boolean;
  regressor?: string;
  identity: IdentityChoice;
  expressionStiffness: number;
  outputs?: OutputKind[];
}

export function addFitSettingsOptions(command: Command): Command {
  return command
    .option(
      '--model <file>',
      'native model file (.glb); default: the fetched model, else the one shipped in the package',
      defaultModelPath(),
    )
    .option(
      '--max-faces <n>',
      'fit at most this many faces per photo (most confident first)',
      positiveIntOption('--max-faces'),
      10,
    )
    .option(
      '--focal <px>',
      'known focal length in pixels of the full image (default: from EXIF, else estimated)',
      positiveNumberOption('--focal'),
    )
    .option(
      '--min-quality <q>',
      'reject faces whose fit quality score (0-1) is below this: false faces, failed fits',
      unitIntervalOption('--min-quality'),
      MIN_QUALITY,
    )
    .addOption(
      new Option(
        '--landmarker <name>',
        'landmark net: "net" (the project\'s own, trained on 300-W: research use only) or "face-api" '
          + "(face-api's, MIT licence)",
      )
        .choices(LANDMARKER_KINDS)
        .default('net'),
    )
    .option('--landmark-net <file>', 'weights for --landmarker net (from `morphable train landmarks`)')
    .option('--no-photometric', 'landmarks only: skip the photometric refinement, the colours and the texture')
    .option(
      '--color-model <file|none>',
      'colour model of the photometric fit (from `morphable model learn-color`); "none": a per-vertex albedo '
        + "(MIT-only); default: the model's own, else models/color-model-300w.bin (learned from 300-W photos: "
        + 'research use only) where it is shipped and made for the model, else none',
    )
    .addOption(
      new Option(
        '--init <how>',
        'where the landmark fit starts: "linear" (a linear pose estimate and the mean face), "learned" (the '
          + "one-pass regressor's pose, identity and expressions; needs --landmarker net and a regressor for the "
          + 'model) or "auto" (learned where the shipped regressor fits the model, else linear)',
      )
        .choices(['auto', 'linear', 'learned'])
        .default('auto'),
    )
    .option(
      '--fast',
      "one pass, no fitting: the regressor's identity and expressions, its pose refined by one step on the "
        + 'landmarks; no photometric stage (batches, video; needs --landmarker net)',
    )
    .addOption(
      new Option(
        '--identity <from>',
        'the identity prior\'s centre: "embedding" (predicted from face-api\'s face-recognition embedding by '
          + 'models/identity-from-embedding.bin, and held to it ten times more firmly; ICT-FaceKit models only), '
          + '"landmarks" (the mean face) or "auto" (embedding where the net fits the model, else landmarks; '
          + 'landmarks with --fast)',
      )
        .choices(IDENTITY_CHOICES)
        .default('auto'),
    )
    .option(
      '--expression-stiffness <n>',
      "the expression prior's weight, times the landmark fit's own: the default holds a face near neutral "
        + 'unless its landmarks clearly say otherwise (68 points fit small expressions mostly from noise); 1 fits '
        + 'every expression the landmarks suggest',
      positiveNumberOption('--expression-stiffness'),
      PHOTO_EXPRESSION_STIFFNESS,
    )
    .option(
      '--regressor <file>',
      'weights of the one-pass regressor (default: the shipped one, for the shipped model)',
    );
}

export function fitSettingsFrom(options: FitSettingsOptions): FitSettings {
  return {
    model: options.model,
    landmarker: options.landmarker,
    landmarkNet: options.landmarkNet,
    regressor: options.regressor,
    init: options.init,
    fast: options.fast,
    photometric: options.photometric,
    colorModel: options.colorModel,
    identity: options.identity,
    expressionStiffness: options.expressionStiffness,
    maxFaces: options.maxFaces,
    minQuality: options.minQuality,
    focal: options.focal,
    outputs: options.outputs ?? [...OUTPUT_KINDS],
  };
}

/** --jobs: photos fitted at once on worker threads (default: the cores). */
export function jobsOption(what = 'photos fitted at once, each on its own thread'): Option {
  return new Option('--jobs <n>', what)
    .argParser(positiveIntOption('--jobs'))
    .default(availableParallelism(), `the cores, ${availableParallelism()}`);
}

/** --outputs: which of a face's files to write (default: all). */
export function outputsOption(): Option {
  return new Option('--outputs <kinds>', `what to write per face, comma-separated: ${OUTPUT_KINDS.join(',')}`)
    .argParser(listOption('--outputs', OUTPUT_KINDS))
    .default([...OUTPUT_KINDS], 'all');
}

import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import { type ColorModelFile, colorModelFileFrom, encodeColorModelFile } from '../io/color-model-file.js';
import { checkWritableFolder, writeFileAtomic } from '../io/node/atomic-write.js';
import { defaultModelPath } from '../io/node/model-paths.js';
import { type AlbedoDataset, type AlbedoHeader, readAlbedoDataset } from '../learn/albedo-data.js';
import { type LearnedColorModel, learnColorModel, splitFaces } from '../learn/color-model.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { positiveIntOption, unitIntervalOption } from './parse.js';
import { Progress } from './progress.js';

/** EM iterations at most: the progress bar's end (the change stops most runs earlier). */
const MAX_ITERATIONS = 60;
/** The EM-PCA's random start (weightedPca's default seed; learnColorModel passes none). */
const EM_SEED = 1;

/** How many components to keep: learn-color's options, which `model fetch --color-model DIR` shares. */
export interface ColorLearningCliOptions {
  variance: number;
  maxComponents: number;
}

interface LearnColorOptions extends ColorLearningCliOptions {
  output: string;
}

/** Adds the options of ColorLearningCliOptions to `command`; `when` ends their help (e.g. "(with DIR)"). */
export function addColorLearningOptions(command: Command, when = ''): Command {
  return command
    .option(
      '--variance <fraction>',
      `keep the fewest components that explain this fraction of the variance${when}`,
      unitIntervalOption('--variance'),
      0.95,
    )
    .option('--max-components <k>', `keep at most k components${when}`, positiveIntOption('--max-components'), 40);
}

/** The refusal of albedos made for another model than `model` (`where`: the model's file or the option giving it). */
export function albedosOfAnotherModel(
  header: AlbedoHeader,
  model: Pick<MorphableModel, 'name' | 'vertexCount'>,
  where: string,
): string {
  return (
    `its albedos are of ${header.model} (${header.modelVertexCount} vertices), not of ${model.name} `
    + `(${model.vertexCount} vertices, ${where})`
  );
}

/** Refuses, naming the folder, an albedo dataset with fewer than the 2 training faces a colour model needs. */
export function checkTrainingFaces(folder: string, dataset: AlbedoDataset): void {
  const train = splitFaces(dataset.header, 'train').length;
  if (train < 2) throw new InputError(folder, `${train} training faces in its split: at least 2 are needed`);
}

/**
 * Learns the colour model of `model` (the one the albedos of `folder`, read into `dataset`, were made for) with a
 * progress bar, and also as a colour model file that says how it was made (command, seed, the data's hash…).
 */
export async function learnColorWithProgress(
  model: Pick<MorphableModel, 'name' | 'vertexCount'>,
  folder: string,
  dataset: AlbedoDataset,
  options: ColorLearningCliOptions,
): Promise<{ learned: LearnedColorModel; file: ColorModelFile }> {
  const progress = new Progress('learning colour', MAX_ITERATIONS);
  let learned: LearnedColorModel;
  try {
    learned = learnColorModel(model, dataset, {
      variance: options.variance,
      maxComponents: options.maxComponents,
      maxIterations: MAX_ITERATIONS,
      onProgress: (iteration) => progress.update(iteration),
    });
  } finally {
    progress.stop();
  }
  const training = {
    command: ['morphable', ...process.argv.slice(2)].join(' '),
    seed: EM_SEED,
    data: `${basename(folder)}/albedo.bin`,
    dataSha256: createHash('sha256')
      .update(await readFile(join(folder, 'albedo.bin')))
      .digest('hex')
      .slice(0, 16),
    trainFaces: learned.trainFaces,
    validationFaces: learned.validationFaces,
    iterations: learned.iterations,
    seconds: Math.round(10 * learned.seconds) / 10,
    validation: learned.validation,
  };
  const file = colorModelFileFrom(model, learned.color, dataset.vertexIds, learned.explainedVariance, training);
  return { learned, file };
}

const HELP = `
Input: a folder written by \`morphable train albedo\` (albedo.json + albedo.bin: each training photo's
de-lit per-vertex albedo and how well the photo saw each vertex) for this model. The colour model is the
PCA of the training faces' albedos with the unseen entries left out (EM-PCA for missing data,
model/weighted-pca.ts); the validation faces of the dataset's split by photo measure it: each is
reconstructed from its seen entries with 0, 5, 10, 20, 40 and all components, the error printed in 8-bit
sRGB levels. The output is either a colour model file (.bin: float16, the face region only, with how it
was made in its header; \`morphable fit --color-model OUT\` uses it) or the whole model with this colour
model (.glb; \`morphable fit --model OUT\`). The fit then pulls its per-vertex albedo towards the colour
model's reconstruction of it, so that unseen parts take the colour the model predicts. Albedos learned
from 300-W photos carry 300-W's research-use terms, and so does the output.

Example:
  morphable train albedo --data ../shared/data/train-300w --out training/albedo
  morphable model learn-color training/albedo -o training/color-model.bin
`;

/** Adds `learn-color` to the `model` command group. */
export function addLearnColorCommand(model: Command): void {
  const command = model
    .command('learn-color')
    .description("learn a colour model (Blanz–Vetter's T) from the albedos of photos, and add it to a model")
    .argument('<albedo-folder>', 'folder written by `morphable train albedo`')
    .argument('[model]', 'native model file the albedos were made for (default: the default model)')
    .requiredOption(
      '-o, --output <file>',
      'colour model file to write (.bin), or the native model file with the colour model (.glb)',
    );
  addColorLearningOptions(command)
    .addHelpText('after', HELP)
    .action(async (folder: string, modelPath: string | undefined, options: LearnColorOptions) => {
      const kind = extname(options.output).toLowerCase();
      if (kind !== '.glb' && kind !== '.bin')
        throw new InputError(options.output, 'must end in .bin (a colour model file) or .glb (a native model file)');
      await checkWritableFolder(dirname(options.output), options.output); // before minutes of learning
      const path = modelPath ?? defaultModelPath();
      const [{ loadModelWithProgress, writeModel }, dataset] = await Promise.all([
        import('./model-commands.js'),
        readAlbedoDataset(folder),
      ]);
      const model = await loadModelWithProgress(path);
      const { header } = dataset;
      if (header.model !== model.name || header.modelVertexCount !== model.vertexCount)
        throw new InputError(folder, albedosOfAnotherModel(header, model, path));
      checkTrainingFaces(folder, dataset);
      const { learned, file } = await learnColorWithProgress(model, folder, dataset, options);
      if (kind === '.glb') await writeModel({ ...model, color: learned.color }, options.output);
      else {
        await mkdir(dirname(options.output), { recursive: true });
        await writeFileAtomic(options.output, encodeColorModelFile(file));
      }
      const k = learned.color.basis.count;
      const explained = learned.explainedVariance.reduce((a, b) => a + b, 0);
      console.log(
        `${model.name}: colour model of ${k} components (${(100 * explained).toFixed(1)}% of the variance) from `
          + `${learned.trainFaces} faces in ${learned.seconds.toFixed(1)} s → ${options.output}`,
      );
      console.log(`validation (${learned.validationFaces} faces), RMS error in 8-bit sRGB levels:`);
      for (const e of learned.validation)
        console.log(`  ${String(e.components).padStart(3)} components: ${e.rmseSrgb.toFixed(2)}`);
    });
}

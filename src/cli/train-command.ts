import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { LANDMARK_HEADS, type LandmarkHead } from '../detect/landmark-net.js';
import { InputError } from '../errors.js';
import { DEFAULT_TRAINING } from '../learn/landmark-training.js';
import { readFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { encodeFaceRegressorFile } from '../detect/face-regressor-file.js';
import { checkWritableFolder, writeFileAtomic } from '../io/node/atomic-write.js';
import { defaultModelPath, embeddedModelPath, shippedLandmarkNetPath } from '../io/node/model-paths.js';
import { DEFAULT_REGRESSOR_TRAINING } from '../learn/regressor-training.js';
import { DEFAULT_IDENTITY_TRAINING } from '../learn/identity-training-settings.js';
import { loadModelWithProgress } from './model-commands.js';
import { Progress } from './progress.js';
import { positiveIntOption, positiveNumberOption } from './parse.js';

// The training modules (tfjs, renderers, datasets) are imported by the action that runs them: `--help` and the
// option errors need none of them.

const HELP = `
Trains the project's 68-point landmark net on a folder of face crops with 300-W .pts files (1-based), laid
out as ../shared/data/train-300w is: NAME.jpg + NAME.pts, and a manifest.csv naming each face's source photo.
It starts from face-api's feature extractor and head (MIT weights in node_modules); --head regression adds a
spatial branch to that head, --head pip replaces it with PIPNet-style cell scores and offsets. A fixed tenth
of the photos (chosen by the seed) is held out for validation; no photo has faces on both sides.
Augmentation: rotation ±30°, scale ±20 %, shift ±8 %, mirroring, colour, contrast, grey-scale, blur, noise,
occluding rectangles. The defaults are the settings of the weights shipped in models/ (about 15 minutes on
one core of a 2-core AMD EPYC; --frozen-blocks 2 trains about 2.5× faster, 0.1 % NME worse).

Writes OUT/landmark-net.bin (float16, the epoch with the lowest validation NME, with the command, seed, data
hash and training time inside) and OUT/checkpoint.bin after every epoch; --resume goes on from there with
the same options and gives the same weights as an uninterrupted run. Runs on one CPU core (tfjs wasm).
Use the result with: morphable fit photo.jpg --landmark-net OUT/landmark-net.bin

Weights trained on 300-W carry its terms: research use only.

Example:
  morphable train landmarks --data ../shared/data/train-300w --out training/landmarks
`;

interface TrainLandmarksOptions {
  data: string;
  out: string;
  epochs: number;
  batchSize: number;
  seed: number;
  learningRate: number;
  frozenBlocks: number;
  head: LandmarkHead;
  extra?: string[];
  limit?: number;
  resume?: boolean;
}

const PROFILE_HELP = `
3D face profiling, as 300W-LP was made for 3DDFA: each face of a train-300w-like folder (manifest.csv with
name, source, path) is fitted with the model to its ground-truth landmarks, textured from its photo, turned
to larger |yaw| and rendered over its crop; the model's turned landmarks are the labels (the annotated inner
points carried on the surface, the outline on the turned silhouette). Writes NAME_yawP30.jpg + .pts and a
manifest.csv whose photo column names each face's source photo, so that train landmarks --extra OUT keeps
the validation photos out. The renders carry the source data's terms (300-W: research use only).

Example:
  morphable train profile --data ../shared/data/train-300w --out profiled-300w
`;

const ALBEDO_HELP = `
Albedo data for a colour model learned from photos (issue 18): each face of a train-300w-like folder
(NAME.jpg + NAME.pts + manifest.csv) is fitted with the model to its ground-truth landmarks, then by the
photometric stage (spherical-harmonics light and per-vertex albedo), and its de-lit linear-RGB albedo kept
on the model's face region with a confidence per vertex: 0 where the photo did not see it (self-occluded,
out of frame), lower at grazing angles, on highlights (far brighter than the face's median) and on
saturated pixels; a vertex seen less than its left/right mirror takes the mirror's colour at half weight.
Faces whose landmark fit is poor (quality score, NME > 5 %) or whose photometric RMSE is above 0.1 are
skipped and counted.

Writes OUT/albedo.bin (vertex ids, float16 albedo, uint8 weights) and OUT/albedo.json (model, faces with
their source photos, skipped faces, the split by photo: a tenth of the photos for validation, seed 15).
About 2-4 s per face per core. Albedos from 300-W photos: research use only.

Example:
  morphable train albedo --data ../shared/data/train-300w --out training/albedo --limit 200
`;

const IDENTITY_HELP = `
Trains the identity-from-embedding net (Genova et al. 2018) without 3D scans: random identities
α ~ N(0, I) of the model are rendered (face region, |yaw| ≤ 30°, |pitch|, |roll| ≤ 10°, mild expressions,
random SH light, skin unwrapped from --data photos over backgrounds cut from others), each view is embedded
by face-api's 128-D face-recognition net (MIT, node_modules), and an MLP learns embedding → the leading
--outputs identity coefficients with the loopback loss (mean squared face-region vertex distance, mm²) and
the batch-distribution loss (batch mean → 0, covariance → I). A tenth of the identities is held out; their
views measure the face-region RMS error against the mean face's, written into the file's header with the
command, seed, data and times. The defaults made models/identity-from-embedding.bin.

--also-model adds random faces of a second model (the Surrey Face Model, say), rendered and embedded the same
way; each is labelled with the leading --outputs identity coefficients of --model whose surface fits it best
(a correspondence found once by ICP between the two mean faces, then one least-squares solve per face), so
that the net also sees faces --model cannot make exactly.

Writes OUT (float16). Runs on one CPU core (tfjs wasm). Skin from 300-W photos: research use only.

Example:
  morphable train identity --data ../shared/data/train-300w --out training/identity-from-embedding.bin
`;

const REGRESSOR_HELP = `
Trains the one-pass 3DMM regressor (3DDFA_V2-style): a head on the landmark net that reads its features of a
face crop and gives the model's pose, leading identity modes and expressions with no fitting. The landmark net
stays frozen, so its features are computed once; the head trains in minutes.

Training data, made here from the train-300w-like folder (split by photo as the landmark net was, seed 15):
real faces with pseudo-labels (the model fitted to their ground-truth landmarks), one 3D-profiled view of each
(turned to |yaw| 35-80°), and --synthetic random faces (yaw ±90°, random light, skin from the training photos,
their backgrounds). Validation: the same made from the held-out photos only. Losses: projected vertices,
3D vertex distance, camera rows, identity coefficients.

Writes OUT/face-regressor.bin (float16, with the command, seed, data hash, sample counts and times inside).
Use it with: morphable fit photo.jpg --init learned --regressor OUT/face-regressor.bin (or --fast).
Weights trained on 300-W carry its terms: research use only.

Example:
  morphable train regressor --data ../shared/data/train-300w --out training/regressor
`;

interface TrainRegressorCliOptions {
  data: string;
  out: string;
  model: string;
  landmarkNet?: string;
  epochs: number;
  synthetic: number;
  seed: number;
  limit?: number;
}

export function addTrainCommands(program: Command): void {
  const train = program.command('train').description("train the project's networks and make training data");
  train
    .command('identity')
    .description('train the net that maps a face-recognition embedding to identity coefficients')
    .option('--data <dir>', 'photos with .pts landmarks for skin and backgrounds', '../shared/data/train-300w')
    .option('--flat-skin', 'no photos: a flat skin tone over grey backgrounds')
    .option('--model <file>', 'the model whose identity is predicted', embeddedModelPath())
    .option('--out <file>', 'the weight file to write', 'training/identity-from-embedding.bin')
    .option(
      '--samples <n>',
      'rendered views in all (identities × --views)',
      positiveIntOption('--samples'),
      DEFAULT_IDENTITY_TRAINING.identities * DEFAULT_IDENTITY_TRAINING.views,
    )
    .option('--views <n>', 'views per identity', positiveIntOption('--views'), DEFAULT_IDENTITY_TRAINING.views)
    .option(
      '--also-model <model>',
      'a second model (.glb, or a folder or archive `model import` reads) whose random faces are rendered too, '
        + 'each labelled with the --model identity that fits it best',
    )
    .option(
      '--also-identities <n>',
      'random identities of --also-model',
      positiveIntOption('--also-identities'),
      DEFAULT_IDENTITY_TRAINING.otherIdentities,
    )
    .option('--outputs <n>', 'leading identity coefficients predicted', positiveIntOption('--outputs'), 40)
    .option('--epochs <n>', 'passes over the views', positiveIntOption('--epochs'), DEFAULT_IDENTITY_TRAINING.epochs)
    .option('--seed <n>', 'seed of the faces, the split and the initial weights', positiveIntOption('--seed'), 16)
    .addHelpText('after', IDENTITY_HELP)
    .action(
      async (options: {
        data: string;
        flatSkin?: boolean;
        model: string;
        out: string;
        samples: number;
        views: number;
        alsoModel?: string;
        alsoIdentities: number;
        outputs: number;
        epochs: number;
        seed: number;
      }) => {
        const identities = Math.floor(options.samples / options.views);
        if (identities < 10) throw new InputError(`--samples ${options.samples}`, 'must give at least 10 identities');
        await checkWritableFolder(dirname(options.out), `--out ${options.out}`);
        const model = await loadModelWithProgress(options.model);
        const otherModel = options.alsoModel ? await loadModelWithProgress(options.alsoModel) : undefined;
        let progress: Progress | undefined;
        const { trainIdentityNet } = await import('../learn/identity-training.js');
        const result = await trainIdentityNet({
          model,
          dataDir: options.flatSkin ? null : options.data,
          outFile: options.out,
          identities,
          otherModel,
          otherIdentities: options.alsoIdentities,
          views: options.views,
          outputs: options.outputs,
          epochs: options.epochs,
          seed: options.seed,
          command: `morphable ${process.argv.slice(2).join(' ')}`,
          onStage: (stage) => {
            progress?.stop();
            progress = stage === 'rendering and embedding faces' ? new Progress(stage) : undefined;
            if (!progress) process.stderr.write(`${stage}…\n`);
          },
          onProgress: (done, total) => progress?.update((100 * done) / total),
          onEpoch: (e) => {
            if (e.epoch % 10 === 0 || e.epoch === options.epochs) {
              process.stderr.write(
                `epoch ${e.epoch}/${options.epochs}: loopback ${e.loopback.toFixed(2)} mm², `
                  + `distribution ${e.distribution.toFixed(3)}\n`,
              );
            }
          },
        });
        progress?.stop();
        const ev = result.evaluation;
        console.log(
          `${options.out}: held-out face-region RMS ${ev.predictedRmsMm.toFixed(2)} mm vs the mean face's `
            + `${ev.meanFaceRmsMm.toFixed(2)} mm (ratio ${ev.ratio.toFixed(3)}) on ${ev.views} views of `
            + `${ev.identities} identities; ${result.data.views} views rendered and embedded in `
            + `${(result.data.renderSeconds + result.data.embedSeconds).toFixed(0)} s, `
            + `trained in ${result.trainSeconds.toFixed(0)} s (${(result.seconds / 60).toFixed(1)} min in all)`,
        );
        const other = result.otherEvaluation;
        if (other) {
          console.log(
            `${options.alsoModel}'s held-out faces: RMS ${other.predictedRmsMm.toFixed(2)} mm from their labels vs `
              + `the mean face's ${other.meanFaceRmsMm.toFixed(2)} mm (ratio ${other.ratio.toFixed(3)}) on `
              + `${other.views} views`,
          );
        }
      },
    );
  train
    .command('albedo')
    .description('make albedo training data: fit photos, de-light them, keep per-vertex albedo and confidence')
    .option('--data <dir>', 'folder of NAME.jpg + NAME.pts + manifest.csv', '../shared/data/train-300w')
    .requiredOption('--out <dir>', 'folder for albedo.bin and albedo.json')
    .option('--limit <n>', 'only n faces, spread evenly over the manifest', positiveIntOption('--limit'))
    .option('--jobs <n>', 'worker threads (default: the cores)', positiveIntOption('--jobs'))
    .addHelpText('after', ALBEDO_HELP)
    .action(async (options: { data: string; out: string; limit?: number; jobs?: number }) => {
      let progress: Progress | undefined;
      try {
        const { writeAlbedoDataset } = await import('../learn/albedo-data.js');
        const header = await writeAlbedoDataset({
          dataDir: options.data,
          outDir: options.out,
          limit: options.limit,
          jobs: options.jobs,
          onProgress: (done, total) => {
            progress ??= new Progress('albedo', total, false, 'faces');
            progress.update(done);
          },
        });
        progress?.stop();
        const read = header.faces.length + header.skipped.fit.length + header.skipped.photometric.length;
        console.log(
          `${options.out}: ${header.faces.length} of ${read} faces kept (${header.skipped.fit.length} poor landmark `
            + `fits, ${header.skipped.photometric.length} poor photometric fits; ${header.split.train.length} train, `
            + `${header.split.validation.length} validation) in ${(header.seconds / 60).toFixed(1)} min, `
            + `${(header.msPerFace / 1000).toFixed(2)} s per face with ${header.jobs} worker(s)`,
        );
      } finally {
        progress?.stop();
      }
    });
  train
    .command('profile')
    .description('render training faces turned to larger yaw (3D face profiling), with their landmarks')
    .option('--data <dir>', 'folder of NAME.jpg + NAME.pts + manifest.csv', '../shared/data/train-300w')
    .requiredOption('--out <dir>', 'new or empty folder for the rendered faces')
    .option('--yaw <degrees...>', 'the |yaw| each face is turned to (one render each)', ['30', '45', '60'])
    .option('--seed <n>', 'picks the way frontal faces turn', positiveIntOption('--seed'), 15)
    .addHelpText('after', PROFILE_HELP)
    .action(async (options: { data: string; out: string; yaw: string[]; seed: number }) => {
      const targets = options.yaw.map((v) => {
        const deg = Number(v);
        if (!(deg > 0 && deg < 90)) throw new InputError(`--yaw ${v}`, 'must be an angle in (0, 90) degrees');
        return deg;
      });
      const progress = new Progress('profiling faces');
      try {
        const { writeProfiledDataset } = await import('../learn/profile-dataset.js');
        const result = await writeProfiledDataset({
          dataDir: options.data,
          outDir: options.out,
          yawTargetsDeg: targets,
          seed: options.seed,
          onProgress: (done, total) => progress.update((100 * done) / total),
        });
        progress.stop();
        console.log(
          `${options.out}: ${result.written} faces rendered from ${result.faces} (${result.skippedFit.length} `
            + `skipped for a poor fit, ${result.skippedTurns} turns already reached) in `
            + `${(result.seconds / 60).toFixed(1)} min`,
        );
      } finally {
        progress.stop();
      }
    });
  train
    .command('landmarks')
    .description('train the 68-point landmark net on face crops with .pts landmarks')
    .option('--data <dir>', 'folder of NAME.jpg + NAME.pts (+ manifest.csv)', '../shared/data/train-300w')
    .option('--out <dir>', 'folder for landmark-net.bin and checkpoint.bin', 'training/landmarks')
    .option('--epochs <n>', 'passes over the training faces', positiveIntOption('--epochs'), DEFAULT_TRAINING.epochs)
    .option('--batch-size <n>', 'faces per step', positiveIntOption('--batch-size'), DEFAULT_TRAINING.batchSize)
    .option('--seed <n>', 'seed of the split, the head and the augmentation', positiveIntOption('--seed'), 15)
    .option(
      '--learning-rate <lr>',
      'peak Adam learning rate (cosine decay to 1 %)',
      positiveNumberOption('--learning-rate'),
      DEFAULT_TRAINING.learningRate,
    )
    .addOption(
      new Option('--head <kind>', "regression: face-api's head + a spatial branch; pip: cell scores + offsets")
        .choices(LANDMARK_HEADS)
        .default(DEFAULT_TRAINING.head),
    )
    .option(
      '--frozen-blocks <n>',
      'keep the first n of the 4 dense blocks as face-api trained them (0-4)',
      (v: string) => {
        const n = Number(v);
        if (!/^[0-4]$/.test(v)) throw new InputError(`--frozen-blocks ${v}`, 'must be a whole number from 0 to 4');
        return n;
      },
      DEFAULT_TRAINING.frozenBlocks,
    )
    .option('--extra <dirs...>', 'more training faces in the same format (faces of validation photos are skipped)')
    .option('--limit <n>', 'use only the first n faces (quick trials)', positiveIntOption('--limit'))
    .option('--resume', 'go on from OUT/checkpoint.bin')
    .addHelpText('after', HELP)
    .action(async (options: TrainLandmarksOptions) => {
      const tty = process.stderr.isTTY === true;
      const bar = tty
        ? new cliProgress.SingleBar(
            {
              format: 'epoch {epoch} [{bar}] {percentage}% | {speed} faces/s | loss {loss} | {eta_formatted} left',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let started = false;
      const { trainLandmarkNet } = await import('../learn/train-landmark-net.js');
      const result = await trainLandmarkNet({
        dataDir: options.data,
        outDir: options.out,
        epochs: options.epochs,
        batchSize: options.batchSize,
        seed: options.seed,
        learningRate: options.learningRate,
        frozenBlocks: options.frozenBlocks,
        head: options.head,
        extraDirs: options.extra,
        limit: options.limit,
        resume: options.resume,
        command: `morphable ${process.argv.slice(2).join(' ')}`,
        onProgress: (p) => {
          if (!bar) {
            // Off a terminal (logs, CI): a plain line at each quarter of an epoch.
            const quarter = Math.floor((4 * p.step) / p.steps);
            if (quarter > Math.floor((4 * (p.step - 1)) / p.steps) && p.step < p.steps) {
              process.stderr.write(
                `epoch ${p.epoch + 1}/${p.epochs}: ${Math.round((100 * p.step) / p.steps)}%, `
                  + `${p.samplesPerSecond.toFixed(1)} faces/s, loss ${p.loss.toFixed(3)}\n`,
              );
            }
            return;
          }
          const payload = {
            epoch: `${p.epoch + 1}/${p.epochs}`,
            speed: p.samplesPerSecond.toFixed(1),
            loss: p.loss.toFixed(3),
          };
          if (!started || p.step === 1) {
            if (started) bar.stop();
            bar.start(p.steps, p.step, payload);
            started = true;
          } else bar.update(p.step, payload);
        },
        onEpoch: (r, best) => {
          bar?.stop();
          started = false;
          process.stderr.write(
            `epoch ${r.epoch}/${options.epochs}: loss ${r.loss.toFixed(3)}, validation NME `
              + `${r.validationNmeMean.toFixed(2)} % mean, ${r.validationNmeMedian.toFixed(2)} % median, `
              + `${r.seconds.toFixed(0)} s${best ? ' (best)' : ''}\n`,
          );
        },
      });
      bar?.stop();
      console.log(
        `${result.weightsPath}: epoch ${result.best.epoch}, validation NME `
          + `${result.best.validationNmeMean.toFixed(2)} % mean / ${result.best.validationNmeMedian.toFixed(2)} % `
          + `median on ${result.validationFaces} faces `
          + `(${result.trainFaces} training faces, ${(result.seconds / 60).toFixed(1)} min)`,
      );
    });

  train
    .command('regressor')
    .description('train the one-pass 3DMM regressor (pose, identity, expressions from a face crop)')
    .option('--data <dir>', 'folder of NAME.jpg + NAME.pts + manifest.csv', '../shared/data/train-300w')
    .option('--out <dir>', 'folder for face-regressor.bin', 'training/regressor')
    .option('--model <file>', 'native model file (.glb) whose coefficients it learns', defaultModelPath())
    .option('--landmark-net <file>', 'the landmark net whose features it reads (default: the shipped one)')
    .option(
      '--epochs <n>',
      'passes over the examples',
      positiveIntOption('--epochs'),
      DEFAULT_REGRESSOR_TRAINING.epochs,
    )
    .option(
      '--synthetic <n>',
      'synthetic training faces (validation: a tenth as many)',
      positiveIntOption('--synthetic'),
      4000,
    )
    .option(
      '--seed <n>',
      'seed of the synthetic faces, the crops and the head',
      positiveIntOption('--seed'),
      DEFAULT_REGRESSOR_TRAINING.seed,
    )
    .option('--limit <n>', 'use only the first n photos of the data (quick trials)', positiveIntOption('--limit'))
    .addHelpText('after', REGRESSOR_HELP)
    .action(async (options: TrainRegressorCliOptions) => {
      await checkWritableFolder(options.out, `--out ${options.out}`);
      const model = await loadModelWithProgress(options.model);
      const netPath = options.landmarkNet ?? shippedLandmarkNetPath();
      const landmarkNet = await readFile(netPath).catch(() => {
        throw new InputError(netPath, 'cannot read the landmark net');
      });
      let progress: Progress | undefined;
      let stage = '';
      const { trainFaceRegressorRun } = await import('../learn/train-face-regressor.js');
      const result = await trainFaceRegressorRun({
        model,
        dataDir: options.data,
        landmarkNet,
        landmarkNetName: basename(netPath),
        epochs: options.epochs,
        synthetic: options.synthetic,
        seed: options.seed,
        limit: options.limit,
        command: `morphable ${process.argv.slice(2).join(' ')}`,
        onStage: (name, done, total) => {
          if (name !== stage) {
            progress?.stop();
            progress = new Progress(name, total);
            stage = name;
          }
          progress?.update(done);
        },
        onEpoch: (epoch, loss, v) => {
          progress?.stop();
          progress = undefined;
          process.stderr.write(
            `epoch ${epoch}/${options.epochs}: loss ${loss.toFixed(2)}, validation: yaw ${v.yaw.toFixed(2)}°, `
              + `pitch ${v.pitch.toFixed(2)}°, roll ${v.roll.toFixed(2)}°, shape ${v.shapeMm.toFixed(2)} mm `
              + `(mean face ${v.meanFaceMm.toFixed(2)} mm)\n`,
          );
        },
      });
      const path = join(options.out, 'face-regressor.bin');
      await mkdir(options.out, { recursive: true });
      await writeFileAtomic(
        path,
        encodeFaceRegressorFile({
          layout: result.layout,
          model: { name: model.name, vertexCount: model.vertexCount },
          tensors: result.tensors,
          training: result.training,
        }),
      );
      const v = result.final;
      console.log(
        `${path}: validation yaw/pitch/roll error ${v.yaw.toFixed(2)}°/${v.pitch.toFixed(2)}°/${v.roll.toFixed(2)}°, `
          + `shape ${v.shapeMm.toFixed(2)} mm (mean face ${v.meanFaceMm.toFixed(2)} mm), `
          + `${((result.training.totalSeconds as number) / 60).toFixed(1)} min`,
      );
    });
}

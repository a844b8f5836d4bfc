import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import type { FaceFitReport } from '../fit/fit-result.js';
import { checkWritableFolder, removeStaleTemporaries } from '../io/node/atomic-write.js';
import { requireDefaultModel } from '../io/node/model-paths.js';
import type { OutputKind } from '../service/output-files.js';
import type { PhotoJob, PhotoJobResult } from '../service/photo-job.js';
import { listPhotos, PHOTO_EXTENSIONS } from '../service/photo-list.js';
import { PhotoPool } from '../service/photo-pool.js';
import { finishedPhotos, RESULTS_FILE, type ResultLine, ResultsLog, resultLines } from '../service/results-log.js';
import { TaskTimeoutError, WorkerStoppedError } from '../service/worker-pool.js';
import {
  addFitSettingsOptions,
  type FitSettingsOptions,
  fitSettingsFrom,
  jobsOption,
  outputsOption,
} from './fit-options.js';
import { Progress } from './progress.js';

interface FitOptions extends FitSettingsOptions {
  landmarks?: string[];
  out: string;
  json?: boolean;
  jobs: number;
  resume?: boolean;
  outputs: OutputKind[];
}

export function addFitCommand(program: Command): void {
  const command = program
    .command('fit')
    .description(
      'fit the 3D face model to each face in photos: writes a mesh (OBJ, GLB), an overlay PNG and a JSON '
        + 'result per face',
    )
    .argument('<photos...>', 'photos (JPEG, PNG, WebP, TIFF, …) and folders of them (walked, subfolders too)')
    .option('--landmarks <pts...>', 'iBUG-68 .pts files, one per image, used instead of face detection')
    .option('--out <dir>', 'output folder', 'fits')
    .option('--json', 'also print the results as JSON on stdout');
  addFitSettingsOptions(command);
  command
    .addOption(jobsOption())
    .option('--resume', `skip the photos that --out's ${RESULTS_FILE} says an earlier run finished`)
    .addOption(outputsOption())
    .addHelpText(
      'after',
      `
Outputs per face, in --out (--outputs picks among them): NAME.obj (+ NAME.mtl) and NAME.glb (the
fitted face in model space, textured with the photo unwrapped into NAME_texture.png; the pose is in the
JSON; units: the OBJ and PLY in millimetres, the GLB in metres as glTF says), NAME_albedo.png (the
albedo-texture: the same UV layout de-lit, the photo divided by the fitted light, the fitted albedo where
the photo does not show the face), NAME_albedo.ply (the mesh with the estimated de-lit per-vertex albedo),
NAME.png (the mesh over the photo's face region: green = input landmarks, red = fitted model landmarks),
NAME_compare.png (photo | rendering | difference ×3) and NAME.json (image size, face box, landmarks,
pose as yaw/pitch/roll in degrees, translation in mm and a 4×4 model-view matrix, identity and named
expression coefficients, light, fit quality, timings).
With --no-photometric: no colours, textures or comparison.

NAME is the photo's name without its extension; a photo found in a folder keeps its path below that
folder (DIR/a/x.jpg → --out/a/x.*). Photos with the same name (a/x.jpg b/x.png given as files) get x,
x-2, x-3… in the order given; _face1, _face2… follow when a photo has several faces, left to right.
Folders are walked in sorted order for image files (${PHOTO_EXTENSIONS.join(' ')}), skipping
hidden entries and --out. Every file is written atomically (a killed run leaves no half-written file); a
new fit of a photo replaces all its files from an earlier run (none stays stale); --out is checked for
writing before any work.

--out/${RESULTS_FILE} gets one JSON line per face as each photo finishes ({photo, name, status: "fitted"
| "rejected", face, files, fit: the NAME.json report}) and one per failed photo ({status: "failed",
error, retry}). --resume skips the photos it lists, but tries again those that failed for a reason that
may pass (retry: true: a crash, a time limit); without --resume the log starts afresh.

Several photos are fitted at once with --jobs (worker threads: the fit and tfjs's wasm backend each use
one core). A photo that cannot be read, has no face, or whose every face is rejected is reported on
stderr and skipped (exit code 2 at the end); one that crashes its worker, likewise (exit code 1). The
focal length comes from --focal, else the photo's EXIF (35 mm equivalent, or focal length and sensor
resolution), else it is estimated; the JSON says which. Each fit gets a quality score (JSON
quality.score, 0-1); faces below --min-quality are reported on stderr and nothing is written for them.
Progress: on a terminal, a bar with the rate and time left (several photos) or the stage running (one
photo); elsewhere, plain lines for several photos.`,
    )
    .action(async (inputs: string[], options: FitOptions) => {
      await checkWritableFolder(options.out, `--out ${options.out}`);
      const photos = await listPhotos(inputs, { skip: options.out });
      if (options.landmarks && options.landmarks.length !== photos.length) {
        throw new InputError(
          '--landmarks',
          `${options.landmarks.length} .pts file(s) for ${photos.length} image(s): give one per image, in `
            + `the same order`,
        );
      }
      const settings = fitSettingsFrom(options);
      const jobs: PhotoJob[] = photos.map((photo, i) => ({
        photo: photo.path,
        pts: options.landmarks?.[i],
        out: { folder: options.out, stem: photo.name },
      }));
      const logPath = join(options.out, RESULTS_FILE);
      const finished = options.resume ? await finishedPhotos(logPath) : new Set<string>();
      if (options.resume) await removeStaleTemporaries(options.out);
      const todo = jobs.map((job, i) => ({ job, name: photos[i].name })).filter(({ name }) => !finished.has(name));
      if (finished.size > 0)
        process.stderr.write(`morphable: ${photos.length - todo.length} photo(s) already done in ${logPath}\n`);
      const single = photos.length === 1;

      if (todo.length === 0) return;
      // One photo: this thread (the model loads with a progress bar, the stages show). Several: the worker
      // pool, even of one thread, so that a photo that crashes its worker never stops the batch.
      const workers = Math.min(options.jobs, todo.length);
      let fitting: { run(job: PhotoJob): Promise<PhotoJobResult>; close(): Promise<void> | void };
      if (!single) {
        await requireDefaultModel(options.model);
        fitting = await PhotoPool.start(settings, { jobs: workers, detect: !options.landmarks });
      } else {
        // The photo and its .pts first: a bad one is reported in a fraction of a second, not after the model
        // and the nets have loaded. The fitting stack is loaded here only: a batch's thread does no fitting.
        const { readPhotoJobInputs } = await import('../service/photo-job-inputs.js');
        const inputs = await readPhotoJobInputs(todo[0].job, settings.focal);
        const [{ loadModelWithProgress }, { PhotoJobRunner }] = await Promise.all([
          import('./model-commands.js'),
          import('../service/photo-job.js'),
        ]);
        const model = await loadModelWithProgress(options.model);
        const runner = await PhotoJobRunner.create(settings, { detect: !options.landmarks, model });
        const stages = new Progress(`fitting ${basename(photos[0].path)}`, 1, true);
        fitting = {
          run: (job) => runner.run(job, (stage) => stages.stage(stage), inputs),
          close: () => {
            stages.stop();
            runner.dispose();
          },
        };
      }

      const log = new ResultsLog(logPath, options.resume === true);
      const reports: FaceFitReport[][] = []; // by photo, printed in the order given
      let inputFailures = 0;
      let crashes = 0;
      const progress = new Progress('fitting', todo.length, todo.length < 2, 'photos');
      let done = 0;
      // Each lane takes the next photo when it is free: no more photos in flight (decoded) than workers.
      let next = 0;
      const lane = async () => {
        while (next < todo.length) {
          const index = next++;
          const { job, name } = todo[index];
          const photo = job.photo as string;
          let lines: ResultLine[];
          try {
            const result = await fitting.run(job);
            lines = resultLines(photo, name, result);
            for (const face of result.faces)
              if (face.rejected) process.stderr.write(`morphable: ${photo}: ${face.rejected}\n`);
            reports[index] = result.faces.filter((face) => !face.rejected).map((face) => face.report);
          } catch (error) {
            if (single) throw error;
            const input = error instanceof InputError;
            const retry = error instanceof WorkerStoppedError || error instanceof TaskTimeoutError || !input;
            if (input) inputFailures++;
            else crashes++;
            const message = input ? error.message : `${photo}: ${(error as Error).message}`;
            process.stderr.write(`morphable: ${message}\n`);
            lines = [{ photo, name, status: 'failed', error: message, retry }];
          }
          await log.append(lines);
          progress.update(++done);
        }
      };
      try {
        await Promise.all(Array.from({ length: workers }, lane));
      } finally {
        progress.stop();
        await fitting.close();
      }
      const fitted = reports.flat();
      if (options.json) console.log(JSON.stringify(fitted, null, 1));
      else for (const r of fitted) console.log(describe(r));
      if (crashes) process.exitCode = 1;
      else if (inputFailures) process.exitCode = 2;
    });
}

function describe(r: FaceFitReport): string {
  const top = Object.entries(r.expression)
    .filter(([, v]) => v >= 0.2)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4);
  const face = r.face.box ? ` face ${r.face.index + 1}` : '';
  const expression = top.length ? top.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : 'neutral';
  return (
    `${r.image.file}${face}: yaw ${r.pose.yaw.toFixed(1)}°, pitch ${r.pose.pitch.toFixed(1)}°, roll `
    + `${r.pose.roll.toFixed(1)}°, `
    + `distance ${(-r.pose.translation[2] / 10).toFixed(0)} cm, landmark error `
    + `${r.quality.nmePercent.toFixed(1)}% | ${expression}`
  );
}

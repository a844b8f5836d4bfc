import { type Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import type { FaceLandmarker } from '../detect/face.js';
import type { RgbImage } from '../render/rgb-image.js';
import {
  type FaceLandmarks,
  type FitInit,
  PHOTO_MAX_SIDE,
  type Photo,
  PhotoFitter,
  rejectionMessage,
} from '../fit/fit-photo.js';
import { MIN_QUALITY } from '../fit/fit-quality.js';
import { cropCamera } from '../geometry/crop.js';
import type { FaceFitReport, FocalSource } from '../fit/fit-result.js';
import { exifFocalPixels, readExif } from '../io/exif.js';
import type { PhotometricFitResult, PhotometricFitter } from '../fit/photometric-fit.js';
import { meshToGlb } from '../io/mesh-glb.js';
import { meshFromModel } from '../io/mesh.js';
import { materialForTexture, meshToObj } from '../io/mesh-obj.js';
import { meshToPly } from '../io/mesh-ply.js';
import { checkWritableFolder, OutputBatch } from '../io/node/atomic-write.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../io/node/identity-predictor.js';
import { type IdentityPredictor, predictIdentityFromEmbedding } from '../detect/identity-from-embedding.js';
import { createNodeLandmarker, LANDMARKER_KINDS, type LandmarkerKind } from '../io/node/face-landmarker.js';
import { encodePng, loadImage } from '../io/node/image.js';
import { parsePts } from '../io/pts.js';
import { requireFitLandmarks } from '../node.js';
import { comparisonImage } from '../render/comparison.js';
import { drawOverlay, faceRegion } from '../render/overlay.js';
import { loadModelWithProgress } from './model-commands.js';
import { defaultModelPath } from '../io/node/model-paths.js';
import { outputNames, previousOutputs } from './output-names.js';
import { positiveIntOption, positiveNumberOption, unitIntervalOption } from './parse.js';
import { Progress } from './progress.js';

interface FitOptions {
  model: string;
  landmarks?: string[];
  out: string;
  json?: boolean;
  maxFaces: number;
  focal?: number;
  photometric: boolean;
  minQuality: number;
  landmarker: LandmarkerKind;
  landmarkNet?: string;
  init: FitInit;
  fast?: boolean;
  regressor?: string;
  identity: 'landmarks' | 'embedding';
  /** Loaded in the action when --identity embedding. */
  identityPredictor?: IdentityPredictor;
}

export function addFitCommand(program: Command): void {
  program
    .command('fit')
    .description(
      'fit the 3D face model to each face in photos: writes a mesh (OBJ, GLB), an overlay PNG and a JSON '
        + 'result per face',
    )
    .argument('<images...>', 'photos (JPEG, PNG, WebP, TIFF, …)')
    .option(
      '--model <file>',
      'native model file (.glb); default: the fetched model, else the one shipped in the package',
      defaultModelPath(),
    )
    .option('--landmarks <pts...>', 'iBUG-68 .pts files, one per image, used instead of face detection')
    .option('--out <dir>', 'output folder', 'fits')
    .option('--json', 'also print the results as JSON on stdout')
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
        'the identity prior\'s centre: "landmarks" (the mean face) or "embedding" (predicted from face-api\'s '
          + 'face-recognition embedding, models/identity-from-embedding.bin; ICT-FaceKit models only)',
      )
        .choices(['landmarks', 'embedding'])
        .default('landmarks'),
    )
    .option('--regressor <file>', 'weights of the one-pass regressor (default: the shipped one, for the shipped model)')
    .addHelpText(
      'after',
      `
Outputs per face, in --out: NAME.obj (+ NAME.mtl) and NAME.glb (the fitted face in model space,
textured with the photo unwrapped into NAME_texture.png; the pose is in the JSON; units: the OBJ and
PLY in millimetres, the GLB in metres as glTF says), NAME_albedo.ply (the mesh with the estimated
de-lit per-vertex albedo), NAME.png (the mesh over the photo: green = input landmarks, red = fitted
model landmarks),
NAME_compare.png (photo | rendering | difference ×3) and NAME.json (image size, face box,
landmarks, pose as yaw/pitch/roll in degrees, translation in mm and a 4×4 model-view matrix,
identity and named expression coefficients, light, fit quality, timings). NAME is the image's name
without its extension (photos with the same name, a/x.jpg b/x.png, get x, x-2, x-3… in the order
given), with _face1, _face2… when a photo has more faces, numbered left to right. A new fit of a
photo replaces all its files from an earlier run in --out (none stays stale); --out is checked for
writing before any work. With --no-photometric: no colours, texture or comparison. A photo without a
face is reported and skipped (exit code 2 at the end), nothing is written for it. NAME.png shows the
face's region of the photo. The focal length comes from --focal, else the photo's EXIF (35 mm
equivalent, or focal length and sensor resolution), else it is estimated; the JSON says which. Each
fit gets a quality score (JSON quality.score, 0-1); faces below --min-quality are reported on stderr
and nothing is written for them; a photo whose every face is rejected counts as a failure (exit code
2). Progress: on a terminal, a bar (several photos) or the stage running (one photo); elsewhere,
plain lines for several photos.`,
    )
    .action(async (images: string[], options: FitOptions) => {
      if (options.landmarks && options.landmarks.length !== images.length) {
        throw new InputError(
          '--landmarks',
          `${options.landmarks.length} .pts file(s) for ${images.length} image(s): give one per image, in `
            + `the same order`,
        );
      }
      const learned = options.fast || options.init === 'learned';
      const detectsWithNet = !options.landmarks && options.landmarker === 'net';
      if (learned && !detectsWithNet) {
        throw new InputError(
          options.fast ? '--fast' : '--init learned',
          "needs the project's landmark net on detected faces (not --landmarks or --landmarker face-api)",
        );
      }
      await checkWritableFolder(options.out, `--out ${options.out}`);
      const names = outputNames(images);
      const model = await loadModelWithProgress(options.model);
      requireFitLandmarks(model, options.model);
      if (options.identity === 'embedding') {
        options.identityPredictor = await loadIdentityPredictor();
        const trained = options.identityPredictor.file;
        if (trained.model !== model.name || trained.identityCount !== model.identity.count) {
          throw new InputError(
            '--identity embedding',
            `its net predicts ${trained.model} identities, not ${model.name}'s (${options.model})`,
          );
        }
      }
      const fitter = new PhotoFitter(model);
      let landmarker: FaceLandmarker | undefined;
      const reports: FaceFitReport[] = [];
      const failures: string[] = [];
      const progress = new Progress(
        images.length === 1 ? `fitting ${basename(images[0])}` : 'fitting',
        images.length,
        images.length < 2,
      );
      try {
        for (const [i, image] of images.entries()) {
          try {
            if (!options.landmarks) {
              landmarker ??= await createNodeLandmarker({
                landmarker: options.landmarker,
                landmarkNetFile: options.landmarkNet,
                regressor:
                  learned || options.init === 'auto'
                    ? { model, file: options.regressor, ifMatching: !learned }
                    : undefined,
              });
            }
            reports.push(
              ...(await fitImage(
                image,
                names[i],
                options.landmarks?.[i],
                fitter,
                landmarker,
                options,
                images.length === 1 ? progress : undefined,
              )),
            );
          } catch (error) {
            if (!(error instanceof InputError) || images.length === 1) throw error;
            failures.push(error.message);
            process.stderr.write(`morphable: ${error.message}\n`);
          }
          progress.update(i + 1);
        }
      } finally {
        progress.stop();
        landmarker?.dispose();
        if (options.identityPredictor) disposeIdentityPredictor(options.identityPredictor);
      }
      if (options.json) console.log(JSON.stringify(reports, null, 1));
      else for (const r of reports) console.log(describe(r));
      if (failures.length) process.exitCode = 2;
    });
}

async function fitImage(
  path: string,
  stem: string,
  ptsFile: string | undefined,
  fitter: PhotoFitter,
  landmarker: FaceLandmarker | undefined,
  options: FitOptions,
  stages?: Progress,
): Promise<FaceFitReport[]> {
  const start = performance.now();
  const loaded = await loadImage(path, { maxSide: PHOTO_MAX_SIDE });
  const photo: Photo = {
    name: path,
    image: loaded.image,
    width: loaded.originalWidth,
    height: loaded.originalHeight,
    scale: loaded.scale,
  };
  const timingsMs: Record<string, number> = { load: performance.now() - start };

  // The focal length: --focal, else the photo's EXIF, else the fit's estimate.
  let focal: { px: number; source: FocalSource } | undefined = options.focal
    ? { px: options.focal, source: 'option' }
    : undefined;
  focal ??=
    exifFocalPixels(readExif(await readFile(path).catch(() => new Uint8Array(0))), photo.width, photo.height)
    ?? undefined;

  let faces: FaceLandmarks[];
  if (ptsFile) {
    faces = [
      {
        landmarks: parsePts(
          await readFile(ptsFile, 'utf8').catch(() => {
            throw new InputError(ptsFile, 'no such file');
          }),
          ptsFile,
        ),
      },
    ];
  } else {
    stages?.stage('detecting faces');
    const t = performance.now();
    faces = await fitter.detect(landmarker!, photo, options.maxFaces);
    timingsMs.detect = performance.now() - t;
    if (faces.length === 0) throw new InputError(path, 'no face found');
  }

  const batch = new OutputBatch();
  const reports: FaceFitReport[] = [];
  const rejected: string[] = [];
  try {
    for (const [index, face] of faces.entries()) {
      const fit = fitter.fit(photo, face, index, {
        photometric: options.photometric && !options.fast,
        init: options.init,
        fast: options.fast,
        identityMean:
          options.identityPredictor
          && predictIdentityFromEmbedding(
            options.identityPredictor,
            photo.image,
            scaledLandmarks(face, photo),
            fitter.model.identity.count,
          ),
        focal: focal?.px,
        focalSource: focal?.source,
        minQuality: options.minQuality,
        timingsMs,
        onStage: stages && ((stage) => stages.stage(faces.length > 1 ? `face ${index + 1}: ${stage}` : stage)),
      });
      if (fit.rejected) {
        rejected.push(rejectionMessage(fit.report));
        continue;
      }
      stages?.stage(faces.length > 1 ? `face ${index + 1}: writing` : 'writing');
      const name = join(options.out, faces.length > 1 ? `${stem}_face${index + 1}` : stem);
      const { model } = fitter;
      const mesh = meshFromModel(model, fit.positions);
      if (fit.photometric && fit.texture) {
        mesh.texture = { png: await encodePng(fit.texture) };
        // The de-lit per-vertex albedo goes to its own PLY: viewers multiply vertex colours with a texture.
        await batch.add(`${name}_albedo.ply`, meshToPly({ ...mesh, colors: fit.photometric.albedo }));
        await batch.add(`${name}_texture.png`, mesh.texture.png);
        await batch.add(`${name}.mtl`, materialForTexture(`${basename(name)}_texture.png`));
        await batch.add(`${name}_compare.png`, await encodePng(comparison(fitter.photometricFitter, fit.photometric)));
      }
      await batch.add(`${name}.obj`, meshToObj(mesh, fit.photometric ? `${basename(name)}.mtl` : undefined));
      await batch.add(`${name}.glb`, await meshToGlb(mesh));
      const drawn = [face.landmarks, fit.fittedLandmarks];
      const overlay = drawOverlay(photo.image, fit.positions, model.triangles, fit.camera, {
        scale: photo.scale,
        crop: faceRegion(photo.image.width, photo.image.height, photo.scale, drawn, face.detection?.box),
        points: [
          { landmarks: face.landmarks, color: [40, 220, 60] },
          { landmarks: fit.fittedLandmarks, color: [235, 40, 40] },
        ],
      });
      await batch.add(`${name}.png`, await encodePng(overlay));
      await batch.add(`${name}.json`, `${JSON.stringify(fit.report, null, 1)}\n`);
      reports.push(fit.report);
    }
    // Every face rejected: one line, as for a photo without a face; else one line per rejected face.
    if (reports.length === 0)
      throw new InputError(path, faces.length === 1 ? rejected[0] : `every face rejected: ${rejected.join(', ')}`);
    for (const message of rejected) process.stderr.write(`morphable: ${path}: ${message}\n`);
    await batch.commit(await previousOutputs(options.out, stem));
  } catch (error) {
    await batch.abort();
    throw error;
  }
  return reports;
}

/** Photo crop | rendering | difference (×3) of the photometric fit, in the fit's crop. */
function comparison(fitter: PhotometricFitter, fit: PhotometricFitResult): RgbImage {
  return comparisonImage(fitter.lastImages(cropCamera(fit.camera, fit.crop)));
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

/** A face's landmarks in the decoded (possibly shrunk) photo's pixels: pixel centres sit at integers. */
function scaledLandmarks(face: FaceLandmarks, photo: Photo): Float32Array {
  return face.landmarks.map((v) => (v + 0.5) * photo.scale - 0.5);
}

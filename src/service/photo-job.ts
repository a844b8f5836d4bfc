/**
 * One photo's fit, start to end: decode, detect (or read .pts), fit every face, write the chosen outputs
 * atomically. The one unit of work behind `morphable fit`, its worker pool, the Redis queue's workers and
 * `morphable serve`; its settings and results are plain data, so that they cross worker_threads and Redis.
 */
import { basename, dirname, join } from 'node:path';
import type { FaceLandmarker } from '../detect/face.js';
import { type IdentityPredictor, identityNetMatches } from '../detect/identity-from-embedding.js';
import { InputError } from '../errors.js';
import {
  embeddingIdentityOptions,
  type FaceLandmarks,
  type FitInit,
  type IdentityChoice,
  type Photo,
  PhotoFitter,
  rejectionMessage,
} from '../fit/fit-photo.js';
import type { FaceFitReport } from '../fit/fit-result.js';
import type { PhotometricFitResult, PhotometricFitter } from '../fit/photometric-fit.js';
import { cropCamera } from '../geometry/crop.js';
import { meshFromModel } from '../io/mesh.js';
import { meshToGlb } from '../io/mesh-glb.js';
import { materialForTexture, meshToObj } from '../io/mesh-obj.js';
import { meshToPly } from '../io/mesh-ply.js';
import { OutputBatch } from '../io/node/atomic-write.js';
import { applyColorModel } from '../io/node/color-model.js';
import { createNodeLandmarker, type LandmarkerKind } from '../io/node/face-landmarker.js';
import { disposeIdentityPredictor, loadIdentityPredictor, readIdentityNetFile } from '../io/node/identity-predictor.js';
import { encodePng } from '../io/node/image.js';
import { loadModel } from '../io/node/load-model.js';
import { shippedIdentityNetPath } from '../io/node/model-paths.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { requireFitLandmarks } from '../node.js';
import { comparisonImage } from '../render/comparison.js';
import { drawOverlay, faceRegion } from '../render/overlay.js';
import type { RgbImage } from '../render/rgb-image.js';
import { type OutputKind, previousOutputs } from './output-files.js';
import { type PhotoJobInputs, readPhotoJobInputs } from './photo-job-inputs.js';

export { OUTPUT_KINDS, type OutputKind } from './output-files.js';

/** How every photo of a run is fitted: plain data (worker_threads, Redis). */
export interface FitSettings {
  /** The native model file. */
  model: string;
  landmarker: LandmarkerKind;
  landmarkNet?: string;
  regressor?: string;
  init: FitInit;
  fast?: boolean;
  photometric: boolean;
  /** The colour model file, 'none', or absent: the default (src/io/node/color-model.ts applyColorModel). */
  colorModel?: string;
  /**
   * The identity prior's centre: the mean face ('landmarks'), the embedding's prediction ('embedding'; an
   * InputError for a model the identity net was not trained for), or the embedding's where the net matches the
   * model, else the mean face ('auto'). --fast leaves it to the regressor, except 'embedding'.
   */
  identity: IdentityChoice;
  /** The expression priors times this (PhotoFitOptions.expressionStiffness; default PHOTO_EXPRESSION_STIFFNESS). */
  expressionStiffness?: number;
  maxFaces: number;
  minQuality: number;
  /** A known focal length in pixels of the full photo; else EXIF, else estimated. */
  focal?: number;
  outputs: readonly OutputKind[];
}

/** One photo to fit. */
export interface PhotoJob {
  /** The photo: its path, or its encoded bytes (with `name` for messages). */
  photo: string | Uint8Array;
  /** The photo's name in reports and errors (default: the path). */
  name?: string;
  /** iBUG-68 landmarks in a .pts file, used instead of detection. */
  pts?: string;
  /** Where the outputs go: `folder`/`stem`… (stem may hold subfolders); none written without. */
  out?: { folder: string; stem: string };
  /** Also return each face's GLB bytes (`morphable serve`). */
  returnGlb?: boolean;
}

/** One face of a photo: fitted (report, files) or rejected by the quality gate (why). */
export interface FaceOutcome {
  index: number;
  report: FaceFitReport;
  /** Why the quality gate rejected it; nothing is written for a rejected face. */
  rejected?: string;
  /** The files written, as paths under the output folder. */
  files: string[];
  glb?: Uint8Array;
}

export interface PhotoJobResult {
  photo: string;
  faces: FaceOutcome[];
  ms: number;
}

/** Called as each stage of a photo starts (the CLI's progress line for one photo). */
export type StageListener = (stage: string) => void;

/**
 * Fits photos with one model, one detector and one set of settings, loaded once. Bad input (not an image,
 * no face, every face rejected) is an InputError naming the photo, and nothing is written for it.
 */
export class PhotoJobRunner {
  private constructor(
    readonly settings: FitSettings,
    private readonly fitter: PhotoFitter,
    private readonly landmarker: FaceLandmarker | undefined,
    private readonly identityPredictor: IdentityPredictor | undefined,
  ) {}

  /**
   * Loads what the settings name (model, landmark net, regressor, identity net). `detect: false` when every
   * job brings its landmarks (.pts), so that no detector is loaded; `model` when it is loaded already.
   */
  static async create(
    settings: FitSettings,
    options: { detect?: boolean; model?: MorphableModel } = {},
  ): Promise<PhotoJobRunner> {
    const learned = settings.fast || settings.init === 'learned';
    const detect = options.detect ?? true;
    if (learned && !(detect && settings.landmarker === 'net')) {
      throw new InputError(
        settings.fast ? '--fast' : '--init learned',
        "needs the project's landmark net on detected faces (not --landmarks or --landmarker face-api)",
      );
    }
    const loaded = options.model ?? (await loadModel(settings.model));
    requireFitLandmarks(loaded, settings.model);
    const { model, colorModel } = await applyColorModel(loaded, settings.colorModel);
    const identityPredictor = await loadIdentityPredictorAsSet(model, settings);
    const landmarker = detect
      ? await createNodeLandmarker({
          landmarker: settings.landmarker,
          landmarkNetFile: settings.landmarkNet,
          regressor:
            learned || settings.init === 'auto' ? { model, file: settings.regressor, ifMatching: !learned } : undefined,
        })
      : undefined;
    return new PhotoJobRunner(settings, new PhotoFitter(model, { colorModel }), landmarker, identityPredictor);
  }

  get model(): MorphableModel {
    return this.fitter.model;
  }

  /** Fits `job`; `inputs` when its files were read already (readPhotoJobInputs with the same job and focal). */
  async run(job: PhotoJob, onStage?: StageListener, inputs?: PhotoJobInputs): Promise<PhotoJobResult> {
    const start = performance.now();
    const { settings, fitter } = this;
    const { loaded, landmarks } = inputs ?? (await readPhotoJobInputs(job, settings.focal));
    const { photo, focal, loadMs } = loaded;
    const { name } = photo;
    const timingsMs: Record<string, number> = { load: loadMs };

    let faces: FaceLandmarks[];
    if (landmarks) {
      faces = [{ landmarks }];
    } else {
      if (!this.landmarker) throw new Error('PhotoJobRunner made with detect: false got a job without .pts');
      onStage?.('detecting faces');
      const t = performance.now();
      faces = await fitter.detect(this.landmarker, photo, settings.maxFaces);
      timingsMs.detect = performance.now() - t;
      if (faces.length === 0) throw new InputError(name, 'no face found');
    }

    const wanted = new Set(settings.outputs);
    const batch = new OutputBatch();
    const outcomes: FaceOutcome[] = [];
    try {
      for (const [index, face] of faces.entries()) {
        const label = (stage: string) => (faces.length > 1 ? `face ${index + 1}: ${stage}` : stage);
        const fit = fitter.fit(photo, face, index, {
          photometric: settings.photometric && !settings.fast,
          albedoTexture: wanted.has('albedo-texture') && !!job.out,
          init: settings.init,
          fast: settings.fast,
          ...(this.identityPredictor && embeddingIdentityOptions(this.identityPredictor, fitter.model, photo, face)),
          expressionStiffness: settings.expressionStiffness,
          focal: focal?.px,
          focalSource: focal?.source,
          minQuality: settings.minQuality,
          timingsMs,
          onStage: onStage && ((stage) => onStage(label(stage))),
        });
        fit.report.identityFrom = this.identityPredictor ? 'embedding' : settings.fast ? 'regressor' : 'mean face';
        if (fit.rejected) {
          outcomes.push({ index, report: fit.report, rejected: rejectionMessage(fit.report), files: [] });
          continue;
        }
        const outcome: FaceOutcome = { index, report: fit.report, files: [] };
        outcomes.push(outcome);
        if (!job.out && !job.returnGlb) continue;
        onStage?.(label('writing'));
        const mesh = meshFromModel(fitter.model, fit.positions);
        const textured = fit.photometric && fit.texture;
        if (textured) mesh.texture = { png: await encodePng(fit.texture!) };
        if (job.returnGlb) outcome.glb = await meshToGlb(mesh);
        if (!job.out) continue;
        const { folder, stem } = job.out;
        const base = join(folder, faces.length > 1 ? `${stem}_face${index + 1}` : stem);
        const add = async (suffix: string, data: Uint8Array | string) => {
          await batch.add(base + suffix, data);
          outcome.files.push(base + suffix);
        };
        if (textured && wanted.has('albedo')) {
          // The de-lit per-vertex albedo goes to its own PLY: viewers multiply vertex colours with a texture.
          await add('_albedo.ply', meshToPly({ ...mesh, colors: fit.photometric!.albedo }));
        }
        if (textured && (wanted.has('texture') || wanted.has('obj'))) await add('_texture.png', mesh.texture!.png);
        if (textured && fit.albedoTexture) await add('_albedo.png', await encodePng(fit.albedoTexture));
        if (textured && wanted.has('compare'))
          await add('_compare.png', await encodePng(comparison(fitter.photometricFitter, fit.photometric!)));
        if (wanted.has('obj')) {
          if (textured) await add('.mtl', materialForTexture(`${basename(base)}_texture.png`));
          await add('.obj', meshToObj(mesh, textured ? `${basename(base)}.mtl` : undefined));
        }
        if (wanted.has('glb')) await add('.glb', outcome.glb ?? (await meshToGlb(mesh)));
        if (wanted.has('overlay')) await add('.png', await encodePng(overlay(photo, face, fit, fitter)));
        if (wanted.has('json')) await add('.json', `${JSON.stringify(fit.report, null, 1)}\n`);
      }
      // Every face rejected: one error, as for a photo without a face.
      const rejected = outcomes.filter((o) => o.rejected).map((o) => o.rejected!);
      if (rejected.length === outcomes.length)
        throw new InputError(name, faces.length === 1 ? rejected[0] : `every face rejected: ${rejected.join(', ')}`);
      if (job.out) {
        const { folder, stem } = job.out;
        await batch.commit(await previousOutputs(join(folder, dirname(stem)), basename(stem)));
      }
    } catch (error) {
      await batch.abort();
      throw error;
    }
    return { photo: name, faces: outcomes, ms: performance.now() - start };
  }

  dispose(): void {
    this.landmarker?.dispose();
    if (this.identityPredictor) disposeIdentityPredictor(this.identityPredictor);
  }
}

async function loadIdentityPredictorAsSet(model: MorphableModel, settings: FitSettings) {
  const { identity } = settings;
  if (identity === 'landmarks' || (identity === 'auto' && settings.fast)) return undefined;
  const file = await readIdentityNetFile(shippedIdentityNetPath());
  if (identityNetMatches(file, model)) return loadIdentityPredictor(file);
  if (identity === 'auto') return undefined;
  throw new InputError(
    '--identity embedding',
    `its net predicts ${file.model} identities, not ${model.name}'s (${settings.model})`,
  );
}

/** The fitted mesh over the face's region of the photo: green the input landmarks, red the model's. */
function overlay(
  photo: Photo,
  face: FaceLandmarks,
  fit: ReturnType<PhotoFitter['fit']>,
  fitter: PhotoFitter,
): RgbImage {
  const drawn = [face.landmarks, fit.fittedLandmarks];
  return drawOverlay(photo.image, fit.positions, fitter.model.triangles, fit.camera, {
    scale: photo.scale,
    crop: faceRegion(photo.image.width, photo.image.height, photo.scale, drawn, face.detection?.box),
    points: [
      { landmarks: face.landmarks, color: [40, 220, 60] },
      { landmarks: fit.fittedLandmarks, color: [235, 40, 40] },
    ],
  });
}

/** Photo crop | rendering | difference (×3) of the photometric fit, in the fit's crop. */
function comparison(fitter: PhotometricFitter, fit: PhotometricFitResult): RgbImage {
  return comparisonImage(fitter.lastImages(cropCamera(fit.camera, fit.crop)));
}

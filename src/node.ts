import type { FaceLandmarker } from './detect/face.js';
import { InputError } from './errors.js';
import { type FaceLandmarks, type FitInit, type FittedFace, PhotoFitter } from './fit/fit-photo.js';
import type { MorphableModel } from './model/morphable-model.js';
import { createNodeLandmarker } from './io/node/face-landmarker.js';
import { loadPhoto } from './io/node/photo.js';
import { applyColorModel } from './io/node/color-model.js';
import { loadModel } from './io/node/load-model.js';

export {
  createNodeFaceDetector,
  createNodeLandmarker,
  type NodeFaceDetectorOptions,
  type NodeLandmarkerOptions,
} from './io/node/face-landmarker.js';
export { loadImage, encodePng, savePng, type LoadedImage } from './io/node/image.js';
export { importModel, type ImportOptions } from './io/node/import-model.js';
export { loadModel } from './io/node/load-model.js';
export { applyColorModel, loadColorModelFile, NO_COLOR_MODEL } from './io/node/color-model.js';
export { disposeIdentityPredictor, loadIdentityPredictor } from './io/node/identity-predictor.js';
export { downloadFile, type DownloadOptions, type DownloadResult } from './io/node/download.js';
export { writeFileAtomic, OutputBatch } from './io/node/atomic-write.js';
export { rejectionMessage, type FittedFace, type FaceLandmarks, type Photo } from './fit/fit-photo.js';
export type { FaceFitReport } from './fit/fit-result.js';
// Many photos: the one-photo job with its outputs, worker threads, folders (see `morphable fit DIR --jobs`).
export {
  type FaceOutcome,
  type FitSettings,
  OUTPUT_KINDS,
  type OutputKind,
  type PhotoJob,
  type PhotoJobResult,
  PhotoJobRunner,
} from './service/photo-job.js';
export { PhotoPool } from './service/photo-pool.js';
export { listPhotos, type ListedPhoto } from './service/photo-list.js';
export { TaskTimeoutError, WorkerStoppedError } from './service/worker-pool.js';

/** Throws an InputError naming `source` unless `model` has the 68 iBUG landmark vertices a fit needs. */
export function requireFitLandmarks(model: MorphableModel, source: string): void {
  const set = model.landmarks.ibug68;
  if (set?.vertices.length !== 68) {
    throw new InputError(
      source,
      'the model has no iBUG-68 landmarks, which fitting needs: build it with `morphable model build '
        + '--landmarks <68 vertex indices>`',
    );
  }
  const present = set.vertices.filter((v) => v >= 0).length;
  if (present < MIN_LANDMARKS) {
    throw new InputError(
      source,
      `the model has only ${present} of its 68 iBUG landmark vertices (-1 for the others): fitting needs at `
        + `least ${MIN_LANDMARKS}`,
    );
  }
}

/** Fewer landmarks than this do not determine a head pose with any confidence. */
const MIN_LANDMARKS = 6;

export interface FitPhotoOptions {
  /** The model, loaded (best for many photos) or as a file to load. */
  model: MorphableModel | string;
  /** 68 iBUG landmarks (x, y pairs in photo pixels), used instead of detecting the faces. */
  landmarks?: Float32Array;
  /** Fit at most this many faces, most confident first (default 10). */
  maxFaces?: number;
  /** The photometric refinement: light, albedo, UV texture (default true). */
  photometric?: boolean;
  /**
   * The photometric fit's colour model: a colour model file (`morphable model learn-color -o X.bin`), 'none' (a
   * per-vertex albedo), or by default the model's own, else the shipped models/color-model-300w.bin where it is
   * there and made for the model (see `morphable fit --color-model`).
   */
  colorModel?: string;
  /** Focal length in pixels of the full photo (default: the photo's EXIF, else the fitter's default). */
  focal?: number;
  /** Faces whose fit quality score (0–1) is below this come back with `rejected: true` (default 0.5). */
  minQuality?: number;
  /**
   * Where the landmark fit starts (default 'auto': from the one-pass regressor where the shipped one fits the
   * model; see `morphable fit --init`).
   */
  init?: FitInit;
  /**
   * A detector to reuse across calls (createNodeLandmarker(), with `regressor: { model }` for the learned
   * start); otherwise one is made, with the regressor where it fits the model, and disposed.
   */
  landmarker?: FaceLandmarker;
  /** The photo's name in reports and errors (default: the path, or "image bytes"). */
  name?: string;
}

/** Per model, a fitter per --color-model choice ('' the default). */
const fitters = new WeakMap<MorphableModel, Map<string, PhotoFitter>>();

/**
 * Fits the model to every face in a photo (a file path, or the encoded bytes of a JPEG, PNG, WebP…).
 * Returns one FittedFace per face, left to right: mesh positions in model space (mm), camera,
 * coefficients, texture and `report` (what `morphable fit` writes as JSON). Faces whose quality score
 * is below `minQuality` (false detections, failed fits) are returned with `rejected: true`;
 * `rejectionMessage(face.report)` says why. A photo without a face, or that cannot be read, is an InputError.
 */
export async function fitPhoto(photo: string | Uint8Array, options: FitPhotoOptions): Promise<FittedFace[]> {
  const modelSource = typeof options.model === 'string' ? options.model : options.model.name;
  const model = typeof options.model === 'string' ? await loadModel(options.model) : options.model;
  requireFitLandmarks(model, modelSource);
  let byColor = fitters.get(model);
  if (!byColor) {
    byColor = new Map();
    fitters.set(model, byColor);
  }
  let fitter = byColor.get(options.colorModel ?? '');
  if (!fitter) {
    const colored = await applyColorModel(model, options.colorModel);
    fitter = new PhotoFitter(colored.model, { colorModel: colored.colorModel });
    byColor.set(options.colorModel ?? '', fitter);
  }
  const { photo: input, focal, loadMs } = await loadPhoto(photo, options.name, options.focal);
  const { name } = input;
  const timingsMs: Record<string, number> = { load: loadMs };
  let faces: FaceLandmarks[];
  if (options.landmarks) {
    if (options.landmarks.length !== 136)
      throw new InputError('landmarks', `${options.landmarks.length / 2} points, 68 expected`);
    faces = [{ landmarks: options.landmarks }];
  } else {
    const landmarker =
      options.landmarker
      ?? (await createNodeLandmarker({
        regressor: options.init === 'linear' ? undefined : { model, ifMatching: options.init !== 'learned' },
      }));
    try {
      const t = performance.now();
      faces = await fitter.detect(landmarker, input, options.maxFaces ?? 10);
      timingsMs.detect = performance.now() - t;
    } finally {
      if (!options.landmarker) landmarker.dispose();
    }
    if (faces.length === 0) throw new InputError(name, 'no face found');
  }
  return faces.map((face, index) =>
    fitter.fit(input, face, index, {
      photometric: options.photometric ?? true,
      init: options.init,
      focal: focal?.px,
      focalSource: focal?.source,
      minQuality: options.minQuality,
      timingsMs,
    }),
  );
}

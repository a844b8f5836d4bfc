/**
 * The web app's worker: the same pipeline as `morphable fit` (src/fit/fit-photo.ts) and the video
 * fitter, off the main thread. face-api's browser build brings tfjs with its wasm backend; its weights
 * and the wasm binaries are fetched from the page's own server (see vite.config.ts).
 */
import * as faceapi from '@vladmandic/face-api';
import { createFaceApiDetector, loadFaceApiWeights, startFaceApiBackend } from '../../src/detect/face-api-detector.js';
import type { FaceEmbeddingParams } from '../../src/detect/face-embedding.js';
import { createFaceApiLandmarker } from '../../src/detect/face-api-landmarker.js';
import { decodeFaceRegressorFile } from '../../src/detect/face-regressor-file.js';
import {
  decodeIdentityNetFile,
  type IdentityPredictor,
  identityNetMatches,
  identityNetParams,
} from '../../src/detect/identity-from-embedding.js';
import { decodeLandmarkNetFile } from '../../src/detect/landmark-net-file.js';
import type { Tf } from '../../src/detect/landmark-net.js';
import { createNetLandmarker } from '../../src/detect/net-landmarker.js';
import type { FaceLandmarker } from '../../src/detect/face.js';
import type { RgbImage } from '../../src/render/rgb-image.js';
import { InputError } from '../../src/errors.js';
import { embeddingIdentityOptions, PhotoFitter, rejectionMessage } from '../../src/fit/fit-photo.js';
import { VideoFaceFitter } from '../../src/fit/video-fit.js';
import { decodeColorModelFile, withColorModel } from '../../src/io/color-model-file.js';
import { decodeModel } from '../../src/io/model-file.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import { vertexNormals } from '../../src/model/normals.js';
import { shIrradiance } from '../../src/render/spherical-harmonics.js';
import type { Camera } from '../../src/geometry/camera.js';
import type { FromWorker, RgbaFrame, ToWorker } from './protocol.js';

interface Loaded {
  photoFitter: PhotoFitter;
  videoFitter: VideoFaceFitter;
  landmarker: FaceLandmarker;
  /** The identity from the face embedding (as the CLI's default --identity auto), for the model it was trained for. */
  identityPredictor?: IdentityPredictor;
}

let loaded: Loaded | undefined;
const post = (message: FromWorker, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(message, transfer);

// One message at a time, in order: a fit never overlaps a model load.
let queue = Promise.resolve();
self.onmessage = (event: MessageEvent<ToWorker>) => {
  queue = queue
    .then(() => handle(event.data))
    .catch((error: unknown) => {
      const during = event.data.type === 'load' ? 'load' : event.data.type === 'fit-photo' ? 'photo' : 'video';
      post({ type: 'error', message: describe(error), during });
    });
};
// Only now can a message reach the handler (see 'listening' in protocol.ts).
post({ type: 'listening' });

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** A file the page's server may offer (vite.config.ts), or undefined: the app works without it. */
async function fetchOptional(url: string): Promise<Uint8Array | undefined> {
  const response = await fetch(url).catch(() => undefined);
  // Absent: an error status, or the page itself (Vite's servers answer unknown paths with index.html).
  if (!response?.ok || response.headers.get('Content-Type')?.startsWith('text/html')) return undefined;
  return new Uint8Array(await response.arrayBuffer());
}

/** face-api's weight files, as the page's server offers them. */
const faceApiFiles = (assetBase: string) => (fileName: string) => fetchBytes(`${assetBase}face-api/${fileName}`);

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'load': {
      post({ type: 'status', text: 'reading the model…' });
      const { model, colorModel } = await withServedColorModel(
        decodeModel(new Uint8Array(message.model), message.modelName),
        message.assetBase,
      );
      let landmarker = loaded?.landmarker;
      if (!landmarker) {
        // One status per step, so that a slow start says where it stands.
        post({ type: 'status', text: 'starting tfjs (wasm)…' });
        useWorkerEnvironment();
        const readModelFile = faceApiFiles(message.assetBase);
        const wasmPaths = `${message.assetBase}tfjs-wasm/`;
        await startFaceApiBackend(faceapi, wasmPaths);
        post({ type: 'status', text: 'loading the face detector and landmarker…' });
        if (message.landmarker === 'face-api') {
          landmarker = await createFaceApiLandmarker({ faceapi, readModelFile, wasmPaths });
        } else {
          const url = `${message.assetBase}landmark-net.bin`;
          const weights = decodeLandmarkNetFile(new Uint8Array(await fetchBytes(url)), url);
          // The one-pass regressor, for the model it was trained for (the fit then starts from it).
          const regressorUrl = `${message.assetBase}face-regressor.bin`;
          const file = decodeFaceRegressorFile(new Uint8Array(await fetchBytes(regressorUrl)), regressorUrl);
          const matches = file.model.name === model.name && file.model.vertexCount === model.vertexCount;
          const detector = await createFaceApiDetector({ faceapi, readModelFile, wasmPaths });
          landmarker = createNetLandmarker({
            tf: faceapi.tf as unknown as Tf,
            weights,
            findFaces: (image) => detector.findFaces(image),
            onDispose: () => detector.dispose(),
            regressor: matches
              ? {
                  file,
                  model: { identityCount: model.identity.count, bounded: model.expression.kind === 'blendshapes' },
                }
              : undefined,
          });
        }
      }
      const identityPredictor = await servedIdentityPredictor(model, message.assetBase);
      if (loaded?.identityPredictor && loaded.identityPredictor !== identityPredictor)
        disposeParams(loaded.identityPredictor.net);
      loaded = {
        photoFitter: new PhotoFitter(model, { colorModel }),
        videoFitter: new VideoFaceFitter(model, landmarker),
        landmarker,
        identityPredictor,
      };
      post({ type: 'ready' });
      return;
    }
    case 'fit-photo': {
      const { photoFitter, landmarker, identityPredictor } = need();
      const start = performance.now();
      const photo = {
        name: message.name,
        image: toRgb(message.frame),
        width: message.width,
        height: message.height,
        scale: message.scale,
      };
      post({ type: 'status', text: 'finding faces…' });
      const faces = await photoFitter.detect(landmarker, photo);
      if (faces.length === 0) throw new InputError(message.name, 'no face found in this photo');
      post({
        type: 'status',
        text: `fitting ${faces.length === 1 ? 'the face' : `${faces.length} faces`} (landmarks, then colour)…`,
      });
      const rejected: string[] = [];
      const results = faces.flatMap((face, index) => {
        const fit = photoFitter.fit(photo, face, index, {
          ...(identityPredictor && embeddingIdentityOptions(identityPredictor, photoFitter.model, photo, face)),
          photometric: true,
          albedoTexture: true,
          focal: message.focal?.px,
          focalSource: message.focal?.source,
        });
        fit.report.identityFrom = identityPredictor ? 'embedding' : 'mean face';
        if (fit.rejected) {
          rejected.push(rejectionMessage(fit.report));
          return [];
        }
        return [
          {
            report: fit.report,
            positions: fit.positions,
            landmarks: face.landmarks,
            fittedLandmarks: fit.fittedLandmarks,
            texture: fit.texture ? toRgba(fit.texture) : undefined,
            albedoTexture: fit.albedoTexture ? toRgba(fit.albedoTexture) : undefined,
            learnedColor:
              fit.photometric?.color && photoFitter.model.color
                ? learnedColor(photoFitter.model, fit.photometric.color, fit.positions, fit.camera, fit.photometric.sh)
                : undefined,
          },
        ];
      });
      if (results.length === 0)
        throw new InputError(
          message.name,
          faces.length === 1 ? rejected[0] : `every face rejected: ${rejected.join(', ')}`,
        );
      const transfer = results.flatMap((r) => [
        r.positions.buffer,
        ...(r.texture ? [r.texture.data.buffer] : []),
        ...(r.albedoTexture ? [r.albedoTexture.data.buffer] : []),
        ...(r.learnedColor ? [r.learnedColor.buffer] : []),
      ]);
      post(
        { type: 'photo-fitted', name: message.name, faces: results, rejected, ms: performance.now() - start },
        transfer,
      );
      return;
    }
    case 'video-frame': {
      const { videoFitter } = need();
      const start = performance.now();
      const fit = await videoFitter.frame(toRgb(message.frame), message.timeMs);
      if (!fit) {
        post({ type: 'video-fitted', fit: null, ms: performance.now() - start });
        return;
      }
      const t = fit.camera.translation;
      post(
        {
          type: 'video-fitted',
          ms: performance.now() - start,
          fit: {
            positions: fit.positions,
            landmarks: fit.landmarks,
            pose: fit.pose,
            translation: [t[0], t[1], t[2]],
            expression: fit.expression,
            identityFixed: fit.identityFixed,
            detected: fit.detected,
          },
        },
        [fit.positions.buffer],
      );
      return;
    }
    case 'video-reset':
      loaded?.videoFitter.reset();
      return;
  }
}

/**
 * face-api asks its environment whether an input is an image or a video element, and only knows a
 * window's or Node's; in a worker there are no such elements: inputs here are always tensors.
 */
function useWorkerEnvironment(): void {
  class NoElement {}
  const unavailable = () => {
    throw new Error('no DOM elements in a worker');
  };
  faceapi.env.setEnv({
    Canvas: OffscreenCanvas as unknown as typeof HTMLCanvasElement,
    CanvasRenderingContext2D: OffscreenCanvasRenderingContext2D as unknown as typeof CanvasRenderingContext2D,
    Image: NoElement as unknown as typeof HTMLImageElement,
    ImageData,
    Video: NoElement as unknown as typeof HTMLVideoElement,
    createCanvasElement: () => new OffscreenCanvas(1, 1) as unknown as HTMLCanvasElement,
    createImageElement: unavailable,
    createVideoElement: unavailable,
    fetch,
    readFile: unavailable,
  });
}

/**
 * The model with the colour model the page's server offers (color-model.bin: models/color-model-300w.bin, see
 * vite.config.ts) where it was made for this model and the model has none of its own; else the model as it is
 * (the photometric fit's per-vertex albedo).
 */
async function withServedColorModel(
  model: MorphableModel,
  assetBase: string,
): Promise<{ model: MorphableModel; colorModel: string }> {
  if (model.color) return { model, colorModel: 'in the model' };
  const url = `${assetBase}color-model.bin`;
  const bytes = await fetchOptional(url);
  if (!bytes) return { model, colorModel: 'none' };
  post({ type: 'status', text: 'reading the colour model…' });
  const file = decodeColorModelFile(bytes, url);
  if (file.model.name !== model.name || file.model.vertexCount !== model.vertexCount)
    return { model, colorModel: 'none' };
  return { model: withColorModel(model, file, url), colorModel: 'color-model.bin' };
}

/** face-api's face-recognition weights, loaded once (the identity net is small, and decoded per model). */
let embeddingWeights: FaceEmbeddingParams | undefined;

/**
 * The identity-from-embedding predictor the page's server offers (identity-from-embedding.bin, see
 * vite.config.ts) where it was trained for this model, else undefined (the fit centres the identity on the mean
 * face).
 */
async function servedIdentityPredictor(
  model: MorphableModel,
  assetBase: string,
): Promise<IdentityPredictor | undefined> {
  const url = `${assetBase}identity-from-embedding.bin`;
  const bytes = await fetchOptional(url);
  if (!bytes) return undefined;
  const file = decodeIdentityNetFile(bytes, url);
  if (!identityNetMatches(file, model)) return undefined;
  post({ type: 'status', text: 'loading the face-recognition net…' });
  const tf = faceapi.tf as unknown as Tf;
  embeddingWeights ??= (await loadFaceApiWeights(
    faceapi,
    faceApiFiles(assetBase),
    'face_recognition_model',
  )) as unknown as FaceEmbeddingParams;
  return { tf, embedding: embeddingWeights, net: identityNetParams(tf, file), file };
}

function disposeParams(params: Record<string, { dispose(): void }>): void {
  for (const t of Object.values(params)) t.dispose();
}

/**
 * The learned-colour face, per vertex, linear RGB: the colour model's albedo at the fitted coefficients times the
 * fitted spherical-harmonics light at the vertex normal (in camera space, as the light was fitted).
 */
function learnedColor(
  model: MorphableModel,
  coefficients: ArrayLike<number>,
  positions: Float32Array,
  camera: Camera,
  sh: ArrayLike<number>,
): Float32Array {
  const { mean, basis } = model.color!;
  const N = model.vertexCount;
  const out = Float32Array.from(mean);
  for (let k = 0; k < coefficients.length; k++) {
    const c = coefficients[k];
    const offset = k * 3 * N;
    for (let j = 0; j < 3 * N; j++) out[j] += c * basis.basis[offset + j];
  }
  const normals = vertexNormals(positions, model.triangles);
  const r = camera.rotation;
  const irradiance = new Float64Array(3);
  for (let v = 0; v < N; v++) {
    const x = normals[3 * v],
      y = normals[3 * v + 1],
      z = normals[3 * v + 2];
    shIrradiance(
      r[0] * x + r[1] * y + r[2] * z,
      r[3] * x + r[4] * y + r[5] * z,
      r[6] * x + r[7] * y + r[8] * z,
      sh,
      irradiance,
    );
    for (let c = 0; c < 3; c++) out[3 * v + c] = Math.min(1, Math.max(0, out[3 * v + c] * irradiance[c]));
  }
  return out;
}

function need(): Loaded {
  if (!loaded) throw new Error('no model loaded yet');
  return loaded;
}

function toRgb(frame: RgbaFrame): RgbImage {
  const { width, height, data } = frame;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return { width, height, data: rgb };
}

function toRgba(image: RgbImage): RgbaFrame {
  const { width, height, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    rgba[i] = data[j];
    rgba[i + 1] = data[j + 1];
    rgba[i + 2] = data[j + 2];
    rgba[i + 3] = 255;
  }
  return { width, height, data: rgba };
}

function describe(error: unknown): string {
  if (error instanceof InputError) return error.message;
  return error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
}

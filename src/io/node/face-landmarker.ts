/**
 * The landmarkers wired for Node: face-api's node-wasm build, its model files, the tfjs wasm binaries and
 * the project's landmark net weights (models/) are all read from disk, so nothing is downloaded at run time.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  createFaceApiDetector,
  type FaceApiDetectorOptions,
  type FaceDetector,
} from '../../detect/face-api-detector.js';
import {
  createFaceApiLandmarker,
  type FaceApiLandmarkerOptions,
  type FaceApiModule,
} from '../../detect/face-api-landmarker.js';
import type { FaceLandmarker } from '../../detect/face.js';
import { decodeLandmarkNetFile } from '../../detect/landmark-net-file.js';
import type { Tf } from '../../detect/landmark-net.js';
import { createNetLandmarker, type NetLandmarkerOptions } from '../../detect/net-landmarker.js';
import { decodeFaceRegressorFile } from '../../detect/face-regressor-file.js';
import type { MorphableModel } from '../../model/morphable-model.js';
import { InputError } from '../../errors.js';
import { shippedFaceRegressorPath, shippedLandmarkNetPath } from './model-paths.js';

export { LANDMARKER_KINDS, type LandmarkerKind } from '../../detect/face.js';
import type { LandmarkerKind } from '../../detect/face.js';

export interface NodeLandmarkerOptions
  extends Pick<FaceApiLandmarkerOptions, 'detector' | 'landmarkNet' | 'inputSize' | 'minScore' | 'refine'> {
  /** Which landmark net (default 'net'). */
  landmarker?: LandmarkerKind;
  /** Weights of the 'net' landmarker (default: the file shipped in models/). */
  landmarkNetFile?: string;
  /**
   * The one-pass 3DMM regressor on the 'net' landmarker's crops, for this model (detected faces then carry
   * `regression`). `file` defaults to the shipped weights; refused for a model they were not trained for
   * (with `ifMatching`, left out instead: for a default that applies where it can).
   */
  regressor?: { model: MorphableModel; file?: string; ifMatching?: boolean };
}

export type NodeFaceDetectorOptions = Pick<
  FaceApiDetectorOptions,
  'detector' | 'inputSize' | 'minScore' | 'minFaceSize'
>;

const require = createRequire(import.meta.url);

/** face-api, its model files and the wasm binaries, all from node_modules. */
export function faceApiInNode() {
  // face-api's ESM bundle stubs out Node's util module and fails on import in Node; the node-wasm build
  // (CommonJS) uses @tensorflow/tfjs + @tensorflow/tfjs-backend-wasm from node_modules instead.
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  return {
    faceapi,
    readModelFile: (fileName: string) => readFile(join(modelDir, fileName)),
    wasmPaths: `${wasmDir}/`,
  };
}

export async function createNodeLandmarker(options: NodeLandmarkerOptions = {}): Promise<FaceLandmarker> {
  const faceApiFiles = faceApiInNode();
  if ((options.landmarker ?? 'net') === 'face-api') return createFaceApiLandmarker({ ...options, ...faceApiFiles });

  const path = options.landmarkNetFile ?? shippedLandmarkNetPath();
  const weights = await readWeights(path, 'landmark net', decodeLandmarkNetFile);
  let regressor: NetLandmarkerOptions['regressor'];
  if (options.regressor) {
    const { model } = options.regressor;
    const file = options.regressor.file ?? shippedFaceRegressorPath();
    const decoded = await readWeights(file, 'face regressor', decodeFaceRegressorFile);
    const matches = decoded.model.name === model.name && decoded.model.vertexCount === model.vertexCount;
    if (!matches && !options.regressor.ifMatching) {
      throw new InputError(
        file,
        `trained for ${decoded.model.name} (${decoded.model.vertexCount} vertices), `
          + `not ${model.name} (${model.vertexCount})`,
      );
    }
    if (matches)
      regressor = {
        file: decoded,
        model: { identityCount: model.identity.count, bounded: model.expression.kind === 'blendshapes' },
      };
  }
  const detector = await createFaceApiDetector({
    ...faceApiFiles,
    detector: options.detector,
    inputSize: options.inputSize,
    minScore: options.minScore,
  });
  return createNetLandmarker({
    tf: faceApiFiles.faceapi.tf as unknown as Tf,
    weights,
    findFaces: (image) => detector.findFaces(image),
    onDispose: () => detector.dispose(),
    regressor,
  });
}

/** A weights file read and decoded; a missing or broken file is an InputError naming it. */
async function readWeights<T>(
  path: string,
  what: string,
  decode: (bytes: Uint8Array, source: string) => T,
): Promise<T> {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? `no such ${what} file` : `cannot read (${err.code})`);
  });
  try {
    return decode(bytes, path);
  } catch (err) {
    throw new InputError(path, (err as Error).message.replace(`${path}: `, ''));
  }
}

/** The face detector alone (detect/face-api-detector.ts); its tensors live on face-api's `tf`. */
export async function createNodeFaceDetector(options: NodeFaceDetectorOptions = {}): Promise<FaceDetector> {
  return createFaceApiDetector({ ...options, ...faceApiInNode() });
}

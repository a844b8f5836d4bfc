/**
 * The face-api landmarker wired for Node: face-api's node-wasm build, its model files and the tfjs wasm
 * binaries are all read from node_modules, so nothing is downloaded at run time.
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

export type NodeLandmarkerOptions = Pick<
  FaceApiLandmarkerOptions,
  'detector' | 'landmarkNet' | 'inputSize' | 'minScore' | 'refine'
>;

export type NodeFaceDetectorOptions = Pick<
  FaceApiDetectorOptions,
  'detector' | 'inputSize' | 'minScore' | 'minFaceSize'
>;

const require = createRequire(import.meta.url);

/** face-api, its model files and the wasm binaries, all from node_modules. */
function faceApiInNode() {
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
  return createFaceApiLandmarker({ ...options, ...faceApiInNode() });
}

/** The face detector alone (detect/face-api-detector.ts); its tensors live on face-api's `tf`. */
export async function createNodeFaceDetector(options: NodeFaceDetectorOptions = {}): Promise<FaceDetector> {
  return createFaceApiDetector({ ...options, ...faceApiInNode() });
}

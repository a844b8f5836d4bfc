/**
 * The identity-from-embedding predictor for Node (detect/identity-from-embedding.ts): face-api's
 * recognition net weights from node_modules and the MLP's weights from models/identity-from-embedding.bin
 * (or a file given), on face-api's tfjs (wasm backend).
 */
import { readFile } from 'node:fs/promises';
import { loadFaceApiWeights, startFaceApiBackend } from '../../detect/face-api-detector.js';
import type { FaceEmbeddingParams } from '../../detect/face-embedding.js';
import {
  decodeIdentityNetFile,
  type IdentityNetFile,
  type IdentityPredictor,
  identityNetParams,
} from '../../detect/identity-from-embedding.js';
import { InputError } from '../../errors.js';
import { faceApiInNode } from './face-landmarker.js';
import { shippedIdentityNetPath } from './model-paths.js';

/**
 * Loads the predictor from a weight file's path, or from its decoded contents; a missing or broken weight file is
 * an InputError naming it. Free it with disposeIdentityPredictor.
 */
export async function loadIdentityPredictor(
  source: string | IdentityNetFile = shippedIdentityNetPath(),
): Promise<IdentityPredictor> {
  const file = typeof source === 'string' ? await readIdentityNetFile(source) : source;
  const { faceapi, readModelFile, wasmPaths } = faceApiInNode();
  const tf = await startFaceApiBackend(faceapi, wasmPaths);
  const embedding = (await loadFaceApiWeights(
    faceapi,
    readModelFile,
    'face_recognition_model',
  )) as unknown as FaceEmbeddingParams;
  return { tf, embedding, net: identityNetParams(tf, file), file };
}

/** The decoded weight file (which model it is for, without tfjs); its InputErrors as loadIdentityPredictor's. */
export async function readIdentityNetFile(path: string): Promise<IdentityNetFile> {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? 'no such identity net file' : `cannot read (${err.code})`);
  });
  try {
    return decodeIdentityNetFile(bytes, path);
  } catch (err) {
    throw new InputError(path, (err as Error).message.replace(`${path}: `, ''));
  }
}

export function disposeIdentityPredictor(predictor: IdentityPredictor): void {
  for (const t of [...Object.values(predictor.embedding), ...Object.values(predictor.net)]) t.dispose();
}

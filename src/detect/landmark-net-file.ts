/**
 * The landmark net's weight file: "MLNW", a float16 weights file (weights-file.ts) whose header also names
 * the net's head.
 */
import { LANDMARK_HEADS, type LandmarkHead, landmarkNetShapes } from './landmark-net.js';
import { decodeWeights, encodeWeights, type Tensors } from './weights-file.js';

export { fromHalf, toHalf } from './weights-file.js';

const MAGIC = 'MLNW';

export interface LandmarkNetFile {
  head: LandmarkHead;
  /** Parameters by name, float32, in landmarkNetShapes(head) order. */
  tensors: Tensors;
  /** How the weights were made (command, seed, data hash, training time, validation NME…). */
  training: Record<string, unknown>;
}

export function encodeLandmarkNetFile(file: LandmarkNetFile): Uint8Array {
  return encodeWeights(MAGIC, { head: file.head }, file.tensors, file.training);
}

/** Throws an Error naming the problem; `source` (a file name or URL) goes into the message. */
export function decodeLandmarkNetFile(bytes: Uint8Array, source: string): LandmarkNetFile {
  const { header, tensors, training } = decodeWeights(bytes, source, MAGIC, 'landmark net', (h) => {
    if (!LANDMARK_HEADS.includes(h.head as LandmarkHead)) throw new Error(`unknown head ${JSON.stringify(h.head)}`);
    return landmarkNetShapes(h.head as LandmarkHead);
  });
  return { head: header.head as LandmarkHead, tensors, training };
}

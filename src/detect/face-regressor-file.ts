/**
 * The one-pass regressor's weight file: "MRGW", a float16 weights file (weights-file.ts) whose header also
 * holds the layout (identity modes and expressions predicted) and the model it was trained for: its outputs
 * are that model's coefficients and mean nothing for another.
 */
import { type FaceRegressorLayout, faceRegressorShapes } from './face-regressor.js';
import { decodeWeights, encodeWeights, type Tensors } from './weights-file.js';

const MAGIC = 'MRGW';

export interface FaceRegressorFile {
  layout: FaceRegressorLayout;
  /** The model's name (MorphableModel.name) and vertex count: the regressor is refused for another model. */
  model: { name: string; vertexCount: number };
  tensors: Tensors;
  training: Record<string, unknown>;
}

export function encodeFaceRegressorFile(file: FaceRegressorFile): Uint8Array {
  return encodeWeights(MAGIC, { layout: file.layout, model: file.model }, file.tensors, file.training);
}

/** Throws an Error naming `source` and the problem. */
export function decodeFaceRegressorFile(bytes: Uint8Array, source: string): FaceRegressorFile {
  const { header, tensors, training } = decodeWeights(bytes, source, MAGIC, 'face regressor', (h) => {
    const layout = h.layout as FaceRegressorLayout | undefined;
    if (!(Number.isInteger(layout?.identity) && Number.isInteger(layout?.expression))) throw new Error('no layout');
    return faceRegressorShapes(layout as FaceRegressorLayout);
  });
  const model = header.model as FaceRegressorFile['model'];
  return { layout: header.layout as FaceRegressorLayout, model, tensors, training };
}

/**
 * face-api's 68-point landmark net weights (MIT, shipped in its npm package) as float32 arrays by name: the
 * feature extractor and head the project's landmark net starts training from.
 */
import { loadFaceApiWeights } from '../detect/face-api-detector.js';
import { faceApiInNode } from '../io/node/face-landmarker.js';

export async function faceApiLandmarkWeights(): Promise<Map<string, Float32Array>> {
  const { faceapi, readModelFile } = faceApiInNode();
  const weights = new Map<string, Float32Array>();
  for (const [name, tensor] of Object.entries(
    await loadFaceApiWeights(faceapi, readModelFile, 'face_landmark_68_model'),
  )) {
    weights.set(name, (await tensor.data()) as Float32Array);
    tensor.dispose();
  }
  return weights;
}

/**
 * face-api's 68-point landmark net weights (MIT, shipped in its npm package) as float32 arrays by name: the
 * feature extractor the project's landmark net starts training from.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../detect/landmark-net.js';

const require = createRequire(import.meta.url);

export async function faceApiLandmarkWeights(tf: Tf): Promise<Map<string, Float32Array>> {
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const manifest = JSON.parse(await readFile(join(dir, 'face_landmark_68_model-weights_manifest.json'), 'utf8'));
  const load = (paths: string[]) =>
    Promise.all(
      paths.map(async (p) => {
        const bytes = await readFile(join(dir, p.replace(/^\/+/, '')));
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }),
    );
  const map = await tf.io.weightsLoaderFactory(load)(manifest as TfCore.io.WeightsManifestConfig, '');
  const weights = new Map<string, Float32Array>();
  for (const [name, tensor] of Object.entries(map)) {
    weights.set(name, (await tensor.data()) as Float32Array);
    tensor.dispose();
  }
  return weights;
}

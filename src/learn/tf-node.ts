/**
 * tfjs for training in Node: @tensorflow/tfjs (which registers every gradient) on the wasm backend, with
 * the wasm binaries read from node_modules, plus the gradient kernels the wasm backend lacks. The same
 * tfjs-core instance face-api's node-wasm build uses, so weights can move between them.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Tf } from '../detect/landmark-net.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

const require = createRequire(import.meta.url);

let ready: Promise<Tf> | undefined;

/** tfjs on the wasm backend, ready to train. */
export function trainingTf(): Promise<Tf> {
  ready ??= (async () => {
    if (tf.getBackend() !== 'wasm') {
      setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
      if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to start');
    }
    await tf.ready();
    registerWasmTrainingKernels(tf);
    return tf as unknown as Tf;
  })();
  return ready;
}

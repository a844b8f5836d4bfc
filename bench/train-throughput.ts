/**
 * Training throughput of a net shaped like face-api's FaceLandmark68Net on tfjs's wasm backend: a 3×3 stride-2
 * conv (3 → 32) on 112×112×3, four dense blocks of separable convs (32/64/128/256 channels, down to 7×7; relu, add,
 * bias), a 7×7 average pool and a 256 → 136 fully connected layer; one step is forward + backward + SGD on a batch
 * of random images and targets (speed does not depend on the values).
 *
 *   node dist/bench/train-throughput.js [--baseline] [--backend wasm|cpu] [--batch 16] [--steps 5] [--profile]
 *
 * `--baseline` turns the fast paths off (only the kernels the wasm backend lacks, as loops); `--profile` adds
 * the time per kernel of one step. Prints samples/s (median step) and the load average.
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, wasmTrainingKernelSettings } from '../src/learn/wasm-kernels.js';
import { SeededRandom } from '../src/model/random.js';

interface Separable {
  depthwise: tf.Variable;
  pointwise: tf.Variable;
  bias: tf.Variable;
}
interface Block {
  first: Separable | { filters: tf.Variable; bias: tf.Variable };
  rest: Separable[];
}

const random = new SeededRandom(15);

function variable(shape: number[], fanIn: number): tf.Variable {
  const scale = Math.sqrt(2 / fanIn);
  const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * random.normal());
  return tf.variable(tf.tensor(values, shape));
}

function separable(inChannels: number, outChannels: number): Separable {
  return {
    depthwise: variable([3, 3, inChannels, 1], 9),
    pointwise: variable([1, 1, inChannels, outChannels], inChannels),
    bias: tf.variable(tf.zeros([outChannels])),
  };
}

function block(inChannels: number, outChannels: number, isFirst: boolean): Block {
  const first = isFirst
    ? { filters: variable([3, 3, inChannels, outChannels], 9 * inChannels), bias: tf.variable(tf.zeros([outChannels])) }
    : separable(inChannels, outChannels);
  return { first, rest: [1, 2, 3].map(() => separable(outChannels, outChannels)) };
}

function applySeparable(x: tf.Tensor4D, p: Separable, stride: 1 | 2): tf.Tensor4D {
  return tf.add(tf.separableConv2d(x, p.depthwise as tf.Tensor4D, p.pointwise as tf.Tensor4D, stride, 'same'), p.bias);
}

/** face-api's denseBlock4 (faceFeatureExtractor/denseBlock.ts), scaling down by 2. */
function applyBlock(x: tf.Tensor4D, b: Block): tf.Tensor4D {
  const out1 = tf.relu(
    'filters' in b.first
      ? tf.add(tf.conv2d(x, b.first.filters as tf.Tensor4D, 2, 'same'), b.first.bias)
      : applySeparable(x, b.first, 2),
  ) as tf.Tensor4D;
  const out2 = applySeparable(out1, b.rest[0], 1);
  const in3 = tf.relu(tf.add(out1, out2)) as tf.Tensor4D;
  const out3 = applySeparable(in3, b.rest[1], 1);
  const in4 = tf.relu(tf.add(out1, tf.add(out2, out3))) as tf.Tensor4D;
  const out4 = applySeparable(in4, b.rest[2], 1);
  return tf.relu(tf.add(out1, tf.add(out2, tf.add(out3, out4)))) as tf.Tensor4D;
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const baseline = process.argv.includes('--baseline');
  const backend = option('--backend', 'wasm');
  const batch = Number(option('--batch', '16'));
  const steps = Number(option('--steps', '5'));
  const require = createRequire(import.meta.url);
  setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
  registerWasmTrainingKernels(tf);
  wasmTrainingKernelSettings.fastPaths = !baseline;
  await tf.setBackend(backend);

  const blocks = [block(3, 32, true), block(32, 64, false), block(64, 128, false), block(128, 256, false)];
  const fcWeights = variable([256, 136], 256);
  const fcBias = tf.variable(tf.zeros([136]));
  const images = tf.tensor(
    Float32Array.from({ length: batch * 112 * 112 * 3 }, () => random.normal()),
    [batch, 112, 112, 3],
  ) as tf.Tensor4D;
  const targets = tf.tensor(
    Float32Array.from({ length: batch * 136 }, () => random.uniform()),
    [batch, 136],
  );
  const optimizer = tf.train.sgd(1e-3);
  const loss = (): tf.Scalar => {
    let x = images;
    for (const b of blocks) x = applyBlock(x, b);
    const pooled = tf.reshape(tf.avgPool(x, [7, 7], [2, 2], 'valid'), [batch, 256]);
    const out = tf.add(tf.matMul(pooled, fcWeights), fcBias);
    return tf.losses.meanSquaredError(targets, out) as tf.Scalar;
  };
  const step = (): number => {
    const cost = optimizer.minimize(loss, true);
    const value = cost?.dataSync()[0] ?? Number.NaN;
    cost?.dispose();
    return value;
  };

  const load = loadavg()[0];
  step();
  step();
  const dataIds = tf.engine().backend.numDataIds();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const kind = backend === 'wasm' ? (baseline ? 'wasm, missing kernels only' : 'wasm, with fast paths') : backend;
  console.log(
    `${kind}: batch ${batch}, ${steps} steps: median step ${median.toFixed(0)} ms `
      + `(${times.map((t) => t.toFixed(0)).join(', ')}), ${((1000 * batch) / median).toFixed(1)} samples/s; `
      + `load average ${load.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
  );
  // Every kernel must free what it allocates: the backend holds as many tensors after the steps as before.
  const leaked = tf.engine().backend.numDataIds() - dataIds;
  if (leaked !== 0) console.log(`leak: ${leaked} more tensors on the backend after ${steps} steps`);

  if (process.argv.includes('--profile')) {
    const info = await tf.profile(() => {
      step();
    });
    const byKernel = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const ms = await k.kernelTimeMs;
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += typeof ms === 'number' ? ms : 0;
      entry.calls++;
      byKernel.set(key, entry);
    }
    const sorted = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const total = sorted.reduce((s, [, e]) => s + e.ms, 0);
    console.log(`kernels of one step: ${total.toFixed(0)} ms in all; the slowest:`);
    for (const [key, e] of sorted.slice(0, 30)) console.log(`${e.ms.toFixed(1).padStart(8)} ms ${e.calls}× ${key}`);
  }
}

await main();

import { createRequire } from 'node:module';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { halvesToFloats } from '../src/detect/weights-file.js';
import {
  decodeLandmarkNetFile,
  encodeLandmarkNetFile,
  fromHalf,
  type LandmarkNetFile,
  toHalf,
} from '../src/detect/landmark-net-file.js';
import {
  LANDMARK_NET_CHANNELS,
  LANDMARK_NET_GRID,
  type LandmarkNetParams,
  decodeLandmarkNetOutput,
  landmarkNetForward,
  landmarkNetShapes,
} from '../src/detect/landmark-net.js';
import { initialParams } from '../src/learn/landmark-training.js';
import { faceApiLandmarkWeights } from '../src/learn/face-api-weights.js';
import { trainingTf } from '../src/learn/tf-node.js';

describe('landmark net', () => {
  it('starts as face-api’s net: the regression head at initialisation gives face-api’s own output', async () => {
    const tf = await trainingTf();
    const weights = await faceApiLandmarkWeights();
    const vars = initialParams(tf, weights, 'regression', 3);
    const faceapi = createRequire(import.meta.url)('@vladmandic/face-api/dist/face-api.node-wasm.js');
    const net = new faceapi.FaceLandmark68Net();
    const shapes = new Map(landmarkNetShapes('regression'));
    const copy: LandmarkNetParams = {};
    for (const [name, values] of weights) copy[name] = tf.tensor(values, shapes.get(name));
    net.loadFromWeightMap(copy);
    const image = tf.randomUniform([112, 112, 3], 0, 255, 'float32', 7) as Tensor3D;
    const reference = (await (await net.forward(image)).data()) as Float32Array;
    const ours = tf.tidy(() =>
      landmarkNetForward(tf, Object.fromEntries(vars), tf.expandDims<Tensor4D>(image, 0), 'regression'),
    );
    const values = (await ours.data()) as Float32Array;
    expect(values.length).toBe(136);
    let maxDiff = 0;
    for (let i = 0; i < 136; i++) maxDiff = Math.max(maxDiff, Math.abs(values[i] - reference[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // The spatial branch is live: a change of its weights moves the output.
    vars.get('head/spatial')!.assign(tf.onesLike(vars.get('head/spatial')!));
    const moved = tf.tidy(() =>
      landmarkNetForward(tf, Object.fromEntries(vars), tf.expandDims<Tensor4D>(image, 0), 'regression').dataSync(),
    );
    expect(Math.abs(moved[0] - values[0])).toBeGreaterThan(1e-3);
    net.dispose();
    for (const t of [...vars.values(), ours, image]) t.dispose();
  });

  it('decodes the best cell plus its offset, in crop units', () => {
    const g = LANDMARK_NET_GRID;
    const c = LANDMARK_NET_CHANNELS;
    const output = new Float32Array(2 * g * g * c).fill(-5);
    // Face 1, landmark 3: best cell (row 2, col 5), offsets (0.25, 0.75) → ((5.25) / 7, (2.75) / 7).
    const cell = 2 * g + 5;
    const at = g * g * c + cell * c;
    output[at + 3] = 4;
    output[at + 68 + 3] = 0.25;
    output[at + 136 + 3] = 0.75;
    const points = decodeLandmarkNetOutput(output, 2, 'pip');
    expect(points[136 + 6]).toBeCloseTo(5.25 / 7, 6);
    expect(points[136 + 7]).toBeCloseTo(2.75 / 7, 6);
    // Face 0: all scores equal → the first cell, offsets 0 (the output's -5 there) → -5 / 7.
    expect(points[0]).toBeCloseTo(-5 / 7, 6);
  });

  it('decodes every float16 bit pattern as fromHalf does, at an odd byte offset too', () => {
    const bytes = new Uint8Array(1 + 2 * 65536);
    const view = new DataView(bytes.buffer);
    for (let h = 0; h < 65536; h++) view.setUint16(1 + 2 * h, h, true);
    const out = new Float32Array(65536);
    halvesToFloats(view, 1, out);
    let wrong = 0;
    for (let h = 0; h < 65536; h++) if (!Object.is(out[h], Math.fround(fromHalf(h)))) wrong++;
    expect(wrong).toBe(0);
    expect([out[0x3c00], out[0xc000], out[0x0001], out[0x8000], out[0x7c00]]).toEqual([1, -2, 2 ** -24, -0, Infinity]);
  });

  it('float16 rounds to nearest even and round-trips through the weight file', () => {
    expect(fromHalf(toHalf(1))).toBe(1);
    expect(fromHalf(toHalf(65504))).toBe(65504);
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    expect(fromHalf(toHalf(-(2 ** -24)))).toBe(-(2 ** -24));
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    const tensors: LandmarkNetFile['tensors'] = new Map();
    let seed = 1;
    for (const [name, shape] of landmarkNetShapes('pip')) {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < values.length; i++) values[i] = Math.sin(seed++) * 2;
      tensors.set(name, { shape, values });
    }
    const bytes = encodeLandmarkNetFile({ head: 'pip', tensors, training: { seed: 15 } });
    const back = decodeLandmarkNetFile(bytes, 'x.bin');
    expect(back.head).toBe('pip');
    expect(back.training).toEqual({ seed: 15 });
    let worst = 0;
    for (const [name, { values }] of tensors) {
      const got = back.tensors.get(name)!.values;
      for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(got[i] - values[i]));
    }
    expect(worst).toBeGreaterThan(0); // float16 does round 2 sin(k)
    expect(worst).toBeLessThanOrEqual(2 ** -10); // half a unit in the last place at |x| < 2
    expect(() => decodeLandmarkNetFile(bytes.subarray(0, bytes.length - 2), 'x.bin')).toThrow(
      'x.bin: not a morphable landmark net file (truncated at head/bias)',
    );
    expect(() => decodeLandmarkNetFile(new Uint8Array(16), 'y.bin')).toThrow(
      'y.bin: not a morphable landmark net file',
    );
  });
});

describe('net landmarker', () => {
  it("drops the false face face-api's detector finds in the hair of sample6.jpg (its mirror disagrees)", async () => {
    const sample6 = fileURLToPath(new URL('../node_modules/@vladmandic/face-api/demo/sample6.jpg', import.meta.url));
    const { image } = await loadImage(sample6, { maxSide: 1600 });
    const net = await createNodeLandmarker();
    const faceApi = await createNodeLandmarker({ landmarker: 'face-api' });
    try {
      const ours = await net.detect(image);
      const theirs = await faceApi.detect(image);
      // The same detector under both: five boxes, one of them hair between two women.
      expect(theirs).toHaveLength(5);
      expect(ours).toHaveLength(4);
      const kept = new Set(ours.map((f) => Math.round(f.box.x)));
      const dropped = theirs.filter((f) => !kept.has(Math.round(f.box.x)));
      expect(dropped).toHaveLength(1);
      expect(dropped[0].score).toBeLessThan(Math.min(...ours.map((f) => f.score)));
    } finally {
      net.dispose();
      faceApi.dispose();
    }
  });
});

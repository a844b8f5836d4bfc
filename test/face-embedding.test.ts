import { createRequire } from 'node:module';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadFaceApiWeights } from '../src/detect/face-api-detector.js';
import {
  EMBEDDING_INPUT,
  EMBEDDING_SIZE,
  embeddingCropGeometry,
  faceEmbeddingForward,
  faceEmbeddingShapes,
} from '../src/detect/face-embedding.js';
import { faceApiInNode } from '../src/io/node/face-landmarker.js';
import { trainingTf } from '../src/learn/tf-node.js';

describe('face embedding net', () => {
  it('gives face-api’s own computeFaceDescriptor on the same 150×150 input', async () => {
    const tf = await trainingTf();
    const { readModelFile } = faceApiInNode();
    const faceapi = createRequire(import.meta.url)('@vladmandic/face-api/dist/face-api.node-wasm.js');
    const weights = await loadFaceApiWeights(faceapi, readModelFile, 'face_recognition_model');
    const shapes = faceEmbeddingShapes();
    expect(Object.keys(weights).sort()).toEqual(shapes.map(([n]) => n).sort());
    for (const [name, shape] of shapes) expect(weights[name].shape).toEqual(shape);
    const net = new faceapi.FaceRecognitionNet();
    net.loadFromWeightMap(weights);
    let maxDiff = 0;
    for (const seed of [1, 2]) {
      const image = tf.randomUniform([EMBEDDING_INPUT, EMBEDDING_INPUT, 3], 0, 255, 'float32', seed) as Tensor3D;
      const reference = (await net.computeFaceDescriptor(image)) as Float32Array;
      const ours = tf.tidy(() =>
        faceEmbeddingForward(tf, weights as never, tf.expandDims<Tensor4D>(image, 0)).dataSync(),
      ) as Float32Array;
      expect(ours.length).toBe(EMBEDDING_SIZE);
      expect(reference.length).toBe(EMBEDDING_SIZE);
      let norm = 0;
      for (let i = 0; i < EMBEDDING_SIZE; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(ours[i] - reference[i]));
        norm += reference[i] ** 2;
      }
      expect(Math.sqrt(norm)).toBeGreaterThan(0.1); // not a trivially zero descriptor
      image.dispose();
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    // Gradients flow back to the input.
    const x = tf.randomUniform([1, EMBEDDING_INPUT, EMBEDDING_INPUT, 3], 0, 255, 'float32', 3) as Tensor4D;
    const grad = tf.grad((input: Tensor4D) => tf.sum(faceEmbeddingForward(tf, weights as never, input)))(x);
    const g = grad.dataSync();
    let gmax = 0;
    for (let i = 0; i < g.length; i++) gmax = Math.max(gmax, Math.abs(g[i]));
    expect(gmax).toBeGreaterThan(0);
    x.dispose();
    grad.dispose();
    net.dispose();
  });

  it('aligns the crop from the landmarks as face-api’s dlib alignment does', () => {
    // Eyes' centroids at (40, 50) and (60, 50), mouth's at (50, 80): a = √(10² + 30²), side = a / 0.45.
    const points = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      const [x, y] = i >= 36 && i < 42 ? [40, 50] : i >= 42 && i < 48 ? [60, 50] : i >= 48 ? [50, 80] : [0, 0];
      points[2 * i] = x + (i % 2 === 0 ? 1 : -1) * (i >= 36 && i < 48 ? 1 : 0); // pairs cancel in each centroid
      points[2 * i + 1] = y;
    }
    const g = embeddingCropGeometry(points);
    const side = Math.hypot(10, 30) / 0.45;
    expect(g.side).toBeCloseTo(side, 9);
    expect(g.centreX).toBeCloseTo(50, 9);
    expect(g.centreY).toBeCloseTo(60 - 0.43 * side + side / 2, 9);
    expect(g.angle).toBe(0);
    expect(() => embeddingCropGeometry(new Float32Array(10))).toThrow(/68 landmarks/);
    // Points a model lacks (NaN, as the Surrey model's inner lip corners 61 and 65) leave their centroid alone.
    points[2 * 60] = points[2 * 64 + 1] = Number.NaN;
    const without = embeddingCropGeometry(points);
    expect(without.side).toBeCloseTo(side, 9);
    expect(without.centreY).toBeCloseTo(g.centreY, 9);
  });
});

/**
 * The detector's own TinyFaceDetector pass (src/detect/tiny-face-net.ts) against face-api's runMobilenet with
 * the same weights, on the same backend: a real photo and noise, at two sizes.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFaceApiWeights, startFaceApiBackend } from '../src/detect/face-api-detector.js';
import { checkTinyFaceNetParams, runTinyFaceNet, type TinyFaceNetParams } from '../src/detect/tiny-face-net.js';
import { faceApiInNode } from '../src/io/node/face-landmarker.js';
import { SeededRandom } from '../src/model/random.js';

const { faceapi, readModelFile, wasmPaths } = faceApiInNode();
const SAMPLE = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
  'demo/sample1.jpg',
);

interface FaceApiTiny {
  params: TinyFaceNetParams;
  config: { meanRgb: [number, number, number] };
  runMobilenet(x: TfCore.Tensor4D, params: unknown): TfCore.Tensor4D;
  dispose(): void;
}

describe('TinyFaceDetector pass, layer by layer', () => {
  let tf: typeof TfCore;
  let tiny: FaceApiTiny;
  beforeAll(async () => {
    tf = (await startFaceApiBackend(faceapi, wasmPaths)) as typeof TfCore;
    const net = new faceapi.TinyFaceDetector();
    net.loadFromWeightMap(await loadFaceApiWeights(faceapi, readModelFile, 'tiny_face_detector_model'));
    tiny = net as unknown as FaceApiTiny;
  });
  afterAll(() => tiny?.dispose());

  /** The largest difference of the two passes on `pixels` (h × w × 3, 0–255), relative to face-api's range. */
  function difference(pixels: Float32Array, h: number, w: number): { relative: number; shape: number[] } {
    const x = tf.tidy(() =>
      tf.expandDims<TfCore.Tensor4D>(
        tf.div(tf.sub(tf.tensor3d(pixels, [h, w, 3]), tf.tensor1d(tiny.config.meanRgb)), 255),
        0,
      ),
    );
    const before = tf.memory().numTensors;
    const ours = runTinyFaceNet(tf, x, tiny.params);
    // Nothing but the output is left behind, and the input is the caller's.
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(x.isDisposed).toBe(false);
    const theirs = tf.tidy(() => tiny.runMobilenet(x, tiny.params));
    const a = ours.dataSync(),
      b = theirs.dataSync();
    let worst = 0,
      range = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
      range = Math.max(range, Math.abs(b[i]));
    }
    const shape = ours.shape;
    expect(shape).toEqual(theirs.shape);
    tf.dispose([x, ours, theirs]);
    return { relative: worst / range, shape };
  }

  it("gives face-api's output grid on a photo and on noise, within float32 rounding", async () => {
    const { data, info } = await sharp(SAMPLE)
      .resize(320, 224, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const photo = Float32Array.from(data);
    const photoResult = difference(photo, info.height, info.width);
    expect(photoResult.shape).toEqual([1, 7, 10, 25]);
    expect(photoResult.relative).toBeLessThan(1e-4);

    const random = new SeededRandom(5);
    const noise = Float32Array.from({ length: 96 * 64 * 3 }, () => 255 * random.uniform());
    const noiseResult = difference(noise, 64, 96);
    expect(noiseResult.shape).toEqual([1, 2, 3, 25]);
    expect(noiseResult.relative).toBeLessThan(1e-4);
  });

  it("refuses weights that are not TinyFaceDetector's", () => {
    expect(() => checkTinyFaceNetParams({ conv0: {} })).toThrow("not TinyFaceDetector's");
    expect(() => checkTinyFaceNetParams(tiny.params)).not.toThrow();
  });
});

/**
 * The face detector's image pyramid (src/detect/face-api-detector.ts) on images composed here from a face-api
 * demo photo: a face pasted small into a large canvas, a face scaled up to fill the frame, a flat grey image.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaceDetector, type FoundFace, overlap } from '../src/detect/face-api-detector.js';
import type { FaceBox } from '../src/detect/face.js';
import { createNodeFaceDetector, createNodeLandmarker } from '../src/io/node/face-landmarker.js';

const require = createRequire(import.meta.url);
const tf = require('@vladmandic/face-api/dist/face-api.node-wasm.js').tf as typeof TfCore;
const SAMPLE = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo/sample1.jpg');

interface Rgb {
  width: number;
  height: number;
  data: Uint8Array;
}

async function raw(image: sharp.Sharp): Promise<Rgb> {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

async function find(detector: FaceDetector, image: Rgb): Promise<FoundFace[]> {
  const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  try {
    return await detector.findFaces(input);
  } finally {
    input.dispose();
  }
}

/** A grey canvas with `patch` pasted at (left, top). */
async function canvasWith(width: number, height: number, patch: Rgb, left: number, top: number): Promise<Rgb> {
  return raw(
    sharp({ create: { width, height, channels: 3, background: { r: 120, g: 124, b: 118 } } }).composite([
      { input: Buffer.from(patch.data), raw: { width: patch.width, height: patch.height, channels: 3 }, left, top },
    ]),
  );
}

describe('face detector at every scale', () => {
  let detector: FaceDetector;
  let photo: Rgb;
  let reference: FaceBox; // the most confident face of sample1.jpg at its own size (faces of about 230 px)

  beforeAll(async () => {
    detector = await createNodeFaceDetector();
    photo = await raw(sharp(SAMPLE));
    const faces = await find(detector, photo);
    expect(faces.length).toBeGreaterThanOrEqual(1);
    reference = faces[0].box;
    expect(reference.width).toBeGreaterThan(150);
    expect(reference.width).toBeLessThan(350);
  }, 300_000);
  afterAll(() => detector?.dispose());

  /** The square region of the photo of side `side` × the reference box's width about its centre. */
  const region = (side: number) => {
    const s = Math.round(side * reference.width);
    const left = Math.round(reference.x + reference.width / 2 - s / 2);
    const top = Math.round(reference.y + reference.height / 2 - s / 2);
    return { left, top, width: s, height: s };
  };

  /** The reference box once `r` of the photo is resized to `size` px and put at (x, y). */
  const moved = (r: { left: number; top: number; width: number }, size: number, x: number, y: number): FaceBox => {
    const k = size / r.width;
    return {
      x: x + (reference.x - r.left) * k,
      y: y + (reference.y - r.top) * k,
      width: reference.width * k,
      height: reference.height * k,
    };
  };

  it('finds a 150-px face pasted into a 3000×2000 canvas, with its box in the canvas pixels', async () => {
    const r = region(2);
    const size = 2 * 150; // the face's box becomes 150 px
    const patch = await raw(sharp(SAMPLE).extract(r).resize(size, size));
    const [x, y] = [2210, 1430];
    const canvas = await canvasWith(3000, 2000, patch, x, y);
    const expected = moved(r, size, x, y);
    const faces = await find(detector, canvas);
    const match = faces.filter((f) => overlap(f.box, expected) > 0.5);
    expect(match.length, JSON.stringify({ faces, expected })).toBe(1);
    expect(match[0].score).toBeGreaterThanOrEqual(0.5);
    // No detection elsewhere: the rest of the canvas is flat grey.
    expect(faces.length).toBe(1);
  }, 300_000);

  it('finds a face that fills the frame', async () => {
    const r = region(1.1);
    const size = 800;
    const image = await raw(sharp(SAMPLE).extract(r).resize(size, size));
    const expected = moved(r, size, 0, 0);
    expect(expected.width).toBeGreaterThan(0.85 * size);
    const faces = await find(detector, image);
    expect(faces.length, JSON.stringify({ faces, expected })).toBeGreaterThanOrEqual(1);
    expect(overlap(faces[0].box, expected), JSON.stringify({ faces, expected })).toBeGreaterThan(0.5);
  }, 300_000);

  it('finds nothing on a flat grey image', async () => {
    const grey = await raw(
      sharp({ create: { width: 1200, height: 900, channels: 3, background: { r: 128, g: 128, b: 128 } } }),
    );
    expect(await find(detector, grey)).toEqual([]);
  }, 300_000);

  it('the landmarker puts the pasted face’s landmarks inside its box in the canvas', async () => {
    const landmarker = await createNodeLandmarker();
    try {
      const r = region(2);
      const size = 320;
      const patch = await raw(sharp(SAMPLE).extract(r).resize(size, size));
      const [x, y] = [300, 1100];
      const canvas = await canvasWith(2600, 1700, patch, x, y);
      const expected = moved(r, size, x, y);
      const faces = await landmarker.detect(canvas);
      expect(faces.length).toBe(1);
      const p = faces[0].landmarks;
      const margin = 0.1 * expected.width;
      for (let i = 0; i < 136; i += 2) {
        expect(p[i]).toBeGreaterThan(expected.x - margin);
        expect(p[i]).toBeLessThan(expected.x + expected.width + margin);
        expect(p[i + 1]).toBeGreaterThan(expected.y - margin);
        expect(p[i + 1]).toBeLessThan(expected.y + expected.height + margin);
      }
    } finally {
      landmarker.dispose();
    }
  }, 300_000);

  it('rejects bad options', async () => {
    await expect(createNodeFaceDetector({ inputSize: 100 })).rejects.toThrow(/inputSize/);
    await expect(createNodeFaceDetector({ minScore: 1 })).rejects.toThrow(/minScore/);
    await expect(createNodeFaceDetector({ minFaceSize: 0 })).rejects.toThrow(/minFaceSize/);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectedFace, FaceLandmarker } from '../src/detect/face.js';
import type { RgbImage } from '../src/render/rgb-image.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { parsePts } from '../src/io/pts.js';

const FACES = fileURLToPath(new URL('../../shared/data/faces-68/', import.meta.url));
const hasFaces = existsSync(FACES);

// The tf instance the landmarker runs on (node-landmarker requires the same CommonJS build).
const tf = createRequire(import.meta.url)('@vladmandic/face-api/dist/face-api.node-wasm.js').tf as {
  memory(): { numTensors: number };
};

/** NME in %: mean point distance over the ground truth's outer-eye-corner distance (points 37 and 46). */
function nme(points: Float32Array, truth: Float32Array): number {
  const iod = Math.hypot(truth[72] - truth[90], truth[73] - truth[91]);
  let sum = 0;
  for (let i = 0; i < 68; i++) sum += Math.hypot(points[2 * i] - truth[2 * i], points[2 * i + 1] - truth[2 * i + 1]);
  return (100 * sum) / 68 / iod;
}

/** The detection whose box overlaps the ground truth's landmark box most. */
function match(faces: DetectedFace[], truth: Float32Array): DetectedFace | undefined {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i < 136; i += 2) {
    x0 = Math.min(x0, truth[i]);
    x1 = Math.max(x1, truth[i]);
    y0 = Math.min(y0, truth[i + 1]);
    y1 = Math.max(y1, truth[i + 1]);
  }
  let best: DetectedFace | undefined,
    bestArea = 0;
  for (const face of faces) {
    const w = Math.min(x1, face.box.x + face.box.width) - Math.max(x0, face.box.x);
    const h = Math.min(y1, face.box.y + face.box.height) - Math.max(y0, face.box.y);
    if (w > 0 && h > 0 && w * h > bestArea) {
      bestArea = w * h;
      best = face;
    }
  }
  return best;
}

describe.skipIf(!hasFaces)('face-api landmarker on faces-68', () => {
  let landmarker: FaceLandmarker;
  beforeAll(async () => {
    landmarker = await createNodeLandmarker();
  });
  afterAll(() => landmarker?.dispose());

  const photos: Array<[string, string[]]> = [
    ['lfpw_image_0010.png', ['lfpw_image_0010']],
    ['afw_134212_1.jpg', ['afw_134212_1', 'afw_134212_2']], // two people in one photo
    ['helen_trainset_1629243_1.jpg', ['helen_trainset_1629243_1']],
    ['300w_outdoor_003.png', ['300w_outdoor_003']],
  ];
  it.each(photos)('%s: finds the annotated faces, landmarks within 10%% NME', async (file, annotated) => {
    const { image } = await loadImage(`${FACES}${file}`);
    const faces = await landmarker.detect(image);
    expect(faces.length).toBeGreaterThanOrEqual(annotated.length);
    for (let i = 1; i < faces.length; i++) expect(faces[i].score).toBeLessThanOrEqual(faces[i - 1].score);
    const matched = new Set<DetectedFace>();
    for (const name of annotated) {
      const truth = parsePts(readFileSync(`${FACES}${name}.pts`, 'utf8'), `${name}.pts`);
      const face = match(faces, truth);
      expect(face, `${name}: no detection overlaps it`).toBeDefined();
      matched.add(face!);
      expect(face!.landmarks).toBeInstanceOf(Float32Array);
      expect(face!.landmarks.length).toBe(136);
      expect(face!.score).toBeGreaterThan(0);
      expect(face!.score).toBeLessThanOrEqual(1);
      expect(nme(face!.landmarks, truth), name).toBeLessThan(10);
    }
    expect(matched.size).toBe(annotated.length); // a different detection for each person
  });

  it('finds nothing in flat grey or noise', async () => {
    const grey: RgbImage = { width: 320, height: 240, data: new Uint8Array(320 * 240 * 3).fill(128) };
    expect(await landmarker.detect(grey)).toEqual([]);
    const data = new Uint8Array(320 * 240 * 3);
    for (let i = 0; i < data.length; i++) data[i] = Math.imul(i + 1, 2654435761) >>> 24;
    expect(await landmarker.detect({ width: 320, height: 240, data })).toEqual([]);
  });

  it("frees its tensors: repeated calls do not grow tf's tensor count", async () => {
    const { image } = await loadImage(`${FACES}afw_134212_1.jpg`, { maxSide: 640 });
    await landmarker.detect(image);
    const before = tf.memory().numTensors;
    expect(before).toBeGreaterThan(0); // the nets' weights: this is the landmarker's tf instance
    for (let i = 0; i < 3; i++) await landmarker.detect(image);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects pixel data of the wrong length', async () => {
    await expect(landmarker.detect({ width: 10, height: 10, data: new Uint8Array(10) })).rejects.toThrow(RangeError);
  });
});

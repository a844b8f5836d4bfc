import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaceLandmarker } from '../src/detect/face.js';
import { decodeLandmarkNetFile } from '../src/detect/landmark-net-file.js';
import { landmarkNme } from '../src/fit/fit-result.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { shippedLandmarkNetPath } from '../src/io/node/model-paths.js';
import { type LandmarkFace, loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import { matchDetection } from '../bench/faces68.js';
import { SHARED } from './helpers/shared.js';

const DATA = `${SHARED}data/train-300w`;
// Without the training data the accuracy check is skipped with a warning, except under CI, where it fails.
const hasData = existsSync(DATA);
if (!hasData && !process.env.CI) console.warn(`landmark-net-accuracy.test.ts skipped: no ${DATA}`);

/**
 * The shipped weights on the first 60 validation faces (by name) of train-300w, through the whole Node
 * pipeline (detector, two landmark passes). The bound sits a little above what they measured, so that a
 * broken or mismatched model fails.
 */
const FACES = 60;
const MAX_MEAN_NME = 4.5;
/**
 * Measured with the shipped weights: 4.09 % mean on 58 faces; the detector misses afw_3020248483_1 and
 * afw_899545263_1 (with either landmarker: the same 4 of all 199 validation faces, bench/RESULTS.md).
 */
const MAX_MISSED = 2;

describe.skipIf(!hasData && !process.env.CI)('shipped landmark net', () => {
  let landmarker: FaceLandmarker;
  let faces: LandmarkFace[];
  beforeAll(async () => {
    const { faces: all } = await loadLandmarkDataset(DATA);
    faces = splitByPhoto(all, { seed: 15 }).validation.slice(0, FACES);
    landmarker = await createNodeLandmarker();
  });
  afterAll(() => landmarker?.dispose());

  it('records how it was made', () => {
    const file = decodeLandmarkNetFile(new Uint8Array(readFileSync(shippedLandmarkNetPath())), 'shipped');
    expect(file.training).toMatchObject({ seed: 15 });
    expect(String(file.training.command)).toMatch(/^morphable train landmarks /);
    expect(String(file.training.dataManifestSha256)).toMatch(/^[0-9a-f]{64}$/);
  });

  it(`keeps the mean NME under ${MAX_MEAN_NME} % on ${FACES} validation faces, ≤ ${MAX_MISSED} missed`, async () => {
    const errors: number[] = [];
    const missed: string[] = [];
    for (const face of faces) {
      const match = matchDetection(await landmarker.detect(face.image), face.landmarks);
      if (match) errors.push(landmarkNme(match.landmarks, face.landmarks));
      else missed.push(face.name);
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    console.log(
      `shipped landmark net: mean NME ${mean.toFixed(2)} % on ${errors.length} validation faces, `
        + `missed: ${missed.join(', ') || 'none'}`,
    );
    expect(missed.length).toBeLessThanOrEqual(MAX_MISSED);
    expect(mean).toBeLessThan(MAX_MEAN_NME);
  });
});

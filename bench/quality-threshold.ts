/**
 * Where the fit-quality threshold (src/fit/fit-quality.ts) should sit: the quality score of
 *   A. every train-300w face fitted from its ground-truth landmarks,
 *   B. train-300w faces fitted from the detector's landmarks (the detection that overlaps the face),
 *   C. non-faces: the detector run on train-300w photos with the face (landmark box, grown, and the
 *      forehead) painted over with the photo's mean colour; whatever it still finds is not a face
 *      (except the other people in some photos: see bench/README.md),
 *   D. non-faces for sure: the same painted photos cut into 32 × 32 tiles and shuffled (seeded), so that no
 *      face larger than a tile survives.
 * Landmark fit only (the photometric stage moves the score little and costs a second a face).
 *
 * Usage: npx tsx bench/quality-threshold.ts MODEL.glb [--step K] [--min-score S]
 *   --step K: detection (B, C) on every K-th photo (default 2); --min-score: detector threshold for C
 *   (default 0.3, below the CLI's 0.5, to collect more false faces; both are reported); --non-faces-only: C and D
 *   alone; --dump FILE: every scored fit as JSON, to try other bounds.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RgbImage } from '../src/render/rgb-image.js';
import { PhotoFitter, type FittedFace, type Photo } from '../src/fit/fit-photo.js';
import { MIN_QUALITY, type QualityPart } from '../src/fit/fit-quality.js';
import { decodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { annotatedFaces, matchDetection } from './faces68.js';

const args = process.argv.slice(2);
const modelPath = args[0];
if (!modelPath) throw new Error('usage: npx tsx bench/quality-threshold.ts MODEL.glb [--step K] [--min-score S]');
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const step = option('--step', 2),
  minScore = option('--min-score', 0.3),
  nonFacesOnly = args.includes('--non-faces-only');
const folder = resolve('../shared/data/train-300w'); // run from the repository root

const model = decodeModel(new Uint8Array(readFileSync(modelPath)), 'model');
const fitter = new PhotoFitter(model);
const faces = annotatedFaces(folder);
const blank: RgbImage = { width: 1, height: 1, data: new Uint8Array(3) };

interface Scored {
  name: string;
  score: number;
  worst: QualityPart;
  detScore?: number;
  nme: number;
  idRms: number;
  exMean: number;
  roll: number;
  pitch: number;
}
const scored = (name: string, fit: FittedFace, detScore?: number): Scored => ({
  name,
  score: fit.report.quality.score,
  worst: fit.report.quality.worst,
  detScore,
  nme: fit.report.quality.nmePercent,
  idRms: fit.report.quality.identityRms,
  exMean: fit.report.quality.expressionMean,
  roll: fit.report.pose.roll,
  pitch: fit.report.pose.pitch,
});

// A. Ground-truth landmarks.
const truth: Scored[] = [];
let t = performance.now();
for (const face of nonFacesOnly ? [] : faces) {
  const photo: Photo = { name: face.name, image: blank, width: 256, height: 256, scale: 1 };
  truth.push(scored(face.name, fitter.fit(photo, { landmarks: face.landmarks }, 0, { photometric: false })));
}
console.log(
  `A. ${truth.length} train-300w faces from ground-truth landmarks (${((performance.now() - t) / 1000).toFixed(1)} s)`,
);
summarise(truth);

// B and C need the detector.
const landmarker = await createNodeLandmarker({ minScore });
const detected: Scored[] = [];
const nonFaces: Scored[] = [];
const shuffled: Scored[] = [];
let missed = 0;
t = performance.now();
for (let i = 0; i < faces.length; i += step) {
  const face = faces[i];
  const loaded = await loadImage(face.image);
  const photo: Photo = {
    name: face.name,
    image: loaded.image,
    width: loaded.originalWidth,
    height: loaded.originalHeight,
    scale: loaded.scale,
  };
  const found = nonFacesOnly ? [] : await fitter.detect(landmarker, photo);
  const match = matchDetection(
    found.map((f) => f.detection!),
    face.landmarks,
  );
  const hit = found.find((f) => f.detection === match);
  if (hit && hit.detection!.score >= 0.5)
    detected.push(scored(face.name, fitter.fit(photo, hit, 0, { photometric: false }), hit.detection!.score));
  else missed++;

  const masked = maskFace(photo.image, face.landmarks);
  const maskedPhoto = { ...photo, image: masked };
  for (const [k, f] of (await fitter.detect(landmarker, maskedPhoto)).entries()) {
    nonFaces.push(
      scored(`${face.name}#${k}`, fitter.fit(maskedPhoto, f, k, { photometric: false }), f.detection!.score),
    );
  }
  const tiledPhoto = { ...photo, image: shuffleTiles(masked, 32, i) };
  for (const [k, f] of (await fitter.detect(landmarker, tiledPhoto)).entries()) {
    shuffled.push(
      scored(`${face.name}~${k}`, fitter.fit(tiledPhoto, f, k, { photometric: false }), f.detection!.score),
    );
  }
}
landmarker.dispose();
console.log(
  `\nB. ${detected.length} train-300w faces from the detector's landmarks, every ${step}th photo `
    + `(${missed} not detected at score ≥ 0.5; ${((performance.now() - t) / 1000).toFixed(1)} s for B and C)`,
);
summarise(detected);
console.log(`\nC. ${nonFaces.length} detections (score ≥ ${minScore}) on the same photos with the face painted over`);
summarise(nonFaces);
const strong = nonFaces.filter((s) => (s.detScore ?? 0) >= 0.5);
console.log(`\nC'. the ${strong.length} of them with detector score ≥ 0.5 (what the CLI fits)`);
summarise(strong);

const dumpAt = args.indexOf('--dump');
if (dumpAt >= 0) writeFileSync(args[dumpAt + 1], JSON.stringify({ truth, detected, nonFaces, shuffled }));

console.log(
  `\nD. ${shuffled.length} detections (score ≥ ${minScore}) on the painted photos cut into shuffled 32-px tiles`,
);
summarise(shuffled);
const strongShuffled = shuffled.filter((s) => (s.detScore ?? 0) >= 0.5);
console.log(`\nD'. the ${strongShuffled.length} of them with detector score ≥ 0.5`);
summarise(strongShuffled);

/** `image` cut into size × size tiles (whole tiles only) put back in a seeded random order. */
function shuffleTiles(image: RgbImage, size: number, seed: number): RgbImage {
  const cols = Math.floor(image.width / size),
    rows = Math.floor(image.height / size);
  const order = Array.from({ length: cols * rows }, (_, k) => k);
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let k = order.length - 1; k > 0; k--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  const data = new Uint8Array(image.data);
  for (let k = 0; k < order.length; k++) {
    const from = order[k],
      fx = (from % cols) * size,
      fy = Math.floor(from / cols) * size;
    const tx = (k % cols) * size,
      ty = Math.floor(k / cols) * size;
    for (let y = 0; y < size; y++) {
      const src = 3 * ((fy + y) * image.width + fx),
        dst = 3 * ((ty + y) * image.width + tx);
      data.set(image.data.subarray(src, src + 3 * size), dst);
    }
  }
  return { width: image.width, height: image.height, data };
}

function summarise(list: Scored[]): void {
  if (!list.length) return;
  const scores = list.map((s) => s.score).sort((a, b) => a - b);
  const q = (p: number) => scores[Math.min(scores.length - 1, Math.floor(p * scores.length))].toFixed(3);
  console.log(`  score: min ${q(0)}, 1 % ${q(0.01)}, 5 % ${q(0.05)}, median ${q(0.5)}`);
  for (const threshold of [0.25, MIN_QUALITY, 0.75, 1]) {
    const below = list.filter((s) => s.score < threshold).length;
    console.log(`  below ${threshold}: ${below} (${((100 * below) / list.length).toFixed(1)} %)`);
  }
  const parts: Record<string, number> = {};
  for (const s of list) if (s.score < MIN_QUALITY) parts[s.worst] = (parts[s.worst] ?? 0) + 1;
  console.log(`  rejected at ${MIN_QUALITY} by: ${JSON.stringify(parts)}`);
  for (const key of ['nme', 'idRms', 'exMean', 'roll', 'pitch'] as const) {
    const v = list.map((s) => Math.abs(s[key])).sort((a, b) => a - b);
    const at = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(3);
    console.log(`  |${key}|: median ${at(0.5)}, 95 % ${at(0.95)}, 99 % ${at(0.99)}, max ${at(1)}`);
  }
  const worst = [...list].sort((a, b) => a.score - b.score).slice(0, 5);
  console.log(`  lowest: ${worst.map((s) => `${s.name} ${s.score.toFixed(2)} (${s.worst})`).join(', ')}`);
}

/**
 * The photo with the face's landmark box (grown by 15 %, and up by 60 % of its height for the forehead) in its
 * mean colour.
 */
function maskFace(image: RgbImage, landmarks: Float32Array): RgbImage {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i < 68; i++) {
    x0 = Math.min(x0, landmarks[2 * i]);
    x1 = Math.max(x1, landmarks[2 * i]);
    y0 = Math.min(y0, landmarks[2 * i + 1]);
    y1 = Math.max(y1, landmarks[2 * i + 1]);
  }
  const w = x1 - x0,
    h = y1 - y0;
  const left = Math.max(0, Math.floor(x0 - 0.15 * w)),
    right = Math.min(image.width, Math.ceil(x1 + 0.15 * w));
  const top = Math.max(0, Math.floor(y0 - 0.6 * h)),
    bottom = Math.min(image.height, Math.ceil(y1 + 0.15 * h));
  const mean = [0, 0, 0];
  for (let p = 0; p < image.data.length; p++) mean[p % 3] += image.data[p];
  const n = image.width * image.height;
  const data = new Uint8Array(image.data);
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++)
      for (let c = 0; c < 3; c++) data[3 * (y * image.width + x) + c] = Math.round(mean[c] / n);
  }
  return { width: image.width, height: image.height, data };
}

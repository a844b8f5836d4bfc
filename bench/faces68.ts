/** Shared helpers for the benchmarks on ../shared/data/faces-68: ground truth, face matching. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectedFace } from '../src/detect/face.js';
import { parsePts } from '../src/io/pts.js';

export interface AnnotatedFace {
  name: string;
  image: string;
  /** Ground truth in project coordinates (.pts minus 1). */
  landmarks: Float32Array;
}

export function annotatedFaces(folder: string): AnnotatedFace[] {
  const files = readdirSync(folder);
  return files
    .filter((f) => f.endsWith('.pts'))
    .sort()
    .map((pts) => {
      const name = pts.slice(0, -4);
      const image = files.find((f) => f.startsWith(`${name}.`) && !f.endsWith('.pts'));
      if (!image) throw new Error(`no image for ${pts}`);
      return { name, image: join(folder, image), landmarks: parsePts(readFileSync(join(folder, pts), 'utf8'), pts) };
    });
}

/** NME in %: mean point distance / outer-eye-corner distance of the ground truth; optional subset of points. */
export function nme(predicted: ArrayLike<number>, truth: ArrayLike<number>, from = 0): number {
  const iod = Math.hypot(truth[72] - truth[90], truth[73] - truth[91]);
  let sum = 0;
  for (let i = from; i < 68; i++)
    sum += Math.hypot(predicted[2 * i] - truth[2 * i], predicted[2 * i + 1] - truth[2 * i + 1]);
  return (100 * sum) / (68 - from) / iod;
}

/** The detection whose box overlaps the ground truth's landmark box most (IoU), or undefined. */
export function matchDetection(faces: DetectedFace[], truth: ArrayLike<number>, scale = 1): DetectedFace | undefined {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i < 68; i++) {
    x0 = Math.min(x0, truth[2 * i] * scale);
    x1 = Math.max(x1, truth[2 * i] * scale);
    y0 = Math.min(y0, truth[2 * i + 1] * scale);
    y1 = Math.max(y1, truth[2 * i + 1] * scale);
  }
  let best: DetectedFace | undefined,
    bestIou = 0;
  for (const f of faces) {
    const ix = Math.max(0, Math.min(x1, f.box.x + f.box.width) - Math.max(x0, f.box.x));
    const iy = Math.max(0, Math.min(y1, f.box.y + f.box.height) - Math.max(y0, f.box.y));
    const inter = ix * iy;
    const iou = inter / ((x1 - x0) * (y1 - y0) + f.box.width * f.box.height - inter);
    if (iou > bestIou) {
      bestIou = iou;
      best = f;
    }
  }
  return best;
}

export function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

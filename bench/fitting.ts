/**
 * Landmark fitting, measured: synthetic faces with known truth, and the real photos of faces-68
 * (NME (a) detected vs truth, (b) fitted to the truth vs truth, (c) fitted to detections vs truth),
 * plus the speed of the fit alone and of a whole 640-px photo (load → detect → fit).
 */
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { rotationDistance } from '../src/fit/rotation.js';
import { loadImage } from '../src/io/node/image.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { rmsDistance, syntheticFace } from '../test/helpers/synthetic.js';
import { annotatedFaces, matchDetection, mean, median, nme } from './faces68.js';

const pct = (v: number) => `${v.toFixed(2)}%`;

export async function fittingBench(model: MorphableModel, faces68: string, log: (line: string) => void): Promise<string> {
  const fitter = new LandmarkFitter(model);
  const lines: string[] = [];

  // Synthetic faces: identity from the prior, 1 px noise, known focal length.
  const synthetic = (expressions: number) => {
    const random = new SeededRandom(3);
    const pose: number[] = [], ratio: number[] = [];
    for (let i = 0; i < 40; i++) {
      const truth = syntheticFace(model, random, { expressions });
      const fit = fitter.fit(truth.landmarks, truth.width, truth.height, { focal: truth.camera.focal });
      pose.push(rotationDistance(fit.camera.rotation, truth.camera.rotation));
      const shape = evaluateShape(model, fit.identity, fit.expression);
      ratio.push(rmsDistance(shape, truth.shape, model.regions.face) / rmsDistance(model.mean, truth.shape, model.regions.face));
    }
    return { pose, ratio };
  };
  lines.push('### Synthetic faces (40 each; yaw ±30°, pitch and roll ±10°, 1 px noise)', '',
    '| faces | pose error median / mean / max | face-region 3D error vs the mean face: mean / median |', '|---|---|---|');
  for (const expressions of [0, 2]) {
    const { pose, ratio } = synthetic(expressions);
    const row = `| identity from the prior${expressions ? `, ${expressions} random blendshapes` : ', neutral'} | ${median(pose).toFixed(2)}° / ${mean(pose).toFixed(2)}° / ${Math.max(...pose).toFixed(2)}° | ${mean(ratio).toFixed(2)} / ${median(ratio).toFixed(2)} |`;
    lines.push(row);
    log(row);
  }

  // faces-68.
  const faces = annotatedFaces(faces68);
  const landmarker = await createNodeLandmarker();
  const a: number[] = [], b: number[] = [], c: number[] = [], fitMs: number[] = [], photoMs: number[] = [];
  let missed = 0;
  const sizes = new Map<string, { width: number; height: number }>();
  for (const face of faces) {
    const loaded = await loadImage(face.image, { maxSide: 1600 });
    const { originalWidth: width, originalHeight: height } = loaded;
    sizes.set(face.name, { width, height });
    const fitB = fitter.fit(face.landmarks, width, height);
    b.push(nme(fitB.fittedLandmarks, face.landmarks));
    const detections = await landmarker.detect(loaded.image);
    const match = matchDetection(detections, face.landmarks, loaded.scale);
    if (!match) { missed++; log(`${face.name}: no detection`); continue; }
    const detected = match.landmarks.map((v) => (v + 0.5) / loaded.scale - 0.5);
    a.push(nme(detected, face.landmarks));
    const fitC = fitter.fit(detected, width, height);
    c.push(nme(fitC.fittedLandmarks, face.landmarks));
    log(`${face.name}: NME (a) ${pct(a[a.length - 1])} (b) ${pct(b[b.length - 1])} (c) ${pct(c[c.length - 1])}`);
  }
  // Speed of the fit alone, warm: every face's ground truth, 5 rounds.
  for (let round = 0; round < 6; round++) {
    for (const face of faces) {
      const { width, height } = sizes.get(face.name)!;
      const t = performance.now();
      fitter.fit(face.landmarks, width, height);
      if (round > 0) fitMs.push(performance.now() - t);
    }
  }
  // Whole photo at 640 px: decode + resize, detect, fit (what `morphable fit` does per face, without writing).
  for (let round = 0; round < 3; round++) {
    for (const face of faces) {
      const t = performance.now();
      const loaded = await loadImage(face.image, { maxSide: 640 });
      const detections = await landmarker.detect(loaded.image);
      if (detections[0]) fitter.fit(detections[0].landmarks, loaded.image.width, loaded.image.height);
      if (round > 0) photoMs.push(performance.now() - t);
    }
  }
  landmarker.dispose();

  lines.push('', `### faces-68 (${faces.length} faces, ${model.name})`, '',
    'NME = mean point-to-point error / distance between the outer eye corners (iBUG 37 and 46), all 68 points.', '',
    '| | mean | median | max |', '|---|---|---|---|',
    `| (a) detected landmarks vs ground truth (${a.length} found, ${missed} missed) | ${pct(mean(a))} | ${pct(median(a))} | ${pct(Math.max(...a))} |`,
    `| (b) model fitted to the ground truth, fitted landmarks vs ground truth | ${pct(mean(b))} | ${pct(median(b))} | ${pct(Math.max(...b))} |`,
    `| (c) model fitted to the detections, fitted landmarks vs ground truth | ${pct(mean(c))} | ${pct(median(c))} | ${pct(Math.max(...c))} |`,
    '', '| speed | median |', '|---|---|',
    `| landmark fit alone (pose + identity + expression + contour, to convergence), ${model.identity.count}+${model.expression.count} components | ${median(fitMs).toFixed(2)} ms |`,
    `| whole photo at 640 px: decode + resize, detect + 68 landmarks, fit | ${median(photoMs).toFixed(1)} ms |`,
    '');
  log(`fit alone ${median(fitMs).toFixed(2)} ms; photo at 640 px ${median(photoMs).toFixed(1)} ms`);
  return lines.join('\n');
}

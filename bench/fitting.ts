/**
 * Landmark fitting, measured: synthetic faces with known truth, and the real photos of faces-68
 * (NME (a) detected vs truth, (b) fitted to the truth vs truth, (c) fitted to detections vs truth),
 * plus the speed of the fit alone and of a whole 640-px photo (load → detect → fit).
 */
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { inFullPhoto, PHOTO_MAX_SIDE, PhotoFitter } from '../src/fit/fit-photo.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { anglesFromRotation, rotationDistance } from '../src/geometry/rotation.js';
import { loadImage } from '../src/io/node/image.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { rmsDistance, syntheticFace, type SyntheticFace } from '../test/helpers/synthetic.js';
import { oracleFit } from '../test/helpers/landmark-oracle.js';
import { annotatedFaces, matchDetection, mean, median, nme } from './faces68.js';

const pct = (v: number) => `${v.toFixed(2)}%`;

/**
 * `model` for the synthetic faces (their landmarks are the model's own vertices), `calibrated` (landmark
 * offsets from fit/landmark-calibration.ts) for the real photos, compared with `model` there too.
 */
export async function fittingBench(
  model: MorphableModel,
  calibrated: MorphableModel,
  faces68: string,
  log: (line: string) => void,
): Promise<string> {
  const fitter = new LandmarkFitter(model);
  const calibratedFitter = new LandmarkFitter(calibrated);
  const lines: string[] = [];

  // Synthetic faces: identity from the prior, 1 px noise, known focal length.
  const synthetic = (expressions: number) => {
    const random = new SeededRandom(3);
    const pose: number[] = [],
      ratio: number[] = [];
    const faces: SyntheticFace[] = [];
    for (let i = 0; i < 40; i++) {
      const truth = syntheticFace(model, random, { expressions });
      faces.push(truth);
      const fit = fitter.fit(truth.landmarks, truth.width, truth.height, { focal: truth.camera.focal });
      pose.push(rotationDistance(fit.camera.rotation, truth.camera.rotation));
      const shape = evaluateShape(model, fit.identity, fit.expression);
      ratio.push(
        rmsDistance(shape, truth.shape, model.regions.face) / rmsDistance(model.mean, truth.shape, model.regions.face),
      );
    }
    return { pose, ratio, faces };
  };
  lines.push(
    '### Synthetic faces (40 each; yaw ±30°, pitch and roll ±10°, 1 px noise)',
    '',
    '| faces | pose error median / mean / max | face-region 3D error vs the mean face: mean / median |',
    '|---|---|---|',
  );
  let neutral: ReturnType<typeof synthetic> | undefined;
  for (const expressions of [0, 2]) {
    const result = synthetic(expressions);
    const { pose, ratio } = result;
    if (expressions === 0) neutral = result;
    const row =
      `| identity from the prior${expressions ? `, ${expressions} random blendshapes` : ', neutral'} `
      + `| ${median(pose).toFixed(2)}° / ${mean(pose).toFixed(2)}° / ${Math.max(...pose).toFixed(2)}° `
      + `| ${mean(ratio).toFixed(2)} / ${median(ratio).toFixed(2)} |`;
    lines.push(row);
    log(row);
  }
  // What a fit told the true landmark vertices reaches on the same neutral faces (test/helpers/landmark-oracle.ts).
  lines.push(
    '',
    'The same 40 neutral faces fitted by a MAP estimator that is told the true vertex of every landmark '
      + '(pose and all 100 identity modes, the true noise level, no expressions; test/helpers/landmark-oracle.ts):',
    '',
    '| | face-region 3D error vs the mean face: mean | pose error mean / max | faces with pose error > 2° |',
    '|---|---|---|---|',
  );
  const oracleRow = (name: string, ratio: number[], pose: number[]) => {
    const row =
      `| ${name} | ${mean(ratio).toFixed(2)} | ${mean(pose).toFixed(2)}° / ${Math.max(...pose).toFixed(2)}° `
      + `| ${pose.filter((p) => p > 2).length} of ${pose.length} |`;
    lines.push(row);
    log(row);
  };
  for (const [outline, name] of [
    ['both', 'told the vertices, outline points fixed along and across the jaw (as generated)'],
    ['across', 'told the vertices, outline points only across the jaw (what a sliding outline leaves)'],
  ] as const) {
    const oracle = oracleFit(model, neutral!.faces, outline);
    oracleRow(name, oracle.ratio, oracle.pose);
  }
  oracleRow('this fitter (outline slides; expressions fitted too)', neutral!.ratio, neutral!.pose);
  lines.push('');

  // faces-68.
  const faces = annotatedFaces(faces68);
  // The regressor rides along where it fits the model: rows (d) and (e) start from it.
  const landmarker = await createNodeLandmarker({ regressor: { model: calibrated, ifMatching: true } });
  const photoFitter = new PhotoFitter(calibrated);
  const learned: number[] = [],
    fast: number[] = [],
    learnedIterations: number[] = [],
    linearIterations: number[] = [];
  const a: number[] = [],
    b: number[] = [],
    c: number[] = [],
    fitMs: number[] = [],
    photoMs: number[] = [];
  const bPlain: number[] = [],
    pitchPlain: number[] = [],
    pitchB: number[] = [],
    pitchC: number[] = [];
  let missed = 0;
  const sizes = new Map<string, { width: number; height: number }>();
  for (const face of faces) {
    const loaded = await loadImage(face.image, { maxSide: PHOTO_MAX_SIDE });
    const { originalWidth: width, originalHeight: height } = loaded;
    sizes.set(face.name, { width, height });
    const plainB = fitter.fit(face.landmarks, width, height);
    bPlain.push(nme(plainB.fittedLandmarks, face.landmarks));
    pitchPlain.push(anglesFromRotation(plainB.camera.rotation).pitch);
    const fitB = calibratedFitter.fit(face.landmarks, width, height);
    b.push(nme(fitB.fittedLandmarks, face.landmarks));
    pitchB.push(anglesFromRotation(fitB.camera.rotation).pitch);
    const detections = await landmarker.detect(loaded.image);
    const match = matchDetection(detections, face.landmarks, loaded.scale);
    if (!match) {
      missed++;
      log(`${face.name}: no detection`);
      continue;
    }
    const detected = match.landmarks.map((v) => (v + 0.5) / loaded.scale - 0.5);
    a.push(nme(detected, face.landmarks));
    const fitC = calibratedFitter.fit(detected, width, height);
    c.push(nme(fitC.fittedLandmarks, face.landmarks));
    linearIterations.push(fitC.iterations);
    const found = inFullPhoto(match, loaded.scale);
    if (found.detection?.regression) {
      const photo = { name: face.name, image: loaded.image, width, height, scale: loaded.scale };
      const fitD = photoFitter.fit(photo, found, 0, { photometric: false, init: 'learned' });
      learned.push(nme(fitD.fittedLandmarks, face.landmarks));
      learnedIterations.push(fitD.landmarkFit.iterations);
      fast.push(
        nme(photoFitter.fit(photo, found, 0, { photometric: false, fast: true }).fittedLandmarks, face.landmarks),
      );
    }
    pitchC.push(anglesFromRotation(fitC.camera.rotation).pitch);
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

  lines.push(
    '',
    `### faces-68 (${faces.length} faces, ${model.name})`,
    '',
    'NME = mean point-to-point error / distance between the outer eye corners (iBUG 37 and 46), all 68 points.',
    '',
    '| | mean | median | max |',
    '|---|---|---|---|',
    `| (a) detected landmarks vs ground truth (${a.length} found, ${missed} missed) `
      + `| ${pct(mean(a))} | ${pct(median(a))} | ${pct(Math.max(...a))} |`,
    '| (b) model fitted to the ground truth, fitted landmarks vs ground truth '
      + `| ${pct(mean(b))} | ${pct(median(b))} | ${pct(Math.max(...b))} |`,
    '| (c) model fitted to the detections, fitted landmarks vs ground truth (`--init linear`; '
      + `${mean(linearIterations).toFixed(1)} iterations) `
      + `| ${pct(mean(c))} | ${pct(median(c))} | ${pct(Math.max(...c))} |`,
    ...(learned.length > 0
      ? [
          '| (d) the same from the one-pass regressor (`--init learned`, the default `auto` here; '
            + `${mean(learnedIterations).toFixed(1)} iterations) `
            + `| ${pct(mean(learned))} | ${pct(median(learned))} | ${pct(Math.max(...learned))} |`,
          '| (e) `--fast`: the regressor + 2 steps '
            + `| ${pct(mean(fast))} | ${pct(median(fast))} | ${pct(Math.max(...fast))} |`,
        ]
      : []),
    '',
    'Landmarks calibrated to the detector (model offsets from renders, fit/landmark-calibration.ts) '
      + "against the model's bare landmark vertices. These photos are mostly frontal portraits; the fitted pitch "
      + '(> 0: looking down) is the measure of the bias the calibration removes (there is no ground-truth pose here).',
    '',
    '| | (b) NME mean | mean fitted pitch, fit to ground truth | mean fitted pitch, fit to detections |',
    '|---|---|---|---|',
    `| bare landmark vertices | ${pct(mean(bPlain))} | ${mean(pitchPlain).toFixed(1)}° | |`,
    '| calibrated landmarks **(default after `model fetch`)** '
      + `| ${pct(mean(b))} | ${mean(pitchB).toFixed(1)}° | ${mean(pitchC).toFixed(1)}° |`,
    '',
    '| speed | median |',
    '|---|---|',
    '| landmark fit alone (pose + identity + expression + contour, to convergence), '
      + `${model.identity.count}+${model.expression.count} components | ${median(fitMs).toFixed(2)} ms |`,
    `| whole photo at 640 px: decode + resize, detect + 68 landmarks, fit | ${median(photoMs).toFixed(1)} ms |`,
    '',
  );
  log(`fit alone ${median(fitMs).toFixed(2)} ms; photo at 640 px ${median(photoMs).toFixed(1)} ms`);
  return lines.join('\n');
}

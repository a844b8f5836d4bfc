/**
 * Can the landmark fit find the focal length when a photo has no EXIF? Faces drawn from the model's
 * prior (identity, a few expressions, yaw ±30°, pitch and roll ±10°) are projected with a known focal
 * length of 1, 2, 3 or 5 × the long side of an 800 × 600 image, at the distance where the face is about
 * 250 px wide, the outline on the true silhouette, with 1 px landmark noise; then fitted without a focal
 * length (the default: a prior at 3 × the long side) and with the true one.
 * Reports per true focal: the estimate / truth, and the errors in distance and yaw.
 *
 * Usage: npx tsx bench/focal-estimate.ts MODEL.glb [faces per focal, default 40]
 *   [focal prior weight, default the fitter's]
 */
import { readFileSync } from 'node:fs';
import { createCamera, defaultFocal } from '../src/geometry/camera.js';
import { buildContourLines } from '../src/fit/contour.js';
import { projectLandmarks } from '../src/fit/fit-photo.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { anglesFromRotation, rotationFromAngles } from '../src/geometry/rotation.js';
import { decodeModel } from '../src/io/model-file.js';
import { evaluateShape } from '../src/model/evaluate.js';
import { SeededRandom } from '../src/model/random.js';
import { landmarkVerticesSeenAs } from '../test/helpers/synthetic.js';

const [modelPath, perFocalArg, priorArg] = process.argv.slice(2);
const focalPrior = priorArg === undefined ? undefined : Number(priorArg);
if (!modelPath) throw new Error('usage: npx tsx bench/focal-estimate.ts MODEL.glb [faces per focal]');
const perFocal = Number(perFocalArg ?? 40);
const model = decodeModel(new Uint8Array(readFileSync(modelPath)), 'model');
const fitter = new LandmarkFitter(model);
const lines = buildContourLines(model);
const width = 800,
  height = 600,
  longSide = Math.max(width, height);
const FACE_PX = 250,
  FACE_MM = 150;

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1];
};
console.log(`default focal: ${defaultFocal(width, height) / longSide} × long side; ${perFocal} faces per focal length`);
console.log(
  '| true focal | estimate / truth (median, 10–90 %) | distance error, estimated focal '
    + '| distance error, true focal | |yaw error|, estimated | |yaw error|, true |',
);
console.log('|---|---|---|---|---|---|');
for (const k of [1, 2, 3, 5]) {
  const random = new SeededRandom(100 + k);
  const ratio: number[] = [],
    distEst: number[] = [],
    distTrue: number[] = [],
    yawEst: number[] = [],
    yawTrue: number[] = [];
  for (let n = 0; n < perFocal; n++) {
    const identity = new Float32Array(model.identity.count).map(() => random.normal());
    const expression = new Float32Array(model.expression.count);
    for (let j = 0; j < 3; j++)
      expression[Math.floor(random.uniform() * expression.length)] = 0.2 + 0.4 * random.uniform();
    const focal = k * longSide;
    const camera = createCamera(width, height, focal);
    const yaw = (2 * random.uniform() - 1) * 30;
    rotationFromAngles(yaw, (2 * random.uniform() - 1) * 10, (2 * random.uniform() - 1) * 10, camera.rotation);
    const distance = (focal * FACE_MM) / FACE_PX;
    camera.translation.set([0.05 * distance * random.normal(), 0.05 * distance * random.normal(), -distance]);
    const shape = evaluateShape(model, identity, expression);
    const vertices = landmarkVerticesSeenAs(model, lines, shape, camera.rotation);
    const landmarks = projectLandmarks(model, shape, vertices, camera);
    for (let i = 0; i < landmarks.length; i++) landmarks[i] += random.normal();
    const estimated = fitter.fit(landmarks, width, height, { focalPrior });
    ratio.push(estimated.camera.focal / focal);
    distEst.push(-estimated.camera.translation[2] / distance - 1);
    yawEst.push(Math.abs(anglesFromRotation(estimated.camera.rotation).yaw - yaw));
    const known = fitter.fit(landmarks, width, height, { focal });
    distTrue.push(-known.camera.translation[2] / distance - 1);
    yawTrue.push(Math.abs(anglesFromRotation(known.camera.rotation).yaw - yaw));
  }
  const sorted = [...ratio].sort((a, b) => a - b);
  const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(0)} %`;
  console.log(
    `| ${k} × long side | ${median(ratio).toFixed(2)} `
      + `(${sorted[Math.floor(0.1 * sorted.length)].toFixed(2)}–${sorted[Math.floor(0.9 * sorted.length)].toFixed(2)}) `
      + `| ${pct(median(distEst))} | ${pct(median(distTrue))} `
      + `| ${median(yawEst).toFixed(1)}° | ${median(yawTrue).toFixed(1)}° |`,
  );
}

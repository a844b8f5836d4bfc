/**
 * The compact model shipped in models/ against the full-precision model `model fetch` writes (both
 * ICT-FaceKit face + head, calibrated): file size, load time, quantisation error, and fit accuracy
 * (synthetic faces with known truth; faces-68 NME and the difference between the two fits).
 * `npx tsc -p tsconfig.json && node dist/bench/embedded-model.js` (about 3 minutes); prints a
 * Markdown section for models/README.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PHOTO_MAX_SIDE, PhotoFitter, type Photo } from '../src/fit/fit-photo.js';
import { calibrateLandmarks } from '../src/fit/landmark-calibration.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { rotationDistance } from '../src/geometry/rotation.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { rmsDistance, syntheticFace } from '../test/helpers/synthetic.js';
import { annotatedFaces, matchDetection, mean, median, nme } from './faces68.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shared = join(root, '../shared');
const ictArchive = join(shared, 'models/ict-facekit.tar.xz');
const embeddedFile = join(root, 'models/ict-facekit-face-head.glb');
if (!existsSync(ictArchive)) {
  console.error(`bench: needs ${ictArchive}`);
  process.exit(2);
}
const say = (...lines: string[]) => {
  for (const line of lines) console.log(line);
};
const load = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Median ms of `runs` calls after 2 unmeasured ones. */
function time(runs: number, fn: () => unknown): number {
  for (let i = 0; i < 2; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The model with its landmarks' calibration offsets dropped (synthetic landmarks sit on the vertices). */
const bare = (m: MorphableModel): MorphableModel => ({
  ...m,
  landmarks: Object.fromEntries(Object.entries(m.landmarks).map(([k, v]) => [k, { vertices: v.vertices }])),
});

const scratch = mkdtempSync(join(tmpdir(), 'morphable-embedded-'));
try {
  say(`load average at start: ${load()}`);
  // The full-precision model, as `model fetch` makes it: face + head, calibrated on 40 renders.
  const full = await importModel(ictArchive, { region: 'face-head' });
  const landmarker = await createNodeLandmarker();
  full.landmarks.ibug68.offsets = (await calibrateLandmarks(full, landmarker, { renders: 40 })).offsets;
  const fullFile = join(scratch, 'full.glb');
  writeFileSync(fullFile, await encodeModel(full));
  const fullBytes = readFileSync(fullFile);
  const embeddedBytes = readFileSync(embeddedFile);
  const embedded = decodeModel(embeddedBytes, embeddedFile);

  say('', '| | full precision (`model fetch`) | compact (models/) |', '|---|---|---|');
  say(`| file size | ${(fullBytes.length / 1e6).toFixed(2)} MB | ${(embeddedBytes.length / 1e6).toFixed(2)} MB |`);
  say(
    `| gzip -9 (as in an npm tarball) | ${(gzipSync(fullBytes, { level: 9 }).length / 1e6).toFixed(2)} MB `
      + `| ${(gzipSync(embeddedBytes, { level: 9 }).length / 1e6).toFixed(2)} MB |`,
  );
  say(
    `| read + decode, median of 20 | ${time(20, () => decodeModel(readFileSync(fullFile), fullFile)).toFixed(1)} ms `
      + `| ${time(20, () => decodeModel(readFileSync(embeddedFile), embeddedFile)).toFixed(1)} ms |`,
  );

  const recompact = await encodeModel(full, { compact: true });
  const step = JSON.parse(
    new TextDecoder().decode(
      embeddedBytes.subarray(20, 20 + new DataView(embeddedBytes.buffer, embeddedBytes.byteOffset).getUint32(12, true)),
    ),
  ).extras.morphable.quantization.step as number;
  say(
    '',
    `Quantisation step ${step.toFixed(5)} mm (largest |value| / 32767). `
      + 'Largest error against the full-precision model:',
    '',
    '| mean shape | identity components | expression components | landmark offsets '
      + '| rebuilt from the archive = file in models/ |',
    '|---|---|---|---|---|',
  );
  say(
    `| ${maxDifference(full.mean, embedded.mean).toFixed(4)} mm `
      + `| ${maxDifference(full.identity.basis, embedded.identity.basis).toFixed(4)} mm `
      + `| ${maxDifference(full.expression.basis, embedded.expression.basis).toFixed(4)} mm `
      + `| ${maxDifference(full.landmarks.ibug68.offsets!, embedded.landmarks.ibug68.offsets!).toFixed(4)} mm `
      + `| ${Buffer.from(recompact).equals(embeddedBytes) ? 'yes, byte for byte' : 'NO'} |`,
  );

  // Synthetic faces from the full model's prior (as bench/fitting.ts), fitted with each model.
  const fitters = [new LandmarkFitter(bare(full)), new LandmarkFitter(bare(embedded))];
  const models = [full, embedded];
  say(
    '',
    "### Landmark fit on 40 synthetic faces (full model's prior; yaw ±30°, 2 random blendshapes, 1 px noise)",
    '',
    "| model | pose error mean / max | face-region 3D error vs the mean face's: mean | 3D error, mm RMS: mean |",
    '|---|---|---|---|',
  );
  for (let m = 0; m < 2; m++) {
    const random = new SeededRandom(3);
    const pose: number[] = [],
      ratio: number[] = [],
      mm: number[] = [];
    for (let i = 0; i < 40; i++) {
      const truth = syntheticFace(full, random, { expressions: 2 });
      const fit = fitters[m].fit(truth.landmarks, truth.width, truth.height, { focal: truth.camera.focal });
      pose.push(rotationDistance(fit.camera.rotation, truth.camera.rotation));
      const shape = evaluateShape(models[m], fit.identity, fit.expression);
      mm.push(rmsDistance(shape, truth.shape, full.regions.face));
      ratio.push(mm[i] / rmsDistance(full.mean, truth.shape, full.regions.face));
    }
    say(
      `| ${m ? 'compact' : 'full precision'} | ${mean(pose).toFixed(3)}° / ${Math.max(...pose).toFixed(3)}° `
        + `| ${mean(ratio).toFixed(4)} | ${mean(mm).toFixed(3)} mm |`,
    );
  }

  // faces-68: the whole `morphable fit` pipeline (detection, landmark fit, photometric fit) with each model.
  const faces = annotatedFaces(join(shared, 'data/faces-68'));
  const photoFitters = [new PhotoFitter(full), new PhotoFitter(embedded)];
  const nmes: number[][] = [[], []],
    lmNmes: number[][] = [[], []],
    meshDiff: number[] = [],
    lmMeshDiff: number[] = [];
  for (const face of faces) {
    const loaded = await loadImage(face.image, { maxSide: PHOTO_MAX_SIDE });
    const photo: Photo = {
      name: face.name,
      image: loaded.image,
      width: loaded.originalWidth,
      height: loaded.originalHeight,
      scale: loaded.scale,
    };
    const detected = await photoFitters[0].detect(landmarker, photo);
    const match = matchDetection(
      detected.map((d) => ({ ...d.detection!, landmarks: d.landmarks })),
      face.landmarks,
    );
    if (!match) continue;
    const input = detected.find((d) => d.landmarks === match.landmarks)!;
    const fits = photoFitters.map((f) => f.fit(photo, input, 0, { photometric: true }));
    const lmFits = photoFitters.map((f) => f.fit(photo, input, 0, { photometric: false }));
    for (let m = 0; m < 2; m++) {
      nmes[m].push(nme(fits[m].fittedLandmarks, face.landmarks));
      lmNmes[m].push(nme(lmFits[m].fittedLandmarks, face.landmarks));
    }
    meshDiff.push(rmsDistance(fits[0].positions, fits[1].positions, full.regions.face));
    lmMeshDiff.push(rmsDistance(lmFits[0].positions, lmFits[1].positions, full.regions.face));
    console.log(
      `${face.name}: NME ${nmes[0].at(-1)!.toFixed(3)}% / ${nmes[1].at(-1)!.toFixed(3)}%, `
        + `meshes ${meshDiff.at(-1)!.toFixed(3)} mm apart`,
    );
  }
  landmarker.dispose();
  const pct = (v: number[]) => `${mean(v).toFixed(3)}% / ${median(v).toFixed(3)}%`;
  say(
    '',
    `### faces-68 (${nmes[0].length} of ${faces.length} faces detected): \`morphable fit\`'s pipeline with each model`,
    '',
    '| | NME mean / median, full precision | NME mean / median, compact | largest NME difference on one face '
      + '| face-region RMS distance between the two fitted meshes: mean / max |',
    '|---|---|---|---|---|',
  );
  const diff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  say(
    `| landmark fit only (\`--no-photometric\`) | ${pct(lmNmes[0])} | ${pct(lmNmes[1])} `
      + `| ${diff(lmNmes[0], lmNmes[1]).toFixed(3)} points of % `
      + `| ${mean(lmMeshDiff).toFixed(3)} / ${Math.max(...lmMeshDiff).toFixed(3)} mm |`,
  );
  say(
    `| with the photometric fit (default) | ${pct(nmes[0])} | ${pct(nmes[1])} `
      + `| ${diff(nmes[0], nmes[1]).toFixed(3)} points of % `
      + `| ${mean(meshDiff).toFixed(3)} / ${Math.max(...meshDiff).toFixed(3)} mm |`,
  );
  say('', `load average at end: ${load()}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

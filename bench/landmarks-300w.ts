/**
 * The landmarkers side by side on the validation split of ../shared/data/train-300w (the photos held out
 * from training by `morphable train landmarks`, seed 15): the whole pipeline (detector on the 256-px
 * crop, landmark passes) per face, NME against the .pts (minus 1), faces missed, and NME by head yaw,
 * the yaw read from a landmark fit of the model to the ground-truth points. Also the time of the landmark
 * passes alone per face (detect() minus the detector), median after warm-up, one thread.
 *
 *   npx tsx bench/landmarks-300w.ts [--landmark-net FILE] [--data DIR]
 */
import { readFileSync } from 'node:fs';
import type { FaceLandmarker } from '../src/detect/face.js';
import { PhotoFitter } from '../src/fit/fit-photo.js';
import { landmarkNme } from '../src/fit/fit-result.js';
import { decodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker, type NodeLandmarkerOptions } from '../src/io/node/face-landmarker.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import { matchDetection, mean, median } from './faces68.js';

const YAW_BINS = [
  [0, 30],
  [30, 60],
  [60, 90],
] as const;

export async function landmarks300wBench(dataDir: string, landmarkNetFile?: string): Promise<string> {
  const { faces } = await loadLandmarkDataset(dataDir);
  const validation = splitByPhoto(faces, { seed: 15 }).validation;
  const model = decodeModel(new Uint8Array(readFileSync(embeddedModelPath())), 'ict-facekit-face-head');
  const fitter = new PhotoFitter(model);
  const yaw = validation.map((face) => {
    const photo = { name: face.name, image: face.image, width: face.image.width, height: face.image.height, scale: 1 };
    return Math.abs(fitter.fit(photo, { landmarks: face.landmarks }, 0, { photometric: false }).report.pose.yaw);
  });
  const variants: Array<{ label: string; options: NodeLandmarkerOptions }> = [
    { label: 'own net (300-W), 2 passes', options: { landmarker: 'net', landmarkNetFile } },
    { label: 'face-api full net, refine pass', options: { landmarker: 'face-api' } },
  ];
  const rows: string[] = [];
  for (const variant of variants) {
    const landmarker: FaceLandmarker = await createNodeLandmarker(variant.options);
    try {
      for (let i = 0; i < 3; i++) await landmarker.detect(validation[i].image);
      const errors: number[] = [];
      const byYaw: number[][] = YAW_BINS.map(() => []);
      const ms: number[] = [];
      let missed = 0;
      for (const [i, face] of validation.entries()) {
        const detections = await landmarker.detect(face.image);
        const match = matchDetection(detections, face.landmarks);
        if (!match) {
          missed++;
          continue;
        }
        const e = landmarkNme(match.landmarks, face.landmarks);
        errors.push(e);
        const bin = YAW_BINS.findIndex(([, hi]) => yaw[i] < hi);
        byYaw[bin < 0 ? YAW_BINS.length - 1 : bin].push(e);
        const start = performance.now();
        await landmarker.track(face.image, match.landmarks);
        ms.push(performance.now() - start);
      }
      const bins = byYaw.map((b) => (b.length ? `${mean(b).toFixed(2)} (${b.length})` : '–'));
      const row =
        `| ${variant.label} | ${mean(errors).toFixed(2)} | ${median(errors).toFixed(2)} | ${bins.join(' | ')} `
        + `| ${missed} | ${median(ms).toFixed(1)} ms |`;
      console.log(`  ${row}`);
      rows.push(row);
    } finally {
      landmarker.dispose();
    }
  }
  return [
    `${validation.length} validation faces of train-300w (photos held out by seed 15; never trained on), each `
      + 'a 256-px crop. NME: mean point distance / outer-eye-corner distance, %. Yaw: |yaw| of the embedded model '
      + 'fitted to the ground truth. One landmark pass: `track()` on the face, median; a face costs two passes.',
    '',
    '| landmarker | NME mean | NME median | mean NME, yaw 0–30° (faces) | 30–60° | 60–90° | missed | one pass |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (process.argv[1]?.endsWith('landmarks-300w.ts') || process.argv[1]?.endsWith('landmarks-300w.js')) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  console.log(await landmarks300wBench(option('--data') ?? '../shared/data/train-300w', option('--landmark-net')));
}

/**
 * Issue 18's measures of the learned colour model in the fit:
 * - synthetic ICT-FaceKit faces rendered with held-out learned albedos (the albedo dataset's validation faces:
 *   their de-lit albedo where the photo saw it, the colour model's prediction elsewhere), fitted by the default
 *   pipeline (detector, landmark net, landmark fit from the regressor, photometric stage) without and with the
 *   colour model, and with the identity held to the embedding's (the fit's default): NoW-style 3D error against
 *   the mean face's;
 * - faces-68, fitted to the ground-truth landmarks then photometric (and by the whole default fit): image RMSE,
 *   fitted-landmark NME, time, and how many fits leave the plausible shapes (identity RMS above the quality
 *   gate's 'good' bound).
 *
 * `npm run bench` runs it when training/albedo exists; alone:
 * node dist/bench/color-model.js [albedo dir (training/albedo)] [colour model (the shipped one)] [faces (12)].
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  embeddingIdentityOptions,
  PHOTO_MAX_SIDE,
  type Photo,
  PhotoFitter,
  projectLandmarks,
} from '../src/fit/fit-photo.js';
import { QUALITY_BOUNDS } from '../src/fit/fit-quality.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { type PhotometricFitOptions, PhotometricFitter } from '../src/fit/photometric-fit.js';
import { decodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import { loadImage } from '../src/io/node/image.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../src/io/node/identity-predictor.js';
import { embeddedModelPath, shippedColorModelPath } from '../src/io/node/model-paths.js';
import { loadColorModelFile } from '../src/io/node/color-model.js';
import { withColorModel } from '../src/io/color-model-file.js';
import { type AlbedoDataset, readAlbedoDataset } from '../src/learn/albedo-data.js';
import { loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import {
  buildEvaluationSet,
  cachedVariant,
  evaluateVariants,
  formatEvaluation,
  meanFaceVariant,
  pipelineVariant,
  wholePipelineVariant,
} from '../src/learn/synthetic-evaluation.js';
import { linearToSrgb } from '../src/model/color.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { ColorModel, MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import { projectWeighted, reconstruct } from '../src/model/weighted-pca.js';
import { annotatedFaces, mean, median, nme } from './faces68.js';
import { writeResultsSection } from './results-file.js';

export const COLOR_MODEL_HEADING = '## Colour model learned from photos, in the fit (issue 18)';

export interface ColorModelBenchOptions {
  /** The albedo dataset whose validation faces skin the synthetic faces (morphable train albedo). */
  albedoDir: string;
  /** The learned colour model of the shipped ICT model (default models/color-model-300w.bin). */
  colorModelPath?: string;
  /** Synthetic faces (default 12, 4 per |yaw| bin). */
  perModel?: number;
  log?: (line: string) => void;
}

/**
 * The validation faces' albedos as sRGB 0–255 textures of the face region: seen entries blended with the
 * colour model's prediction by their confidence (w·observed + (1 − w)·predicted).
 */
export function heldOutTextures(dataset: AlbedoDataset, color: ColorModel): Float32Array[] {
  const V = dataset.header.vertices,
    d = 3 * V;
  const index = new Map(dataset.header.faces.map((f, i) => [f.name, i]));
  const sample = new Float32Array(d),
    weight = new Float32Array(d),
    predicted = new Float32Array(d);
  return dataset.header.split.validation.map((name) => {
    const f = index.get(name)!;
    sample.set(dataset.albedo.subarray(f * d, (f + 1) * d));
    for (let j = 0; j < d; j++) weight[j] = dataset.weight[f * V + Math.floor(j / 3)];
    reconstruct(color, projectWeighted(color, sample, weight), predicted);
    const texture = new Float32Array(d);
    for (let j = 0; j < d; j++) {
      const a = weight[j] * sample[j] + (1 - weight[j]) * predicted[j];
      texture[j] = 255 * linearToSrgb(Math.min(1, Math.max(0, a)));
    }
    return texture;
  });
}

const identityRms = (identity: ArrayLike<number>) => {
  let s = 0;
  for (let k = 0; k < identity.length; k++) s += identity[k] * identity[k];
  return Math.sqrt(s / Math.max(1, identity.length));
};

export async function colorModelBench(shared: string, options: ColorModelBenchOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const start = performance.now(),
    load = loadavg()[0];
  const ict = decodeModel(new Uint8Array(readFileSync(embeddedModelPath())), 'ict-facekit-face-head');
  const colorModelPath = options.colorModelPath ?? shippedColorModelPath();
  const colored = withColorModel(ict, await loadColorModelFile(colorModelPath), colorModelPath);
  const dataset = await readAlbedoDataset(options.albedoDir);
  const color = submodel(colored, dataset.vertexIds).color!;
  const textures = heldOutTextures(dataset, color);
  const { faces } = await loadLandmarkDataset(join(shared, 'data/train-300w'));
  const validation = splitByPhoto(faces, { seed: 15 }).validation;
  const set = buildEvaluationSet(ict, undefined, {
    perModel: options.perModel ?? 12,
    size: 288,
    appearance: {
      faces: [],
      backgrounds: validation.slice(24, 64).map((f) => f.image),
      name: `${textures.length} held-out learned albedos, backgrounds from 40 train-300w validation photos`,
      ictTextures: textures,
    },
  });
  const landmarker = await createNodeLandmarker({ regressor: { model: ict } });
  const predictor = await loadIdentityPredictor();
  const lines: string[] = [];
  try {
    const landmarkFit = cachedVariant(pipelineVariant(new PhotoFitter(ict), landmarker, 'landmark fit'));
    const variants = [
      landmarkFit,
      meanFaceVariant(landmarkFit, ict),
      pipelineVariant(new PhotoFitter(ict), landmarker, 'photometric, no colour model (per-vertex albedo)', {
        photometric: true,
      }),
      wholePipelineVariant(
        new PhotoFitter(colored),
        landmarker,
        'photometric, colour model as the albedo prior (`--identity landmarks`)',
      ),
      wholePipelineVariant(
        new PhotoFitter(colored),
        landmarker,
        "photometric, colour model as the albedo prior, identity held to the embedding's (default)",
        predictor,
      ),
      pipelineVariant(new PhotoFitter(colored), landmarker, 'photometric, colour model by Levenberg–Marquardt', {
        photometric: true,
        photometricOptions: { colourModelUse: 'lm' },
      }),
    ];
    const report = await evaluateVariants(set, ict, variants, log);
    lines.push(
      `### Synthetic faces with held-out learned albedos (${set.faces.length} ICT-FaceKit faces, `
        + `${set.size}×${set.size} px, seeds from 1600; ${set.appearance})`,
      '',
      'The default pipeline (detector, landmark net, `--init auto`), then the stage named. 3D error: NoW-style '
        + 'median over faces of the per-face median distance (mm), as in the cross-model table.',
      '',
      formatEvaluation(report),
    );
  } finally {
    landmarker.dispose();
  }

  // faces-68: the ground-truth landmarks, then the photometric stage with and without the colour model.
  const rows: string[] = [];
  const variants: [string, PhotometricFitter, MorphableModel, PhotometricFitOptions][] = [
    ['no colour model (per-vertex albedo)', new PhotometricFitter(ict), ict, {}],
    ['colour model as the albedo prior (`--identity landmarks`)', new PhotometricFitter(colored), colored, {}],
    ['colour model by Levenberg–Marquardt', new PhotometricFitter(colored), colored, { colourModelUse: 'lm' }],
  ];
  const landmarkFitter = new LandmarkFitter(ict);
  const photos = annotatedFaces(join(shared, 'data/faces-68'));
  const results = variants.map(() => ({ rmse: [] as number[], nme: [] as number[], ms: [] as number[], wild: 0 }));
  const before: number[] = [],
    nmeBefore: number[] = [];
  // The whole default fit (`morphable fit --landmarks`): the identity held to the embedding's, colour model prior.
  const defaultFitter = new PhotoFitter(colored);
  const byDefault = { rmse: [] as number[], nme: [] as number[], ms: [] as number[], wild: 0 };
  for (const f of photos) {
    const photo = await loadImage(f.image, { maxSide: PHOTO_MAX_SIDE });
    const whole: Photo = {
      name: f.name,
      image: photo.image,
      width: photo.originalWidth,
      height: photo.originalHeight,
      scale: photo.scale,
    };
    const t = performance.now();
    const face = { landmarks: f.landmarks };
    const fit = defaultFitter.fit(whole, face, 0, {
      photometric: true,
      ...embeddingIdentityOptions(predictor, colored, whole, face),
    });
    byDefault.ms.push(performance.now() - t);
    byDefault.rmse.push(fit.photometric!.rmseAfter);
    byDefault.nme.push(nme(fit.fittedLandmarks, f.landmarks));
    if (identityRms(fit.report.identity) > QUALITY_BOUNDS.identity[0]) byDefault.wild++;
    const lfit = landmarkFitter.fit(f.landmarks, photo.originalWidth, photo.originalHeight);
    nmeBefore.push(nme(lfit.fittedLandmarks, f.landmarks));
    variants.forEach(([name, fitter, model, fitOptions], k) => {
      const t = performance.now();
      const pfit = fitter.fit(photo.image, photo.scale, f.landmarks, lfit, fitOptions);
      results[k].ms.push(performance.now() - t);
      if (k === 0) before.push(pfit.rmseBefore);
      const shape = evaluateShape(model, pfit.identity, pfit.expression);
      results[k].rmse.push(pfit.rmseAfter);
      results[k].nme.push(nme(projectLandmarks(model, shape, lfit.landmarkVertices, pfit.camera), f.landmarks));
      if (identityRms(pfit.identity) > QUALITY_BOUNDS.identity[0]) results[k].wild++;
      log(`${f.name} ${name}: RMSE ${pfit.rmseAfter.toFixed(4)}, ${Math.round(results[k].ms.at(-1)!)} ms`);
    });
  }
  disposeIdentityPredictor(predictor);
  const row = (name: string, r: typeof byDefault) =>
    `| ${name} | **${mean(r.rmse).toFixed(4)}** | ${mean(r.nme).toFixed(2)}% `
    + `| ${(median(r.ms) / 1000).toFixed(2)} s | ${r.wild} of ${photos.length} |`;
  rows.push(
    `| landmark fit only | ${mean(before).toFixed(4)} | ${mean(nmeBefore).toFixed(2)}% | | |`,
    ...variants.map(([name], k) => row(name, results[k])),
    row(
      "colour model as the albedo prior, identity held to the embedding's (the fit's default, `--identity auto`; "
        + 'time includes the embedding)',
      byDefault,
    ),
  );
  lines.push(
    `### faces-68 with and without the colour model (${photos.length} faces, fitted to the ground-truth landmarks)`,
    '',
    `| photometric stage | RMSE (sRGB 0–1), mean | fitted NME, mean | time per face, median `
      + `| identity RMS > ${QUALITY_BOUNDS.identity[0]} (implausible) |`,
    '|---|---|---|---|---|',
    ...rows,
    '',
    `Whole run ${((performance.now() - start) / 1000).toFixed(0)} s (${cpus()[0]?.model ?? 'unknown CPU'}, `
      + `load average ${load.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end).`,
    '',
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const [albedoDir = join(root, 'training/albedo'), colorModelPath, faces = '12'] = process.argv.slice(2);
  const shared = join(root, '../shared');
  const load = loadavg()[0];
  const text = await colorModelBench(shared, {
    albedoDir,
    colorModelPath,
    perModel: Number(faces),
    log: (l) => console.error(l),
  });
  console.log(text);
  const note =
    `Run alone (\`node dist/bench/color-model.js\`) on ${new Date().toISOString().slice(0, 10)}: `
    + `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; load average `
    + `${load.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end. The synthetic faces are skinned with `
    + "the albedo dataset's validation faces' learned albedos, which the colour model never saw; faces-68 is for "
    + 'reporting only (the prior was tuned on train-300w validation faces).';
  writeResultsSection(COLOR_MODEL_HEADING, `${note}\n\n${text}`);
}

/**
 * `npm run bench`: load, import and evaluation timings on the real models in ../shared.
 * Prints medians and rewrites bench/RESULTS.md. Targets live here, never in timed tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateShape, evaluateVertices } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { sampleCoefficients } from '../src/model/sample.js';
import { detectionBench } from './detection.js';
import { fittingBench } from './fitting.js';
import { photometricBench } from './photometric.js';
import { landmarks300wBench } from './landmarks-300w.js';
import { crossModelBench } from './cross-model.js';
import { webBench } from './web.js';
import { batchRuns, batchTable } from './batch-fit.js';
import { SERVE_LOAD_HEADING, serveLoadBench } from './serve-load.js';
import { COLOR_DECODER_HEADING, colorDecoderBench } from './color-decoder.js';
import { COLOR_MODEL_HEADING, colorModelBench } from './color-model.js';
import { shippedColorModelPath } from '../src/io/node/model-paths.js';
import { readResultsSection } from './results-file.js';
import { calibrateLandmarks, type LandmarkCalibration } from '../src/fit/landmark-calibration.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shared = join(root, '../shared');
const ictArchive = join(shared, 'models/ict-facekit.tar.xz');
const sfmFolder = join(shared, 'models/sfm');

interface Row {
  what: string;
  median: string;
  runs: number;
  note?: string;
}
const rows: Row[] = [];
// The machine's load beside every figure: the same code reads 2× slower while another suite runs.
const loadAtStart = loadavg()[0];
const sections: string[] = [];

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median milliseconds of `runs` calls after `warmup` unmeasured ones. */
async function time(runs: number, warmup: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

function record(what: string, ms: number, runs: number, note?: string): void {
  const median =
    ms >= 100 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`;
  rows.push({ what, median, runs, note });
  console.log(`${what.padEnd(58)} ${median.padStart(10)}  (median of ${runs})${note ? `  ${note}` : ''}`);
}

async function evaluationRate(model: MorphableModel, label: string): Promise<void> {
  const random = new SeededRandom(1);
  const c = sampleCoefficients(model, random, { expression: true });
  c.expression.fill(0.1); // every blendshape active: the worst case
  const out = new Float32Array(model.mean.length);
  const ms = await time(30, 5, () => evaluateShape(model, c.identity, c.expression, out));
  record(
    `evaluate ${label} (${model.vertexCount} vertices, ${model.identity.count}+${model.expression.count} components)`,
    ms,
    30,
    `${Math.round(1000 / ms)} evaluations/s`,
  );
  const landmarks = model.landmarks.ibug68.vertices;
  const lm = new Float32Array(3 * landmarks.length);
  const lmMs = await time(2000, 200, () => evaluateVertices(model, landmarks, c.identity, c.expression, lm));
  record(`evaluate ${label}: 68 landmark vertices only`, lmMs, 2000);
}

if (!existsSync(ictArchive) || !existsSync(sfmFolder)) {
  console.error(`bench: needs the models in ${shared} (ICT-FaceKit archive and the Surrey model)`);
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'morphable-bench-'));
try {
  let full!: MorphableModel;
  let faceHead!: MorphableModel;
  record(
    'ICT import from .tar.xz (OBJ parsing, full head)',
    await time(3, 0, async () => {
      full = await importModel(ictArchive, { region: 'full' });
    }),
    3,
  );
  execFileSync('tar', ['-xJf', ictArchive, '-C', scratch]);
  record(
    'ICT import from extracted folder (face + head)',
    await time(3, 0, async () => {
      faceHead = await importModel(join(scratch, 'FaceXModel'));
    }),
    3,
  );

  for (const [label, model] of [
    ['ICT face+head', faceHead],
    ['ICT full head', full],
  ] as const) {
    const file = join(scratch, `${label}.glb`);
    writeFileSync(file, await encodeModel(model));
    const size = (readFileSync(file).length / 1e6).toFixed(1);
    record(
      `native .glb load, ${label} (${size} MB, read + decode)`,
      await time(20, 3, () => decodeModel(readFileSync(file), file)),
      20,
    );
  }
  record('native .glb encode, ICT face+head', await time(5, 1, () => encodeModel(faceHead)), 5);

  await evaluationRate(faceHead, 'ICT face+head');
  await evaluationRate(full, 'ICT full head');

  let sfm!: MorphableModel;
  record(
    'Surrey model import (eos .bin files)',
    await time(10, 2, async () => {
      sfm = await importModel(sfmFolder);
    }),
    10,
  );
  await evaluationRate(sfm, 'SFM');

  console.log('\nface detection and landmarks (faces-68)');
  sections.push('## Face detection and 68 landmarks', '', await detectionBench(shared), '');
  console.log('\nlandmarks on the train-300w validation split');
  sections.push(
    '## Landmarks on the train-300w validation split',
    '',
    await landmarks300wBench(join(shared, 'data/train-300w')),
    '',
  );
  console.log('\nlandmark fitting (ICT face+head)');
  console.log('\nlandmark calibration (ICT face+head)');
  const landmarker = await createNodeLandmarker();
  let calibration!: LandmarkCalibration;
  record(
    'landmark calibration to the landmarker (40 renders + landmarks)',
    await time(1, 0, async () => {
      calibration = await calibrateLandmarks(faceHead, landmarker);
    }),
    1,
    `${calibration!.used} renders used, mean offset ${calibration!.meanOffset.toFixed(1)} mm`,
  );
  landmarker.dispose();
  const calibrated: MorphableModel = {
    ...faceHead,
    landmarks: { ...faceHead.landmarks, ibug68: { ...faceHead.landmarks.ibug68, offsets: calibration.offsets } },
  };
  sections.push(
    '## Landmark fitting',
    '',
    await fittingBench(faceHead, calibrated, join(shared, 'data/faces-68'), (line) => console.log(`  ${line}`)),
  );

  console.log('\nrenderer and photometric fitting');
  sections.push(
    '## Renderer and photometric fitting',
    '',
    await photometricBench(calibrated, faceHead, join(shared, 'data/faces-68'), (line) => console.log(`  ${line}`)),
  );

  console.log('\ncross-model 3D error and pose (held-out synthetic faces)');
  sections.push(
    '## Cross-model 3D error and pose (held-out synthetic faces)',
    '',
    await crossModelBench(shared, { log: (line) => console.log(`  ${line}`) }),
  );

  console.log('\nmany photos: fit DIR --jobs N');
  const batch = batchRuns(join(shared, 'data/faces-68'), [1, 2], (line) => console.log(`  ${line}`));
  sections.push(
    '## Many photos: `fit DIR --jobs N` on faces-68',
    '',
    'The CLI as a user runs it (start-up, decoding, worker threads, JSON outputs only), each stage with --jobs 1',
    'and 2 one after the other in this run. Peak memory: the whole process, workers included.',
    '',
    batchTable(batch),
    '',
  );

  console.log('\nHTTP service under load (morphable serve)');
  sections.push(SERVE_LOAD_HEADING, '', await serveLoadBench({ log: (line) => console.log(`  ${line}`) }));

  console.log('\nweb app in Chromium');
  sections.push(
    '## Web app in Chromium',
    '',
    "Default landmarker (the project's net):",
    '',
    await webBench(calibrated, join(shared, 'data/faces-68/300w_outdoor_002.png'), (line) => console.log(`  ${line}`)),
    "face-api's landmarker (`?landmarker=face-api`):",
    '',
    await webBench(
      calibrated,
      join(shared, 'data/faces-68/300w_outdoor_002.png'),
      (line) => console.log(`  ${line}`),
      '?landmarker=face-api',
    ),
  );

  // About 20 minutes (the Levenberg–Marquardt variant is most of it): when an albedo dataset was made.
  const albedoData = join(root, 'training/albedo');
  if (existsSync(join(albedoData, 'albedo.json')) && existsSync(shippedColorModelPath())) {
    console.log('\ncolour model learned from photos');
    sections.push(
      COLOR_MODEL_HEADING,
      '',
      await colorModelBench(shared, { albedoDir: albedoData, log: (line) => console.log(`  ${line}`) }),
    );
  }

  // About 25 minutes per latent size on one core (the MLP, UV and mesh decoders, the joint MLP and mesh decoders;
  // four sizes by default): only when asked (BENCH_COLOR_DECODER=1) and an albedo dataset was made (morphable
  // train albedo --out training/albedo).
  const albedo = join(root, 'training/albedo');
  if (process.env.BENCH_COLOR_DECODER && existsSync(join(albedo, 'albedo.json'))) {
    console.log('\ncolour decoder against PCA');
    sections.push(
      COLOR_DECODER_HEADING,
      '',
      await colorDecoderBench(albedo, { log: (line) => console.log(`  ${line}`) }),
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

// Sections that run only when asked (or with data made by hand) stay as their last run left them.
for (const heading of [COLOR_MODEL_HEADING, COLOR_DECODER_HEADING]) {
  const kept = sections.includes(heading) ? undefined : readResultsSection(heading);
  if (kept) sections.push(kept, '');
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const load = `load average ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end`;
const lines = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: `
    + `${cpu}, ${cpus().length} cores, Node ${process.version}; ${load}.`,
  'Medians after warm-up (imports are measured cold, without warm-up). Models are read from ../shared.',
  '',
  '## Models: import, load, evaluation',
  '',
  '| what | median | runs | note |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.what} | ${r.median} | ${r.runs} | ${r.note ?? ''} |`),
  '',
  'Target: native ICT model load < 300 ms.',
  '',
  ...sections,
];
writeFileSync(join(root, 'bench/RESULTS.md'), lines.join('\n'));
console.log('\nwrote bench/RESULTS.md');

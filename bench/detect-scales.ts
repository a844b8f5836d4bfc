/**
 * Faces missed at every scale: the detector before (TinyFaceDetector at 416 and 224 px on a copy shrunk
 * to 416 px, as face-api-landmarker.ts did up to issue 15) and after (detect/face-api-detector.ts, the
 * image pyramid), on canvases composed here from ../shared/data/train-300w crops (nothing is written to
 * disk), on face-api's demo photos and on every train-300w crop.
 *
 *   node dist/bench/detect-scales.js [--step N]    (every Nth train-300w crop in the last table; default 1)
 *
 * A face counts as found when a detection overlaps its ground-truth landmark box with IoU > 0.3. A crop
 * of side 2s holds a face whose landmark box has side s (the crops' recipe), so "a 300-px face" is a crop
 * resized to 600 px.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TfCore from '@tensorflow/tfjs-core';
import sharp, { type Sharp } from 'sharp';
import {
  createFaceApiDetector,
  type FaceApiModule,
  type FaceDetector,
  type FoundFace,
  loadFaceApiWeights,
  overlap,
  type Tf,
} from '../src/detect/face-api-detector.js';
import type { FaceBox } from '../src/detect/face.js';
import { landmarkBox } from '../src/detect/face-crop.js';
import { projectPoints } from '../src/geometry/projection.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { SeededRandom } from '../src/model/random.js';
import { renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { parsePts } from '../src/io/pts.js';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const crops = join(root, '../shared/data/train-300w');
const demo = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');

interface Canvas {
  width: number;
  height: number;
  data: Uint8Array;
}

interface Case {
  name: string;
  canvas: Canvas;
  faces: FaceBox[];
}

/** The landmark box of a train-300w crop, in its 256 px. */
function cropLandmarkBox(name: string): FaceBox {
  return faceBox(parsePts(readFileSync(join(crops, `${name}.pts`), 'utf8'), `${name}.pts`));
}

/** The bounding box of 68 points as a FaceBox. */
function faceBox(points: Float32Array): FaceBox {
  const b = landmarkBox(points);
  return { x: b.minX, y: b.minY, width: b.maxX - b.minX, height: b.maxY - b.minY };
}

/** How far the nose tip (31) sits from the outer eye corners' midpoint (37, 46), in inter-ocular distances. */
function yawRatio(name: string): number {
  const p = parsePts(readFileSync(join(crops, `${name}.pts`), 'utf8'), `${name}.pts`);
  const iod = Math.hypot(p[90] - p[72], p[91] - p[73]);
  return (p[60] - (p[72] + p[90]) / 2) / iod;
}

async function rgb(input: Sharp): Promise<Canvas> {
  const { data, info } = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[3 * i + c] = data[i * info.channels + (info.channels === 3 ? c : 0)];
  }
  return { width: info.width, height: info.height, data: out };
}

/** Blotchy grey noise: Gaussian noise at 1/16 of the size, enlarged. */
async function noiseCanvas(width: number, height: number): Promise<Canvas> {
  const w = Math.ceil(width / 16),
    h = Math.ceil(height / 16);
  const random = new SeededRandom(width * 7 + height);
  const small = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const v = Math.max(0, Math.min(255, 128 + 40 * random.normal()));
    small[3 * i] = small[3 * i + 1] = small[3 * i + 2] = v;
  }
  return rgb(sharp(small, { raw: { width: w, height: h, channels: 3 } }).resize(width, height, { kernel: 'cubic' }));
}

/** Pastes crop `name` resized so that its face has side `face` px, at (`left`, `top`); its face box. */
async function paste(canvas: Canvas, name: string, face: number, left: number, top: number, grey = false) {
  const side = Math.round(2 * face);
  let image = sharp(join(crops, `${name}.jpg`)).resize(side, side);
  if (grey) image = image.grayscale();
  const crop = await rgb(image);
  for (let y = 0; y < side; y++) {
    const cy = top + y;
    if (cy < 0 || cy >= canvas.height) continue;
    for (let x = 0; x < side; x++) {
      const cx = left + x;
      if (cx < 0 || cx >= canvas.width) continue;
      for (let c = 0; c < 3; c++) canvas.data[3 * (cy * canvas.width + cx) + c] = crop.data[3 * (y * side + x) + c];
    }
  }
  const box = cropLandmarkBox(name);
  const k = side / 256;
  return {
    x: left + (box.x + 0.5) * k - 0.5,
    y: top + (box.y + 0.5) * k - 0.5,
    width: box.width * k,
    height: box.height * k,
  };
}

/** `names.length` faces of side `face` in a row across a noise canvas. */
async function rowCase(name: string, width: number, height: number, face: number, names: string[], grey = false) {
  const canvas = await noiseCanvas(width, height);
  const faces: FaceBox[] = [];
  for (let i = 0; i < names.length; i++) {
    const left = Math.round(((i + 1) * width) / (names.length + 1) - face);
    const top = Math.round(height / 2 - face + ((i % 2) - 0.5) * face * 0.5);
    faces.push(await paste(canvas, names[i], face, left, top, grey));
  }
  return { name, canvas, faces };
}

/** One face whose landmark box is `fill` of the canvas's short side, centred. */
async function fillCase(name: string, width: number, height: number, fill: number, crop: string): Promise<Case> {
  const canvas = await noiseCanvas(width, height);
  const face = fill * Math.min(width, height);
  const box = await paste(canvas, crop, face, Math.round(width / 2 - face), Math.round(height / 2 - face));
  return { name, canvas, faces: [box] };
}

function found(detections: FoundFace[], faces: FaceBox[]): { hits: number; extra: number } {
  const hits = faces.filter((f) => detections.some((d) => overlap(d.box, f) > 0.3)).length;
  const extra = detections.filter((d) => !faces.some((f) => overlap(d.box, f) > 0.3)).length;
  return { hits, extra };
}

type Find = (image: TfCore.Tensor3D) => Promise<FoundFace[]>;

/** The detector as it was: TinyFaceDetector at 416 and 224 on a copy shrunk to 416 px. */
async function legacyDetector(faceapi: FaceApiModule, readModelFile: (f: string) => Promise<Uint8Array>) {
  const tf = faceapi.tf as unknown as Tf;
  const tiny = new faceapi.TinyFaceDetector();
  tiny.loadFromWeightMap(await loadFaceApiWeights(faceapi, readModelFile, 'tiny_face_detector_model'));
  const runs = [416, 224].map((size) => new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: 0.5 }));
  const find: Find = async (image) => {
    const [h, w] = image.shape;
    const k = Math.min(1, 416 / Math.max(w, h));
    const small =
      k < 1 ? tf.image.resizeBilinear(image, [Math.max(1, Math.round(h * k)), Math.max(1, Math.round(w * k))]) : image;
    try {
      const all: FoundFace[] = [];
      for (const options of runs) {
        for (const d of await tiny.locateFaces(small as never, options)) {
          const r = d.relativeBox;
          all.push({ box: { x: r.x * w, y: r.y * h, width: r.width * w, height: r.height * h }, score: d.score });
        }
      }
      all.sort((a, b) => b.score - a.score);
      return all.filter((f, i) => all.slice(0, i).every((g) => overlap(f.box, g.box) < 0.3));
    } finally {
      if (small !== image) small.dispose();
    }
  };
  return { find, dispose: () => tiny.dispose() };
}

async function main(): Promise<void> {
  const stepArg = process.argv.indexOf('--step');
  const step = stepArg > 0 ? Number(process.argv[stepArg + 1]) : 1;
  const verbose = process.argv.includes('--verbose');
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  const modelDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  const readModelFile = (f: string) => readFile(join(modelDir, f));
  const detector: FaceDetector = await createFaceApiDetector({ faceapi, readModelFile, wasmPaths: `${wasmDir}/` });
  const legacy = await legacyDetector(faceapi, readModelFile);
  const tf = faceapi.tf as unknown as Tf;
  const finders: Array<[string, Find]> = [
    ['before', legacy.find],
    ['after', (image) => detector.findFaces(image)],
  ];
  const tensor = (c: Canvas) => tf.tensor3d(c.data, [c.height, c.width, 3], 'int32');
  const timed = async (find: Find, image: TfCore.Tensor3D) => {
    const start = performance.now();
    const detections = await find(image);
    return { detections, ms: performance.now() - start };
  };
  const load = () => loadavg()[0].toFixed(1);
  console.log(`load average at start ${load()}`);

  const names = readdirSync(crops)
    .filter((f) => f.endsWith('.jpg'))
    .map((f) => f.slice(0, -4))
    .sort();
  const pick = (i: number) => names[(i * 397) % names.length];
  const byYaw = names.map((n) => ({ n, r: Math.abs(yawRatio(n)) })).sort((a, b) => b.r - a.r);
  const turned = byYaw.filter((f) => f.r > 0.3).map((f) => f.n);
  const greyNames = Array.from({ length: 30 }, (_, i) => pick(i + 100));

  // Warm-up.
  {
    const warm = tensor(await rgb(sharp(join(demo, 'sample1.jpg'))));
    for (const [, find] of finders) await find(warm);
    warm.dispose();
  }

  const cases: Array<() => Promise<Case>> = [
    () => rowCase('3 × 300-px faces, 5760×3840', 5760, 3840, 300, [pick(1), pick(2), pick(3)]),
    () => rowCase('3 × 300-px faces, 3000×2000', 3000, 2000, 300, [pick(4), pick(5), pick(6)]),
    () => rowCase('1 × 150-px face, 2606×1736', 2606, 1736, 150, [pick(7)]),
    () => rowCase('3 × 83-px faces, 1600×1067 (the CLI copy of 5760)', 1600, 1067, 83, [pick(1), pick(2), pick(3)]),
    () => fillCase('1 face filling 90 %, 640×640', 640, 640, 0.9, pick(8)),
    () => fillCase('1 face filling 90 % of the height, 1600×1200', 1600, 1200, 0.9, pick(9)),
    () => fillCase('1 face filling 60 %, 800×600', 800, 600, 0.6, pick(10)),
    () => rowCase('3 × 300-px grey faces, 3000×2000', 3000, 2000, 300, [pick(11), pick(12), pick(13)], true),
    () => rowCase('1 × 200-px face, 1600×1067', 1600, 1067, 200, [pick(14)]),
  ];
  console.log('\n| case | found before | found after | false before | false after | ms before | ms after |');
  console.log('|---|---|---|---|---|---|---|');
  for (const make of cases) {
    const c = await make();
    const image = tensor(c.canvas);
    const cells: string[] = [];
    const ms: string[] = [];
    const extra: string[] = [];
    for (const [, find] of finders) {
      const r = await timed(find, image);
      const f = found(r.detections, c.faces);
      if (verbose) for (const d of r.detections) console.log(`  ${d.score.toFixed(2)} ${JSON.stringify(d.box)}`);
      cells.push(`${f.hits}/${c.faces.length}`);
      extra.push(String(f.extra));
      ms.push(r.ms.toFixed(0));
    }
    image.dispose();
    if (verbose) console.log(`  truth ${JSON.stringify(c.faces)}; ${tf.memory().numTensors} tensors`);
    console.log(`| ${c.name} | ${cells.join(' | ')} | ${extra.join(' | ')} | ${ms.join(' | ')} |`);
  }

  // Sets of crops, each crop a photo of its own: grey crops, turned faces, turned faces small in a big photo.
  const sets: Array<{ name: string; list: string[]; make: (n: string) => Promise<Case> }> = [
    {
      name: `${greyNames.length} train-300w crops in grey, 256 px`,
      list: greyNames,
      make: async (n) => ({
        name: n,
        canvas: await rgb(sharp(join(crops, `${n}.jpg`)).grayscale()),
        faces: [cropLandmarkBox(n)],
      }),
    },
    {
      name: `${turned.length} turned train-300w crops (nose tip > 0.3 IOD off the eyes' middle), 256 px`,
      list: turned,
      make: async (n) => ({ name: n, canvas: await rgb(sharp(join(crops, `${n}.jpg`))), faces: [cropLandmarkBox(n)] }),
    },
    {
      name: `${Math.min(20, turned.length)} most turned crops as 150-px faces in 1600×1067`,
      list: turned.slice(0, 20),
      make: (n) => rowCase(n, 1600, 1067, 150, [n]),
    },
  ];
  console.log(
    '\n| set | found before | found after | false before | false after | median ms before | median ms after |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const set of sets) {
    const hits = [0, 0],
      extra = [0, 0];
    const ms: number[][] = [[], []];
    for (const n of set.list) {
      const c = await set.make(n);
      const image = tensor(c.canvas);
      for (let k = 0; k < finders.length; k++) {
        const r = await timed(finders[k][1], image);
        const f = found(r.detections, c.faces);
        hits[k] += f.hits;
        extra[k] += f.extra;
        ms[k].push(r.ms);
      }
      image.dispose();
    }
    const medians = ms.map((m) => median(m).toFixed(0));
    console.log(`| ${set.name} | ${hits.join(' | ')} | ${extra.join(' | ')} | ${medians.join(' | ')} |`);
  }

  // Synthetic faces of the compact model shipped in models/ (random identity, light from the upper left),
  // rendered as 512-px portraits at growing yaw: the face is found when a detection overlaps the box of
  // its projected landmark vertices (IoU > 0.3).
  {
    const model = await loadModel(embeddedModelPath());
    const vertices = model.landmarks.ibug68?.vertices ?? [];
    const random = new SeededRandom(44);
    const light = shDirectionalLight([-0.4, 0.5, 0.8], [0.75, 0.75, 0.75], [0.35, 0.35, 0.35]);
    const yaws = [0, 30, 40, 44, 50, 60, 70];
    const people = 4;
    const identities = Array.from({ length: people }, () =>
      Float32Array.from({ length: model.identity.count }, () => random.normal()),
    );
    const expression = new Float32Array(model.expression.count);
    console.log(`\n| synthetic faces, ${people} people, 512 px | ${yaws.map((y) => `yaw ${y}°`).join(' | ')} |`);
    console.log(`|---|${yaws.map(() => '---').join('|')}|`);
    const rows = finders.map(() => [] as number[]);
    for (const yaw of yaws) {
      const hits = finders.map(() => 0);
      for (const identity of identities) {
        const portrait = renderPortrait(model, identity, expression, light, { yaw, pitch: 0, roll: 0, size: 512 });
        const points = new Float32Array(3 * 68);
        for (let i = 0; i < 68; i++) {
          for (let c = 0; c < 3; c++) points[3 * i + c] = portrait.positions[3 * vertices[i] + c];
        }
        const projected = new Float32Array(136);
        projectPoints(portrait.camera, points, 68, projected);
        const truth = faceBox(projected);
        const image = tensor(portrait.image);
        for (let k = 0; k < finders.length; k++) {
          if (found(await finders[k][1](image), [truth]).hits > 0) hits[k]++;
        }
        image.dispose();
      }
      for (let k = 0; k < finders.length; k++) rows[k].push(hits[k]);
    }
    for (let k = 0; k < finders.length; k++) {
      console.log(`| ${finders[k][0]} | ${rows[k].map((h) => `${h}/${people}`).join(' | ')} |`);
    }
  }

  console.log('\n| face-api demo photo | faces before | faces after | ms before | ms after |');
  console.log('|---|---|---|---|---|');
  // At their own size, and shrunk to 1600 px as `morphable fit` decodes photos (PHOTO_MAX_SIDE).
  for (const photo of [1, 2, 3, 4, 5, 6].flatMap((i) => [
    { i, side: 0 },
    { i, side: 1600 },
  ])) {
    const i = photo.i;
    const decoded = sharp(join(demo, `sample${i}.jpg`));
    const image = tensor(await rgb(photo.side ? decoded.resize(photo.side, photo.side, { fit: 'inside' }) : decoded));
    const counts: number[] = [],
      ms: string[] = [];
    for (const [, find] of finders) {
      const times: number[] = [];
      let n = 0;
      for (let r = 0; r < 3; r++) {
        const t = await timed(find, image);
        times.push(t.ms);
        n = t.detections.length;
      }
      counts.push(n);
      ms.push(median(times).toFixed(0));
    }
    image.dispose();
    console.log(`| sample${i}.jpg (${image.shape[1]}×${image.shape[0]}) | ${counts.join(' | ')} | ${ms.join(' | ')} |`);
  }

  const all = names.filter((_, i) => i % step === 0);
  const missed = [0, 0];
  const missedNames: string[][] = [[], []];
  const ms: number[][] = [[], []];
  for (const n of all) {
    const image = tensor(await rgb(sharp(join(crops, `${n}.jpg`))));
    const box = cropLandmarkBox(n);
    for (let k = 0; k < finders.length; k++) {
      const r = await timed(finders[k][1], image);
      if (found(r.detections, [box]).hits === 0) {
        missed[k]++;
        missedNames[k].push(n);
      }
      ms[k].push(r.ms);
    }
    image.dispose();
  }
  console.log(`\ntrain-300w crops (${all.length}): missed before ${missed[0]}, after ${missed[1]}`);
  for (let k = 0; k < 2; k++) console.log(`missed ${finders[k][0]}: ${missedNames[k].join(' ')}`);
  console.log(`median ms per crop: before ${median(ms[0]).toFixed(0)}, after ${median(ms[1]).toFixed(0)}`);
  console.log(`load average at end ${load()}`);
  detector.dispose();
  legacy.dispose();
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

await main();

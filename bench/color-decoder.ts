/**
 * The nonlinear albedo decoders against the linear colour model (issue 18, item 3), on an albedo dataset
 * (`morphable train albedo`): for latent sizes k, the weighted PCA (learnColorModel's settings: EM-PCA, 95 %
 * of the variance, at most 40 components; k components of it) and two auto-decoders (src/learn/albedo-decoder.ts)
 * trained on the same training faces — the MLP, the UV-space convolutional decoder (uv-conv-network.ts, the
 * Nonlinear 3DMM's) and the mesh-convolution decoder (mesh-conv-network.ts, Zhou et al.'s) — all scored by
 * learnColorModel's protocol: each validation face
 * predicted from its even seen vertices, RMS error in 8-bit sRGB levels on its odd seen vertices, weighted by
 * confidence. With the faces' fitted identities in the dataset (header.faces[i].identity) also a joint
 * shape + albedo model: joint PCA of [identity; albedo] against joint decoders of the same k — the MLP on the
 * same rows, the mesh decoder on 6 channels per vertex (albedo and the identity's offset from the mean shape) —
 * a validation face's latent fitted to its shape and even albedo vertices; albedo scored as above, shape as the
 * face-region vertex RMS distance (mm) of the shape it gives back. Then decodes per second in Node and
 * Chromium (bench/decoder-rates.ts), and a picture of held-out reconstructions.
 *
 *   node dist/bench/color-decoder.js --data DIR [--k 5,10,20] [--epochs 60] [--no-browser] [--no-joint]
 *        [--no-uv] [--no-mesh] [--joint-k 10,20] [--seed 18] [--picture training/figures/color-decoder.png]
 *        [--private-picture FILE] [--no-write]
 *
 * Without --k: k = 5, 10, 20 and the PCA's 95 % count; with it, exactly the given ones.
 *
 * Alone it rewrites its section of bench/RESULTS.md; `BENCH_COLOR_DECODER=1 npm run bench` runs it on
 * training/albedo.
 */
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import sharp from 'sharp';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { type AlbedoDataset, readAlbedoDataset } from '../src/learn/albedo-data.js';
import {
  type AutoDecoderOptions,
  fitLatents,
  type LatentDecoder,
  normalisation,
  type TrainedAutoDecoder,
  trainAutoDecoder,
} from '../src/learn/albedo-decoder.js';
import { meshConvArchitecture, type MeshConvShape } from '../src/learn/mesh-conv-network.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { uvConvArchitecture, type UvConvShape } from '../src/learn/uv-conv-network.js';
import { linearToSrgb } from '../src/model/color.js';
import {
  decodeMesh,
  type MeshConvDecoder,
  MeshDecoderWorkspace,
  meshDecoderParameters,
} from '../src/model/mesh-conv-decoder.js';
import { type MeshHierarchy, meshHierarchy } from '../src/model/mesh-hierarchy.js';
import { decode, decoderParameters, type MlpDecoder } from '../src/model/mlp-decoder.js';
import type { ColorModel, MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import {
  bilinearSampling,
  decodeUv,
  type UvConvDecoder,
  UvDecoderWorkspace,
  uvDecoderParameters,
  vertexUvs,
} from '../src/model/uv-conv-decoder.js';
import { projectWeighted, reconstruct, weightedPca } from '../src/model/weighted-pca.js';
import { createRasterBuffers, interpolateAt, rasterize } from '../src/render/rasterize.js';
import { measureRates, type Rates, type RateShapes } from './decoder-rates.js';
import { writeResultsSection } from './results-file.js';
import { launchChromium } from '../test/helpers/web.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const COLOR_DECODER_HEADING = '## Colour decoder against PCA (issue 18)';
const HIDDEN = [128, 256];
/** The UV decoder: 8²×C → 16² → 32² → 64² (ELU), then RGB at 64² texels (chosen by measurement: bench/README.md). */
export const UV_SHAPE: UvConvShape = { base: 8, channels: [32, 32, 16, 8] };
/**
 * The mesh decoder: the face region's 9,409 vertices, then ¼, ¹⁄₁₆, ¹⁄₆₄ of them (2,352 → 588 → 147); 32 channels
 * on the coarsest level, 16 and 8 on the next two, Chebyshev order 3 (bench/README.md).
 */
export const MESH_SHAPE: MeshConvShape = { channels: [32, 16, 8], order: 3 };
const meshLevelSizes = (V: number) => [4, 16, 64].map((f) => Math.round(V / f));

export interface ColorDecoderOptions {
  ks?: number[];
  epochs?: number;
  browser?: boolean;
  joint?: boolean;
  /** The UV-space convolutional decoder beside the MLP (default true). */
  uv?: boolean;
  /** The mesh-convolution decoders, albedo and joint (default true). */
  mesh?: boolean;
  /** The decoders' seed (default 18). */
  seed?: number;
  /** Latent sizes of the joint comparison (default: all of ks). */
  jointKs?: number[];
  /** Reconstructions only (PCA | decoder per held-out face). */
  picture?: string;
  /** The same with the observed albedo beside them (derived from the photos: keep it out of the repository). */
  privatePicture?: string;
  log?: (line: string) => void;
}

interface Rows {
  faces: number[];
  data: Float32Array;
  weights: Float32Array;
}

/** Faces' albedo rows (3V) and their weights (one per channel). */
export function albedoRows(dataset: AlbedoDataset, names: string[]): Rows {
  const V = dataset.header.vertices,
    d = 3 * V;
  const index = new Map(dataset.header.faces.map((f, i) => [f.name, i]));
  const faces = names.map((n) => index.get(n)).filter((i): i is number => i !== undefined);
  const data = new Float32Array(faces.length * d),
    weights = new Float32Array(faces.length * d);
  faces.forEach((f, r) => {
    data.set(dataset.albedo.subarray(f * d, (f + 1) * d), r * d);
    for (let v = 0; v < V; v++) weights.fill(dataset.weight[f * V + v], r * d + 3 * v, r * d + 3 * v + 3);
  });
  return { faces, data, weights };
}

/** Keeps the weights of the albedo vertices of one parity (even: what a prediction sees; odd: scored). */
function parity(weights: Float32Array, d: number, offset: number, which: 0 | 1): Float32Array {
  const out = new Float32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const j = i % d;
    if (j < offset) out[i] = which === 0 ? weights[i] : 0;
    else out[i] = Math.floor((j - offset) / 3) % 2 === which ? weights[i] : 0;
  }
  return out;
}

const srgb = (x: number) => linearToSrgb(Math.min(1, Math.max(0, x)));

/** Weighted RMS in 8-bit sRGB levels of the albedo part (from `offset`) of m rows of d. */
function albedoRmse(pred: Float32Array, truth: Float32Array, weights: Float32Array, d: number, offset: number) {
  let sum = 0,
    total = 0;
  for (let i = 0; i < pred.length; i++) {
    if (i % d < offset) continue;
    const w = weights[i];
    if (w === 0) continue;
    const e = 255 * (srgb(pred[i]) - srgb(truth[i]));
    sum += w * e * e;
    total += w;
  }
  return Math.sqrt(sum / total);
}

function pcaPredict(model: ColorModel, k: number, data: Float32Array, given: Float32Array, m: number, d: number) {
  const out = new Float32Array(m * d);
  for (let f = 0; f < m; f++) {
    const rows = [f * d, (f + 1) * d] as const;
    const c = projectWeighted(model, data.subarray(...rows), given.subarray(...rows), { count: k });
    reconstruct(model, c, out.subarray(...rows));
  }
  return out;
}

/** The PCA's σ-unit coefficients of the training faces: where the decoder's latents start. */
function pcaLatents(model: ColorModel, k: number, data: Float32Array, weights: Float32Array, n: number, d: number) {
  const out = new Float32Array(n * k);
  for (let f = 0; f < n; f++) {
    const rows = [f * d, (f + 1) * d] as const;
    out.set(projectWeighted(model, data.subarray(...rows), weights.subarray(...rows), { count: k }), f * k);
  }
  return out;
}

function decoderPredict(trained: TrainedAutoDecoder, latents: Float32Array, m: number) {
  return predict(trained.decoder, latents, m, (z, out) => decode(trained.decoder, z, out));
}

function meshDecoderPredict(trained: TrainedAutoDecoder<MeshConvDecoder>, latents: Float32Array, m: number) {
  const workspace = new MeshDecoderWorkspace(trained.decoder);
  return predict(trained.decoder, latents, m, (z, out) => decodeMesh(trained.decoder, z, out, workspace));
}

function uvDecoderPredict(trained: TrainedAutoDecoder<UvConvDecoder>, latents: Float32Array, m: number) {
  const workspace = new UvDecoderWorkspace(trained.decoder);
  return predict(trained.decoder, latents, m, (z, out) => decodeUv(trained.decoder, z, out, workspace));
}

/**
 * An auto-decoder trained on the rows (learning rate 2e-3), then the m validation faces' latents fitted to
 * their `given` entries (300 Adam steps), with the seconds each took.
 */
function trainAndFit<D extends LatentDecoder = MlpDecoder>(
  tf: Awaited<ReturnType<typeof trainingTf>>,
  rows: { data: Float32Array; weights: Float32Array },
  validation: Float32Array,
  given: Float32Array,
  m: number,
  options: AutoDecoderOptions<D>,
) {
  const n = rows.data.length / (given.length / m),
    d = given.length / m;
  let start = performance.now();
  const trained = trainAutoDecoder<D>(tf, rows.data, rows.weights, n, d, { learningRate: 2e-3, ...options });
  const trainSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  const latents = fitLatents(tf, trained, validation, given, m, { steps: 300 });
  return { trained, latents, trainSeconds, fitSeconds: (performance.now() - start) / 1000 };
}

/** m faces decoded from their latents by `decodeOne`. */
function predict(
  decoder: { latent: number; offset: Float32Array },
  latents: Float32Array,
  m: number,
  decodeOne: (z: Float32Array, out: Float32Array) => void,
) {
  const k = decoder.latent,
    d = decoder.offset.length;
  const out = new Float32Array(m * d);
  for (let f = 0; f < m; f++) decodeOne(latents.subarray(f * k, (f + 1) * k), out.subarray(f * d, (f + 1) * d));
  return out;
}

interface JointScore {
  albedo: number;
  shapeMm: number;
}

interface Timed {
  trainSeconds: number;
  fitSeconds: number;
  parameters: number;
}

interface Result {
  k: number;
  pca: number;
  decoder: number;
  trainSeconds: number;
  fitSeconds: number;
  /** The UV-space convolutional decoder: RMSE and times, when run. */
  uv?: { error: number; trainSeconds: number; fitSeconds: number; parameters: number };
  /** The mesh-convolution decoder: RMSE and times, when run. */
  mesh?: { error: number; trainSeconds: number; fitSeconds: number; parameters: number };
  jointPca?: JointScore;
  /** The joint PCA with the identity block in the face region's metric (mm), as the mesh decoder's rows. */
  jointPcaMm?: JointScore;
  jointDecoder?: JointScore & Timed;
  jointMesh?: JointScore & Timed;
}

export async function colorDecoderBench(dataDir: string, options: ColorDecoderOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const tf = await trainingTf();
  const dataset = await readAlbedoDataset(dataDir);
  const V = dataset.header.vertices,
    d = 3 * V;
  const train = albedoRows(dataset, dataset.header.split.train);
  const validation = albedoRows(dataset, dataset.header.split.validation);
  const n = train.faces.length,
    m = validation.faces.length;
  log(`${n} training faces, ${m} validation faces, ${V} vertices`);
  const epochs = options.epochs ?? 60;

  let start = performance.now();
  const pca = weightedPca(train.data, train.weights, n, d, {
    variance: 0.95,
    maxComponents: 40,
    namePrefix: 'color',
    maxIterations: 60,
    tolerance: 1e-4,
  });
  const pcaSeconds = (performance.now() - start) / 1000;
  const linear: ColorModel = { mean: pca.mean, basis: pca.basis };
  const kept = pca.basis.count;
  log(`weighted PCA: ${kept} components for 95 % in ${pcaSeconds.toFixed(0)} s`);
  const ks = [...new Set(options.ks ?? [5, 10, 20, kept])].filter((k) => k <= kept).sort((a, b) => a - b);
  const given = parity(validation.weights, d, 0, 0),
    scored = parity(validation.weights, d, 0, 1);

  const identity = jointData(dataset, train.faces, validation.faces);
  const joint = options.joint !== false && identity !== undefined;
  const mesh = await loadModel(embeddedModelPath());
  // One UV per face-region vertex (the first of a seam vertex's), the region's box filling the image.
  const uvs = vertexUvs(mesh, dataset.vertexIds);
  const uvResolution = UV_SHAPE.base << (UV_SHAPE.channels.length - 1);
  const uvArchitecture = uvConvArchitecture(bilinearSampling(uvs, uvResolution), UV_SHAPE);
  // The face region's mesh (the mean shape) and its hierarchy for the mesh decoders.
  const region = submodel(mesh, dataset.vertexIds);
  const levelSizes = meshLevelSizes(V);
  start = performance.now();
  const hierarchy = options.mesh === false ? undefined : meshHierarchy(region.mean, region.triangles, levelSizes);
  if (hierarchy) {
    const sizes = hierarchy.levels.map((l) => l.vertices.length).join(' → ');
    log(`mesh hierarchy ${sizes} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }

  const results: Result[] = [];
  const pictureDecoders = new Map<number, { trained: TrainedAutoDecoder; latents: Float32Array }>();
  // An auto-decoder trained on the training faces (latents from the PCA's), its held-out latents fitted on
  // the even vertices, scored on the odd ones.
  const score = <D extends LatentDecoder>(
    k: number,
    network: Pick<AutoDecoderOptions<D>, 'architecture' | 'hidden'>,
    predict: (trained: TrainedAutoDecoder<D>, latents: Float32Array, m: number) => Float32Array,
  ) => {
    const { trained, latents, trainSeconds, fitSeconds } = trainAndFit<D>(tf, train, validation.data, given, m, {
      latent: k,
      ...network,
      epochs,
      initialLatents: pcaLatents(linear, k, train.data, train.weights, n, d),
      seed: options.seed ?? 18,
    });
    const error = albedoRmse(predict(trained, latents, m), validation.data, scored, d, 0);
    log(
      `  ${error.toFixed(2)} sRGB levels (trained in ${trainSeconds.toFixed(0)} s, ${m} faces fitted in `
        + `${fitSeconds.toFixed(1)} s)`,
    );
    return { trained, latents, error, trainSeconds, fitSeconds };
  };
  for (const k of ks) {
    const pcaError = albedoRmse(pcaPredict(linear, k, validation.data, given, m, d), validation.data, scored, d, 0);
    log(`k ${k}: PCA ${pcaError.toFixed(2)} sRGB levels; MLP:`);
    const mlp = score(k, { hidden: HIDDEN }, decoderPredict);
    pictureDecoders.set(k, mlp);
    const result: Result = {
      k,
      pca: pcaError,
      decoder: mlp.error,
      trainSeconds: mlp.trainSeconds,
      fitSeconds: mlp.fitSeconds,
    };
    if (options.uv !== false) {
      log('  UV-conv:');
      const uv = score(k, { architecture: uvArchitecture }, uvDecoderPredict);
      const { error, trainSeconds, fitSeconds } = uv;
      result.uv = { error, trainSeconds, fitSeconds, parameters: uvDecoderParameters(uv.trained.decoder) };
    }
    if (hierarchy) {
      log('  mesh-conv:');
      const meshConv = score(k, { architecture: meshConvArchitecture(hierarchy, MESH_SHAPE) }, meshDecoderPredict);
      const { error, trainSeconds, fitSeconds } = meshConv;
      result.mesh = { error, trainSeconds, fitSeconds, parameters: meshDecoderParameters(meshConv.trained.decoder) };
    }
    if (joint && (options.jointKs ?? ks).includes(k)) {
      const seed = options.seed ?? 18;
      Object.assign(
        result,
        jointComparison(tf, mesh, dataset, identity!, train, validation, k, epochs, seed, hierarchy, log),
      );
    }
    results.push(result);
  }

  const shapes: RateShapes = {
    albedo: d,
    identity: 100,
    latents: ks,
    hidden: HIDDEN,
    uv: options.uv === false ? undefined : { shape: UV_SHAPE, uvs: Array.from(uvs) },
    mesh: hierarchy && {
      shape: MESH_SHAPE,
      positions: Array.from(region.mean),
      triangles: Array.from(region.triangles),
      sizes: levelSizes,
    },
  };
  const node = measureRates(shapes);
  const rates = (r: Rates) =>
    `k ${r.k}: PCA ${r.pca.toFixed(0)}/s, MLP ${r.decoder.toFixed(0)}/s, UV ${r.uvDecoder.toFixed(0)}/s, `
    + `mesh ${r.meshDecoder.toFixed(0)}/s; joint PCA ${r.jointPca.toFixed(0)}/s, MLP ${r.jointDecoder.toFixed(0)}/s, `
    + `mesh ${r.jointMeshDecoder.toFixed(0)}/s`;
  log(`Node: ${node.map(rates).join('; ')}`);
  const browser = options.browser === false ? undefined : await browserRates(shapes);
  if (browser) {
    log(`Chromium: ${browser.map(rates).join('; ')}`);
  }

  const pictureK = ks.includes(10) ? 10 : ks[0];
  const chosen = pictureDecoders.get(pictureK)!;
  if (options.picture || options.privatePicture) {
    const faces = pickFaces(validation.weights, m, d, 4);
    const pcaRecon = pcaPredict(linear, pictureK, validation.data, given, m, d);
    const decRecon = decoderPredict(chosen.trained, chosen.latents, m);
    for (const [path, observed] of [
      [options.picture, false],
      [options.privatePicture, true],
    ] as const) {
      if (!path) continue;
      await writePicture(
        path,
        mesh,
        dataset.vertexIds,
        faces,
        d,
        pcaRecon,
        decRecon,
        observed ? validation : undefined,
      );
      log(`wrote ${path}`);
    }
  }

  return table(dataset, n, m, kept, pcaSeconds, epochs, results, node, browser, chosen.trained, pictureK);
}

function table(
  dataset: AlbedoDataset,
  n: number,
  m: number,
  kept: number,
  pcaSeconds: number,
  epochs: number,
  results: Result[],
  node: Rates[],
  browser: Rates[] | undefined,
  example: TrainedAutoDecoder,
  pictureK: number,
): string {
  const f1 = (x: number) => x.toFixed(1),
    f2 = (x: number) => x.toFixed(2),
    rate = (x: number) => x.toFixed(0);
  const V = dataset.header.vertices;
  const lines = [
    `${dataset.header.faces.length} faces of the albedo dataset (${n} training, ${m} validation; split by photo),`,
    `${V} face-region vertices. Held-out albedo error: each validation face predicted from its even seen vertices,`,
    "weighted RMS in 8-bit sRGB levels on its odd seen vertices (learnColorModel's protocol). PCA: the weighted",
    `EM-PCA (95 % of the variance: ${kept} components, ${pcaSeconds.toFixed(0)} s), its first k components.`,
    `MLP: k → ${HIDDEN.join(' → ')} → ${3 * V} (tanh; ${decoderParameters(example.decoder)} parameters at`,
    `k = ${example.decoder.latent}). UV-conv: ${uvDescription(results)}. Mesh-conv: ${meshDescription(results, V)}.`,
    'All auto-decoders: a latent per training',
    `face learned with the net (starting from the PCA's coefficients), ${epochs} epochs of Adam on one core (tfjs`,
    'wasm); a held-out latent is 300 Adam steps on the even vertices. Training / fit: seconds to train, and to fit',
    `the ${m} validation faces. Decodes/s: the full face region's albedo (random weights of the same shapes, the`,
    'same bundled code in Node and in headless Chromium); joint = face-region shape + albedo (joint PCA: one',
    "reconstruct of both; MLP: decode + the 100 identity modes' linear map; mesh-conv: one decode of 6 channels).",
    '',
    '| k | PCA RMSE | MLP RMSE | UV-conv RMSE | mesh-conv RMSE | training / fit MLP · UV-conv · mesh-conv '
      + '| decodes/s Node PCA / MLP / UV-conv / mesh-conv | Chromium PCA / MLP / UV-conv / mesh-conv |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map((r, i) => {
      const b = browser?.[i];
      const rates = (x: Rates) =>
        `${rate(x.pca)} / ${rate(x.decoder)} / ${r.uv ? rate(x.uvDecoder) : '–'} / `
        + `${r.mesh ? rate(x.meshDecoder) : '–'}`;
      const times = (t: { trainSeconds: number; fitSeconds: number } | undefined) =>
        t ? `${f1(t.trainSeconds)} s / ${f1(t.fitSeconds)} s` : '–';
      return (
        `| ${r.k} | ${f2(r.pca)} | ${f2(r.decoder)} | ${r.uv ? f2(r.uv.error) : 'not run'} | `
        + `${r.mesh ? f2(r.mesh.error) : 'not run'} | ${times(r)} · ${times(r.uv)} · ${times(r.mesh)} | `
        + `${rates(node[i])} | ${b ? rates(b) : 'not run'} |`
      );
    }),
    '',
  ];
  if (results.some((r) => r.jointPca)) {
    lines.push(
      'Joint shape + albedo (PCA and MLP: rows [identity σ-units; albedo]; PCA (mm): rows [R·identity; albedo]',
      'with RᵀR = BᵀB for the identity modes B on the face region, so that the block measures the shape in mm;',
      "mesh-conv: per vertex [albedo; the identity's offset from the mean shape]; each shape block scaled to the",
      "albedo's total variance); a held-out face's latent fitted to its whole shape and its even albedo vertices.",
      'Shape: face-region vertex RMS distance (mm) of the shape given back (PCA and MLP: through the identity basis).',
      '',
      '| k | albedo RMSE joint PCA / PCA (mm) / MLP / mesh-conv | shape joint PCA / PCA (mm) / MLP / mesh-conv '
        + '| training / fit MLP · mesh-conv | parameters MLP / mesh-conv | decodes/s Node PCA / MLP / mesh-conv '
        + '| Chromium |',
      '|---|---|---|---|---|---|---|',
      ...results.flatMap((r, i) => {
        const b = browser?.[i];
        const { jointPca: p, jointPcaMm: pm, jointDecoder: q, jointMesh: g } = r;
        if (!p || !q) return [];
        const mm = (x: number | undefined) => (x === undefined ? '–' : f2(x));
        const three = (x: Rates) =>
          `${rate(x.jointPca)} / ${rate(x.jointDecoder)} / ${g ? rate(x.jointMeshDecoder) : '–'}`;
        return (
          `| ${r.k} | ${f2(p.albedo)} / ${mm(pm?.albedo)} / ${f2(q.albedo)} / ${g ? f2(g.albedo) : '–'} | `
          + `${f2(p.shapeMm)} / ${mm(pm?.shapeMm)} / ${f2(q.shapeMm)} / ${g ? f2(g.shapeMm) : '–'} mm | `
          + `${f1(q.trainSeconds)} s / ${f1(q.fitSeconds)} s · `
          + `${g ? `${f1(g.trainSeconds)} s / ${f1(g.fitSeconds)} s` : '–'} | ${q.parameters} / `
          + `${g ? g.parameters : '–'} | ${three(node[i])} | ${b ? three(b) : 'not run'} |`
        );
      }),
      '',
    );
  }
  lines.push(
    `The picture of four held-out faces' albedo reconstructed from half their vertices at k = ${pictureK} (PCA left,`
      + ' decoder right, on the mean shape, unlit) stays out of the repository, as anything made from the'
      + ' train-300w photos: `--picture training/figures/color-decoder.png` draws it.',
    '',
  );
  return lines.join('\n');
}

/** The mesh decoder's layers in words, with its parameter count at the first k it ran. */
function meshDescription(results: Result[], V: number): string {
  const first = results.find((r) => r.mesh);
  const count = first?.mesh ? `; ${first.mesh.parameters} parameters at k = ${first.k}` : '';
  const { channels, order } = MESH_SHAPE;
  const sizes = meshLevelSizes(V);
  const steps = channels.map((ch, i) => `${sizes[sizes.length - 1 - i]}×${ch}`);
  return (
    `k → dense → ${steps.join(' → ')} vertices × channels (each step: upsample from the coarser level, Chebyshev `
    + `conv of order ${order}, ELU) → upsample, Chebyshev conv → RGB per vertex, on a farthest-point hierarchy of `
    + `the face region${count}`
  );
}

/** The UV decoder's layers in words, with its parameter count at the first k it ran. */
function uvDescription(results: Result[]): string {
  const { base, channels } = UV_SHAPE;
  const sides = channels.map((c, i) => `${base << i}²×${c}`);
  const first = results.find((r) => r.uv);
  const count = first?.uv ? `; ${first.uv.parameters} parameters at k = ${first.k}` : '';
  return (
    `k → dense → ${sides.join(' → ')} (each step: 2× nearest resize, 3×3 conv, ELU) → 3×3 conv → RGB at `
    + `${base << (channels.length - 1)}² texels, read bilinearly at each vertex's UV${count}`
  );
}

/** [identity (σ units); albedo] rows, or undefined when the dataset has no identities. */
export function jointData(dataset: AlbedoDataset, train: number[], validation: number[]) {
  const faces = dataset.header.faces as { identity?: number[] }[];
  if (![...train, ...validation].every((f) => Array.isArray(faces[f].identity))) return undefined;
  const count = faces[train[0]].identity!.length;
  const pick = (list: number[]) => {
    const out = new Float32Array(list.length * count);
    list.forEach((f, r) => out.set(faces[f].identity!, r * count));
    return out;
  };
  return { count, train: pick(train), validation: pick(validation) };
}

/** The sum of the per-entry variances of n rows of d. */
function totalVariance(rows: Float32Array, n: number, d: number): number {
  let total = 0;
  for (let j = 0; j < d; j++) {
    let s = 0,
      s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = rows[i * d + j];
      s += x;
      s2 += x * x;
    }
    total += s2 / n - (s / n) ** 2;
  }
  return total;
}

/**
 * R (c × c, upper-triangular, row-major) with RᵀR = BᵀB for the region's identity modes B (c rows of a values):
 * |R x| = |B x|, so rows R·id measure shape differences as the vertices' offsets do (the Cholesky factor of BᵀB).
 */
export function regionMetric(regionBasis: Float32Array, c: number, a: number): Float64Array {
  const G = new Float64Array(c * c);
  for (let j = 0; j < c; j++) {
    for (let l = 0; l <= j; l++) {
      let sum = 0;
      for (let e = 0; e < a; e++) sum += regionBasis[j * a + e] * regionBasis[l * a + e];
      G[j * c + l] = G[l * c + j] = sum;
    }
  }
  // G = L Lᵀ; R = Lᵀ.
  const R = new Float64Array(c * c);
  for (let j = 0; j < c; j++) {
    let diagonal = G[j * c + j];
    for (let q = 0; q < j; q++) diagonal -= R[q * c + j] ** 2;
    const root = Math.sqrt(Math.max(diagonal, 1e-12));
    R[j * c + j] = root;
    for (let l = j + 1; l < c; l++) {
      let sum = G[j * c + l];
      for (let q = 0; q < j; q++) sum -= R[q * c + j] * R[q * c + l];
      R[j * c + l] = sum / root;
    }
  }
  return R;
}

export function jointComparison(
  tf: Awaited<ReturnType<typeof trainingTf>>,
  model: MorphableModel,
  dataset: AlbedoDataset,
  identity: { count: number; train: Float32Array; validation: Float32Array },
  train: Rows,
  validation: Rows,
  k: number,
  epochs: number,
  seed: number,
  hierarchy: MeshHierarchy | undefined,
  log: (line: string) => void,
): Pick<Result, 'jointPca' | 'jointPcaMm' | 'jointDecoder' | 'jointMesh'> {
  const V = dataset.header.vertices,
    a = 3 * V,
    c = identity.count,
    d = c + a;
  const n = train.faces.length,
    m = validation.faces.length;
  // Each block scaled to the same total variance of the training faces (albedo: weighted).
  const idVar = totalVariance(identity.train, n, c);
  let alVar = 0;
  for (let j = 0; j < a; j++) {
    let s = 0,
      s2 = 0,
      w = 0;
    for (let i = 0; i < n; i++) {
      const ww = train.weights[i * a + j];
      if (ww === 0) continue;
      const x = train.data[i * a + j];
      s += ww * x;
      s2 += ww * x * x;
      w += ww;
    }
    if (w > 0) alVar += s2 / w - (s / w) ** 2;
  }
  const idScale = Math.sqrt(alVar / idVar);
  const stack = (id: Float32Array, rows: Rows, count: number, scale = idScale) => {
    const data = new Float32Array(count * d),
      weights = new Float32Array(count * d);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < c; j++) {
        data[i * d + j] = scale * id[i * c + j];
        weights[i * d + j] = 1;
      }
      data.set(rows.data.subarray(i * a, (i + 1) * a), i * d + c);
      weights.set(rows.weights.subarray(i * a, (i + 1) * a), i * d + c);
    }
    return { data, weights };
  };
  const tr = stack(identity.train, train, n),
    va = stack(identity.validation, validation, m);
  const given = parity(va.weights, d, c, 0),
    scored = parity(va.weights, d, c, 1);

  // Shape error: face-region vertex distances of the identity difference, in mm.
  const basis = model.identity.basis,
    N = model.vertexCount;
  const shapeMm = (pred: Float32Array) => {
    let sum = 0;
    const diff = new Float64Array(c);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < c; j++) diff[j] = (pred[i * d + j] - va.data[i * d + j]) / idScale;
      for (let v = 0; v < V; v++) {
        const o = 3 * dataset.vertexIds[v];
        let dx = 0,
          dy = 0,
          dz = 0;
        for (let j = 0; j < c; j++) {
          const bo = j * 3 * N + o;
          dx += diff[j] * basis[bo];
          dy += diff[j] * basis[bo + 1];
          dz += diff[j] * basis[bo + 2];
        }
        sum += dx * dx + dy * dy + dz * dz;
      }
    }
    return Math.sqrt(sum / (m * V));
  };

  const pca = weightedPca(tr.data, tr.weights, n, d, {
    rank: k,
    maxComponents: k,
    variance: 1,
    maxIterations: 60,
    tolerance: 1e-4,
  });
  const linear: ColorModel = { mean: pca.mean, basis: pca.basis };
  const pcaPred = pcaPredict(linear, k, va.data, given, m, d);

  // The same PCA on rows [R·id; albedo] (regionMetric: the identity block in mm, as the mesh decoder's shape),
  // that block scaled to the albedo's total variance as above. σ units weigh every identity mode alike, however
  // small in mm; here the large modes count as much as they move the vertices.
  const regionBasis = new Float32Array(c * a);
  for (let j = 0; j < c; j++) {
    for (let v = 0; v < V; v++) {
      for (let x = 0; x < 3; x++) regionBasis[j * a + 3 * v + x] = basis[j * 3 * N + 3 * dataset.vertexIds[v] + x];
    }
  }
  const R = regionMetric(regionBasis, c, a);
  const inMetric = (id: Float32Array, count: number) => {
    const out = new Float32Array(count * c);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < c; j++) {
        let sum = 0;
        for (let l = j; l < c; l++) sum += R[j * c + l] * id[i * c + l];
        out[i * c + j] = sum;
      }
    }
    return out;
  };
  const metricTrain = inMetric(identity.train, n);
  const mmScale = Math.sqrt(alVar / totalVariance(metricTrain, n, c));
  const trMm = stack(metricTrain, train, n, mmScale),
    vaMm = stack(inMetric(identity.validation, m), validation, m, mmScale);
  const pcaMm = weightedPca(trMm.data, trMm.weights, n, d, {
    rank: k,
    maxComponents: k,
    variance: 1,
    maxIterations: 60,
    tolerance: 1e-4,
  });
  const pcaMmPred = pcaPredict({ mean: pcaMm.mean, basis: pcaMm.basis }, k, vaMm.data, given, m, d);
  let mmSq = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < c; j++) mmSq += ((pcaMmPred[i * d + j] - vaMm.data[i * d + j]) / mmScale) ** 2;
  }
  const jointPcaMm = {
    albedo: albedoRmse(pcaMmPred, vaMm.data, scored, d, c),
    shapeMm: Math.sqrt(mmSq / (m * V)),
  };
  log(`  joint k ${k}: PCA in mm: albedo ${jointPcaMm.albedo.toFixed(2)}, shape ${jointPcaMm.shapeMm.toFixed(2)} mm`);

  // The identity entries' spread is far above the albedo's: the net's outputs scaled to it (the loss is not).
  const overall = normalisation(tr.data, tr.weights, n, d).scale;
  const outputScale = new Float32Array(d).fill(1);
  for (let j = 0; j < c; j++) {
    let s2 = 0;
    for (let i = 0; i < n; i++) s2 += tr.data[i * d + j] ** 2;
    outputScale[j] = Math.max(1, Math.sqrt(s2 / n) / overall);
  }
  const initialLatents = pcaLatents(linear, k, tr.data, tr.weights, n, d);
  const { trained, latents, trainSeconds, fitSeconds } = trainAndFit(tf, tr, va.data, given, m, {
    latent: k,
    hidden: HIDDEN,
    epochs,
    outputScale,
    initialLatents,
    seed,
  });
  const decPred = decoderPredict(trained, latents, m);
  const jointPca = { albedo: albedoRmse(pcaPred, va.data, scored, d, c), shapeMm: shapeMm(pcaPred) };
  const jointDecoder = {
    albedo: albedoRmse(decPred, va.data, scored, d, c),
    shapeMm: shapeMm(decPred),
    trainSeconds,
    fitSeconds,
    parameters: decoderParameters(trained.decoder),
  };
  log(
    `  joint k ${k}: PCA albedo ${jointPca.albedo.toFixed(2)}, shape ${jointPca.shapeMm.toFixed(2)} mm; MLP albedo `
      + `${jointDecoder.albedo.toFixed(2)}, shape ${jointDecoder.shapeMm.toFixed(2)} mm`,
  );
  if (!hierarchy) return { jointPca, jointPcaMm, jointDecoder };

  // The mesh decoder: per vertex [albedo RGB, the identity's offset from the mean (mm) · shapeScale], the shape
  // block scaled to the albedo's total variance as the identity block is above; latents start from the joint
  // PCA's coefficients of the same faces.
  const offsets = (id: Float32Array, count: number) => {
    const out = new Float32Array(count * a);
    for (let i = 0; i < count; i++) {
      const row = out.subarray(i * a, (i + 1) * a);
      for (let j = 0; j < c; j++) {
        const coefficient = id[i * c + j];
        for (let e = 0; e < a; e++) row[e] += coefficient * regionBasis[j * a + e];
      }
    }
    return out;
  };
  const trainShape = offsets(identity.train, n),
    validationShape = offsets(identity.validation, m);
  const shapeScale = Math.sqrt(alVar / totalVariance(trainShape, n, a));
  const interleave = (shape: Float32Array, rows: Rows, count: number) => {
    const data = new Float32Array(2 * count * a),
      weights = new Float32Array(2 * count * a);
    for (let i = 0; i < count; i++) {
      for (let v = 0; v < V; v++) {
        for (let x = 0; x < 3; x++) {
          const to = 6 * (i * V + v) + x,
            from = i * a + 3 * v + x;
          data[to] = rows.data[from];
          weights[to] = rows.weights[from];
          data[to + 3] = shapeScale * shape[from];
          weights[to + 3] = 1;
        }
      }
    }
    return { data, weights };
  };
  const mt = interleave(trainShape, train, n),
    mv = interleave(validationShape, validation, m);
  // Given: the whole shape and the even vertices' albedo; scored: the odd vertices' albedo.
  const meshGiven = mv.weights.map((w, i) => (i % 6 >= 3 || Math.floor(i / 6) % 2 === 0 ? w : 0));
  const meshScored = mv.weights.map((w, i) => (i % 6 < 3 && Math.floor(i / 6) % 2 === 1 ? w : 0));
  const {
    trained: meshTrained,
    latents: meshLatents,
    trainSeconds: meshTrainSeconds,
    fitSeconds: meshFitSeconds,
  } = trainAndFit(tf, mt, mv.data, meshGiven, m, {
    latent: k,
    architecture: meshConvArchitecture(hierarchy, { ...MESH_SHAPE, outputs: 6 }),
    epochs,
    initialLatents,
    seed,
  });
  const meshPred = meshDecoderPredict(meshTrained, meshLatents, m);
  let sq = 0;
  for (let i = 0; i < meshPred.length; i++) {
    if (i % 6 < 3) continue;
    sq += ((meshPred[i] - mv.data[i]) / shapeScale) ** 2;
  }
  const jointMesh = {
    albedo: albedoRmse(meshPred, mv.data, meshScored, 2 * a, 0),
    shapeMm: Math.sqrt(sq / (m * V)),
    trainSeconds: meshTrainSeconds,
    fitSeconds: meshFitSeconds,
    parameters: meshDecoderParameters(meshTrained.decoder),
  };
  log(
    `  joint k ${k}: mesh-conv albedo ${jointMesh.albedo.toFixed(2)}, shape ${jointMesh.shapeMm.toFixed(2)} mm `
      + `(trained in ${meshTrainSeconds.toFixed(0)} s, fitted in ${meshFitSeconds.toFixed(1)} s)`,
  );
  return { jointPca, jointPcaMm, jointDecoder, jointMesh };
}

/** The decoder-rate code bundled by esbuild and run in headless Chromium. */
async function browserRates(shapes: RateShapes): Promise<Rates[]> {
  const source = join(root, 'bench/decoder-rates.ts');
  const bundle = await build({
    stdin: {
      contents: `import { measureRates } from ${JSON.stringify(source)}; globalThis.measureRates = measureRates;`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    write: false,
    target: 'es2022',
  });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><title>decoder rates</title>');
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    return await page.evaluate(
      (s) => (globalThis as unknown as { measureRates: (s: RateShapes) => Rates[] }).measureRates(s),
      shapes,
    );
  } finally {
    await browser.close();
  }
}

/** The `count` validation faces seen most (by weight sum). */
function pickFaces(weights: Float32Array, m: number, d: number, count: number): number[] {
  const seen = Array.from({ length: m }, (_, f) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += weights[f * d + j];
    return { f, s };
  });
  return seen
    .sort((x, y) => y.s - x.s)
    .slice(0, count)
    .map((x) => x.f)
    .sort((x, y) => x - y);
}

/**
 * One row per face: [observed |] PCA | decoder, the face region's albedo on the mean shape, frontal,
 * orthographic, unlit (sRGB); the rest of the head grey.
 */
async function writePicture(
  path: string,
  model: MorphableModel,
  vertexIds: Uint32Array,
  faces: number[],
  d: number,
  pcaRecon: Float32Array,
  decRecon: Float32Array,
  observed: Rows | undefined,
): Promise<void> {
  const size = 256;
  const N = model.vertexCount;
  // Frame the face region.
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (const v of vertexIds) {
    minX = Math.min(minX, model.mean[3 * v]);
    maxX = Math.max(maxX, model.mean[3 * v]);
    minY = Math.min(minY, model.mean[3 * v + 1]);
    maxY = Math.max(maxY, model.mean[3 * v + 1]);
  }
  const scale = (0.92 * size) / Math.max(maxX - minX, maxY - minY);
  const cx = (minX + maxX) / 2,
    cy = (minY + maxY) / 2;
  const screen = new Float32Array(3 * N);
  for (let i = 0; i < N; i++) {
    screen[3 * i] = size / 2 + (model.mean[3 * i] - cx) * scale;
    screen[3 * i + 1] = size / 2 - (model.mean[3 * i + 1] - cy) * scale;
    screen[3 * i + 2] = -model.mean[3 * i + 2];
  }
  const raster = rasterize(screen, model.triangles, createRasterBuffers(size, size));
  const columns = observed ? 3 : 2;
  const width = columns * size,
    height = faces.length * size;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const colors = new Float32Array(3 * N).fill(0.05);
  const color = new Float64Array(3);
  const sources = observed ? [observed.data, pcaRecon, decRecon] : [pcaRecon, decRecon];
  faces.forEach((f, row) => {
    sources.forEach((src, col) => {
      colors.fill(0.05);
      for (let v = 0; v < vertexIds.length; v++) {
        const seen = src !== observed?.data || observed.weights[f * d + 3 * v] > 0;
        for (let ch = 0; ch < 3; ch++) colors[3 * vertexIds[v] + ch] = seen ? src[f * d + 3 * v + ch] : 0.05;
      }
      for (let p = 0; p < size * size; p++) {
        if (raster.triangle[p] < 0) continue;
        interpolateAt(raster, model.triangles, colors, p, color);
        const x = p % size,
          y = Math.floor(p / size);
        const o = 3 * ((row * size + y) * width + col * size + x);
        for (let ch = 0; ch < 3; ch++) rgb[o + ch] = Math.round(255 * srgb(color[ch]));
      }
    });
  });
  await mkdir(dirname(path), { recursive: true });
  await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const data = value('--data') ?? join(root, 'training/albedo');
  const load = loadavg()[0];
  const text = await colorDecoderBench(data, {
    ks: value('--k')?.split(',').map(Number),
    epochs: value('--epochs') ? Number(value('--epochs')) : undefined,
    browser: !args.includes('--no-browser'),
    joint: !args.includes('--no-joint'),
    uv: !args.includes('--no-uv'),
    mesh: !args.includes('--no-mesh'),
    jointKs: value('--joint-k')?.split(',').map(Number),
    seed: value('--seed') ? Number(value('--seed')) : undefined,
    picture: value('--picture'),
    privatePicture: value('--private-picture'),
    log: (line) => console.log(line),
  });
  const note =
    `Run alone (\`node dist/bench/color-decoder.js\`) on ${new Date().toISOString().slice(0, 10)}: `
    + `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}; load average `
    + `${load.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (other jobs share the machine).`;
  console.log(`\n${text}`);
  if (!args.includes('--no-write')) writeResultsSection(COLOR_DECODER_HEADING, `${note}\n\n${text}`);
}

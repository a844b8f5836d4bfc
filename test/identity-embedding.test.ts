import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeIdentityNetFile,
  encodeIdentityNetFile,
  type IdentityPredictor,
  identityNetMatches,
  identityNetParams,
  predictIdentityFromEmbedding,
} from '../src/detect/identity-from-embedding.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../src/io/node/identity-predictor.js';
import { loadImage } from '../src/io/node/image.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath, shippedIdentityNetPath } from '../src/io/node/model-paths.js';
import { parsePts } from '../src/io/pts.js';
import { embedFaces, IdentityViewRenderer } from '../src/learn/identity-data.js';
import {
  identityOffsetRms,
  identityPhotoSplit,
  predictIdentities,
  trainIdentityNet,
} from '../src/learn/identity-training.js';
import { photoTextures } from '../src/learn/synthetic-faces.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import { SeededRandom } from '../src/model/random.js';
import type { RgbImage } from '../src/render/rgb-image.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { SHARED } from './helpers/shared.js';

const DATA = `${SHARED}data/train-300w`;
// Skin and backgrounds come from a few train-300w photos: without them the accuracy check is skipped with a
// warning, except under CI, where it fails.
const hasData = existsSync(DATA);
if (!hasData && !process.env.CI) console.warn(`identity-embedding.test.ts: accuracy skipped, no ${DATA}`);

/** The fixed check set: identities drawn with a seed training never used, two views each. */
const IDENTITIES = 40;
const VIEWS = 2;
const SEED = 9001;
/**
 * Bound on (mean face-region RMS of the predicted face) / (the mean face's), over the check set. Measured
 * with the shipped weights: 0.928 (the run's own 300 held-out views: 0.914); the same net with its output
 * layer's weights drawn at random at their trained scale: 1.003.
 */
const MAX_RATIO = 0.95;

describe.skipIf(!hasData && !process.env.CI)('shipped identity-from-embedding net', () => {
  let model: MorphableModel;
  let predictor: IdentityPredictor;
  let views: Array<{ image: RgbImage; landmarks: Float32Array; identity: Float32Array }>;
  let embeddings: Float32Array;

  beforeAll(async () => {
    model = await loadModel(embeddedModelPath());
    predictor = await loadIdentityPredictor();
    // The skins and backgrounds of the held-out identities of the run that made the file: none trained on.
    // The split runs on the faces in name order, as loadLandmarkDataset lists them; only those photos load.
    const names = readdirSync(DATA)
      .filter((f) => f.endsWith('.pts'))
      .map((f) => f.slice(0, -4))
      .sort();
    const settings = predictor.file.training.settings as { seed: number; photos: number };
    const split = identityPhotoSplit(names, settings.seed, settings.photos);
    const load = (names: string[]) =>
      Promise.all(
        names.map(async (name) => ({
          name,
          photo: name,
          image: (await loadImage(join(DATA, `${name}.jpg`))).image,
          landmarks: parsePts(readFileSync(join(DATA, `${name}.pts`), 'utf8'), `${name}.pts`),
        })),
      );
    const { textures } = photoTextures(model, await load(split.skins.heldOut), model.regions.face);
    const backgrounds = (await load(split.backgrounds.heldOut)).map((f) => f.image);
    const renderer = new IdentityViewRenderer(model, textures, backgrounds);
    const random = new SeededRandom(SEED);
    views = [];
    for (let i = 0; i < IDENTITIES; i++) {
      const identity = Float32Array.from({ length: model.identity.count }, () => random.normal());
      for (let v = 0; v < VIEWS; v++) {
        const view = renderer.render(identity, random);
        views.push({ image: { ...view.image, data: view.image.data.slice() }, landmarks: view.landmarks, identity });
      }
    }
    embeddings = embedFaces(predictor.tf, predictor.embedding, views);
  });
  afterAll(() => {
    if (predictor) disposeIdentityPredictor(predictor);
  });

  /** Mean predicted-face RMS / mean face RMS over the check set, for predictions n × K. */
  const ratio = (pred: Float32Array) => {
    const K = pred.length / views.length;
    const scratch = new Float32Array(model.mean.length);
    const d = new Float32Array(model.identity.count);
    let e = 0,
      m = 0;
    views.forEach((view, j) => {
      for (let k = 0; k < d.length; k++) d[k] = (k < K ? pred[j * K + k] : 0) - view.identity[k];
      e += identityOffsetRms(model, d, scratch);
      m += identityOffsetRms(model, view.identity, scratch);
    });
    return e / m;
  };

  it('records how it was made', () => {
    const { file } = predictor;
    expect(file.identityCount).toBe(model.identity.count);
    expect(file.training.command).toMatch(/^morphable train identity/);
    expect(file.training.seed).toBeTypeOf('number');
    expect(file.training.trainingSeconds).toBeTypeOf('number');
    expect(String((file.training.data as { description: string }).description)).toMatch(/random identities/);
  });

  it('predicts faces closer to the truth than the mean face, on identities it never saw', () => {
    const measured = ratio(predictIdentities(predictor.tf, predictor.net, embeddings));
    console.log(
      `identity from embedding: RMS ratio to the mean face's ${measured.toFixed(3)} on ${views.length} views`,
    );
    expect(measured).toBeLessThan(MAX_RATIO);
    // A broken net fails the same bound: the output layer's weights drawn at random at the trained scale.
    const { tf } = predictor;
    const w = predictor.file.tensors.get('out/weights')!;
    let sd = 0;
    for (const x of w.values) sd += x * x;
    sd = Math.sqrt(sd / w.values.length);
    const random = new SeededRandom(5);
    const broken = { ...predictor.file, tensors: new Map(predictor.file.tensors) };
    broken.tensors.set('out/weights', { shape: w.shape, values: w.values.map(() => sd * random.normal()) });
    const net = identityNetParams(tf, broken);
    const brokenRatio = ratio(predictIdentities(tf, net, embeddings));
    for (const t of Object.values(net)) t.dispose();
    console.log(`with random output weights: ${brokenRatio.toFixed(3)}`);
    expect(brokenRatio).toBeGreaterThan(MAX_RATIO);
  });

  it('`fit` (default --identity auto: embedding for the shipped model) holds the identity near it', async () => {
    const photo = `${SHARED}data/faces-68/lfpw_image_0010.png`;
    const pts = `${SHARED}data/faces-68/lfpw_image_0010.pts`;
    const dir = mkdtempSync(join(tmpdir(), 'identity-fit-'));
    try {
      const fitted = async (identity?: string) => {
        const out = join(dir, identity ?? 'default');
        const choice = identity ? ['--identity', identity] : [];
        const result = await runCli(['fit', photo, '--landmarks', pts, '--no-photometric', ...choice, '--out', out]);
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(readFileSync(join(out, 'lfpw_image_0010.json'), 'utf8')) as {
          identity: number[];
          identityFrom: string;
        };
      };
      const { image } = await loadImage(photo);
      const landmarks = parsePts(readFileSync(pts, 'utf8'), pts);
      const predicted = predictIdentityFromEmbedding(predictor, image, landmarks, model.identity.count);
      const distance = (identity: number[]) =>
        Math.sqrt(identity.slice(0, 40).reduce((sum, a, k) => sum + (a - predicted[k]) ** 2, 0));
      const byDefault = await fitted();
      const fromLandmarks = await fitted('landmarks');
      expect([byDefault.identityFrom, fromLandmarks.identityFrom]).toEqual(['embedding', 'mean face']);
      const held = distance(byDefault.identity);
      const free = distance(fromLandmarks.identity);
      console.log(`fitted identity from the embedding's: ${held.toFixed(2)} σ held, ${free.toFixed(2)} σ free`);
      expect(held).toBeLessThan(0.5 * free);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('predicts from an image and 68 landmarks: the whole identity, zeros beyond K', () => {
    const view = views[0];
    const identity = predictIdentityFromEmbedding(predictor, view.image, view.landmarks, model.identity.count);
    const K = predictor.file.outputs;
    expect(identity.length).toBe(model.identity.count);
    for (let k = K; k < identity.length; k++) expect(identity[k]).toBe(0);
    const batch = predictIdentities(predictor.tf, predictor.net, embeddings.subarray(0, 128));
    for (let k = 0; k < K; k++) expect(identity[k]).toBeCloseTo(batch[k], 4);
  });
});

describe('identity net file', () => {
  const file = {
    model: 'tiny',
    identityCount: 5,
    hidden: 2,
    outputs: 3,
    tensors: new Map([
      ['input/mean', { shape: [128], values: new Float32Array(128).fill(0.5) }],
      ['input/scale', { shape: [128], values: new Float32Array(128).fill(2) }],
      ['hidden/weights', { shape: [128, 2], values: new Float32Array(256).fill(0.25) }],
      ['hidden/bias', { shape: [2], values: Float32Array.of(1, -1) }],
      ['out/weights', { shape: [2, 3], values: Float32Array.of(1, 2, 3, 4, 5, 6) }],
      ['out/bias', { shape: [3], values: Float32Array.of(0.125, 0, -0.125) }],
    ]),
    training: { seed: 3 },
  };

  it('round-trips in float16 and names what is wrong with a bad file', () => {
    const bytes = encodeIdentityNetFile(file);
    const back = decodeIdentityNetFile(bytes, 'x.bin');
    expect(back.outputs).toBe(3);
    expect(back.training).toEqual({ seed: 3 });
    expect(Array.from(back.tensors.get('out/weights')!.values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => decodeIdentityNetFile(bytes.subarray(0, bytes.length - 2), 'x.bin')).toThrow(/x\.bin.*truncated/);
    expect(() => decodeIdentityNetFile(new Uint8Array(12), 'y.bin')).toThrow(/y\.bin.*no MIDN signature/);
  });

  it('matches the model it was trained for, and the other regions of ICT-FaceKit with as many modes', () => {
    const trained = { ...file, model: 'ICT-FaceKit (face and head)', identityCount: 100 };
    const model = (name: string, count = 100) => ({ name, identity: { count } }) as unknown as MorphableModel;
    for (const name of ['ICT-FaceKit (face and head)', 'ICT-FaceKit', 'ICT-FaceKit (face)'])
      expect(identityNetMatches(trained, model(name))).toBe(true);
    expect(identityNetMatches(trained, model('ICT-FaceKit', 50))).toBe(false);
    expect(identityNetMatches(trained, model('Surrey Face Model 3448 (shape only)'))).toBe(false);
    expect(identityNetMatches(trained, model('ICT-FaceKit (my build)'))).toBe(false);
    expect(identityNetMatches(file, model('tiny', 5))).toBe(true);
  });

  it('the Node loader says in one line which file is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'identity-net-'));
    try {
      await expect(loadIdentityPredictor(join(dir, 'none.bin'))).rejects.toThrow(/none\.bin.*no such identity net/);
      expect(existsSync(shippedIdentityNetPath())).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trains reproducibly: one seed gives the same weights, another seed others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'identity-train-'));
    try {
      const model = await loadModel(embeddedModelPath());
      const run = async (seed: number, name: string) => {
        const outFile = join(dir, 'sub', name);
        const result = await trainIdentityNet({
          model,
          dataDir: null,
          outFile,
          identities: 12,
          views: 2,
          outputs: 5,
          hidden: 8,
          epochs: 2,
          seed,
        });
        expect(result.data.views).toBe(24);
        expect(result.evaluation.views).toBeGreaterThan(0);
        const file = decodeIdentityNetFile(readFileSync(outFile), outFile);
        expect(file.outputs).toBe(5);
        expect(file.training.seed).toBe(seed);
        return file.tensors.get('out/weights')!.values;
      };
      const a = await run(3, 'a.bin');
      const b = await run(3, 'b.bin');
      const c = await run(4, 'c.bin');
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(Array.from(c)).not.toEqual(Array.from(a));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("labels a second model's faces with the identity that fits them (--also-model)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'identity-also-'));
    try {
      const model = await loadModel(embeddedModelPath());
      // The second model: the first's face region on its own (another mesh; IdentityTransfer ties the two).
      const other = submodel(model, model.regions.face!, 'face region');
      const outFile = join(dir, 'mixed.bin');
      const result = await trainIdentityNet({
        model,
        otherModel: other,
        dataDir: null,
        outFile,
        identities: 12,
        otherIdentities: 10,
        views: 2,
        outputs: 5,
        hidden: 8,
        epochs: 2,
        seed: 3,
      });
      expect(result.data.views).toBe(44);
      expect(result.otherEvaluation!.views).toBeGreaterThan(0);
      const file = decodeIdentityNetFile(readFileSync(outFile), outFile);
      expect(file.training.heldOutOtherModel).toBeDefined();
      expect(String((file.training.data as { description: string }).description)).toContain('face region');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('train identity refuses bad input in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'identity-cli-'));
    try {
      expectOneLineError(
        await runCli(['train', 'identity', '--data', join(dir, 'nowhere'), '--out', join(dir, 'o.bin')]),
        'nowhere',
      );
      expectOneLineError(
        await runCli(['train', 'identity', '--samples', '5', '--out', join(dir, 'o.bin')]),
        '--samples',
      );
      expectOneLineError(
        await runCli([
          'train',
          'identity',
          '--flat-skin',
          '--also-model',
          join(dir, 'none.glb'),
          '--out',
          join(dir, 'o.bin'),
        ]),
        'none.glb',
      );
      expect(existsSync(join(dir, 'o.bin'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

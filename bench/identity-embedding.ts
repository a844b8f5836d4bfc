/**
 * The shipped identity-from-embedding net (models/identity-from-embedding.bin) on rendered faces of
 * identities it never saw, with the skins and backgrounds of its run's held-out identities:
 * - 3D: face-region RMS of the predicted face and of the mean face against the true one;
 * - consistency: how far the predictions of one identity's views lie from their mean;
 * - the multi-view identity measure of Genova et al.: cosine similarity between the embedding of a render
 *   and the embedding of the same view (pose, light, skin, background) rendered with the mean face
 *   (before) and with the predicted identity (after);
 * - time of one prediction (crop, embedding, MLP).
 * Usage: npx tsc -p tsconfig.json && node dist/bench/identity-embedding.js [identities] [views]
 */
import { EMBEDDING_SIZE } from '../src/detect/face-embedding.js';
import { predictIdentityFromEmbedding } from '../src/detect/identity-from-embedding.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../src/io/node/identity-predictor.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { embedFaces, IdentityViewRenderer } from '../src/learn/identity-data.js';
import { identityOffsetRms, identityPhotoSplit, predictIdentities } from '../src/learn/identity-training.js';
import { loadLandmarkDataset } from '../src/learn/landmark-dataset.js';
import { photoTextures } from '../src/learn/synthetic-faces.js';
import { SeededRandom } from '../src/model/random.js';

const IDENTITIES = Number(process.argv[2] ?? 100);
const VIEWS = Number(process.argv[3] ?? 3);
const SEED = 424242;

const model = await loadModel(embeddedModelPath());
const predictor = await loadIdentityPredictor();
const { faces } = await loadLandmarkDataset('../shared/data/train-300w');
const settings = predictor.file.training.settings as { seed: number; photos: number };
const split = identityPhotoSplit(faces, settings.seed, settings.photos);
const renderer = new IdentityViewRenderer(
  model,
  photoTextures(model, split.skins.heldOut, model.regions.face).textures,
  split.backgrounds.heldOut.map((f) => f.image),
);
const embedOne = (identity: Float32Array, viewSeed: number) => {
  const view = renderer.render(identity, new SeededRandom(viewSeed));
  return { view, embedding: embedFaces(predictor.tf, predictor.embedding, [view]) };
};
const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < EMBEDDING_SIZE; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
};

const random = new SeededRandom(SEED);
const count = model.identity.count;
const scratch = new Float32Array(model.mean.length);
const d = new Float32Array(count);
const zero = new Float32Array(count);
let predicted = 0,
  meanFace = 0,
  spread = 0,
  cosBefore = 0,
  cosAfter = 0,
  cosSame = 0,
  n = 0;
const times: number[] = [];
for (let i = 0; i < IDENTITIES; i++) {
  const truth = Float32Array.from({ length: count }, () => random.normal());
  const preds: Float32Array[] = [];
  const seeds = Array.from({ length: VIEWS }, () => Math.floor(random.uniform() * 2 ** 31));
  const truthEmbeddings: Float32Array[] = [];
  for (const seed of seeds) {
    const { view, embedding } = embedOne(truth, seed);
    truthEmbeddings.push(embedding);
    const t = performance.now();
    const pred = predictIdentityFromEmbedding(predictor, view.image, view.landmarks, count);
    times.push(performance.now() - t);
    preds.push(pred);
    for (let k = 0; k < count; k++) d[k] = pred[k] - truth[k];
    predicted += identityOffsetRms(model, d, scratch);
    meanFace += identityOffsetRms(model, truth, scratch);
    cosBefore += cosine(embedding, embedOne(zero, seed).embedding);
    cosAfter += cosine(embedding, embedOne(pred, seed).embedding);
    n++;
  }
  // The same identity in another view: the ceiling a shape alone could reach across views.
  for (let v = 1; v < VIEWS; v++) cosSame += cosine(truthEmbeddings[0], truthEmbeddings[v]) / (VIEWS - 1);
  const centre = new Float32Array(count);
  for (const p of preds) for (let k = 0; k < count; k++) centre[k] += p[k] / preds.length;
  for (const p of preds) {
    for (let k = 0; k < count; k++) d[k] = p[k] - centre[k];
    spread += identityOffsetRms(model, d, scratch);
  }
}
times.sort((a, b) => a - b);
console.log(`${IDENTITIES} identities × ${VIEWS} views (seed ${SEED}), held-out skins and backgrounds`);
console.log(
  `face-region RMS: predicted ${(predicted / n).toFixed(2)} mm, mean face ${(meanFace / n).toFixed(2)} mm, `
    + `ratio ${(predicted / meanFace).toFixed(3)}`,
);
console.log(`spread of one identity's predictions over its views: ${(spread / n).toFixed(2)} mm RMS`);
console.log(
  `embedding cosine, render vs same view of the mean face ${(cosBefore / n).toFixed(4)}, `
    + `of the prediction ${(cosAfter / n).toFixed(4)}; same identity, other view ${(cosSame / IDENTITIES).toFixed(4)}`,
);
console.log(`prediction (crop + embedding + MLP): median ${times[Math.floor(times.length / 2)].toFixed(1)} ms`);
// Check that the predictions are independent of the batch path.
const check = predictIdentities(predictor.tf, predictor.net, embedOne(zero, 1).embedding);
if (!(check.length === predictor.file.outputs)) throw new Error('unexpected prediction size');
disposeIdentityPredictor(predictor);

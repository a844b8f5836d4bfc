/**
 * Genova et al.'s identity loss on single faces, through the differentiable render path
 * (learn/identity-render-loss.ts): held-out identities rendered with the skins and backgrounds of the shipped
 * identity net's held-out identities; each face's first 40 identity coefficients start at the net's prediction
 * and take 20 Adam steps (0.05) up the cosine between the embedding of the render path's image and the
 * render's, with the view's scene (camera, light, albedo, background, expression) known: an oracle-scene
 * upper bound for an embedding term in a fit. Prints the face-region RMS of the mean face, the net's
 * prediction and the optimised identity against the truth.
 * Usage: npx tsc -p tsconfig.json && node dist/bench/identity-loss.js [faces]
 */
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { faceEmbeddingForward } from '../src/detect/face-embedding.js';
import { disposeIdentityPredictor, loadIdentityPredictor } from '../src/io/node/identity-predictor.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { embedFaces, IdentityViewRenderer } from '../src/learn/identity-data.js';
import { IdentityRenderPath, registerSegmentSum } from '../src/learn/identity-render-loss.js';
import { identityOffsetRms, identityPhotoSplit, predictIdentities } from '../src/learn/identity-training.js';
import { loadLandmarkDataset } from '../src/learn/landmark-dataset.js';
import { photoTextures } from '../src/learn/synthetic-faces.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { SeededRandom } from '../src/model/random.js';

const FACES = Number(process.argv[2] ?? 12);
const STEPS = 20;
const model = await loadModel(embeddedModelPath());
const tf = await trainingTf();
registerSegmentSum(tf);
const predictor = await loadIdentityPredictor();
const K = predictor.file.outputs;
const { faces } = await loadLandmarkDataset('../shared/data/train-300w');
const settings = predictor.file.training.settings as { seed: number; photos: number };
const split = identityPhotoSplit(faces, settings.seed, settings.photos);
const renderer = new IdentityViewRenderer(
  model,
  photoTextures(model, split.skins.heldOut, model.regions.face).textures,
  split.backgrounds.heldOut.map((f) => f.image),
);
const path = new IdentityRenderPath(tf, model, renderer.region, renderer.triangles, K);
const random = new SeededRandom(2024);
const scratch = new Float32Array(model.mean.length);
const error = (a: ArrayLike<number>, truth: Float32Array) => {
  const d = new Float32Array(truth.length);
  for (let k = 0; k < d.length; k++) d[k] = (k < K ? a[k] : 0) - truth[k];
  return identityOffsetRms(model, d, scratch);
};
let meanSum = 0,
  netSum = 0,
  optSum = 0,
  better = 0;
const started = performance.now();
for (let s = 0; s < FACES; s++) {
  const truth = Float32Array.from({ length: model.identity.count }, () => random.normal());
  const view = renderer.render(truth, random);
  const embedding = embedFaces(tf, predictor.embedding, [view]);
  const target = tf.tensor2d(embedding, [1, 128]);
  const start = predictIdentities(tf, predictor.net, embedding);
  const alpha = tf.variable(tf.tensor2d(start, [1, K]));
  const adam = tf.train.adam(0.05);
  for (let step = 0; step < STEPS; step++) {
    const values = alpha.dataSync().slice();
    adam.minimize(
      () => {
        const e = faceEmbeddingForward(tf, predictor.embedding, path.render(view, alpha as Tensor2D, values));
        const cos = tf.div(tf.sum(tf.mul(e, target)), tf.mul(tf.norm(e), tf.norm(target)));
        return tf.add(tf.neg(cos), tf.mul(1e-4, tf.sum(tf.square(alpha))));
      },
      false,
      [alpha],
    );
  }
  const m = identityOffsetRms(model, truth, scratch);
  const n = error(start, truth);
  const o = error(alpha.dataSync(), truth);
  meanSum += m;
  netSum += n;
  optSum += o;
  if (o < n) better++;
  console.log(`face ${s}: mean face ${m.toFixed(2)} mm, net ${n.toFixed(2)} mm, optimised ${o.toFixed(2)} mm`);
  alpha.dispose();
  target.dispose();
  adam.dispose();
}
console.log(
  `${FACES} faces: face-region RMS mean face ${(meanSum / FACES).toFixed(2)} mm, net ${(netSum / FACES).toFixed(2)} mm `
    + `(ratio ${(netSum / meanSum).toFixed(3)}), after ${STEPS} identity-loss steps ${(optSum / FACES).toFixed(2)} mm `
    + `(ratio ${(optSum / meanSum).toFixed(3)}); better than the net on ${better}/${FACES}; `
    + `${((performance.now() - started) / 1000 / FACES).toFixed(1)} s per face`,
);
path.dispose();
disposeIdentityPredictor(predictor);

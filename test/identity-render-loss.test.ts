import { describe, expect, it } from 'vitest';
import { embeddingCrop } from '../src/detect/face-embedding.js';
import { loadModel } from '../src/io/node/load-model.js';
import { embeddedModelPath } from '../src/io/node/model-paths.js';
import { IdentityViewRenderer } from '../src/learn/identity-data.js';
import { IdentityRenderPath, registerSegmentSum } from '../src/learn/identity-render-loss.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { SeededRandom } from '../src/model/random.js';

describe('differentiable identity render path', () => {
  it('draws the crop the renderer draws, and its gradient matches central differences', async () => {
    const tf = await trainingTf();
    registerSegmentSum(tf);
    const model = await loadModel(embeddedModelPath());
    const renderer = new IdentityViewRenderer(model, null, null);
    const K = 10;
    const path = new IdentityRenderPath(tf, model, renderer.region, renderer.triangles, K);
    const random = new SeededRandom(21);
    const identity = new Float32Array(model.identity.count);
    for (let k = 0; k < K; k++) identity[k] = 1.5 * random.normal();
    const view = renderer.render(identity, random);
    const crop = embeddingCrop(view.image, view.landmarks);
    const values = identity.slice(0, K);
    const rms = (alpha: Float32Array) => {
      const image = tf.tidy(() => path.render(view, tf.tensor2d(alpha, [1, K]), alpha).dataSync());
      let sum = 0;
      for (let i = 0; i < crop.length; i++) sum += (image[i] - crop[i]) ** 2;
      return Math.sqrt(sum / crop.length);
    };
    // The same face: close to the renderer's crop (no supersampling, affine interpolation; measured 2.9
    // grey levels RMS); the mean face in the same scene: far (measured 17.2).
    const same = rms(values);
    const mean = rms(new Float32Array(K));
    expect(same).toBeLessThan(4);
    expect(mean).toBeGreaterThan(3 * same);

    // Gradient of a weighted pixel sum, raster held at `values`, against central differences (measured
    // within 1.6 %).
    const weights = tf.randomUniform([1, 150, 150, 3], -1, 1, 'float32', 3);
    const f = (a: ReturnType<typeof tf.tensor2d>) => tf.sum(tf.mul(path.render(view, a, values), weights));
    const alpha = tf.tensor2d(values, [1, K]);
    const grad = tf.grad(f)(alpha).dataSync();
    const h = 1e-2;
    for (const k of [0, 3, 7]) {
      const plus = values.slice();
      const minus = values.slice();
      plus[k] += h;
      minus[k] -= h;
      const fd = tf.tidy(
        () => (f(tf.tensor2d(plus, [1, K])).dataSync()[0] - f(tf.tensor2d(minus, [1, K])).dataSync()[0]) / (2 * h),
      );
      expect(Math.abs(grad[k] - fd)).toBeLessThan(0.03 * Math.abs(fd) + 1);
      expect(Math.abs(fd)).toBeGreaterThan(1);
    }
    alpha.dispose();
    weights.dispose();
    path.dispose();
  });
});

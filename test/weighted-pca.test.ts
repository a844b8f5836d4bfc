import { describe, expect, it } from 'vitest';
import { pca } from '../src/model/pca.js';
import { SeededRandom } from '../src/model/random.js';
import { projectWeighted, reconstruct, WeightedProjector, weightedPca } from '../src/model/weighted-pca.js';
import { orthonormalise, principalCosines } from './helpers/subspace.js';

const rows = (basis: Float32Array, count: number, d: number) =>
  Array.from({ length: count }, (_, k) => basis.subarray(k * d, (k + 1) * d));

/** A known rank-5 model of 120 "vertices" (d = 360): random orthonormal basis, σ = 4, 3, 2, 1.5, 1. */
const d = 360,
  sigmas = [4, 3, 2, 1.5, 1],
  noise = 0.05;
const random = new SeededRandom(18);
const truth = orthonormalise(Array.from({ length: 5 }, () => Array.from({ length: d }, () => random.normal())));
const trueMean = Float64Array.from({ length: d }, () => 0.5 + 0.2 * random.normal());

/** Samples of the model (clean and with noise) and weights: a block of 30–60 % of the vertices unseen. */
function draw(n: number, rng: SeededRandom, missing: boolean) {
  const clean = new Float64Array(n * d),
    data = new Float32Array(n * d),
    weights = new Float32Array(n * d).fill(1);
  const vertices = d / 3;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    clean.set(trueMean, o);
    for (let k = 0; k < 5; k++) {
      const z = sigmas[k] * rng.normal();
      for (let j = 0; j < d; j++) clean[o + j] += z * truth[k][j];
    }
    for (let j = 0; j < d; j++) data[o + j] = clean[o + j] + noise * rng.normal();
    if (!missing) continue;
    const length = Math.round((0.3 + 0.3 * rng.uniform()) * vertices);
    const from = Math.floor(rng.uniform() * (vertices - length + 1));
    for (let v = 0; v < vertices; v++) {
      // Unseen: weight 0 and a wild value; seen: a confidence in [0.5, 1].
      const w = v >= from && v < from + length ? 0 : 0.5 + 0.5 * rng.uniform();
      for (let c = 0; c < 3; c++) {
        weights[o + 3 * v + c] = w;
        if (w === 0) data[o + 3 * v + c] = 1000 * rng.normal();
      }
    }
  }
  return { clean, data, weights };
}

const rms = (a: ArrayLike<number>, b: ArrayLike<number>, from: number, length: number, mask?: Float32Array) => {
  let s = 0,
    count = 0;
  for (let j = 0; j < length; j++) {
    if (mask && mask[from + j] !== 0) continue;
    s += (a[from + j] - b[j]) ** 2;
    count++;
  }
  return Math.sqrt(s / count);
};

describe('weightedPca', () => {
  const n = 800;
  const train = draw(n, new SeededRandom(1), true);
  let missingFraction = 0;
  for (const w of train.weights) if (w === 0) missingFraction++;
  missingFraction /= train.weights.length;
  const model = weightedPca(train.data, train.weights, n, d, { maxComponents: 5, tolerance: 1e-9 });
  const complete = pca(Float32Array.from(train.clean), n, { varianceFraction: 1, maxComponents: 5 });

  it('recovers a known rank-5 model from data with 30–60 % of each sample missing in a block', () => {
    expect(missingFraction).toBeGreaterThan(0.4);
    expect(missingFraction).toBeLessThan(0.5);
    expect(model.basis.count).toBe(5);
    expect(model.converged).toBe(true);
    const cosines = principalCosines(rows(model.basis.basis, 5, d), truth);
    const sd = Array.from(model.standardDeviations);
    const reference = Array.from(complete.basis.stddev);
    console.log(
      `missing ${(100 * missingFraction).toFixed(1)} %, ${model.iterations} iterations; principal cosines `
        + `${cosines.map((c) => c.toFixed(6)).join(' ')}; σ ${sd.map((s) => s.toFixed(3)).join(' ')} `
        + `(complete clean data ${reference.map((s) => s.toFixed(3)).join(' ')}, model ${sigmas.join(' ')})`,
    );
    for (const c of cosines) expect(c).toBeGreaterThan(0.997);
    // σ as the PCA of the same samples without anything missing (and without noise) gives them,
    // and within sampling error of the model's.
    sd.forEach((s, k) => expect(Math.abs(s / reference[k] - 1)).toBeLessThan(0.02));
    sd.forEach((s, k) => expect(Math.abs(s / sigmas[k] - 1)).toBeLessThan(0.1));
    const meanError = rms(model.mean, trueMean, 0, d);
    expect(meanError).toBeLessThan(0.1 * sigmas[4]);
    // Orthogonal components of norm σ_k; explained fractions as the σ say.
    const [b0, b1] = rows(model.basis.basis, 2, d);
    let cross = 0,
      norm = 0;
    for (let j = 0; j < d; j++) {
      cross += b0[j] * b1[j];
      norm += b0[j] * b0[j];
    }
    expect(Math.abs(cross)).toBeLessThan(1e-4 * sd[0] * sd[1]);
    expect(Math.sqrt(norm) / sd[0]).toBeCloseTo(1, 5);
    const explained = model.explainedVariance.reduce((s, v) => s + v, 0);
    expect(explained).toBeGreaterThan(0.98);
    expect(model.explainedVariance[0]).toBeCloseTo(sd[0] ** 2 / model.totalVariance, 6);
  });

  it('reconstructs held-out samples from their observed entries to near the noise level', () => {
    const test = draw(100, new SeededRandom(2), true);
    const color = { mean: model.mean, basis: model.basis };
    let fitted = 0,
      unseen = 0,
      meanOnly = 0;
    const out = new Float32Array(d);
    // One projector reused over samples seen at different entries gives what a fresh projection gives.
    const projector = new WeightedProjector(color);
    const reused = new Float64Array(color.basis.count);
    for (let i = 0; i < 100; i++) {
      const o = i * d;
      const sample = test.data.subarray(o, o + d),
        weights = test.weights.subarray(o, o + d);
      const alpha = projectWeighted(color, sample, weights);
      expect(Array.from(projector.project(sample, weights, {}, reused))).toEqual(Array.from(alpha));
      reconstruct(color, alpha, out);
      fitted += rms(test.clean, out, o, d) ** 2;
      unseen += rms(test.clean, out, o, d, test.weights) ** 2;
      meanOnly += rms(test.clean, model.mean, o, d) ** 2;
    }
    fitted = Math.sqrt(fitted / 100);
    unseen = Math.sqrt(unseen / 100);
    meanOnly = Math.sqrt(meanOnly / 100);
    console.log(
      `held-out RMSE vs clean truth: all entries ${fitted.toFixed(4)}, unseen entries ${unseen.toFixed(4)}, `
        + `mean face ${meanOnly.toFixed(4)} (noise σ ${noise})`,
    );
    expect(fitted).toBeLessThan(noise);
    expect(unseen).toBeLessThan(1.5 * noise);
    expect(fitted).toBeLessThan(meanOnly / 10);
  });

  it('never reads entries of weight 0: changing them changes nothing', () => {
    const small = draw(60, new SeededRandom(3), true);
    const options = { maxComponents: 5, maxIterations: 20, tolerance: 0 };
    const a = weightedPca(small.data, small.weights, 60, d, options);
    const changed = Float32Array.from(small.data);
    for (let j = 0; j < changed.length; j++) if (small.weights[j] === 0) changed[j] = j % 2 ? Number.NaN : -7;
    const b = weightedPca(changed, small.weights, 60, d, options);
    expect(b.iterations).toBe(20);
    expect(Array.from(b.mean)).toEqual(Array.from(a.mean));
    expect(Array.from(b.basis.basis)).toEqual(Array.from(a.basis.basis));
    expect(Array.from(b.standardDeviations)).toEqual(Array.from(a.standardDeviations));
    const color = { mean: a.mean, basis: a.basis };
    const weights = small.weights.subarray(0, d);
    expect(Array.from(projectWeighted(color, changed.subarray(0, d), weights))).toEqual(
      Array.from(projectWeighted(color, small.data.subarray(0, d), weights)),
    );
    // …whereas a seen entry does count.
    changed.set(small.data);
    const seen = small.weights.indexOf(1) >= 0 ? small.weights.findIndex((w) => w > 0) : 0;
    changed[seen] += 1;
    const c = weightedPca(changed, small.weights, 60, d, options);
    expect(c.mean[seen % d]).not.toBe(a.mean[seen % d]);
  });

  it('with nothing missing agrees with the plain PCA', () => {
    const full = draw(300, new SeededRandom(4), false);
    const ours = weightedPca(full.data, full.weights, 300, d, { maxComponents: 5, tolerance: 1e-12 });
    const plain = pca(full.data, 300, { varianceFraction: 1, maxComponents: 5 });
    const cosines = principalCosines(rows(ours.basis.basis, 5, d), rows(plain.basis.basis, 5, d));
    console.log(
      `no missing: ${ours.iterations} iterations, principal cosines vs pca `
        + cosines.map((c) => c.toFixed(9)).join(' '),
    );
    for (const c of cosines) expect(c).toBeGreaterThan(0.999999);
    for (let k = 0; k < 5; k++) {
      expect(ours.standardDeviations[k] / plain.basis.stddev[k]).toBeCloseTo(1, 5);
      // Same component, same sign convention.
      const a = ours.basis.basis.subarray(k * d, (k + 1) * d),
        b = plain.basis.basis.subarray(k * d, (k + 1) * d);
      let s = 0;
      for (let j = 0; j < d; j++) s += a[j] * b[j];
      expect(s / (ours.standardDeviations[k] * plain.basis.stddev[k])).toBeGreaterThan(0.9999);
    }
    let meanDifference = 0;
    for (let j = 0; j < d; j++) meanDifference = Math.max(meanDifference, Math.abs(ours.mean[j] - plain.mean[j]));
    expect(meanDifference).toBeLessThan(1e-5);
    expect(ours.totalVariance / plain.totalVariance).toBeCloseTo(1, 6);
  });

  it('keeps components by explained variance', () => {
    const few = weightedPca(train.data, train.weights, n, d, { rank: 6, variance: 0.8, maxIterations: 25 });
    // σ² = 16, 9, 4, 2.25, 1: the first two explain 25/32.25 = 78 %, three 90 %.
    expect(few.basis.count).toBe(3);
    const explained = few.explainedVariance.reduce((s, v) => s + v, 0);
    expect(explained).toBeGreaterThan(0.8);
    expect(explained - few.explainedVariance[2]).toBeLessThan(0.8);
    const progress: number[] = [];
    weightedPca(train.data, train.weights, n, d, {
      maxComponents: 2,
      maxIterations: 3,
      onProgress: (p) => progress.push(p.iteration),
    });
    expect(progress).toEqual([1, 2, 3]);
  });

  it('rejects bad input', () => {
    const w = new Float32Array(2 * d).fill(1);
    expect(() => weightedPca(new Float32Array(2 * d), w, 2, d + 1)).toThrow(/expected 2×361/);
    w[5] = 1.5;
    expect(() => weightedPca(new Float32Array(2 * d), w, 2, d)).toThrow(/weight 1.5 of sample 0, entry 5/);
    const x = new Float32Array(2 * d);
    x[3] = Number.NaN;
    expect(() => weightedPca(x, new Float32Array(2 * d).fill(1), 2, d)).toThrow(/sample 0, entry 3 is NaN/);
  });

  // WEIGHTED_PCA_TIMING=1 (or a maximum number of iterations) runs it: a minute or more, 0.6 GB.
  it.skipIf(!process.env.WEIGHTED_PCA_TIMING)(
    'timing: n = 2000, d = 33,000, k = 40',
    () => {
      const bigN = 2000,
        bigD = 33000,
        k = 40;
      const rng = new SeededRandom(5);
      const latent = Array.from({ length: k }, () =>
        Float32Array.from({ length: bigD }, () => rng.normal() / Math.sqrt(bigD)),
      );
      const big = new Float32Array(bigN * bigD),
        weights = new Float32Array(bigN * bigD);
      for (let i = 0; i < bigN; i++) {
        const o = i * bigD;
        for (let c = 0; c < k; c++) {
          const z = (3 / (1 + c)) * rng.normal(),
            q = latent[c];
          for (let j = 0; j < bigD; j++) big[o + j] += z * q[j];
        }
        // A block of 30–60 % unseen at a random place (two fixed halves would never be seen together:
        // their coupling would not be identifiable).
        const length = Math.round((0.3 + 0.3 * rng.uniform()) * bigD),
          from = Math.floor(rng.uniform() * (bigD - length + 1));
        for (let j = 0; j < bigD; j++) {
          big[o + j] += 0.5 + 0.001 * rng.normal();
          weights[o + j] = j >= from && j < from + length ? 0 : 1;
        }
      }
      const start = performance.now();
      const result = weightedPca(big, weights, bigN, bigD, {
        maxComponents: k,
        variance: 1,
        tolerance: 1e-5,
        maxIterations: Number(process.env.WEIGHTED_PCA_TIMING) || 60,
        onProgress: (p) =>
          console.log(
            `iteration ${p.iteration}: change ${p.change.toExponential(1)}, `
              + `captured ${p.captured.toFixed(5)}, ${((performance.now() - start) / 1000).toFixed(1)} s`,
          ),
      });
      const seconds = (performance.now() - start) / 1000;
      const cosines = principalCosines(rows(result.basis.basis, k, bigD), latent);
      console.log(
        `weightedPca n=${bigN} d=${bigD} k=${k}, 30–60 % of each sample missing: ${seconds.toFixed(1)} s, `
          + `${result.iterations} iterations (${((1000 * seconds) / result.iterations).toFixed(0)} ms each), `
          + `converged ${result.converged}, principal cosines: median ${cosines[k / 2].toFixed(5)}, `
          + `10th smallest ${cosines[k - 10].toFixed(5)}, smallest ${cosines[k - 1].toFixed(5)}`,
      );
      // The weakest of the 40 directions (σ 0.075 against 3 for the first) converge slowly with 45 %
      // missing; the bulk of the subspace must be there.
      expect(cosines[k / 2]).toBeGreaterThan(0.99);
    },
    600_000,
  );
});

import { describe, expect, it } from 'vitest';
import { symmetricEigen } from '../src/geometry/linalg.js';
import { componentNorms } from '../src/model/morphable-model.js';
import { componentCount, DEFAULT_VARIANCE_FRACTION, pca } from '../src/model/pca.js';
import { SeededRandom } from '../src/model/random.js';
import { dot, principalCosines } from './helpers/subspace.js';

/** `count` orthonormal rows of length d (Gram–Schmidt on Gaussian vectors), in float64. */
function orthonormalRows(count: number, d: number, random: SeededRandom): Float64Array[] {
  const rows: Float64Array[] = [];
  while (rows.length < count) {
    const v = Float64Array.from({ length: d }, () => random.normal());
    for (const q of rows) {
      const dot = q.reduce((s, x, j) => s + x * v[j], 0);
      for (let j = 0; j < d; j++) v[j] -= dot * q[j];
    }
    const norm = Math.hypot(...v);
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

/** x_i = mean + Σ_k σ_k z_ik q_k with z ~ N(0, 1): samples of a known PCA model. */
function drawSamples(
  mean: Float64Array,
  components: Float64Array[],
  sigmas: number[],
  m: number,
  random: SeededRandom,
): Float32Array {
  const d = mean.length;
  const out = new Float32Array(m * d);
  const row = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    row.set(mean);
    components.forEach((q, k) => {
      const z = sigmas[k] * random.normal();
      for (let j = 0; j < d; j++) row[j] += z * q[j];
    });
    out.set(row, i * d);
  }
  return out;
}

const component = (basis: Float32Array, k: number, d: number) => basis.subarray(k * d, (k + 1) * d);

describe('pca', () => {
  // A known model: 300 vertices (D = 900), 5 orthogonal components, σ = 10, 6, 4, 2, 1 mm; 400 faces.
  const random = new SeededRandom(7);
  const d = 900,
    m = 400;
  const sigmas = [10, 6, 4, 2, 1];
  const truth = orthonormalRows(5, d, random);
  const trueMean = Float64Array.from({ length: d }, () => 80 * random.normal());
  const samples = drawSamples(trueMean, truth, sigmas, m, random);
  const all = pca(samples, m, { varianceFraction: 1 });

  it('recovers the subspace: principal angles near zero, each component matched', () => {
    expect(all.basis.count).toBe(5); // rank 5: the rest is float32 rounding, below the null floor
    const recovered = Array.from({ length: 5 }, (_, k) => component(all.basis.basis, k, d));
    const top4 = principalCosines(recovered.slice(0, 4), truth.slice(0, 4));
    const top5 = principalCosines(recovered, truth);
    console.log(
      `principal cosines top 4: ${top4.map((c) => c.toFixed(6)).join(' ')}; `
        + `top 5: ${top5.map((c) => c.toFixed(6)).join(' ')}`,
    );
    for (const c of top4) expect(c).toBeGreaterThan(0.999);
    for (const c of top5) expect(c).toBeGreaterThan(0.999999); // the full 5-D span is exact
    // Individual components too (σ are distinct enough for 400 samples to separate them).
    const cosines = recovered.map((u, k) => Math.abs(dot(u, truth[k])) / Math.sqrt(dot(u, u)));
    console.log(`per-component |cos|: ${cosines.map((c) => c.toFixed(4)).join(' ')}`);
    for (const c of cosines) expect(c).toBeGreaterThan(0.99);
  });

  it('recovers the standard deviations within sampling error and follows the σ-scaled convention', () => {
    const sd = Array.from(all.basis.stddev);
    console.log(`σ recovered ${sd.map((s) => s.toFixed(3)).join(', ')} (true ${sigmas.join(', ')})`);
    sd.forEach((s, k) => expect(Math.abs(s / sigmas[k] - 1)).toBeLessThan(0.1));
    // σ_k is the norm of component k, and the components are mutually orthogonal.
    const norms = componentNorms(all.basis.basis, 5);
    norms.forEach((n, k) => expect(n).toBeCloseTo(sd[k], 3));
    for (let a = 0; a < 5; a++)
      for (let b = a + 1; b < 5; b++)
        expect(Math.abs(dot(component(all.basis.basis, a, d), component(all.basis.basis, b, d)))).toBeLessThan(
          1e-3 * sd[a] * sd[b],
        );
    expect(all.basis.kind).toBe('pca');
    expect(all.basis.names).toEqual(['pc0', 'pc1', 'pc2', 'pc3', 'pc4']);
    expect(all.explained).toBeCloseTo(1, 6);
  });

  it('matches the direct covariance computation: mean, total variance, eigenvalues', () => {
    const mean = new Float64Array(d);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) mean[j] += samples[i * d + j] / m;
    let maxError = 0;
    for (let j = 0; j < d; j++) maxError = Math.max(maxError, Math.abs(all.mean[j] - mean[j]));
    expect(maxError).toBeLessThan(1e-4);
    let total = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) total += (samples[i * d + j] - mean[j]) ** 2;
    expect(all.totalVariance).toBeCloseTo(total / (m - 1), 6);
    // σ_k² = u_kᵀ C u_k for the sample covariance C, computed without the Gram trick.
    for (let k = 0; k < 5; k++) {
      const u = component(all.basis.basis, k, d);
      let s = 0;
      for (let i = 0; i < m; i++) {
        let p = 0;
        for (let j = 0; j < d; j++) p += (samples[i * d + j] - mean[j]) * u[j];
        s += p * p;
      }
      const variance = s / (m - 1) / all.basis.stddev[k] ** 2; // u is scaled by σ_k
      expect(variance / all.variances[k]).toBeCloseTo(1, 4);
    }
  });

  it('reconstructs every sample from the mean and the components when all are kept', () => {
    const basis = all.basis.basis;
    let worst = 0;
    for (const i of [0, 17, 399]) {
      const x = Float64Array.from(samples.subarray(i * d, (i + 1) * d), (v, j) => v - all.mean[j]);
      for (let k = 0; k < 5; k++) {
        const u = component(basis, k, d);
        const c = dot(x, u) / all.basis.stddev[k] ** 2;
        for (let j = 0; j < d; j++) x[j] -= c * u[j];
      }
      worst = Math.max(worst, Math.sqrt(dot(x, x)));
    }
    expect(worst).toBeLessThan(1e-3); // mm, over 900 coordinates
  });

  it('keeps the fewest components that reach the variance fraction, then caps at maxComponents', () => {
    // True variances 100, 36, 16, 4, 1 (total 157): cumulative 63.7%, 86.6%, 96.8%, 99.4%, 100%.
    const truthVariances = sigmas.map((s) => s * s);
    for (const [fraction, expected] of [
      [0.5, 1],
      [0.636, 1],
      [0.638, 2],
      [0.8, 2],
      [0.9, 3],
      [0.95, 3],
      [DEFAULT_VARIANCE_FRACTION, 4],
      [0.997, 5],
      [1, 5],
    ] as const) {
      expect(componentCount(truthVariances, 157, { varianceFraction: fraction }), `fraction ${fraction}`).toBe(
        expected,
      );
    }
    expect(componentCount(truthVariances, 157, { varianceFraction: 1, maxComponents: 2 })).toBe(2);
    expect(componentCount(truthVariances, 157, { varianceFraction: 0.5, maxComponents: 3 })).toBe(1);
    expect(componentCount(truthVariances, 157, { varianceFraction: 100 / 157 })).toBe(1); // exactly reached
    expect(() => componentCount(truthVariances, 157, { varianceFraction: 1.5 })).toThrow(RangeError);

    // The PCA applies it to the recovered variances (65.0%, 86.4%, 96.9%, 99.4%, 100%: no fraction
    // here sits near a boundary) and keeps the leading components of the full PCA.
    const cumulative = (k: number) => all.variances.subarray(0, k).reduce((a, b) => a + b, 0) / all.totalVariance;
    for (const [options, expected] of [
      [{}, 4],
      [{ varianceFraction: 0.8 }, 2],
      [{ varianceFraction: 1, maxComponents: 3 }, 3],
    ] as const) {
      const result = pca(samples, m, options);
      expect(result.basis.count).toBe(expected);
      expect(result.basis.basis.length).toBe(expected * d);
      expect(result.explained).toBeCloseTo(cumulative(expected), 9);
      expect(result.variances.length).toBe(5);
      // Same data, same computation: bit-identical to the leading components of the full PCA.
      expect(result.basis.basis).toEqual(all.basis.basis.slice(0, expected * d));
      expect(result.basis.stddev).toEqual(all.basis.stddev.slice(0, expected));
    }
  });

  it('fixes component signs: the largest entry of each component is positive', () => {
    for (let k = 0; k < 5; k++) {
      const u = component(all.basis.basis, k, d);
      let largest = 0;
      for (const v of u) if (Math.abs(v) > Math.abs(largest)) largest = v;
      expect(largest).toBeGreaterThan(0);
    }
  });

  it('handles degenerate inputs', () => {
    // Identical samples: nothing varies.
    const same = new Float32Array(4 * 6).map((_, i) => i % 6);
    const flat = pca(same, 4);
    expect(flat.basis.count).toBe(0);
    expect(flat.explained).toBe(1);
    expect(Array.from(flat.mean)).toEqual([0, 1, 2, 3, 4, 5]);
    // Two samples: one component, σ = |a − b| / √2 (the sample std of two points along their line).
    const two = pca(Float32Array.from([0, 0, 0, 3, 4, 0]), 2, { varianceFraction: 1 });
    expect(two.basis.count).toBe(1);
    expect(two.basis.stddev[0]).toBeCloseTo(5 / Math.SQRT2, 5);
    expect(Array.from(two.mean)).toEqual([1.5, 2, 0]);
    // M > D works too (the Gram matrix is just larger than the covariance).
    const r = new SeededRandom(3);
    const many = pca(
      Float32Array.from({ length: 50 * 2 }, (_, i) => (i % 2 ? 3 : 1) * r.normal()),
      50,
      { varianceFraction: 1 },
    );
    expect(many.basis.count).toBe(2);
    expect(many.basis.stddev[0]).toBeGreaterThan(many.basis.stddev[1]);
    expect(() => pca(new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => pca(new Float32Array(7), 2)).toThrow(RangeError);
    expect(() => pca(new Float32Array(6), 2, { varianceFraction: 0 })).toThrow(RangeError);
  });
});

/** The cyclic Jacobi solver symmetricEigen used before (slow but simple): the reference here. */
function jacobiEigen(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array): void {
  vectors.fill(0);
  for (let i = 0; i < n; i++) vectors[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1),
          s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p],
            akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k],
            aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = vectors[k * n + p],
            vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  const order = Array.from(values.keys()).sort((x, y) => values[y] - values[x]);
  const v = vectors.slice(),
    l = values.slice();
  order.forEach((from, to) => {
    values[to] = l[from];
    for (let k = 0; k < n; k++) vectors[k * n + to] = v[k * n + from];
  });
}

/** Q diag(λ) Qᵀ for a random orthogonal Q: a symmetric matrix with the given spectrum. */
function withSpectrum(lambda: number[], random: SeededRandom): Float64Array {
  const n = lambda.length;
  const q = orthonormalRows(n, n, random);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j] += q[k][i] * lambda[k] * q[k][j];
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i]; // exactly symmetric
  return a;
}

/** Checks A v_k = λ_k v_k, VᵀV = I and the descending order; returns the largest errors relative to ‖A‖. */
function checkEigen(
  a: Float64Array,
  n: number,
  values: Float64Array,
  vectors: Float64Array,
): { residual: number; orthogonality: number } {
  let scale = 0;
  for (const x of a) scale = Math.max(scale, Math.abs(x));
  scale = Math.max(scale * n, 1e-300);
  let residual = 0,
    orthogonality = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + k];
      residual = Math.max(residual, Math.abs(av - values[k] * vectors[i * n + k]) / scale);
    }
    for (let l = k; l < n; l++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += vectors[i * n + k] * vectors[i * n + l];
      orthogonality = Math.max(orthogonality, Math.abs(s - (k === l ? 1 : 0)));
    }
  }
  return { residual, orthogonality };
}

function eigen(solver: typeof symmetricEigen, a: Float64Array, n: number) {
  const values = new Float64Array(n),
    vectors = new Float64Array(n * n);
  solver(a.slice(), n, values, vectors);
  return { values, vectors };
}

describe('symmetricEigen (Householder tridiagonalisation + implicit QL)', () => {
  const random = new SeededRandom(11);

  it('matches the Jacobi solver on random symmetric matrices of several sizes', () => {
    for (const n of [1, 2, 3, 5, 17, 64, 150]) {
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = random.normal();
      const mine = eigen(symmetricEigen, a, n),
        reference = eigen(jacobiEigen, a, n);
      const { residual, orthogonality } = checkEigen(a, n, mine.values, mine.vectors);
      expect(residual, `n = ${n}`).toBeLessThan(1e-14);
      expect(orthogonality, `n = ${n}`).toBeLessThan(1e-12);
      // Random spectra are simple: same eigenvalues, and the same eigenvectors up to sign.
      for (let k = 0; k < n; k++) {
        expect(Math.abs(mine.values[k] - reference.values[k]), `n = ${n}, λ${k}`).toBeLessThan(
          1e-12 * Math.max(1, Math.abs(reference.values[0])),
        );
        let c = 0;
        for (let i = 0; i < n; i++) c += mine.vectors[i * n + k] * reference.vectors[i * n + k];
        expect(Math.abs(c), `n = ${n}, v${k}`).toBeGreaterThan(1 - 1e-8);
      }
    }
  });

  it('handles repeated, zero and negative eigenvalues: the right multiplicities, orthonormal bases', () => {
    for (const lambda of [
      [3, 3, 3, 1, 1, 0, -2],
      [5, 5, 5, 5, 5, 5],
      [2, 0, 0, 0, 0, -1, -1, -1],
      Array.from({ length: 40 }, (_, i) => Math.floor(i / 10)),
    ]) {
      const n = lambda.length;
      const a = withSpectrum(lambda, random);
      const { values, vectors } = eigen(symmetricEigen, a, n);
      const sorted = [...lambda].sort((x, y) => y - x);
      values.forEach((v, k) => expect(v, `λ${k} of ${lambda.join(',')}`).toBeCloseTo(sorted[k], 12));
      const { residual, orthogonality } = checkEigen(a, n, values, vectors);
      expect(residual).toBeLessThan(1e-14);
      expect(orthogonality).toBeLessThan(1e-12);
    }
    // Already diagonal (nothing to reduce), the zero matrix, and a tridiagonal with zero couplings.
    const diagonal = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? [1, -4, 9, 2][i / 5] : 0));
    const d = eigen(symmetricEigen, diagonal, 4);
    expect(Array.from(d.values)).toEqual([9, 2, 1, -4]);
    expect(checkEigen(diagonal, 4, d.values, d.vectors).orthogonality).toBe(0);
    const zero = eigen(symmetricEigen, new Float64Array(9), 3);
    expect(Array.from(zero.values)).toEqual([0, 0, 0]);
    expect(checkEigen(new Float64Array(9), 3, zero.values, zero.vectors).orthogonality).toBe(0);
    const split = Float64Array.from([2, 1, 0, 0, 1, 2, 0, 0, 0, 0, 5, 0, 0, 0, 0, -1]);
    const s = eigen(symmetricEigen, split, 4);
    s.values.forEach((v, k) => expect(v).toBeCloseTo([5, 3, 1, -1][k], 14));
    expect(checkEigen(split, 4, s.values, s.vectors).residual).toBeLessThan(1e-15);
  });

  it('reads only the upper triangle', () => {
    const n = 9;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = random.normal();
    const garbage = a.slice();
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) garbage[i * n + j] = 1e6 * random.normal();
    const clean = eigen(symmetricEigen, a, n),
      dirty = eigen(symmetricEigen, garbage, n);
    expect(dirty.values).toEqual(clean.values);
    expect(dirty.vectors).toEqual(clean.vectors);
  });

  it('decomposes a 400×400 Gram matrix (the PCA of 400 faces) accurately', () => {
    const n = 400,
      dims = 50;
    const x = Float64Array.from({ length: n * dims }, () => random.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let k = 0; k < dims; k++) s += x[i * dims + k] * x[j * dims + k];
        a[i * n + j] = a[j * n + i] = s;
      }
    const start = performance.now();
    const { values, vectors } = eigen(symmetricEigen, a, n);
    console.log(`symmetricEigen 400×400: ${(performance.now() - start).toFixed(0)} ms`);
    const { residual, orthogonality } = checkEigen(a, n, values, vectors);
    expect(residual).toBeLessThan(1e-14);
    expect(orthogonality).toBeLessThan(1e-12);
    // Rank 50: 350 eigenvalues at rounding level.
    expect(values[dims - 1]).toBeGreaterThan(1);
    expect(Math.abs(values[dims])).toBeLessThan(1e-10 * values[0]);
  });
});

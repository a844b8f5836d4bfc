import { describe, expect, it } from 'vitest';
import { randomMeshDecoder } from '../bench/decoder-rates.js';
import { decodeWithTf } from '../src/learn/albedo-decoder.js';
import { meshConvArchitecture } from '../src/learn/mesh-conv-network.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { chebyshevStack, chebyshevSum, decodeMesh, MeshDecoderWorkspace } from '../src/model/mesh-conv-decoder.js';
import { applyGather, meshHierarchy } from '../src/model/mesh-hierarchy.js';
import { SeededRandom } from '../src/model/random.js';
import { differenceFromTf, heldOutErrorRatio } from './helpers/teacher-decoder.js';

/** An n × n grid (unit spacing, a little height), each square split along its (i, j)–(i+1, j+1) diagonal. */
function grid(n: number) {
  const positions = new Float32Array(3 * n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) positions.set([i, j, 0.1 * Math.sin(i + 2 * j)], 3 * (j * n + i));
  }
  const triangles: number[] = [];
  for (let j = 0; j + 1 < n; j++) {
    for (let i = 0; i + 1 < n; i++) {
      const a = j * n + i;
      triangles.push(a, a + 1, a + n + 1, a, a + n + 1, a + n);
    }
  }
  return { positions, triangles: Uint32Array.from(triangles) };
}

/** The dense L̃ = −D^-½ A D^-½ of a triangle list's edge graph. */
function denseLaplacian(V: number, triangles: Uint32Array): Float64Array {
  const A = new Float64Array(V * V);
  for (let t = 0; t < triangles.length; t += 3) {
    for (let e = 0; e < 3; e++) {
      const a = triangles[t + e],
        b = triangles[t + ((e + 1) % 3)];
      A[a * V + b] = A[b * V + a] = 1;
    }
  }
  const degree = new Float64Array(V);
  for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) degree[a] += A[a * V + b];
  for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) A[a * V + b] *= -1 / Math.sqrt(degree[a] * degree[b]);
  return A;
}

function times(M: Float64Array, x: ArrayLike<number>, V: number, C: number): Float64Array {
  const y = new Float64Array(V * C);
  for (let a = 0; a < V; a++) {
    for (let b = 0; b < V; b++) for (let c = 0; c < C; c++) y[a * C + c] += M[a * V + b] * x[b * C + c];
  }
  return y;
}

const largestDifference = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe('mesh hierarchy', () => {
  const { positions, triangles } = grid(10);
  const hierarchy = meshHierarchy(positions, triangles, [30, 8]);

  it('samples farthest points along the graph and interpolates each finer vertex from ≤ 3 coarse ones', () => {
    expect(hierarchy.levels.map((l) => l.vertices.length)).toEqual([100, 30, 8]);
    // Vertex 0 first, then the farthest corner along the diagonals: (9, 9).
    expect(Array.from(hierarchy.levels[1].vertices.subarray(0, 2))).toEqual([0, 99]);
    expect(meshHierarchy(positions, triangles, [30, 8])).toEqual(hierarchy); // deterministic
    hierarchy.upsample.forEach((up, l) => {
      const fine = hierarchy.levels[l].vertices,
        coarse = hierarchy.levels[l + 1].vertices;
      expect(up.rows).toBe(fine.length);
      expect(up.degree).toBe(3);
      for (let r = 0; r < up.rows; r++) {
        let sum = 0;
        for (let j = 3 * r; j < 3 * r + 3; j++) {
          expect(up.indices[j]).toBeLessThan(coarse.length);
          expect(up.weights[j]).toBeGreaterThanOrEqual(0);
          sum += up.weights[j];
        }
        expect(sum).toBeCloseTo(1, 6);
      }
      // A finer vertex that is a coarse one takes it alone.
      coarse.forEach((id, c) => {
        const r = fine.indexOf(id);
        expect(up.indices[3 * r]).toBe(c);
        expect(up.weights[3 * r]).toBe(1);
      });
    });
    // The coarse graphs stay connected (Voronoi cells along the graph are connected).
    for (const level of hierarchy.levels.slice(1)) {
      const { rows, degree, indices, weights } = level.laplacian;
      const seen = new Uint8Array(rows);
      const queue = [0];
      seen[0] = 1;
      while (queue.length) {
        const v = queue.pop()!;
        for (let j = v * degree; j < (v + 1) * degree; j++) {
          if (weights[j] !== 0 && !seen[indices[j]]) {
            seen[indices[j]] = 1;
            queue.push(indices[j]);
          }
        }
      }
      expect(seen.every((s) => s === 1)).toBe(true);
    }
    expect(() => meshHierarchy(positions, triangles, [30, 40])).toThrow(/must decrease/);
  });

  it('applies L̃ and its Chebyshev polynomials as the dense matrices do', () => {
    const V = 100,
      C = 2,
      K = 4;
    const L = denseLaplacian(V, triangles);
    const random = new SeededRandom(4);
    const x = Float32Array.from({ length: V * C }, () => random.normal());
    const lap = hierarchy.levels[0].laplacian;
    const y = new Float32Array(V * C);
    applyGather(lap, x, C, 0, C, y, C, 0);
    expect(largestDifference(y, times(L, x, V, C))).toBeLessThan(1e-5);

    // T_2 x = 2 L̃² x − x, T_3 x = 4 L̃³ x − 3 L̃ x.
    const stack = new Float32Array(V * K * C);
    for (let v = 0; v < V; v++) stack.set(x.subarray(v * C, (v + 1) * C), v * K * C);
    chebyshevStack(lap, stack, C, K);
    const Lx = times(L, x, V, C),
      LLx = times(L, Lx, V, C),
      LLLx = times(L, LLx, V, C);
    const term = (t: number) =>
      Float64Array.from({ length: V * C }, (_, i) => stack[Math.floor(i / C) * K * C + t * C + (i % C)]);
    expect(
      largestDifference(
        term(2),
        LLx.map((v, i) => 2 * v - x[i]),
      ),
    ).toBeLessThan(1e-5);
    expect(
      largestDifference(
        term(3),
        LLLx.map((v, i) => 4 * v - 3 * Lx[i]),
      ),
    ).toBeLessThan(1e-5);

    // Σ_t T_t a_t by Clenshaw against the same terms summed.
    const a = Float32Array.from({ length: V * K * C }, () => random.normal());
    const expected = new Float64Array(V * C);
    for (let t = 0; t < K; t++) {
      const at = new Float32Array(V * K * C);
      for (let v = 0; v < V; v++) at.set(a.subarray(v * K * C + t * C, v * K * C + (t + 1) * C), v * K * C);
      chebyshevStack(lap, at, C, K);
      for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) expected[v * C + c] += at[v * K * C + t * C + c];
    }
    chebyshevSum(lap, a, C, K, new Float32Array(V * C));
    const sum = Float64Array.from({ length: V * C }, (_, i) => a[Math.floor(i / C) * K * C + (i % C)]);
    expect(largestDifference(sum, expected)).toBeLessThan(1e-4);
  });
});

describe('mesh-convolution decoder', () => {
  const { positions, triangles } = grid(10);
  const hierarchy = meshHierarchy(positions, triangles, [30, 8]);

  it('decodes in pure TS as tfjs does, and tfjs differentiates it as finite differences do', async () => {
    const tf = await trainingTf();
    const random = new SeededRandom(11);
    const shape = { channels: [5, 4], order: 3, outputs: 6 };
    const decoder = randomMeshDecoder(random, 3, shape, hierarchy);
    const workspace = new MeshDecoderWorkspace(decoder);
    const architecture = meshConvArchitecture(hierarchy, shape);
    const m = 5,
      d = 600;
    const latents = Float32Array.from({ length: 3 * m }, () => 1.5 * random.normal());
    const reference = decodeWithTf(tf, decoder, latents, m, architecture);
    const decode = (dec: typeof decoder, z: Float32Array, out: Float32Array) => decodeMesh(dec, z, out, workspace);
    const { largest, spread } = differenceFromTf(decoder, decode, reference, latents, m, d);
    expect(spread).toBeGreaterThan(0.1); // the outputs do depend on the net
    expect(largest).toBeLessThanOrEqual(1e-4);
    expect(() => decodeMesh(decoder, [1, 2])).toThrow(/takes 3 latent values, got 2/);

    // ∂(Σ r ∘ net(z))/∂z through the custom gradients, against central differences of the pure-TS decode.
    const r = Float32Array.from({ length: d }, () => random.normal());
    const z = latents.subarray(0, 3);
    const network = architecture.fixed(tf, decoder);
    const gradient = tf.tidy(() =>
      tf
        .grad((x: ReturnType<typeof tf.tensor2d>) => tf.sum(tf.mul(network.forward(x), tf.tensor2d(r, [1, d]))))(
          tf.tensor2d(z, [1, 3]),
        )
        .dataSync(),
    );
    network.dispose();
    const objective = (x: Float32Array) => {
      const y = decodeMesh(decoder, x, undefined, workspace);
      let s = 0;
      for (let j = 0; j < d; j++) s += (r[j] * (y[j] - decoder.offset[j])) / decoder.scale[j];
      return s;
    };
    for (let i = 0; i < 3; i++) {
      const h = 1e-2;
      const up = Float32Array.from(z),
        down = Float32Array.from(z);
      up[i] += h;
      down[i] -= h;
      const numeric = (objective(up) - objective(down)) / (2 * h);
      expect(Math.abs(gradient[i] - numeric)).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    }
  });

  it('trains as an auto-decoder and predicts held-out samples from half their entries', async () => {
    const tf = await trainingTf();
    const random = new SeededRandom(6);
    const shape = { channels: [6, 6], outputs: 3 };
    const teacher = randomMeshDecoder(random, 2, shape, hierarchy);
    const ratio = heldOutErrorRatio(
      tf,
      meshConvArchitecture(hierarchy, shape),
      (z, out) => decodeMesh(teacher, z, out),
      (decoder, z, out) => decodeMesh(decoder, z, out),
      3 * 100,
      random,
    );
    // Measured: 0.16 of the mean's squared error; with the sparse ops' gradient zeroed, 1.00.
    expect(ratio).toBeLessThan(0.25);
  }, 120_000);
});

import { describe, expect, it } from 'vitest';
import { createCamera, type Camera } from '../src/geometry/camera.js';
import { projectPoints } from '../src/geometry/projection.js';
import { landmarkRows } from '../src/fit/landmark-term.js';
import { rotateBy, rotationFromAngles } from '../src/geometry/rotation.js';
import { landmarkPositions } from '../src/model/landmark-positions.js';
import { emptyBasis, type MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';

describe('landmark positions (model/landmark-positions.ts)', () => {
  // Three vertices, one identity and one expression component; landmark 0 at vertex 2, 1 at vertex 0, 2 missing.
  const model: MorphableModel = {
    name: 'tiny',
    licence: '',
    vertexCount: 3,
    mean: Float32Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22]),
    triangles: new Uint32Array(0),
    uvs: new Float32Array(0),
    uvTriangles: new Uint32Array(0),
    identity: { ...emptyBasis('pca'), count: 1, basis: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) },
    expression: { ...emptyBasis('blendshapes'), count: 1, basis: Float32Array.from([0, 0, 1, 0, 0, 1, 0, 0, 1]) },
    landmarks: {
      ibug68: {
        vertices: Int32Array.from([2, 0, -1]),
        offsets: Float32Array.from({ length: 204 }, (_, i) => 0.5 * (i + 1)),
      },
    },
    regions: {},
    contours: {},
  };

  it("is the vertex moved by the coefficients, plus the calibrated offset at the landmark's own vertex only", () => {
    const out = landmarkPositions(model, [2, 0, -1, 1], model.mean, [2], [0.5], new Float64Array(12));
    // Landmark 0 at vertex 2: mean + 2·identity + 0.5·expression + offsets 0.5, 1, 1.5.
    expect(Array.from(out.subarray(0, 3))).toEqual([20 + 14 + 0.5, 21 + 16 + 1, 22 + 18 + 0.5 + 1.5]);
    expect(Array.from(out.subarray(3, 6))).toEqual([0 + 2 + 2, 1 + 4 + 2.5, 2 + 6 + 0.5 + 3]);
    expect(out.subarray(6, 9).every(Number.isNaN)).toBe(true);
    // Landmark 3 is not in the model's set: the bare vertex, no offset.
    expect(Array.from(out.subarray(9, 12))).toEqual([10 + 8, 11 + 10, 12 + 12 + 0.5]);
    // On an evaluated mesh, without coefficients: the mesh vertex plus the offset.
    const mesh = Float32Array.from([100, 100, 100, 0, 0, 0, 7, 8, 9]);
    expect(Array.from(landmarkPositions(model, [2, 1], mesh, null, null, new Float32Array(6)))).toEqual([
      7.5, 9, 10.5, 0, 0, 0,
    ]);
  });
});

describe('landmark term (fit/landmark-term.ts)', () => {
  // Random shape rows for a few landmarks; parameters [δ, t, log f, θ] as the landmark fit lays them out.
  const random = new SeededRandom(7);
  const points = 5,
    shapeCount = 4,
    rowStride = 6; // wider rows than the columns used: only shapeCount count
  const rows = Float64Array.from({ length: 3 * points * rowStride }, () => 10 * random.normal());
  const base = Float64Array.from({ length: 3 * points }, () => 60 * random.normal());
  const theta = Float64Array.from({ length: shapeCount }, () => random.normal());
  const observed = Float64Array.from({ length: 2 * points }, () => 200 + 20 * random.normal());
  const camera = createCamera(400, 400, 900);
  rotationFromAngles(20, -8, 4, camera.rotation);
  camera.translation.set([5, -3, -700]);

  /** π(X(θ)) − observed for every landmark at parameters moved by ε·v. */
  const residualsAt = (v: Float64Array, e: number, withFocal: boolean): Float64Array => {
    const c: Camera = { ...camera, rotation: camera.rotation.slice(), translation: camera.translation.slice() };
    rotateBy(c.rotation, e * v[0], e * v[1], e * v[2]);
    for (let k = 0; k < 3; k++) c.translation[k] += e * v[3 + k];
    const s = withFocal ? 7 : 6;
    if (withFocal) c.focal *= Math.exp(e * v[6]);
    const X = base.slice();
    for (let q = 0; q < 3 * points; q++)
      for (let p = 0; p < shapeCount; p++) X[q] += rows[q * rowStride + p] * (theta[p] + e * v[s + p]);
    const uv = new Float64Array(2 * points);
    projectPoints(c, X, points, uv);
    return uv.map((u, j) => u - observed[j]);
  };

  for (const withFocal of [true, false]) {
    it(
      `gives the weighted rows of the camera's projection minus the observation, and a Jacobian that `
        + `matches central differences (${withFocal ? 'with' : 'without'} a focal column)`,
      () => {
        const n = (withFocal ? 7 : 6) + shapeCount;
        const X = base.slice();
        for (let q = 0; q < 3 * points; q++)
          for (let p = 0; p < shapeCount; p++) X[q] += rows[q * rowStride + p] * theta[p];
        const zero = new Float64Array(n),
          expected = residualsAt(zero, 0, withFocal);
        // Landmark 1 is left out (weight 0): rows 0–1 are landmark 0, rows 2–3 landmark 2, …
        const rootWeight = [1, 0, 2, 0.5, 1.5],
          used = [0, 2, 3, 4];
        const capacity = 2 * points + 3; // more room than rows: only the rows used are written
        const residuals = new Float64Array(capacity).fill(NaN),
          jacobian = new Float64Array((n + 1) * capacity).fill(NaN);
        const problem = { points3d: X, observed, rootWeight, count: points, rows, rowStride, shapeCount, withFocal };
        expect(landmarkRows(camera, problem, { residuals, jacobian, rowCapacity: capacity })).toBe(2 * used.length);
        // Nothing written past the rows used, nor past the n columns.
        expect(residuals.subarray(2 * used.length).every(Number.isNaN)).toBe(true);
        expect(jacobian.subarray(n * capacity).every(Number.isNaN)).toBe(true);
        for (let a = 0; a < n; a++)
          expect(jacobian.subarray(a * capacity + 2 * used.length, (a + 1) * capacity).every(Number.isNaN)).toBe(true);
        used.forEach((i, slot) => {
          const sw = rootWeight[i],
            u = 2 * slot,
            v = u + 1;
          expect(residuals[u]).toBeCloseTo(sw * expected[2 * i], 9);
          expect(residuals[v]).toBeCloseTo(sw * expected[2 * i + 1], 9);
          for (let a = 0; a < n; a++) {
            const step = new Float64Array(n);
            step[a] = 1;
            const h = a < 3 || (withFocal && a === 6) ? 1e-6 : 1e-4;
            const plus = residualsAt(step, h, withFocal),
              minus = residualsAt(step, -h, withFocal);
            const du = (sw * (plus[2 * i] - minus[2 * i])) / (2 * h),
              dv = (sw * (plus[2 * i + 1] - minus[2 * i + 1])) / (2 * h);
            const scale = Math.max(1, Math.abs(du), Math.abs(dv));
            expect(Math.abs(jacobian[a * capacity + u] - du) / scale).toBeLessThan(1e-5);
            expect(Math.abs(jacobian[a * capacity + v] - dv) / scale).toBeLessThan(1e-5);
          }
        });
        // Residuals only (no Jacobian): the same residuals.
        const again = new Float64Array(capacity);
        expect(landmarkRows(camera, problem, { residuals: again, jacobian: null, rowCapacity: capacity })).toBe(
          2 * used.length,
        );
        expect(Array.from(again.subarray(0, 2 * used.length))).toEqual(
          Array.from(residuals.subarray(0, 2 * used.length)),
        );
      },
    );
  }
});

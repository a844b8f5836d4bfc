import { describe, expect, it } from 'vitest';
import { evaluateShape, evaluateVertices } from '../src/model/evaluate.js';
import { vertexNormals } from '../src/model/normals.js';
import { SeededRandom } from '../src/model/random.js';
import { componentCoefficients, sampleCoefficients } from '../src/model/sample.js';
import { submodel } from '../src/model/submesh.js';
import { tinyModel } from './helpers/tiny-model.js';

describe('evaluateShape', () => {
  it('adds the weighted components to the mean, component by component', () => {
    const m = tinyModel({ side: 3, identity: 2, expression: 1 });
    const alpha = [0.5, -2];
    const beta = [0.25];
    const out = evaluateShape(m, alpha, beta);
    const n = m.mean.length;
    for (const i of [0, 7, n - 1]) {
      const expected =
        m.mean[i] + 0.5 * m.identity.basis[i] - 2 * m.identity.basis[n + i] + 0.25 * m.expression.basis[i];
      expect(out[i]).toBeCloseTo(expected, 4);
    }
  });

  it('treats missing coefficients as zero and reuses the output array', () => {
    const m = tinyModel();
    const out = new Float32Array(m.mean.length).fill(99);
    expect(evaluateShape(m, [], [], out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(m.mean));
  });
});

describe('evaluateVertices', () => {
  it('gives the same positions as the full evaluation for a vertex subset', () => {
    const m = tinyModel({ side: 5, identity: 4, expression: 3 });
    const random = new SeededRandom(3);
    const c = sampleCoefficients(m, random, { expression: true });
    const full = evaluateShape(m, c.identity, c.expression);
    const subset = [24, 0, 13, 13];
    const part = evaluateVertices(m, subset, c.identity, c.expression);
    subset.forEach((v, p) => {
      for (let k = 0; k < 3; k++) expect(part[3 * p + k]).toBeCloseTo(full[3 * v + k], 4);
    });
  });

  it('returns NaN for missing (-1) landmarks', () => {
    const m = tinyModel();
    const out = evaluateVertices(m, [-1, 2], [], []);
    expect(Number.isNaN(out[0])).toBe(true);
    expect(out[3]).toBe(m.mean[6]);
  });
});

describe('sampling', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const m = tinyModel({ identity: 10 });
    const a = sampleCoefficients(m, new SeededRandom(7));
    const b = sampleCoefficients(m, new SeededRandom(7));
    const c = sampleCoefficients(m, new SeededRandom(8));
    expect(Array.from(a.identity)).toEqual(Array.from(b.identity));
    expect(Array.from(a.identity)).not.toEqual(Array.from(c.identity));
    expect(Array.from(a.expression).every((v) => v === 0)).toBe(true);
  });

  it('draws standard normal coefficients', () => {
    const random = new SeededRandom(42);
    let sum = 0,
      sq = 0;
    const count = 20000;
    for (let i = 0; i < count; i++) {
      const x = random.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / count)).toBeLessThan(0.03);
    expect(Math.abs(sq / count - 1)).toBeLessThan(0.04);
  });

  it('draws blendshape expressions in [0, 1]', () => {
    const m = tinyModel({ expression: 6 });
    const c = sampleCoefficients(m, new SeededRandom(1), { expression: true });
    expect(Array.from(c.expression).some((v) => v > 0)).toBe(true);
    expect(Array.from(c.expression).every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('sets one component for --component', () => {
    const m = tinyModel();
    const c = componentCoefficients(m, 'expression', 1, 0.7);
    expect(Array.from(c.expression)).toEqual([0, expect.closeTo(0.7, 6)]);
    expect(Array.from(c.identity).every((v) => v === 0)).toBe(true);
  });
});

describe('vertexNormals', () => {
  it('points +z for a flat counter-clockwise grid and is unit length', () => {
    const positions = Float32Array.from([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    const normals = vertexNormals(positions, Uint32Array.from([0, 1, 2, 0, 2, 3]));
    for (let v = 0; v < 4; v++) expect(Array.from(normals.subarray(3 * v, 3 * v + 3))).toEqual([0, 0, 1]);
  });

  it('averages the faces around a vertex by area', () => {
    // A roof: two faces meeting at the ridge x = 0, sloping down both ways.
    const positions = Float32Array.from([0, 0, 1, 0, 1, 1, -1, 0, 0, -1, 1, 0, 1, 0, 0, 1, 1, 0]);
    const tris = Uint32Array.from([2, 0, 1, 2, 1, 3, 0, 4, 1, 4, 5, 1]);
    const normals = vertexNormals(positions, tris);
    expect(normals[0]).toBeCloseTo(0, 6);
    expect(normals[2]).toBeCloseTo(1, 6);
    expect(normals[6]).toBeCloseTo(-Math.SQRT1_2, 6);
  });
});

describe('submodel', () => {
  it('re-indexes vertices, bases, triangles, landmarks, regions and contours', () => {
    const m = tinyModel({ side: 4, identity: 2, expression: 1, color: true });
    const keep = Uint32Array.from([1, 2, 5, 6, 9]);
    const sub = submodel(m, keep);
    expect(sub.vertexCount).toBe(5);
    const alpha = [0.3, -1.2],
      beta = [0.8];
    const full = evaluateShape(m, alpha, beta);
    const part = evaluateShape(sub, alpha, beta);
    keep.forEach((v, i) => {
      for (let k = 0; k < 3; k++) expect(part[3 * i + k]).toBeCloseTo(full[3 * v + k], 5);
    });
    // Cells (1,0)-(2,1) are inside: both triangles of cell x=1,y=0 are kept (1,2,6 and 1,6,5).
    expect(Array.from(sub.triangles)).toEqual([0, 1, 3, 0, 3, 2]);
    expect(sub.uvTriangles.length).toBe(sub.triangles.length);
    expect(Array.from(sub.landmarks.ibug68.vertices.slice(0, 3))).toEqual([-1, 0, 1]);
    expect(Array.from(sub.regions.face)).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(sub.contours.right)).toEqual([]);
    expect(sub.color!.mean.length).toBe(15);
    expect(sub.color!.basis.basis[3]).toBe(m.color!.basis.basis[3 * 2]);
  });
});

import { describe, expect, it } from 'vitest';
import { rotationFromAngles } from '../src/geometry/rotation.js';
import {
  alignSimilarity,
  applySimilarity,
  createClosestPoint,
  createSimilarity,
  MeshDistance,
  pointsNear,
  shapeError,
} from '../src/geometry/shape-error.js';
import { SeededRandom } from '../src/model/random.js';
import { vertexNormals } from '../src/model/normals.js';

/** A face-sized open height field: a bump (the "nose") with ripples, n × n vertices over ±80 mm. */
function heightField(n = 60) {
  const positions = new Float32Array(3 * n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const x = -80 + (160 * i) / (n - 1),
        y = -80 + (160 * j) / (n - 1);
      const z = 60 * Math.exp(-(x * x + y * y) / 4000) + 5 * Math.sin(x / 15) * Math.cos(y / 20);
      positions.set([x, y, z], 3 * (j * n + i));
    }
  }
  const triangles: number[] = [];
  for (let j = 0; j + 1 < n; j++) {
    for (let i = 0; i + 1 < n; i++) {
      const a = j * n + i;
      triangles.push(a, a + 1, a + n + 1, a, a + n + 1, a + n);
    }
  }
  return { positions, triangles: Uint32Array.from(triangles), n };
}

/** A UV sphere of radius r (poles included). */
function sphere(r: number, rings = 40, segments = 60) {
  const points: number[] = [0, 0, r];
  for (let i = 1; i < rings; i++) {
    const t = (Math.PI * i) / rings;
    for (let j = 0; j < segments; j++) {
      const p = (2 * Math.PI * j) / segments;
      points.push(r * Math.sin(t) * Math.cos(p), r * Math.sin(t) * Math.sin(p), r * Math.cos(t));
    }
  }
  points.push(0, 0, -r);
  const last = points.length / 3 - 1;
  const ring = (i: number, j: number) => 1 + (i - 1) * segments + (j % segments);
  const triangles: number[] = [];
  for (let j = 0; j < segments; j++) {
    triangles.push(0, ring(1, j), ring(1, j + 1), last, ring(rings - 1, j + 1), ring(rings - 1, j));
    for (let i = 1; i + 1 < rings; i++) {
      triangles.push(ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j), ring(i + 1, j + 1), ring(i, j + 1));
    }
  }
  return { positions: Float32Array.from(points), triangles: Uint32Array.from(triangles) };
}

const sub = (a: number[], b: number[]) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** Distance from p to segment ab. */
function segmentDistance(p: number[], a: number[], b: number[]): number {
  const ab = sub(b, a);
  const t = Math.max(0, Math.min(1, dot(sub(p, a), ab) / dot(ab, ab)));
  return Math.hypot(...sub(p, [a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]]));
}

/** Distance from p to triangle abc, written independently: the plane when p projects inside, else the edges. */
function triangleDistance(p: number[], a: number[], b: number[], c: number[]): number {
  const n = cross(sub(b, a), sub(c, a));
  const len = Math.hypot(...n);
  const h = dot(sub(p, a), n) / len;
  const q = [p[0] - (h * n[0]) / len, p[1] - (h * n[1]) / len, p[2] - (h * n[2]) / len];
  const inside = [
    [a, b],
    [b, c],
    [c, a],
  ].every(([u, v]) => dot(cross(sub(v, u), sub(q, u)), n) >= 0);
  return inside ? Math.abs(h) : Math.min(segmentDistance(p, a, b), segmentDistance(p, b, c), segmentDistance(p, c, a));
}

function bruteForce(positions: Float32Array, triangles: Uint32Array, p: number[]): number {
  const v = (i: number) => [positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]];
  let best = Infinity;
  for (let t = 0; t < triangles.length; t += 3) {
    best = Math.min(best, triangleDistance(p, v(triangles[t]), v(triangles[t + 1]), v(triangles[t + 2])));
  }
  return best;
}

describe('similarity alignment (Horn / Umeyama)', () => {
  it('recovers a known similarity, ignoring zero-weight outliers and non-finite points', () => {
    const random = new SeededRandom(5);
    const count = 40;
    const source = new Float64Array(3 * count).map(() => 50 * random.normal());
    const truth = createSimilarity();
    rotationFromAngles(70, -35, 120, truth.rotation);
    truth.scale = 1.37;
    truth.translation.set([12, -40, 300]);
    const target = new Float64Array(3 * count);
    const q = new Float64Array(3);
    for (let i = 0; i < count; i++) {
      target.set(applySimilarity(q, truth, source[3 * i], source[3 * i + 1], source[3 * i + 2]), 3 * i);
    }
    const weights = new Float64Array(count).map(() => 0.5 + random.uniform());
    // Outliers: weight 0, and a NaN point.
    target.set([1e4, -1e4, 5e3], 0);
    weights[0] = 0;
    source[3] = Number.NaN;
    const found = alignSimilarity(source, target, count, weights, createSimilarity());
    expect(found.scale).toBeCloseTo(1.37, 9);
    for (let k = 0; k < 9; k++) expect(found.rotation[k]).toBeCloseTo(truth.rotation[k], 9);
    for (let k = 0; k < 3; k++) expect(found.translation[k]).toBeCloseTo(truth.translation[k], 7);
    // Without scale: the rotation is the same, the scale stays 1.
    const rigid = alignSimilarity(source, target, count, weights, createSimilarity(), false);
    expect(rigid.scale).toBe(1);
    for (let k = 0; k < 9; k++) expect(rigid.rotation[k]).toBeCloseTo(truth.rotation[k], 9);
  });

  it('returns a proper rotation for mirrored points (the best rotation, not the reflection)', () => {
    const random = new SeededRandom(6);
    const source = new Float64Array(30).map(() => random.normal());
    const target = source.map((v, i) => (i % 3 === 0 ? -v : v)); // x mirrored
    const r = alignSimilarity(source, target, 10, null, createSimilarity()).rotation;
    const det =
      r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
    expect(det).toBeCloseTo(1, 9);
  });
});

describe('point-to-mesh distance', () => {
  it('equals brute force over every triangle, for points near and far, on a mesh with triangles of any size', () => {
    const random = new SeededRandom(7);
    const field = heightField(25);
    // Add a soup of random triangles, small to huge, so that cells hold many and triangles span many cells.
    const extra = 40;
    const positions = new Float32Array(field.positions.length + 9 * extra);
    positions.set(field.positions);
    const base = field.positions.length / 3;
    const triangles = new Uint32Array(field.triangles.length + 3 * extra);
    triangles.set(field.triangles);
    for (let t = 0; t < extra; t++) {
      const size = t === 0 ? 300 : 2 + 30 * random.uniform();
      const c = [200 * random.uniform() - 100, 200 * random.uniform() - 100, 150 * random.uniform() - 50];
      for (let k = 0; k < 3; k++) {
        positions.set(
          [c[0] + size * random.normal(), c[1] + size * random.normal(), c[2] + size * random.normal()],
          3 * (base + 3 * t + k),
        );
        triangles[field.triangles.length + 3 * t + k] = base + 3 * t + k;
      }
    }
    const mesh = new MeshDistance(positions, triangles);
    const out = createClosestPoint();
    for (let i = 0; i < 300; i++) {
      const spread = i < 200 ? 120 : 1000; // a third far outside the mesh's box
      const p = [spread * (2 * random.uniform() - 1), spread * (2 * random.uniform() - 1), spread * random.uniform()];
      mesh.closest(p[0], p[1], p[2], out);
      const expected = bruteForce(positions, triangles, p);
      expect(Math.abs(out.distance - expected)).toBeLessThan(1e-6 * (1 + expected));
      // The point returned is on triangle `out.triangle`, at that distance.
      const v = (j: number) => [positions[3 * j], positions[3 * j + 1], positions[3 * j + 2]];
      const t = 3 * out.triangle;
      const q = [...out.point];
      expect(triangleDistance(q, v(triangles[t]), v(triangles[t + 1]), v(triangles[t + 2]))).toBeLessThan(1e-6);
      expect(Math.hypot(...sub(p, q))).toBeCloseTo(out.distance, 9);
      // A hint (any triangle) changes the search, not the answer.
      const hinted = mesh.closest(p[0], p[1], p[2], createClosestPoint(), Math.floor(random.uniform() * 100));
      expect(hinted.distance).toBeCloseTo(out.distance, 9);
    }
  });
});

describe('NoW-style shape error', () => {
  const field = heightField();
  const center = [0, 0, 60];
  const region = pointsNear(field.positions, center, 70);
  // 20 "landmarks": vertices spread over the surface.
  const landmarkIds = Array.from({ length: 20 }, (_, i) => ((i * 7919) % (field.n * field.n)) >>> 0);
  const gather = (positions: ArrayLike<number>, ids: ArrayLike<number>) => {
    const out = new Float64Array(3 * ids.length);
    for (let i = 0; i < ids.length; i++) for (let k = 0; k < 3; k++) out[3 * i + k] = positions[3 * ids[i] + k];
    return out;
  };

  it('pointsNear keeps exactly the vertices within the radius', () => {
    let inside = 0;
    for (let v = 0; v < field.n * field.n; v++) {
      const d = Math.hypot(...sub([...field.positions.subarray(3 * v, 3 * v + 3)], center));
      if (d <= 70) expect(region[inside++]).toBe(v);
    }
    expect(region.length).toBe(inside);
    expect(inside).toBeGreaterThan(500);
  });

  it('is ~0 for the mesh against itself moved by a similarity, with ICP fixing landmark noise', () => {
    const random = new SeededRandom(8);
    const move = createSimilarity();
    rotationFromAngles(40, 15, -10, move.rotation);
    move.scale = 0.9;
    move.translation.set([30, 20, -500]);
    const moved = new Float64Array(field.positions.length);
    const q = new Float64Array(3);
    for (let v = 0; v < field.n * field.n; v++) {
      moved.set(
        applySimilarity(q, move, field.positions[3 * v], field.positions[3 * v + 1], field.positions[3 * v + 2]),
        3 * v,
      );
    }
    const truthPoints = gather(moved, region);
    const truthLandmarks = gather(moved, landmarkIds);
    const predicted = gather(field.positions, landmarkIds);
    const exact = shapeError(truthPoints, truthLandmarks, predicted, field.positions, field.triangles);
    expect(exact.median).toBeLessThan(1e-4);
    expect(exact.alignment.scale).toBeCloseTo(0.9, 6);
    // Landmarks off by 2 mm: the landmark alignment alone is off, ICP brings it back.
    const noisy = predicted.map((v) => v + 2 * random.normal());
    const landmarksOnly = shapeError(truthPoints, truthLandmarks, noisy, field.positions, field.triangles, {
      iterations: 0,
    });
    const refined = shapeError(truthPoints, truthLandmarks, noisy, field.positions, field.triangles, {
      iterations: 50,
    });
    expect(landmarksOnly.median).toBeGreaterThan(0.2);
    expect(refined.median).toBeLessThan(0.05);
    expect(refined.mean).toBeLessThan(landmarksOnly.mean);
  });

  it('is ~1 mm against the mesh shifted 1 mm along its normals, ~0 for a sphere 1 mm larger (with scale)', () => {
    // The height field shifted 1 mm along its normals, aligned by the unshifted landmarks and no ICP: 1 mm.
    // (ICP would absorb most of it: on a nearly flat open patch a 1 mm normal offset is nearly a translation.)
    const normals = vertexNormals(field.positions, field.triangles);
    const shifted = field.positions.map((v, i) => v + normals[i]);
    const rigid = shapeError(
      gather(shifted, region),
      gather(field.positions, landmarkIds),
      gather(field.positions, landmarkIds),
      field.positions,
      field.triangles,
      { withScale: false, iterations: 0 },
    );
    expect(Math.abs(rigid.median - 1)).toBeLessThan(0.03);
    expect(Math.abs(rigid.mean - 1)).toBeLessThan(0.03);

    // A sphere of radius 51 against one of 50: the rigid error is 1 mm, the similarity's ~0 (scale 51/50).
    const small = sphere(50);
    const large = small.positions.map((v) => (v * 51) / 50);
    const ids = Array.from({ length: 30 }, (_, i) => i * 70);
    const all = Uint32Array.from({ length: small.positions.length / 3 }, (_, i) => i);
    const args = [
      gather(large, all),
      gather(large, ids),
      gather(small.positions, ids),
      small.positions,
      small.triangles,
    ] as const;
    const sphereRigid = shapeError(...args, { withScale: false });
    expect(sphereRigid.median).toBeCloseTo(1, 1);
    const sphereScaled = shapeError(...args);
    expect(sphereScaled.alignment.scale).toBeCloseTo(51 / 50, 6);
    expect(sphereScaled.median).toBeLessThan(1e-4);
  });
});

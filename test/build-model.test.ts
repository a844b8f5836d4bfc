import { Command } from 'commander';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addBuildCommand } from '../src/cli/build-command.js';
import { InputError } from '../src/errors.js';
import { symmetricEigen } from '../src/geometry/linalg.js';
import { linearToSrgb, srgbToLinear } from '../src/model/color.js';
import { meshToObj } from '../src/io/mesh-obj.js';
import { meshToPly } from '../src/io/mesh-ply.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import {
  buildModelFromFolder,
  DEFAULT_BUILD_LICENCE,
  parseMesh,
  type BuildResult,
} from '../src/io/node/build-model.js';
import { parsePly } from '../src/io/ply-reader.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateShape } from '../src/model/evaluate.js';
import { SeededRandom } from '../src/model/random.js';
import { sampleCoefficients } from '../src/model/sample.js';
import { SFM_FOLDER, hasShared } from './helpers/shared.js';
import { dot, principalCosines } from './helpers/subspace.js';

const work = mkdtempSync(join(tmpdir(), 'morphable-build-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// A known model on a 15 × 20 grid (300 vertices, 10 mm spacing): 5 smooth orthonormal shape
// components with σ = 10, 6, 4, 2, 1 mm, and a colour model with 3 components (σ = 1, 0.5, 0.25 as
// norms over the 900 colour values, i.e. about 0.03, 0.017, 0.008 per value) around a mid grey.

const W = 15,
  H = 20,
  N = W * H,
  D = 3 * N;
const SHAPE_SIGMAS = [10, 6, 4, 2, 1];
const COLOR_SIGMAS = [1, 0.5, 0.25];

function gridTriangles(): Uint32Array {
  const t: number[] = [];
  for (let y = 0; y + 1 < H; y++)
    for (let x = 0; x + 1 < W; x++) {
      const v = y * W + x;
      t.push(v, v + 1, v + W + 1, v, v + W + 1, v + W);
    }
  return Uint32Array.from(t);
}

/** Smooth random fields over the grid (low-frequency cosines), orthonormalised. */
function smoothComponents(count: number, random: SeededRandom): Float64Array[] {
  const rows: Float64Array[] = [];
  while (rows.length < count) {
    const v = new Float64Array(D);
    for (let c = 0; c < 3; c++)
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 3; b++) {
          const w = random.normal();
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++)
              v[3 * (y * W + x) + c] +=
                w * Math.cos((Math.PI * a * x) / (W - 1)) * Math.cos((Math.PI * b * y) / (H - 1));
        }
    for (const q of rows) {
      const p = dot(q, v);
      for (let j = 0; j < D; j++) v[j] -= p * q[j];
    }
    const norm = Math.sqrt(dot(v, v));
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

/** Lower-triangular L with L Lᵀ = a (symmetric positive definite n×n, row-major). */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] ** 2;
    l[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

const triangles = gridTriangles();
const random = new SeededRandom(2024);
const shapeTruth = smoothComponents(5, random);
const colorTruth = smoothComponents(3, random);
const meanShape = new Float64Array(D);
const meanColor = new Float64Array(D);
for (let v = 0; v < N; v++) {
  const x = v % W,
    y = Math.floor(v / W);
  meanShape.set([10 * x - 70, 10 * y - 95, 20 * Math.exp(-((x - 7) ** 2 + (y - 10) ** 2) / 30)], 3 * v);
  meanColor.set([0.5 + 0.05 * Math.sin(x), 0.45 + 0.05 * Math.cos(y), 0.4], 3 * v);
}

function drawFace(mean: Float64Array, components: Float64Array[], sigmas: number[]): Float32Array {
  const out = Float64Array.from(mean);
  components.forEach((q, k) => {
    const z = sigmas[k] * random.normal();
    for (let j = 0; j < D; j++) out[j] += z * q[j];
  });
  return Float32Array.from(out);
}

/** ASCII PLY with float sRGB colours, normals and a face flag: the properties a reader must skip. */
function asciiPly(positions: Float32Array, colors?: Float32Array, tris: Uint32Array = triangles): string {
  const lines = [
    'ply',
    'format ascii 1.0',
    'comment test',
    `element vertex ${positions.length / 3}`,
    'property float x',
    'property float y',
    'property float z',
    'property float nx',
    'property float ny',
    'property float nz',
  ];
  if (colors) lines.push('property float red', 'property float green', 'property float blue');
  lines.push(
    `element face ${tris.length / 3}`,
    'property list uchar int vertex_indices',
    'property uchar flags',
    'end_header',
  );
  for (let v = 0; v < positions.length / 3; v++) {
    const p = Array.from(positions.subarray(3 * v, 3 * v + 3), (x) => x.toPrecision(9)).join(' ');
    lines.push(
      colors
        ? `${p} 0 0 1 ${Array.from(colors.subarray(3 * v, 3 * v + 3), (c) => linearToSrgb(c).toFixed(6)).join(' ')}`
        : `${p} 0 0 1`,
    );
  }
  for (let t = 0; t < tris.length; t += 3) lines.push(`3 ${tris[t]} ${tris[t + 1]} ${tris[t + 2]} 7`);
  return `${lines.join('\n')}\n`;
}

/**
 * One face in one of three formats, by index: OBJ (5 decimals), binary PLY (uchar colours),
 * ASCII PLY (float colours).
 */
function writeFace(
  folder: string,
  name: string,
  format: number,
  positions: Float32Array,
  colors?: Float32Array,
  tris: Uint32Array = triangles,
): string {
  const ext = format === 0 ? 'obj' : 'ply';
  const file = join(folder, `${name}.${ext}`);
  if (format === 0) writeFileSync(file, meshToObj({ positions, triangles: tris, colors }));
  else if (format === 1) writeFileSync(file, meshToPly({ positions, triangles: tris, colors }));
  else writeFileSync(file, asciiPly(positions, colors, tris));
  return file;
}

const component = (basis: Float32Array, k: number) => basis.subarray(k * D, (k + 1) * D);

describe('model build from a folder of registered meshes', () => {
  const folder = join(work, 'faces');
  const M = 400;
  const faces: Float32Array[] = [];
  let result: BuildResult;
  let clamped = 0;

  beforeAll(async () => {
    mkdirSync(folder);
    writeFileSync(join(folder, 'notes.txt'), 'not a mesh\n');
    writeFileSync(join(folder, '._face-000.obj'), 'macOS resource fork\n');
    for (let i = 0; i < M; i++) {
      const shape = drawFace(meanShape, shapeTruth, SHAPE_SIGMAS);
      const color = drawFace(meanColor, colorTruth, COLOR_SIGMAS);
      for (const c of color) if (c < 0 || c > 1) clamped++;
      faces.push(shape);
      writeFace(folder, `face-${String(i).padStart(3, '0')}`, i % 3, shape, color);
    }
    // 0.999: all 5 shape components (4 reach only 99.4%), the 3 colour ones (99.95%), not the
    // colour quantisation noise of the uchar PLYs.
    result = await buildModelFromFolder(folder, { varianceFraction: 0.999 });
  });

  it('reads every mesh (OBJ, binary and ASCII PLY) and keeps the topology of the first', () => {
    expect(clamped).toBe(0); // the colour draws stay in [0, 1], so the sRGB files hold them exactly
    expect(result.files).toHaveLength(M);
    expect(result.files[0]).toBe(join(folder, 'face-000.obj'));
    const m = result.model;
    expect(m.vertexCount).toBe(N);
    expect(m.triangles).toEqual(triangles);
    expect(m.uvs.length).toBe(0);
    expect(m.name).toBe('faces');
    expect(m.licence).toBe(DEFAULT_BUILD_LICENCE);
    expect(m.expression).toMatchObject({ kind: 'blendshapes', count: 0, names: [] });
    expect(m.landmarks).toEqual({});
  });

  it('recovers the shape subspace and its standard deviations', () => {
    const { identity } = result.model;
    expect(identity.kind).toBe('pca');
    expect(identity.count).toBe(5);
    expect(identity.names).toEqual(['pc0', 'pc1', 'pc2', 'pc3', 'pc4']);
    const recovered = Array.from({ length: 5 }, (_, k) => component(identity.basis, k));
    const top4 = principalCosines(recovered.slice(0, 4), shapeTruth.slice(0, 4));
    const top5 = principalCosines(recovered, shapeTruth);
    console.log(
      `shape: principal cosines top 4 ${top4.map((c) => c.toFixed(6)).join(' ')}, `
        + `top 5 ${top5.map((c) => c.toFixed(7)).join(' ')}`,
    );
    console.log(
      `shape: σ ${Array.from(identity.stddev, (s) => s.toFixed(3)).join(', ')} mm `
        + `(true ${SHAPE_SIGMAS.join(', ')}); explained ${result.shape.explained}`,
    );
    for (const c of top4) expect(c).toBeGreaterThan(0.999);
    for (const c of top5) expect(c).toBeGreaterThan(0.99999);
    identity.stddev.forEach((s, k) => expect(Math.abs(s / SHAPE_SIGMAS[k] - 1)).toBeLessThan(0.1));
    expect(result.shape.explained).toBeGreaterThan(0.99999);
    // The mean is the sample mean of the faces.
    let err = 0;
    for (let j = 0; j < D; j++)
      err = Math.max(err, Math.abs(result.model.mean[j] - faces.reduce((s, f) => s + f[j], 0) / M));
    expect(err).toBeLessThan(1e-3);
  });

  it('recovers the colour model (sRGB files → linear colours)', () => {
    const color = result.model.color!;
    expect(color.basis.count).toBe(3);
    const recovered = Array.from({ length: 3 }, (_, k) => component(color.basis.basis, k));
    const cosines = principalCosines(recovered, colorTruth);
    console.log(
      `colour: principal cosines ${cosines.map((c) => c.toFixed(6)).join(' ')}; `
        + `σ ${Array.from(color.basis.stddev, (s) => s.toFixed(3)).join(', ')} (true ${COLOR_SIGMAS.join(', ')}); `
        + `explained ${result.color!.explained.toFixed(5)}`,
    );
    for (const c of cosines) expect(c).toBeGreaterThan(0.999);
    color.basis.stddev.forEach((s, k) => expect(Math.abs(s / COLOR_SIGMAS[k] - 1)).toBeLessThan(0.1));
    // The mean is linear: close to the true linear mean (an sRGB mean would be ~0.2 brighter).
    let err = 0;
    for (let j = 0; j < D; j++) err = Math.max(err, Math.abs(color.mean[j] - meanColor[j]));
    expect(err).toBeLessThan(0.02);
    expect(result.color!.explained).toBeGreaterThanOrEqual(0.999);
    expect(result.color!.variances.length).toBeGreaterThan(3); // the uchar quantisation noise, left out
  });

  it('survives the native model file and reconstructs a training face', async () => {
    const decoded = decodeModel(await encodeModel(result.model), 'built.glb');
    expect(decoded.identity.basis).toEqual(result.model.identity.basis);
    expect(decoded.identity.stddev).toEqual(result.model.identity.stddev);
    expect(decoded.color!.basis.stddev).toEqual(result.model.color!.basis.stddev);
    expect(decoded.color!.mean).toEqual(result.model.color!.mean);
    // Face 7 projected onto the model: every component kept, so the residual is file rounding only.
    const x = Float64Array.from(faces[7], (v, j) => v - decoded.mean[j]);
    for (let k = 0; k < decoded.identity.count; k++) {
      const u = component(decoded.identity.basis, k);
      const c = dot(x, u) / decoded.identity.stddev[k] ** 2;
      for (let j = 0; j < D; j++) x[j] -= c * u[j];
    }
    expect(Math.sqrt(dot(x, x) / N)).toBeLessThan(1e-3); // mm RMS per vertex
  });

  it('the default keeps 98% of the variance', async () => {
    const small = join(work, 'small');
    mkdirSync(small);
    for (let i = 0; i < 60; i++) writeFace(small, `s${String(i).padStart(2, '0')}`, 1, faces[i]);
    const built = await buildModelFromFolder(small);
    const v = built.shape.variances;
    const cumulative = (k: number) => v.subarray(0, k).reduce((a, b) => a + b, 0) / built.shape.totalVariance;
    const k = built.model.identity.count;
    expect(cumulative(k)).toBeGreaterThanOrEqual(0.98);
    expect(cumulative(k - 1)).toBeLessThan(0.98);
    expect(built.shape.explained).toBeCloseTo(cumulative(k), 9);
    expect(built.model.color).toBeUndefined();
    expect(built.color).toBeUndefined();
    const capped = await buildModelFromFolder(small, { varianceFraction: 1, maxComponents: 2 });
    expect(capped.model.identity.count).toBe(2);
  });

  it('converts units to millimetres and reads landmarks', async () => {
    const cm = join(work, 'cm');
    mkdirSync(cm);
    for (let i = 0; i < 10; i++)
      writeFace(
        cm,
        `f${i}`,
        i % 3,
        faces[i].map((v) => v / 10),
      );
    const landmarks = join(work, 'landmarks.txt');
    writeFileSync(
      landmarks,
      `# iBUG 68\n${Array.from({ length: 68 }, (_, i) => (i === 60 ? '-1' : String(i * 4))).join('\n')}\n\n`,
    );
    const built = await buildModelFromFolder(cm, {
      units: 'cm',
      landmarksFile: landmarks,
      name: 'Test faces',
      licence: 'CC0',
    });
    const mean = new Float64Array(D);
    for (let i = 0; i < 10; i++) for (let j = 0; j < D; j++) mean[j] += faces[i][j] / 10;
    let err = 0;
    for (let j = 0; j < D; j++) err = Math.max(err, Math.abs(built.model.mean[j] - mean[j]));
    expect(err).toBeLessThan(1e-3);
    expect(built.model.name).toBe('Test faces');
    expect(built.model.licence).toBe('CC0');
    const lm = built.model.landmarks.ibug68.vertices;
    expect(lm.length).toBe(68);
    expect(lm[60]).toBe(-1);
    expect(lm[67]).toBe(268);
  });
});

describe.skipIf(!hasShared)('model build from faces of the Surrey model (../shared)', () => {
  it('recovers its 63-dimensional shape space and standard deviations from 200 sampled faces', async () => {
    const sfm = await importModel(SFM_FOLDER);
    const folder = join(work, 'sfm-faces');
    mkdirSync(folder);
    const r = new SeededRandom(11);
    const drawn: Float32Array[] = [];
    for (let i = 0; i < 200; i++) {
      const { identity } = sampleCoefficients(sfm, r);
      drawn.push(identity);
      const positions = evaluateShape(sfm, identity, new Float32Array(sfm.expression.count));
      writeFileSync(
        join(folder, `sfm-${String(i).padStart(3, '0')}.ply`),
        meshToPly({ positions, triangles: sfm.triangles }),
      );
    }
    const landmarks = join(work, 'sfm-landmarks.txt');
    writeFileSync(landmarks, `${Array.from(sfm.landmarks.ibug68.vertices).join('\n')}\n`);
    const built = await buildModelFromFolder(folder, { varianceFraction: 1, landmarksFile: landmarks });
    const K = sfm.identity.count,
      d = sfm.mean.length;
    expect(built.model.identity.count).toBe(K); // rank 63: float32 rounding stays below the null floor
    expect(built.model.landmarks.ibug68.vertices).toEqual(sfm.landmarks.ibug68.vertices);
    const span = (b: Float32Array, k: number) => Array.from({ length: k }, (_, i) => b.subarray(i * d, (i + 1) * d));
    const cosines = principalCosines(span(built.model.identity.basis, K), span(sfm.identity.basis, K));
    const top10 = principalCosines(span(built.model.identity.basis, 10), span(sfm.identity.basis, 10));
    const ratios = Array.from(built.model.identity.stddev.subarray(0, 5), (s, k) => s / sfm.identity.stddev[k]);
    console.log(
      `Surrey: smallest principal cosine of the 63-D span ${cosines[K - 1].toFixed(7)}, `
        + `of the top-10 spans ${top10.map((c) => c.toFixed(3)).join(' ')}; `
        + `σ ratios (top 5) ${ratios.map((x) => x.toFixed(3)).join(' ')}`,
    );
    expect(cosines[K - 1]).toBeGreaterThan(0.99999);
    // σ differs from the model's by sampling error (200 draws: ≈5%, more where σ are close). The
    // PCA must find exactly the σ of the faces drawn: the eigenvalues of B Cz Bᵀ, with Cz the sample
    // covariance of the drawn coefficients and B the model's basis, i.e. those of Lᵀ (BᵀB) L for Cz = L Lᵀ.
    const cz = new Float64Array(K * K);
    const zMean = new Float64Array(K);
    for (const z of drawn) for (let k = 0; k < K; k++) zMean[k] += z[k] / drawn.length;
    for (const z of drawn)
      for (let a = 0; a < K; a++)
        for (let b = 0; b < K; b++) cz[a * K + b] += ((z[a] - zMean[a]) * (z[b] - zMean[b])) / (drawn.length - 1);
    const L = cholesky(cz, K);
    const bb = new Float64Array(K * K);
    const cols = span(sfm.identity.basis, K);
    for (let a = 0; a < K; a++) for (let b = a; b < K; b++) bb[a * K + b] = bb[b * K + a] = dot(cols[a], cols[b]);
    const expected = new Float64Array(K * K); // Lᵀ (BᵀB) L
    for (let a = 0; a < K; a++)
      for (let b = 0; b < K; b++) {
        let sum = 0;
        for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) sum += L[i * K + a] * bb[i * K + j] * L[j * K + b];
        expected[a * K + b] = sum;
      }
    const variances = new Float64Array(K);
    symmetricEigen(expected, K, variances, new Float64Array(K * K));
    let worst = 0;
    for (let k = 0; k < K; k++)
      worst = Math.max(worst, Math.abs(built.model.identity.stddev[k] / Math.sqrt(variances[k]) - 1));
    console.log(`Surrey: largest relative σ error against the σ of the drawn faces ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    for (const ratio of ratios) expect(Math.abs(ratio - 1)).toBeLessThan(0.2);
    const trueTotal = Array.from(sfm.identity.stddev).reduce((a, s) => a + s * s, 0);
    expect(Math.abs(built.shape.totalVariance / trueTotal - 1)).toBeLessThan(0.1);
  });
});

describe('mesh readers', () => {
  it('fans polygons the same way in OBJ and PLY, and converts sRGB colours to linear', () => {
    const obj = parseMesh(
      new TextEncoder().encode('v 0 0 0 1 0.5 0\nv 1 0 0 0 0 0\nv 1 1 0 0 0 0\nv 0 1 0 0 0 0\nf 1 2 3 4\n'),
      'q.obj',
    );
    const plyText =
      'ply\nformat ascii 1.0\nelement vertex 4\nproperty double x\nproperty double y\nproperty double z\n'
      + 'property uchar red\nproperty uchar green\nproperty uchar blue\n'
      + 'element edge 1\nproperty int vertex1\nproperty int vertex2\n'
      + 'element face 1\nproperty list uchar uint vertex_index\nend_header\n'
      + '0 0 0 255 128 0\n1 0 0 0 0 0\n1 1 0 0 0 0\n0 1 0 0 0 0\n0 1\n4 0 1 2 3\n';
    const ply = parseMesh(new TextEncoder().encode(plyText), 'q.ply');
    expect(Array.from(ply.triangles)).toEqual(Array.from(obj.triangles));
    expect(Array.from(ply.positions)).toEqual(Array.from(obj.positions));
    expect(obj.colors[0]).toBe(1);
    expect(obj.colors[1]).toBeCloseTo(srgbToLinear(0.5), 6);
    expect(obj.colors[1]).toBeCloseTo(0.214, 3);
    expect(ply.colors[1]).toBeCloseTo(srgbToLinear(128 / 255), 6);
  });

  it('reads our binary PLY back exactly, with per-vertex UVs from s, t', () => {
    const positions = Float32Array.from([0, 0, 0, 1.5, 0, 0, 0, 2.25, -1]);
    const back = parsePly(meshToPly({ positions, triangles: Uint32Array.from([0, 1, 2]) }), 'b.ply');
    expect(back.positions).toEqual(positions);
    expect(Array.from(back.triangles)).toEqual([0, 1, 2]);
    expect(back.colors.length).toBe(0);
    const uv = parsePly(
      new TextEncoder().encode(
        'ply\nformat ascii 1.0\nelement vertex 3\n'
          + 'property float x\nproperty float y\nproperty float z\nproperty float s\nproperty float t\n'
          + 'element face 1\nproperty list uchar int vertex_indices\nend_header\n'
          + '0 0 0 0 0\n1 0 0 1 0\n0 1 0 0 1\n3 0 1 2\n',
      ),
      'uv.ply',
    );
    expect(Array.from(uv.uvs)).toEqual([0, 0, 1, 0, 0, 1]);
    expect(Array.from(uv.uvTriangles)).toEqual([0, 1, 2]);
  });
});

describe('bad input: an InputError naming the file', () => {
  const shape = () => Float32Array.from(meanShape);
  let n = 0;
  const freshFolder = () => {
    const f = join(work, `bad-${n++}`);
    mkdirSync(f);
    return f;
  };
  const fails = async (promise: Promise<unknown>, ...parts: string[]) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    for (const part of parts) expect((error as Error).message).toContain(part);
    return (error as Error).message;
  };

  it('missing, not a folder, empty, a single mesh', async () => {
    await fails(buildModelFromFolder(join(work, 'nope')), 'nope', 'no such folder');
    const file = join(work, 'file.obj');
    writeFileSync(file, 'v 0 0 0\n');
    await fails(buildModelFromFolder(file), 'file.obj', 'not a folder');
    const empty = freshFolder();
    writeFileSync(join(empty, 'readme.txt'), 'hi');
    await fails(buildModelFromFolder(empty), empty, 'no .obj or .ply meshes');
    const one = freshFolder();
    writeFace(one, 'a', 0, shape());
    await fails(buildModelFromFolder(one), 'only one mesh (a.obj)', 'at least 2');
  });

  it('different vertex counts', async () => {
    const f = freshFolder();
    writeFace(f, 'a', 0, shape());
    writeFace(f, 'b', 2, shape().subarray(0, D - 3), undefined, triangles.subarray(0, 3));
    const message = await fails(
      buildModelFromFolder(f),
      join(f, 'b.ply'),
      `has ${N - 1} vertices, the first mesh (a.obj) has ${N}`,
    );
    expect(message.split('\n')).toHaveLength(1);
  });

  it('different triangles (order within a triangle, or count)', async () => {
    const f = freshFolder();
    writeFace(f, 'a', 0, shape());
    const flipped = triangles.slice();
    [flipped[31], flipped[32]] = [flipped[32], flipped[31]];
    writeFace(f, 'b', 1, shape(), undefined, flipped);
    await fails(
      buildModelFromFolder(f),
      join(f, 'b.ply'),
      'triangle 10 is',
      'in the first mesh (a.obj) it is',
      'share one topology',
    );
    const g = freshFolder();
    writeFace(g, 'a', 0, shape());
    writeFace(g, 'b', 0, shape(), undefined, triangles.subarray(3));
    await fails(
      buildModelFromFolder(g),
      join(g, 'b.obj'),
      `has ${triangles.length / 3 - 1} triangles, the first mesh (a.obj) has ${triangles.length / 3}`,
    );
  });

  it('corrupt PLY files: truncated, not PLY, big-endian, bad index, bad number', async () => {
    const cases: [string | Uint8Array, string][] = [
      [meshToPly({ positions: shape(), triangles }).subarray(0, 2000), 'truncated: the file ends in vertex'],
      [meshToPly({ positions: shape(), triangles }).subarray(0, 9000), 'truncated: the file ends in face'],
      ['solid ascii stl\n', 'not a PLY file'],
      ['ply\nformat ascii 1.0\nelement vertex 3\n', 'no end_header'],
      ['ply\nformat binary_big_endian 1.0\nelement vertex 0\nend_header\n', 'unsupported format "binary_big_endian"'],
      [
        'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n'
          + 'element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n',
        'face 0: vertex index 3 out of range (0..2)',
      ],
      [
        'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n'
          + 'end_header\n0 zero 0\n',
        'vertex 0: expected a number, found "zero"',
      ],
      ['ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n0 0\n', 'no x, y, z'],
    ];
    for (const [content, problem] of cases) {
      const f = freshFolder();
      writeFace(f, 'a', 0, shape());
      writeFileSync(join(f, 'b.ply'), content);
      await fails(buildModelFromFolder(f), join(f, 'b.ply'), problem);
    }
  });

  it('colours on only some meshes', async () => {
    const colors = Float32Array.from(meanColor);
    const f = freshFolder();
    writeFace(f, 'a', 0, shape(), colors);
    writeFace(f, 'b', 1, shape(), colors);
    writeFace(f, 'c', 1, shape());
    await fails(buildModelFromFolder(f), join(f, 'c.ply'), 'has no vertex colours, the first mesh (a.obj) has them');
    const g = freshFolder();
    writeFace(g, 'a', 0, shape());
    writeFace(g, 'b', 2, shape(), colors);
    await fails(buildModelFromFolder(g), join(g, 'b.ply'), 'has vertex colours, the first mesh (a.obj) has none');
    const h = freshFolder();
    writeFace(h, 'a', 0, shape());
    writeFileSync(join(h, 'b.obj'), 'v 0 0 0 255 128 0\nv 1 0 0 0 0 0\nv 0 1 0 0 0 0\nf 1 2 3\n');
    await fails(buildModelFromFolder(h), join(h, 'b.obj'), 'colour value 255 above 1');
  });

  it('bad landmark files', async () => {
    const f = freshFolder();
    writeFace(f, 'a', 0, shape());
    writeFace(f, 'b', 0, shape());
    const lm = join(work, 'lm.txt');
    const build = (text: string) => {
      writeFileSync(lm, text);
      return buildModelFromFolder(f, { landmarksFile: lm });
    };
    await fails(build('1\n2\n3\n'), 'lm.txt', '3 landmark indices, expected 68');
    await fails(
      build(Array(68).fill('5').join('\n').replace(/5$/, '300')),
      'lm.txt',
      'line 68: vertex 300 out of range',
    );
    await fails(build('1.5\n'), 'lm.txt', 'line 1: "1.5" is not a vertex index');
    await fails(buildModelFromFolder(f, { landmarksFile: join(work, 'none.txt') }), 'none.txt', 'cannot read');
  });
});

describe('the build command', () => {
  /** Runs `model build …` in-process, as main.ts will once it calls addBuildCommand. */
  async function run(args: string[]): Promise<{ stdout: string; error?: unknown }> {
    const program = new Command().exitOverride();
    let stdout = '';
    program.configureOutput({
      writeOut: (s) => {
        stdout += s;
      },
      writeErr: () => {},
    });
    const model = program.command('model');
    addBuildCommand(model);
    model.commands.forEach((c) =>
      c.exitOverride().configureOutput({
        writeOut: (s) => {
          stdout += s;
        },
        writeErr: () => {},
      }),
    );
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => {
      stdout += `${s}\n`;
    });
    try {
      await program.parseAsync(['model', 'build', ...args], { from: 'user' });
      return { stdout };
    } catch (error) {
      return { stdout, error };
    } finally {
      log.mockRestore();
    }
  }

  const folder = join(work, 'cli-faces');
  const out = join(work, 'out');
  beforeAll(() => {
    mkdirSync(folder);
    const r = new SeededRandom(5);
    for (let i = 0; i < 12; i++) {
      const shape = Float64Array.from(meanShape);
      for (let k = 0; k < 5; k++) {
        const z = SHAPE_SIGMAS[k] * r.normal();
        for (let j = 0; j < D; j++) shape[j] += z * shapeTruth[k][j];
      }
      writeFace(
        folder,
        `m${String(i).padStart(2, '0')}`,
        i % 3,
        Float32Array.from(shape, (v) => v / 1000),
      );
    }
  });

  it('explains itself', async () => {
    const { stdout } = await run(['--help']);
    for (const text of [
      '--variance',
      '--max-components',
      '--units',
      '--landmarks',
      '--licence',
      'Texture images are not used',
      'the same triangles',
    ])
      expect(stdout).toContain(text);
  });

  it('writes the model and prints a summary', async () => {
    const output = join(out, 'nested', 'built.glb');
    const { stdout, error } = await run([
      folder,
      '-o',
      output,
      '--units',
      'm',
      '--name',
      'CLI faces',
      '--max-components',
      '3',
    ]);
    expect(error).toBeUndefined();
    const model = decodeModel(readFileSync(output), output);
    expect(model.name).toBe('CLI faces');
    expect(model.identity.count).toBe(3);
    expect(Math.abs(model.mean[0] - meanShape[0])).toBeLessThan(20); // metres → mm
    expect(stdout).toContain('CLI faces: 12 meshes, 300 vertices, 532 triangles');
    expect(stdout).toMatch(/shape +3 of \d+ components, \d+\.\d% of the variance \(σ [\d.]+, [\d.]+, [\d.]+ mm\)/);
    expect(stdout).toContain('colour     none');
    console.log(stdout);
  });

  it('leaves nothing behind on error', async () => {
    const bad = join(work, 'cli-bad');
    mkdirSync(bad);
    writeFace(bad, 'a', 0, Float32Array.from(meanShape));
    writeFileSync(join(bad, 'b.ply'), 'garbage');
    const outDir = join(work, 'out-bad');
    mkdirSync(outDir);
    const { error } = await run([bad, '-o', join(outDir, 'm.glb')]);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('b.ply: not a PLY file');
    expect(readdirSync(outDir)).toEqual([]);
    const notGlb = await run([folder, '-o', join(outDir, 'm.obj')]);
    expect((notGlb.error as Error).message).toContain('must end in .glb');
    const variance = await run([folder, '-o', join(outDir, 'm.glb'), '--variance', '1.5']);
    expect(variance.error).toBeInstanceOf(InputError);
    expect((variance.error as Error).message).toContain('--variance 1.5');
    expect(readdirSync(outDir)).toEqual([]);
  });
});

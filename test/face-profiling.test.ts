import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { buildContourLines } from '../src/fit/contour.js';
import { type Camera, createCamera } from '../src/geometry/camera.js';
import { projectPoints, projectToRaster } from '../src/geometry/projection.js';
import { rotationFromAngles } from '../src/geometry/rotation.js';
import { decodeModel } from '../src/io/model-file.js';
import { FaceProfiler, profileFace } from '../src/learn/face-profiling.js';
import { loadLandmarkDataset, splitByPhoto } from '../src/learn/landmark-dataset.js';
import { writeProfiledDataset } from '../src/learn/profile-dataset.js';
import { formatPts, parsePts } from '../src/io/pts.js';
import { evaluateShape } from '../src/model/evaluate.js';
import { landmarkPositions } from '../src/model/landmark-positions.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { createRasterBuffers, interpolateAt, rasterize } from '../src/render/rasterize.js';
import type { RgbImage } from '../src/render/rgb-image.js';
import { landmarkVerticesSeenAs } from './helpers/synthetic.js';

const MODEL = fileURLToPath(new URL('../models/ict-facekit-face-head.glb', import.meta.url));
const SIZE = 256;
const BACKGROUND = 60;

/** Vertex colour: red from the height (y), green from the depth (z), blue constant: smooth, and known everywhere. */
function vertexColours(shape: Float32Array): Float32Array {
  const colours = new Float32Array(shape.length);
  for (let v = 0; v < shape.length / 3; v++) {
    colours[3 * v] = Math.min(255, Math.max(0, 128 + 1.5 * shape[3 * v + 1]));
    colours[3 * v + 1] = Math.min(255, Math.max(0, 128 + 2 * (shape[3 * v + 2] - 100)));
    colours[3 * v + 2] = 200;
  }
  return colours;
}

/** The mesh drawn with its vertex colours (no shading) over a flat background. */
function drawFace(model: MorphableModel, shape: Float32Array, camera: Camera): RgbImage {
  const screen = new Float32Array(3 * model.vertexCount);
  projectToRaster(camera, shape, model.vertexCount, 1, screen);
  const raster = rasterize(screen, model.triangles, createRasterBuffers(SIZE, SIZE));
  const colours = vertexColours(shape);
  const data = new Uint8Array(3 * SIZE * SIZE).fill(BACKGROUND);
  const colour = new Float64Array(3);
  for (let p = 0; p < SIZE * SIZE; p++) {
    if (raster.triangle[p] < 0) continue;
    interpolateAt(raster, model.triangles, colours, p, colour);
    for (let c = 0; c < 3; c++) data[3 * p + c] = Math.round(colour[c]);
  }
  return { width: SIZE, height: SIZE, data };
}

/** The true 68 landmarks of `shape` seen by `camera`: inner points at vertex + offset, outline on the silhouette. */
function trueLandmarks(model: MorphableModel, shape: Float32Array, camera: Camera): Float32Array {
  const vertices = landmarkVerticesSeenAs(model, buildContourLines(model), shape, camera.rotation);
  const points = landmarkPositions(model, vertices, shape, null, null, new Float64Array(3 * 68));
  const out = new Float32Array(136);
  projectPoints(camera, points, 68, out);
  return out;
}

/** `camera` with the head turned by `deg` about the camera's vertical axis through the mesh's centroid. */
function turned(camera: Camera, shape: Float32Array, deg: number): Camera {
  const n = shape.length / 3;
  const centroid = [0, 0, 0];
  for (let v = 0; v < n; v++) for (let c = 0; c < 3; c++) centroid[c] += shape[3 * v + c] / n;
  const R = camera.rotation;
  const C = [0, 1, 2].map(
    (i) => R[3 * i] * centroid[0] + R[3 * i + 1] * centroid[1] + R[3 * i + 2] * centroid[2] + camera.translation[i],
  );
  const turn = rotationFromAngles(deg, 0, 0);
  const rotation = new Float64Array(9);
  for (let i = 0; i < 3; i++)
    for (let k = 0; k < 3; k++) for (let j = 0; j < 3; j++) rotation[3 * i + k] += turn[3 * i + j] * R[3 * j + k];
  const d = [0, 1, 2].map((i) => camera.translation[i] - C[i]);
  const translation = Float64Array.from(
    [0, 1, 2].map((i) => turn[3 * i] * d[0] + turn[3 * i + 1] * d[1] + turn[3 * i + 2] * d[2] + C[i]),
  );
  return { ...camera, rotation, translation };
}

function pointErrors(a: Float32Array, b: Float32Array, from = 0, to = 68): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(Math.hypot(a[2 * i] - b[2 * i], a[2 * i + 1] - b[2 * i + 1]));
  return out;
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;

const model = decodeModel(readFileSync(MODEL), MODEL);
const random = new SeededRandom(15);
const identity = new Float32Array(model.identity.count).map(() => 0.7 * random.normal());
const expression = new Float32Array(model.expression.count);
const shape = evaluateShape(model, identity, expression);
// A 256-pixel crop like train-300w's: the face about 130 px wide, the fitter's default focal (3 × 256).
const camera = createCamera(SIZE, SIZE, 3 * SIZE);
rotationFromAngles(12, -4, 3, camera.rotation);
camera.translation.set([3, 8, -900]);
const photo = drawFace(model, shape, camera);
const landmarks = trueLandmarks(model, shape, camera);
for (let i = 0; i < 136; i++) landmarks[i] += 0.5 * random.normal();

describe('3D face profiling', () => {
  it('turned by +30°: landmarks where the true face turned by 30° has them, yaw 30° larger, the face redrawn', () => {
    const profiler = new FaceProfiler(model);
    const source = profiler.prepare(photo, landmarks);
    expect(source).not.toBeNull();
    if (!source) return;
    expect(Math.abs(source.yawDeg - 12)).toBeLessThan(3);
    const profiled = profiler.render(source, 30);
    expect(profiled.yawDeg - source.yawDeg).toBeCloseTo(30, 6);
    expect(Math.abs(profiled.yawDeg - 42)).toBeLessThan(3);

    const truth = trueLandmarks(model, shape, turned(camera, shape, 30));
    // Before the turn the true and given points are only 0.5 px apart; the turn must keep them a few px apart.
    const inner = pointErrors(profiled.landmarks, truth, 17, 68);
    const outline = pointErrors(profiled.landmarks, truth, 0, 17);
    // (Measured: inner 0.9 px mean, 3.2 px at most; outline 0.5 px mean, 1.1 px at most.)
    expect(mean(inner)).toBeLessThan(2);
    expect(Math.max(...inner)).toBeLessThan(5);
    expect(mean(outline)).toBeLessThan(2);
    expect(Math.max(...outline)).toBeLessThan(4);
    // Not the unturned points: the turn moved them.
    expect(mean(pointErrors(profiled.landmarks, landmarks))).toBeGreaterThan(10);

    // The rendered face: the colour under the turned nose tip, nose bottom and mouth corners is the photo's at the
    // given point (the colours encode the surface's height and depth); far from the face the image is unchanged.
    // (Not the eye corners: the photo shows the inside of the head through the model's eye holes there.)
    const at = (image: RgbImage, points: Float32Array, i: number) => {
      const o = 3 * (Math.round(points[2 * i + 1]) * SIZE + Math.round(points[2 * i]));
      return [image.data[o], image.data[o + 1], image.data[o + 2]];
    };
    for (const i of [30, 33, 48, 54]) {
      const before = at(photo, landmarks, i),
        after = at(profiled.image, profiled.landmarks, i);
      for (let c = 0; c < 3; c++) expect(Math.abs(after[c] - before[c])).toBeLessThan(12);
    }
    for (const [x, y] of [
      [2, 2],
      [253, 2],
      [2, 60],
      [253, 60],
    ])
      expect(profiled.image.data[3 * (y * SIZE + x)]).toBe(BACKGROUND);
    let changed = 0;
    for (let i = 0; i < photo.data.length; i++) if (photo.data[i] !== profiled.image.data[i]) changed++;
    expect(changed).toBeGreaterThan(3 * 1000);
  });

  it('turns away from frontal whatever the sign, and several yaws come from one fit', () => {
    const profiler = new FaceProfiler(model);
    const source = profiler.prepare(photo, landmarks);
    if (!source) throw new Error('no fit');
    expect(profiler.render(source, -15).yawDeg).toBeCloseTo(source.yawDeg + 15, 6);
    expect(profiler.turnToward(source, 45, -1)).toBeCloseTo(45 - source.yawDeg, 6);
    expect(profiler.turnToward(source, 10, 1)).toBeNull();
    const once = profileFace(model, photo, landmarks, 30);
    expect(once?.landmarks).toEqual(profiler.render(source, 30).landmarks);
  });

  it('returns null for a face the model cannot fit', () => {
    // The same points in reverse order: no face has its mouth where its jaw is.
    const reversed = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      reversed[2 * i] = landmarks[2 * (67 - i)];
      reversed[2 * i + 1] = landmarks[2 * (67 - i) + 1];
    }
    expect(profileFace(model, photo, reversed, 30)).toBeNull();
    const scattered = new Float32Array(136).map(() => 60 + 136 * random.uniform());
    expect(profileFace(model, photo, scattered, 30)).toBeNull();
  });
});

describe('a profiled dataset', () => {
  const work = mkdtempSync(join(tmpdir(), 'morphable-profiled-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes each good face turned to the |yaw| targets beyond it, 1-based .pts, and a manifest', async () => {
    const data = join(work, 'data'),
      out = join(work, 'out');
    const jpeg = await sharp(photo.data, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const reversed = new Float32Array(136);
    for (let i = 0; i < 68; i++) reversed.set(landmarks.subarray(2 * (67 - i), 2 * (67 - i) + 2), 2 * i);
    const faces: [string, string, string, Float32Array][] = [
      ['afw_123_1', 'afw', 'afw/afw/123_1.jpg', landmarks],
      ['afw_123_2', 'afw', 'afw/afw/123_2.jpg', landmarks],
      ['helen_77_1', 'helen', 'helen/trainset/77_1.jpg', reversed],
    ];
    mkdirSync(data);
    for (const [name, , , points] of faces) {
      writeFileSync(join(data, `${name}.jpg`), jpeg);
      writeFileSync(join(data, `${name}.pts`), formatPts(points));
    }
    writeFileSync(
      join(data, 'manifest.csv'),
      `name,source,path,scale\n${faces.map(([n, s, p]) => `${n},${s},${p},1`).join('\n')}\n`,
    );
    const progress: number[] = [];
    const result = await writeProfiledDataset({
      dataDir: data,
      outDir: out,
      yawTargetsDeg: [10, 30, 45],
      seed: 1,
      model,
      onProgress: (done, total) => progress.push(done, total),
    });
    expect(progress).toEqual([1, 3, 2, 3, 3, 3]);
    expect(result.skippedFit).toEqual(['helen_77_1']);
    // |yaw| is about 12°: 10° is skipped, 30° and 45° written, for both good faces.
    expect(result.skippedTurns).toBe(2);
    expect(result.written).toBe(4);
    const manifest = readFileSync(join(out, 'manifest.csv'), 'utf8').trim().split('\n');
    expect(manifest[0]).toBe('name,photo,source_face,yaw');
    expect(manifest.slice(1)).toEqual([
      'afw_123_1_yawP30,afw/123,afw_123_1,30.00',
      'afw_123_1_yawP45,afw/123,afw_123_1,45.00',
      'afw_123_2_yawP30,afw/123,afw_123_2,30.00',
      'afw_123_2_yawP45,afw/123,afw_123_2,45.00',
    ]);
    // The training loader reads the folder, every face with its source photo, which the split keeps together.
    const loaded = await loadLandmarkDataset(out);
    expect(loaded.faces.map((f) => f.photo)).toEqual(['afw/123', 'afw/123', 'afw/123', 'afw/123']);
    const split = splitByPhoto(loaded.faces, { validationFraction: 0.5 });
    expect([split.train.length, split.validation.length].sort()).toEqual([0, 4]);
    // The .pts files hold the profiled landmarks, 1-based; the images are the crop's size.
    const profiler = new FaceProfiler(model);
    const source = profiler.prepare(photo, landmarks);
    if (!source) throw new Error('no fit');
    const expected = profiler.render(source, profiler.turnToward(source, 45, 1) ?? NaN).landmarks;
    const written = parsePts(readFileSync(join(out, 'afw_123_1_yawP45.pts'), 'utf8'), 'pts');
    for (let i = 0; i < 136; i++) expect(written[i]).toBeCloseTo(expected[i], 2);
    const meta = await sharp(readFileSync(join(out, 'afw_123_2_yawP30.jpg'))).metadata();
    expect([meta.width, meta.height]).toEqual([SIZE, SIZE]);
    expect(existsSync(join(out, 'helen_77_1_yawP30.jpg'))).toBe(false);
  });

  it('names the missing manifest, and an output folder that is not empty', async () => {
    const missing = join(work, 'nothing');
    const run = writeProfiledDataset({
      dataDir: missing,
      outDir: join(work, 'o2'),
      yawDeltasDeg: [30],
      seed: 1,
      model,
    });
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(`${join(missing, 'manifest.csv')}: no such file`);
    expect(existsSync(join(work, 'o2'))).toBe(false);
    const full = join(work, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'old.jpg'), '');
    writeFileSync(join(work, 'manifest.csv'), 'name,source,path\n');
    const again = writeProfiledDataset({ dataDir: work, outDir: full, yawDeltasDeg: [30], seed: 1, model });
    await expect(again).rejects.toThrow(`${full}: not empty`);
  });
});

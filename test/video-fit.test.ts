import { beforeAll, describe, expect, it } from 'vitest';
import type { DetectedFace, FaceLandmarker } from '../src/detect/face.js';
import type { RgbImage } from '../src/render/rgb-image.js';
import { rotationDistance } from '../src/geometry/rotation.js';
import { OneEuroFilter } from '../src/fit/smoothing.js';
import { VideoFaceFitter } from '../src/fit/video-fit.js';
import { importModel } from '../src/io/node/import-model.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { SFM_FOLDER, hasShared } from './helpers/shared.js';
import { syntheticFace, type SyntheticFace } from './helpers/synthetic.js';

describe('One Euro filter', () => {
  const run = (signal: (t: number) => number, options: ConstructorParameters<typeof OneEuroFilter>[1], noise = 0) => {
    const filter = new OneEuroFilter(1, options);
    const random = new SeededRandom(5);
    const sample = new Float64Array(1);
    const out: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = i / 30;
      sample[0] = signal(t) + noise * random.normal();
      filter.filter(sample, t);
      out.push(sample[0]);
    }
    return out;
  };

  it('passes the first sample and a constant signal unchanged', () => {
    expect(run(() => 4.5, {})).toEqual(new Array(300).fill(4.5));
  });

  it('removes most of the jitter of a still value', () => {
    const out = run(() => 0, { minCutoff: 1, beta: 0 }, 1).slice(30);
    const rms = Math.sqrt(out.reduce((s, v) => s + v * v, 0) / out.length);
    // One-pole low-pass at 1 Hz sampled at 30 Hz: the noise shrinks to about 0.33 of its size.
    expect(rms).toBeLessThan(0.45);
  });

  it('follows a fast movement with less lag when beta > 0', () => {
    const ramp = (t: number) => 90 * t; // 90°/s
    const lag = (beta: number) => 90 * (299 / 30) - run(ramp, { minCutoff: 1, beta }).at(-1)!;
    expect(lag(0)).toBeGreaterThan(10);
    expect(lag(0.05)).toBeLessThan(lag(0) / 3);
  });

  it('starts over after reset', () => {
    const filter = new OneEuroFilter(2);
    filter.filter(Float64Array.of(0, 0), 0);
    filter.reset();
    const sample = Float64Array.of(5, -5);
    filter.filter(sample, 0.1);
    expect(Array.from(sample)).toEqual([5, -5]);
  });
});

/** A landmarker that "sees" the faces it is given frame by frame, counting detector runs. */
class ScriptedLandmarker implements FaceLandmarker {
  current: Float32Array | undefined;
  detections = 0;
  async detect(): Promise<DetectedFace[]> {
    this.detections++;
    return this.current
      ? [{ box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, landmarks: this.current.slice() }]
      : [];
  }
  async track(_image: RgbImage, _previous: Float32Array): Promise<Float32Array> {
    return this.current ? this.current.slice() : new Float32Array(136).map((_, i) => (i * 97) % 800);
  }
  dispose(): void {}
}

describe.skipIf(!hasShared)('video fitting', () => {
  let model: MorphableModel;
  beforeAll(async () => {
    model = await importModel(SFM_FOLDER);
  });

  it('detects once, follows the face, fixes the identity after the first frames and keeps the pose', async () => {
    const landmarker = new ScriptedLandmarker();
    const video = new VideoFaceFitter(model, landmarker, { identityFrames: 5 });
    const random = new SeededRandom(8);
    const truth: SyntheticFace = syntheticFace(model, random, { maxYaw: 20, noise: 0 });
    const image: RgbImage = {
      width: truth.width,
      height: truth.height,
      data: new Uint8Array(3 * truth.width * truth.height),
    };
    const fits = [];
    for (let frame = 0; frame < 12; frame++) {
      // The same head, with 1 px of detector jitter on every frame.
      landmarker.current = truth.landmarks.map((v) => v + random.normal());
      const fit = await video.frame(image, frame * 33);
      expect(fit).not.toBeNull();
      fits.push(fit!);
    }
    expect(landmarker.detections).toBe(1);
    expect(fits.map((f) => f.identityFixed)).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(fits.map((f) => f.detected)).toEqual([true, ...new Array(11).fill(false)]);
    // Fixed means fixed: the same identity on every later frame.
    expect(Array.from(fits[11].identity)).toEqual(Array.from(fits[5].identity));
    for (const fit of fits.slice(5))
      expect(rotationDistance(fit.camera.rotation, truth.camera.rotation)).toBeLessThan(3);
  });

  it('notices a lost face, reports no fit, and detects again', async () => {
    const landmarker = new ScriptedLandmarker();
    const video = new VideoFaceFitter(model, landmarker);
    const truth = syntheticFace(model, new SeededRandom(9), { noise: 0.5 });
    const image: RgbImage = { width: truth.width, height: truth.height, data: new Uint8Array(3) };
    landmarker.current = truth.landmarks;
    expect(await video.frame(image, 0)).not.toBeNull();
    landmarker.current = undefined; // tracking now answers with points that are no face
    expect(await video.frame(image, 33)).toBeNull();
    expect(await video.frame(image, 66)).toBeNull(); // the detector finds nothing
    expect(landmarker.detections).toBe(2);
    landmarker.current = truth.landmarks;
    const back = await video.frame(image, 99);
    expect(back?.detected).toBe(true);
    expect(landmarker.detections).toBe(3);
  });
});

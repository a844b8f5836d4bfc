import { beforeAll, describe, expect, it } from 'vitest';
import type { FaceLandmarker } from '../src/detect/face.js';
import { projectLandmarks } from '../src/fit/fit-photo.js';
import { calibrateLandmarks } from '../src/fit/landmark-calibration.js';
import { LandmarkFitter } from '../src/fit/landmark-fit.js';
import { anglesFromRotation, rotationDistance } from '../src/geometry/rotation.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { createNodeLandmarker } from '../src/io/node/face-landmarker.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { importIctModel } from './helpers/ict-fixture.js';
import { hasShared } from './helpers/shared.js';
import { syntheticFace } from './helpers/synthetic.js';

describe.skipIf(!hasShared)('landmark calibration to the face detector', () => {
  let model: MorphableModel;
  let landmarker: FaceLandmarker;
  beforeAll(async () => {
    model = await importIctModel();
    landmarker = await createNodeLandmarker();
  });

  it('finds the pose from landmarks at vertex + offset, and keeps the offsets in the model file', async () => {
    const offsets = new Float32Array(204);
    // Like ICT-FaceKit's: brows and nose bridge 5 mm lower than their vertices, the rest in place.
    for (let i = 17; i < 31; i++) offsets.set([0.5, -5, 0], 3 * i);
    const shifted: MorphableModel = {
      ...model,
      landmarks: { ...model.landmarks, ibug68: { vertices: model.landmarks.ibug68.vertices, offsets } },
    };
    const random = new SeededRandom(4);
    for (let f = 0; f < 6; f++) {
      const truth = syntheticFace(model, random, { noise: 0 });
      // The same face's landmarks where the offsets put them (outline points stay on the silhouette).
      const moved = projectLandmarks(shifted, truth.shape, shifted.landmarks.ibug68.vertices, truth.camera);
      for (let i = 0; i < 17; i++) {
        moved[2 * i] = truth.landmarks[2 * i];
        moved[2 * i + 1] = truth.landmarks[2 * i + 1];
      }
      // The true shape given, only the pose is fitted: with the offsets it is found exactly.
      const options = { focal: truth.camera.focal, fitIdentity: false, fitExpression: false };
      const withOffsets = new LandmarkFitter(shifted).fit(moved, truth.width, truth.height, options, {
        identity: truth.identity,
      });
      const without = new LandmarkFitter(model).fit(moved, truth.width, truth.height, options, {
        identity: truth.identity,
      });
      expect(rotationDistance(withOffsets.camera.rotation, truth.camera.rotation)).toBeLessThan(0.3);
      expect(rotationDistance(without.camera.rotation, truth.camera.rotation)).toBeGreaterThan(0.5);
    }
    const decoded = decodeModel(await encodeModel(shifted), 'shifted.glb');
    expect(Array.from(decoded.landmarks.ibug68.offsets!)).toEqual(Array.from(offsets));
    expect(decodeModel(await encodeModel(model), 'plain.glb').landmarks.ibug68.offsets).toBeUndefined();
  });

  it('removes the pitch bias on rendered faces of known pose', async () => {
    const calibration = await calibrateLandmarks(model, landmarker, { renders: 16, seed: 1 });
    expect(calibration.used).toBeGreaterThanOrEqual(12);
    // the outline is not calibrated
    expect(Array.from(calibration.offsets.subarray(0, 51)).every((v) => v === 0)).toBe(true);
    const calibrated: MorphableModel = {
      ...model,
      landmarks: {
        ...model.landmarks,
        ibug68: { vertices: model.landmarks.ibug68.vertices, offsets: calibration.offsets },
      },
    };
    // Held-out renders (other identities, poses and lights), fitted to what the detector finds in them.
    const random = new SeededRandom(99);
    const bias = { plain: 0, calibrated: 0 };
    let n = 0;
    for (let r = 0; r < 8; r++) {
      const identity = new Float32Array(model.identity.count).map(() => random.normal());
      const pitch = 16 * random.uniform() - 8,
        yaw = 30 * random.uniform() - 15;
      const light = shDirectionalLight(
        [random.uniform() - 0.5, random.uniform(), 0.8],
        [0.75, 0.75, 0.75],
        [0.35, 0.35, 0.35],
      );
      const { image, camera } = renderPortrait(model, identity, new Float32Array(model.expression.count), light, {
        yaw,
        pitch,
        roll: 0,
        size: 640,
      });
      const detected = (await landmarker.detect(image))[0]?.landmarks;
      if (!detected) continue;
      n++;
      for (const [key, m] of [
        ['plain', model],
        ['calibrated', calibrated],
      ] as const) {
        const fit = new LandmarkFitter(m).fit(detected, 640, 640, { focal: camera.focal });
        bias[key] += (anglesFromRotation(fit.camera.rotation).pitch - pitch) / 8;
      }
    }
    expect(n).toBe(8);
    console.log(
      `pitch bias on 8 held-out renders: ${bias.plain.toFixed(1)}° uncalibrated, `
        + `${bias.calibrated.toFixed(1)}° calibrated (offsets ${calibration.meanOffset.toFixed(1)} mm on average)`,
    );
    // The project's net follows 300-W's annotation convention, so the bias is smaller than face-api's (more
    // than 5° here) but still there: 3.5° uncalibrated, 0.5° calibrated when the shipped weights were made.
    expect(bias.plain).toBeGreaterThan(2);
    expect(Math.abs(bias.calibrated)).toBeLessThan(1.5);
  });
});

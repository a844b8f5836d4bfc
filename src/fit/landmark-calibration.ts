/**
 * Calibrates a model's landmark vertices to a face detector's landmark convention. The vertices a model
 * names for the iBUG points are not where a detector trained on 300-W puts them: on ICT-FaceKit the brows
 * and the top of the nose sit about 5 mm higher. Fitted to the detector, the head then pitches down to
 * make up for it (about 10° on frontal faces). So: render faces of the model with known poses, detect
 * their landmarks, and keep the mean difference between the detected points and the projected
 * vertices, taken back into the model's frame, as a per-landmark offset (LandmarkSet.offsets).
 *
 * Only the 51 inner points are calibrated: the jaw outline slides along the silhouette anyway. An
 * image offset says nothing about depth, so each render's difference is taken back in the plane
 * facing its camera; several head turns average that out.
 *
 * The renders' faces are where their projected vertices are, so the landmarker is not handed the
 * detector's box but tracks from those points, twice (as detect() runs its two passes, the second from
 * the first's points). That keeps the detector's misses out: on the Surrey model's eyeless mask it found
 * 18 of 40 renders, each miss costing 0.5 s of searching. Measured on 40 held-out renders (seed 99):
 * ICT-FaceKit's offsets move 0.04 mm on average (pitch bias −0.60° against −0.45°); the Surrey model's,
 * now from all 40 renders, take its pitch bias from 3.9° to 2.5°, and its calibration from 22 s to 4.4 s.
 */
import type { FaceLandmarker } from '../detect/face.js';
import { SeededRandom } from '../model/random.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { renderPortrait } from '../render/portrait.js';
import { shDirectionalLight } from '../render/spherical-harmonics.js';
import { projectPoints, transformPoint } from '../geometry/projection.js';
import { landmarkNme } from './fit-result.js';

export interface LandmarkCalibrationOptions {
  /** Faces rendered (default 40). */
  renders?: number;
  /** Seed of their identities, poses and lights (default 1). */
  seed?: number;
  /** Render size in pixels (default 640). */
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface LandmarkCalibration {
  /** 3 per iBUG landmark, mm, model space; zero for the 17 outline points. */
  offsets: Float32Array;
  /** Renders on whose face the landmarker put its points (the others are left out). */
  used: number;
  /** Mean length of the inner points' offsets, mm. */
  meanOffset: number;
}

const FIRST_INNER = 17;
/** Landmarks this far (NME, %) from the projected vertices are not on the face. */
const MAX_NME = 15;

export async function calibrateLandmarks(
  model: MorphableModel,
  landmarker: FaceLandmarker,
  options: LandmarkCalibrationOptions = {},
): Promise<LandmarkCalibration> {
  const renders = options.renders ?? 40,
    size = options.size ?? 640;
  const vertices = model.landmarks.ibug68?.vertices;
  if (vertices?.length !== 68) throw new Error(`${model.name} has no iBUG-68 landmark set`);
  const random = new SeededRandom(options.seed ?? 1);
  const sum = new Float64Array(204),
    count = new Uint32Array(68),
    cameraPoint = new Float64Array(3);
  const points = new Float32Array(204),
    projected = new Float32Array(136);
  const identity = new Float32Array(model.identity.count),
    expression = new Float32Array(model.expression.count);
  let used = 0;
  for (let r = 0; r < renders; r++) {
    // A model the landmarker cannot place its points on (nowhere near the vertices) is not worth 40 renders.
    if (r === 10 && used === 0) break;
    for (let k = 0; k < identity.length; k++) identity[k] = random.normal();
    const yaw = 40 * random.uniform() - 20,
      pitch = 20 * random.uniform() - 10,
      roll = 10 * random.uniform() - 5;
    const light = shDirectionalLight(
      [2 * random.uniform() - 1, random.uniform(), 0.8],
      [0.75, 0.75, 0.75],
      [0.35, 0.35, 0.35],
    );
    const { image, camera, positions } = renderPortrait(model, identity, expression, light, { yaw, pitch, roll, size });
    for (let i = 0; i < 68; i++)
      for (let c = 0; c < 3; c++) points[3 * i + c] = vertices[i] >= 0 ? positions[3 * vertices[i] + c] : NaN;
    projectPoints(camera, points, 68, projected);
    const detected = await landmarker.track(image, await landmarker.track(image, projected));
    options.onProgress?.(r + 1, renders);
    if (!(landmarkNme(detected, projected) < MAX_NME)) continue;
    used++;
    const R = camera.rotation,
      f = camera.focal;
    for (let i = FIRST_INNER; i < 68; i++) {
      if (vertices[i] < 0) continue;
      const depth = -transformPoint(cameraPoint, camera, points[3 * i], points[3 * i + 1], points[3 * i + 2])[2];
      // Image offset → millimetres in the plane facing the camera (y up) → model frame (Rᵀ).
      const dx = ((detected[2 * i] - projected[2 * i]) * depth) / f;
      const dy = (-(detected[2 * i + 1] - projected[2 * i + 1]) * depth) / f;
      for (let c = 0; c < 3; c++) sum[3 * i + c] += R[c] * dx + R[3 + c] * dy;
      count[i]++;
    }
  }
  const offsets = new Float32Array(204);
  let total = 0,
    inner = 0;
  for (let i = FIRST_INNER; i < 68; i++) {
    if (count[i] === 0) continue;
    for (let c = 0; c < 3; c++) offsets[3 * i + c] = sum[3 * i + c] / count[i];
    total += Math.hypot(offsets[3 * i], offsets[3 * i + 1], offsets[3 * i + 2]);
    inner++;
  }
  return { offsets, used, meanOffset: inner ? total / inner : 0 };
}

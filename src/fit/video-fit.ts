/**
 * Fitting a face in video, frame after frame: detect once, then follow the face with one landmark pass
 * per frame around the last frame's points; fit pose and expression with the identity (and focal
 * length) fixed once the first good frames agree on them; smooth pose and expression over time.
 */
import type { FaceLandmarker } from '../detect/face.js';
import type { RgbImage } from '../render/rgb-image.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { createCamera, type Camera } from '../geometry/camera.js';
import { landmarkNme } from './fit-result.js';
import { LandmarkFitter } from './landmark-fit.js';
import { anglesFromRotation, rotationFromAngles, type PoseAngles } from '../geometry/rotation.js';
import { OneEuroFilter } from './smoothing.js';

export interface VideoFitOptions {
  /** Good frames whose identity and focal length are averaged before both are fixed (default 10). */
  identityFrames?: number;
  /** A frame whose fitted landmarks miss the tracked ones by more than this NME (%) has lost the face (default 8). */
  maxNme?: number;
}

export interface VideoFrameFit {
  /** The landmarks followed in this frame (136 values, image pixels), before any smoothing. */
  landmarks: Float32Array;
  /** Smoothed pose and expression, with the identity so far. */
  camera: Camera;
  pose: PoseAngles;
  identity: Float32Array;
  expression: Float32Array;
  /** The face mesh in model space (mm) from the values above. */
  positions: Float32Array;
  /** Whether identity and focal length are fixed yet. */
  identityFixed: boolean;
  /** Whether this frame ran the detector (first frame, or the face was lost). */
  detected: boolean;
  nme: number;
}

export class VideoFaceFitter {
  readonly model: MorphableModel;
  private readonly landmarker: FaceLandmarker;
  private readonly fitter: LandmarkFitter;
  private readonly identityFrames: number;
  private readonly maxNme: number;
  private readonly poseFilter = new OneEuroFilter(6, { minCutoff: 1, beta: 0.05 });
  private readonly expressionFilter: OneEuroFilter;
  private readonly poseSample = new Float64Array(6);
  private readonly expressionSample: Float64Array;
  private readonly identitySum: Float64Array;
  private focalSum = 0;
  private goodFrames = 0;
  private identity: Float32Array;
  private focal: number | undefined;
  private previous: Float32Array | undefined;

  constructor(model: MorphableModel, landmarker: FaceLandmarker, options: VideoFitOptions = {}) {
    this.model = model;
    this.landmarker = landmarker;
    this.fitter = new LandmarkFitter(model);
    this.identityFrames = options.identityFrames ?? 10;
    this.maxNme = options.maxNme ?? 8;
    this.expressionFilter = new OneEuroFilter(model.expression.count, { minCutoff: 1.5, beta: 2 });
    this.expressionSample = new Float64Array(model.expression.count);
    this.identitySum = new Float64Array(model.identity.count);
    this.identity = new Float32Array(model.identity.count);
  }

  get identityFixed(): boolean {
    return this.focal !== undefined;
  }

  /** Starts over with a new person: identity, focal length and smoothing are forgotten. */
  reset(): void {
    this.previous = undefined;
    this.focal = undefined;
    this.goodFrames = 0;
    this.focalSum = 0;
    this.identitySum.fill(0);
    this.identity.fill(0);
    this.poseFilter.reset();
    this.expressionFilter.reset();
  }

  /** Fits one frame taken at `timeMs`; null when there is no face in it. */
  async frame(image: RgbImage, timeMs: number): Promise<VideoFrameFit | null> {
    const detected = this.previous === undefined;
    let landmarks: Float32Array;
    if (this.previous) {
      landmarks = await this.landmarker.track(image, this.previous);
    } else {
      const faces = await this.landmarker.detect(image);
      if (faces.length === 0) return null;
      landmarks = faces[0].landmarks;
      this.poseFilter.reset();
      this.expressionFilter.reset();
    }

    const fixed = this.identityFixed;
    const fit = fixed
      ? this.fitter.fit(
          landmarks,
          image.width,
          image.height,
          { fitIdentity: false, focal: this.focal },
          { identity: this.identity },
        )
      : this.fitter.fit(landmarks, image.width, image.height);
    const nme = landmarkNme(fit.fittedLandmarks, landmarks);
    if (!(nme <= this.maxNme)) {
      // Tracking drifted off the face (or the detector found something face-like): look again next frame.
      this.previous = undefined;
      return null;
    }
    this.previous = landmarks;
    if (!fixed) {
      this.goodFrames++;
      this.focalSum += fit.camera.focal;
      for (let k = 0; k < this.identitySum.length; k++) this.identitySum[k] += fit.identity[k];
      for (let k = 0; k < this.identity.length; k++) this.identity[k] = this.identitySum[k] / this.goodFrames;
      if (this.goodFrames >= this.identityFrames) this.focal = this.focalSum / this.goodFrames;
    }

    const seconds = timeMs / 1000;
    const angles = anglesFromRotation(fit.camera.rotation);
    const p = this.poseSample;
    p[0] = angles.yaw;
    p[1] = angles.pitch;
    p[2] = angles.roll;
    p.set(fit.camera.translation, 3);
    this.poseFilter.filter(p, seconds);
    this.expressionSample.set(fit.expression);
    this.expressionFilter.filter(this.expressionSample, seconds);

    const camera = createCamera(image.width, image.height, fit.camera.focal);
    rotationFromAngles(p[0], p[1], p[2], camera.rotation);
    camera.translation.set(p.subarray(3));
    const expression = Float32Array.from(this.expressionSample, (v) => Math.min(1, Math.max(0, v)));
    const identity = this.identity.slice();
    return {
      landmarks,
      camera,
      pose: { yaw: p[0], pitch: p[1], roll: p[2] },
      identity,
      expression,
      positions: evaluateShape(this.model, identity, expression),
      identityFixed: this.identityFixed,
      detected,
      nme,
    };
  }
}

/**
 * What detection hands to fitting. Image coordinates throughout the project: x right, y down, in
 * pixels, with the centre of the top-left pixel at (0, 0) (the convention of 300-W .pts files after
 * subtracting 1, as eos and menpo do).
 */

import type { RgbImage } from '../render/rgb-image.js';
import type { FaceRegression } from './face-regressor.js';

export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: FaceBox;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** iBUG-68 points, x0 y0 x1 y1 …, 136 values, image coordinates as above. */
  landmarks: Float32Array;
  /** The one-pass regressor's pose and coefficients, when the landmarker has one (face-regressor.ts). */
  regression?: FaceRegression;
}

/** A face detector with a 68-point landmark stage. */
export interface FaceLandmarker {
  /** Faces in the image, most confident first. Empty when there is none. */
  detect(image: RgbImage): Promise<DetectedFace[]>;
  /**
   * Landmarks of a face that was at `previous` (136 values) in the last video frame: one landmark pass
   * in a box around those points, without the detector. It always answers; whether the face is still
   * there is for the caller to judge (e.g. by how well a model fits the answer).
   */
  track(image: RgbImage, previous: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

/** 'net': the project's own net, trained on 300-W (research use); 'face-api': face-api's MIT-licensed net. */
export type LandmarkerKind = 'net' | 'face-api';
export const LANDMARKER_KINDS: readonly LandmarkerKind[] = ['net', 'face-api'];

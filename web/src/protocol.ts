/** Messages between the page (main.ts) and the worker (worker.ts) that does all the fitting. */
import type { FaceFitReport, FocalSource } from '../../src/fit/fit-result.js';
import type { PoseAngles } from '../../src/geometry/rotation.js';

/** Pixels as the page hands them over: RGBA, as canvases give them. */
export interface RgbaFrame {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
}

export type ToWorker =
  /** landmarker: the project's net (default) or face-api's (`?landmarker=face-api` in the page's URL). */
  | { type: 'load'; model: ArrayBuffer; modelName: string; assetBase: string; landmarker: 'net' | 'face-api' }
  /** A photo decoded at `scale` × its displayed size (width × height). */
  | {
      type: 'fit-photo';
      name: string;
      frame: RgbaFrame;
      width: number;
      height: number;
      scale: number;
      focal?: { px: number; source: FocalSource };
    }
  | { type: 'video-frame'; frame: RgbaFrame; timeMs: number }
  | { type: 'video-reset' };

export interface FittedFaceMessage {
  report: FaceFitReport;
  positions: Float32Array;
  /** Detected and fitted landmarks, full-photo pixels. */
  landmarks: Float32Array;
  fittedLandmarks: Float32Array;
  /** UV texture, RGBA, rows top-down (v = 1 at the top). */
  texture?: RgbaFrame;
  /**
   * The same UV layout de-lit (src/render/uv-texture.ts albedoTexture): the photo divided by the fitted light, the
   * fitted albedo where the photo does not show the face (the viewer's "de-lit" look, the GLB's texture on request).
   */
  albedoTexture?: RgbaFrame;
  /**
   * With a colour model: per vertex linear RGB (3N), the fitted colour model's albedo × the fitted light (the
   * viewer's "learned colour" look).
   */
  learnedColor?: Float32Array;
}

export interface VideoFitMessage {
  positions: Float32Array;
  landmarks: Float32Array;
  pose: PoseAngles;
  translation: [number, number, number];
  expression: Float32Array;
  identityFixed: boolean;
  detected: boolean;
}

export type FromWorker =
  /**
   * The worker's first message, sent once its handler is set. Its module graph has a top-level await (the
   * meshopt decoder in src/io/model-file.ts), and a message that arrives before the handler exists is dropped
   * (HTML enables a worker's port without waiting for that await): the page sends nothing before this.
   */
  | { type: 'listening' }
  | { type: 'status'; text: string }
  | { type: 'ready' }
  /** `rejected`: "face 2 rejected (quality 0.12: landmark residual)" per face below the quality threshold. */
  | { type: 'photo-fitted'; name: string; faces: FittedFaceMessage[]; rejected: string[]; ms: number }
  /** fit is null when the frame had no face. */
  | { type: 'video-fitted'; fit: VideoFitMessage | null; ms: number }
  | { type: 'error'; message: string; during: 'load' | 'photo' | 'video' };

/**
 * Face detection + iBUG-68 landmarks with the project's own landmark net (landmark-net.ts, trained on
 * 300-W by src/learn/): face boxes from a detector handed in, a first landmark pass on a crop made from
 * each box, a second on the crop made from the first pass's points (the crop the net was trained on).
 * Pure TS + tfjs-core ops, so the same code runs in Node and in a browser (Web Worker).
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type { RgbImage } from '../render/rgb-image.js';
import type { DetectedFace, FaceBox, FaceLandmarker } from './face.js';
import { CROP_SCALE, type CropGeometry, canonicalGeometry, unwarpLandmarks, warpCrop } from './face-crop.js';
import type { LandmarkNetFile } from './landmark-net-file.js';
import {
  LANDMARK_COUNT,
  LANDMARK_NET_INPUT,
  type LandmarkNetParams,
  type Tf,
  decodeLandmarkNetOutput,
  landmarkNetForward,
} from './landmark-net.js';

/** Faces in an image tensor ([H, W, 3]), boxes in its pixels, most confident first. */
export type FindFaces = (image: TfCore.Tensor3D) => Promise<Array<{ box: FaceBox; score: number }>>;

export interface NetLandmarkerOptions {
  tf: Tf;
  weights: LandmarkNetFile;
  findFaces: FindFaces;
  /** Called by dispose(), e.g. to free the detector. */
  onDispose?: () => void;
}

/**
 * Where the landmarks' bounding box sits in a TinyFaceDetector box, measured on train-300w: the detector
 * box is 1.18 × 1.085 the landmark box and shifted by (−0.008, −0.013) of it.
 */
const DETECTOR_BOX = { dx: -0.008, dy: -0.013, width: 1.18, height: 1.085 };

/** The first-pass crop for a detector box: the canonical crop of the landmark box the detector box implies. */
export function geometryFromDetectorBox(box: FaceBox): CropGeometry {
  const w = box.width / DETECTOR_BOX.width;
  const h = box.height / DETECTOR_BOX.height;
  return {
    centreX: box.x + box.width / 2 - DETECTOR_BOX.dx * w,
    centreY: box.y + box.height / 2 - DETECTOR_BOX.dy * h,
    side: CROP_SCALE * Math.max(w, h),
    angle: 0,
    flip: false,
  };
}

export function createNetLandmarker(options: NetLandmarkerOptions): FaceLandmarker {
  const { tf, weights } = options;
  const params: LandmarkNetParams = {};
  for (const [name, { shape, values }] of weights.tensors) params[name] = tf.tensor(values, shape);
  const s = LANDMARK_NET_INPUT;
  let pixels = new Float32Array(s * s * 3);

  /** One landmark pass: a crop per geometry → points in image coordinates. */
  const pass = (image: RgbImage, geometries: CropGeometry[]): Float32Array[] => {
    const n = geometries.length;
    if (pixels.length < n * s * s * 3) pixels = new Float32Array(n * s * s * 3);
    for (let i = 0; i < n; i++) warpCrop(image, geometries[i], s, pixels.subarray(i * s * s * 3, (i + 1) * s * s * 3));
    const output = tf.tidy(() =>
      landmarkNetForward(tf, params, tf.tensor4d(pixels.subarray(0, n * s * s * 3), [n, s, s, 3]), weights.head),
    );
    const relative = decodeLandmarkNetOutput(output.dataSync() as Float32Array, n, weights.head);
    output.dispose();
    return geometries.map((g, i) => {
      const crop = relative.subarray(i * 2 * LANDMARK_COUNT, (i + 1) * 2 * LANDMARK_COUNT);
      for (let j = 0; j < crop.length; j++) crop[j] = crop[j] * s - 0.5; // crop units → crop pixels
      return unwarpLandmarks(crop, g, s, new Float32Array(2 * LANDMARK_COUNT));
    });
  };

  const checkImage = ({ width, height, data }: RgbImage) => {
    if (data.length !== width * height * 3)
      throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
  };

  return {
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      checkImage(image);
      const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      let found: Array<{ box: FaceBox; score: number }>;
      try {
        found = await options.findFaces(input);
      } finally {
        input.dispose();
      }
      if (found.length === 0) return [];
      const first = pass(
        image,
        found.map((f) => geometryFromDetectorBox(f.box)),
      );
      const points = pass(
        image,
        first.map((p) => canonicalGeometry(p)),
      );
      return found.map((f, i) => ({ box: f.box, score: f.score, landmarks: points[i] }));
    },
    async track(image: RgbImage, previous: Float32Array): Promise<Float32Array> {
      checkImage(image);
      return pass(image, [canonicalGeometry(previous)])[0];
    },
    dispose(): void {
      for (const t of Object.values(params)) t.dispose();
      options.onDispose?.();
    },
  };
}

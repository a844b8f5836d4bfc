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
  type LandmarkHead,
  type LandmarkNetParams,
  type Tf,
  decodeLandmarkNetOutput,
  landmarkNetFeatures,
  landmarkNetHead,
} from './landmark-net.js';
import { decodeFaceRegression, type FaceRegressorLayout, faceRegressorForward } from './face-regressor.js';
import type { FaceRegressorFile } from './face-regressor-file.js';

/** Faces in an image tensor ([H, W, 3]), boxes in its pixels, most confident first. */
export type FindFaces = (image: TfCore.Tensor3D) => Promise<Array<{ box: FaceBox; score: number }>>;

export interface NetLandmarkerOptions {
  tf: Tf;
  weights: LandmarkNetFile;
  findFaces: FindFaces;
  /** Called by dispose(), e.g. to free the detector. */
  onDispose?: () => void;
  /** The final pass also on the mirrored crop, averaged (default true). */
  mirrored?: boolean;
  /**
   * The one-pass 3DMM regressor, run on the final pass's crop: detected faces then carry `regression`.
   * `model` says how to decode it (the model it was trained for; the caller checks they match).
   */
  regressor?: { file: FaceRegressorFile; model: { identityCount: number; bounded: boolean } };
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

/** The landmark net's parameters as tensors, with its head kind. */
export interface LoadedLandmarkNet {
  tf: Tf;
  params: LandmarkNetParams;
  head: LandmarkHead;
}

export function loadLandmarkNet(tf: Tf, weights: LandmarkNetFile): LoadedLandmarkNet {
  const params: LandmarkNetParams = {};
  for (const [name, { shape, values }] of weights.tensors) params[name] = tf.tensor(values, shape);
  return { tf, params, head: weights.head };
}

/** The one-pass regressor's parameters as tensors, with its layout (face-regressor.ts). */
export interface LoadedFaceRegressor {
  params: LandmarkNetParams;
  layout: FaceRegressorLayout;
  /** The model's identity count and whether its expressions are bounded blendshapes (for decoding). */
  identityCount: number;
  bounded: boolean;
}

export function loadFaceRegressor(
  tf: Tf,
  file: FaceRegressorFile,
  model: { identityCount: number; bounded: boolean },
): LoadedFaceRegressor {
  const params: LandmarkNetParams = {};
  for (const [name, { shape, values }] of file.tensors) params[name] = tf.tensor(values, shape);
  return { params, layout: file.layout, ...model };
}

let scratch = new Float32Array(0);

/**
 * How far the answers on a crop and on its mirror image may lie apart (mean point distance, % of the crop
 * side) for a face to count as one. With the shipped weights, on train-300w (978 faces, every other one,
 * two-pass crops) the median is 0.93 %, the 99th percentile 2.22 %, the largest 6.48 %; on the false face
 * face-api's detector finds in the hair between two women of its sample6.jpg it is 12.2 %: the net draws a
 * face on anything, but not the same face on a crop and on its mirror unless there is one.
 */
export const MAX_MIRROR_DISAGREEMENT = 8;

/**
 * One landmark pass: a crop of `image` per geometry, the net on all of them at once, the points back in
 * image coordinates. With `mirrored`, each face is also seen mirrored and the two answers are averaged
 * (the mirror undone with the iBUG permutation): the net's left/right errors partly cancel. Their mean
 * distance, in % of the crop side, goes into `disagreement` (when given).
 */
export function landmarkPass(
  net: LoadedLandmarkNet,
  jobs: ReadonlyArray<{ image: RgbImage; geometry: CropGeometry }>,
  mirrored: boolean,
  disagreement?: Float32Array,
  regression?: { regressor: LoadedFaceRegressor; out: Float32Array[] },
): Float32Array[] {
  const { tf, params, head } = net;
  const s = LANDMARK_NET_INPUT;
  const views = mirrored ? 2 : 1;
  const n = jobs.length * views;
  if (scratch.length < n * s * s * 3) scratch = new Float32Array(n * s * s * 3);
  const geometries = jobs.flatMap(({ geometry }) => (mirrored ? [geometry, { ...geometry, flip: true }] : [geometry]));
  geometries.forEach((g, v) => {
    warpCrop(jobs[Math.floor(v / views)].image, g, s, scratch.subarray(v * s * s * 3, (v + 1) * s * s * 3));
  });
  const [output, regressed] = tf.tidy(() => {
    const features = landmarkNetFeatures(tf, params, tf.tensor4d(scratch.subarray(0, n * s * s * 3), [n, s, s, 3]));
    const landmarks = landmarkNetHead(tf, params, features, head);
    if (!regression) return [landmarks];
    // The regressor reads the direct views only (every `views`-th).
    const direct = (t: TfCore.Tensor) => (views === 1 ? t : tf.gather(t, tf.range(0, n, views, 'int32')));
    const answer = faceRegressorForward(
      tf,
      regression.regressor.params,
      direct(features) as TfCore.Tensor4D,
      direct(landmarks) as TfCore.Tensor2D,
    );
    return [landmarks, answer];
  });
  const relative = decodeLandmarkNetOutput(output.dataSync() as Float32Array, n, head);
  output.dispose();
  if (regression && regressed) {
    const values = regressed.dataSync() as Float32Array;
    const width = values.length / jobs.length;
    for (let f = 0; f < jobs.length; f++) regression.out[f] = values.slice(f * width, (f + 1) * width);
    regressed.dispose();
  }
  const view = new Float32Array(2 * LANDMARK_COUNT);
  return jobs.map((_, f) => {
    const points = new Float32Array(2 * LANDMARK_COUNT);
    for (let k = 0; k < views; k++) {
      const v = f * views + k;
      const crop = relative.subarray(v * 2 * LANDMARK_COUNT, (v + 1) * 2 * LANDMARK_COUNT);
      for (let j = 0; j < crop.length; j++) crop[j] = crop[j] * s - 0.5; // crop units → crop pixels
      unwarpLandmarks(crop, geometries[v], s, view);
      for (let j = 0; j < view.length; j++) points[j] += view[j] / views;
    }
    if (disagreement && mirrored) {
      // The mirrored view sits at the same distance from the mean as the direct one (view holds it now).
      let sum = 0;
      for (let k = 0; k < LANDMARK_COUNT; k++) {
        sum += 2 * Math.hypot(view[2 * k] - points[2 * k], view[2 * k + 1] - points[2 * k + 1]);
      }
      disagreement[f] = (100 * sum) / LANDMARK_COUNT / geometries[f * views].side;
    }
    return points;
  });
}

export function createNetLandmarker(options: NetLandmarkerOptions): FaceLandmarker {
  const net = loadLandmarkNet(options.tf, options.weights);
  const regressor = options.regressor && loadFaceRegressor(options.tf, options.regressor.file, options.regressor.model);
  const mirrored = options.mirrored ?? true;
  const checkImage = ({ width, height, data }: RgbImage) => {
    if (data.length !== width * height * 3)
      throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
  };

  return {
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      checkImage(image);
      const input = options.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      let found: Array<{ box: FaceBox; score: number }>;
      try {
        found = await options.findFaces(input);
      } finally {
        input.dispose();
      }
      if (found.length === 0) return [];
      const first = landmarkPass(
        net,
        found.map((f) => ({ image, geometry: geometryFromDetectorBox(f.box) })),
        false,
      );
      const disagreement = new Float32Array(found.length);
      const geometries = first.map((p) => canonicalGeometry(p));
      const regressed: Float32Array[] = [];
      const points = landmarkPass(
        net,
        geometries.map((geometry) => ({ image, geometry })),
        mirrored,
        disagreement,
        regressor && { regressor, out: regressed },
      );
      return found
        .map((f, i) => {
          const face: DetectedFace = { box: f.box, score: f.score, landmarks: points[i] };
          if (regressor) face.regression = decodeRegressed(regressor, regressed[i], geometries[i]);
          return face;
        })
        .filter((_, i) => !(disagreement[i] > MAX_MIRROR_DISAGREEMENT));
    },
    async track(image: RgbImage, previous: Float32Array): Promise<Float32Array> {
      checkImage(image);
      return landmarkPass(net, [{ image, geometry: canonicalGeometry(previous) }], mirrored)[0];
    },
    dispose(): void {
      for (const t of Object.values(net.params)) t.dispose();
      for (const t of Object.values(regressor?.params ?? {})) t.dispose();
      options.onDispose?.();
    },
  };
}

function decodeRegressed(regressor: LoadedFaceRegressor, values: Float32Array, geometry: CropGeometry) {
  return decodeFaceRegression(values, 0, regressor.layout, geometry, regressor.identityCount, regressor.bounded);
}

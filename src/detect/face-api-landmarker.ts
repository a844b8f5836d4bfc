/**
 * Face detection + iBUG-68 landmarks with @vladmandic/face-api on the tfjs wasm backend.
 * No Node APIs here: the face-api build, the model files and the wasm location are handed in, so the same
 * code runs in Node (node-landmarker.ts) and in a browser (face-api.esm.js and a fetch-based readModelFile).
 *
 * Pipeline: the detector (face-api-detector.ts: TinyFaceDetector on an image pyramid) → face-api's 68-point
 * net on a 112×112 crop of each box → a second landmark pass on a box derived from the first landmarks →
 * a constant bias correction.
 */
import type * as FaceApi from '@vladmandic/face-api';
import type * as TfCore from '@tensorflow/tfjs-core';
import {
  createFaceApiDetector,
  type FaceApiModule,
  loadFaceApiWeights,
  type ReadModelFile,
  type Tf,
} from './face-api-detector.js';
import type { DetectedFace, FaceBox, FaceLandmarker } from './face.js';
import type { RgbImage } from '../render/rgb-image.js';

export type { FaceApiModule } from './face-api-detector.js';

export interface FaceApiLandmarkerOptions {
  faceapi: FaceApiModule;
  /** Reads a file of face-api's `model/` folder: a `*-weights_manifest.json` or a `.bin` it names. */
  readModelFile: ReadModelFile;
  /** Folder (ending in '/') or file map of tfjs-backend-wasm's `.wasm` files, for setWasmPaths. */
  wasmPaths?: string | Record<string, string>;
  /** 'tiny': TinyFaceDetector (default); 'ssd': SSD-MobileNetV1, 4x slower and its crops are worse. */
  detector?: 'tiny' | 'ssd';
  /** 'full': the 350 kB 68-point net (default); 'tiny': the 77 kB one. */
  landmarkNet?: 'full' | 'tiny';
  /** TinyFaceDetector's input side at the coarse levels of its pyramid, a multiple of 32 (default 416). */
  inputSize?: number;
  /** Minimum detector confidence, in (0, 1) (default 0.5). */
  minScore?: number;
  /** Second landmark pass on a box around the first pass's landmarks (default true). */
  refine?: boolean;
}

const CROP = 112; // the landmark nets' input side

/**
 * Bias correction in crop pixels (box side / 112), added to every landmark.
 * Measured as the mean signed error (ground truth − prediction, x and y separately, all 68 points) on
 * train-300w, ground truth = .pts minus 1, refine pass on, before any correction: all 1,955 faces at their
 * stored 256 px (1,920 found) and 600 faces each resized with sharp to 0.5×, 2× and 3×. The error grows
 * with the crop rather than being a fixed number of image pixels (full net: (1.19, 1.46) crop px at 1×,
 * i.e. (1.7, 2.0) image px; (1.02, 1.21) at 2×; (1.09, 1.27) at 3×; (1.25, 1.48) at 0.5×); averaged over
 * the four sizes it is (1.15, 1.35), tiny net (1.20, 1.39). Half a crop pixel of that is face-api's pixel
 * convention, applied in landmarksIn; the rest, below, is the nets putting every point about 0.7 % of the
 * box up and left of where 300-W's annotators put it. With both, NME on all of train-300w goes from
 * median 5.52 / mean 5.86 % to 4.55 / 4.89 %, and the mean signed error to (0.09, 0.12) px.
 */
const BIAS = { full: [0.65, 0.85], tiny: [0.7, 0.89] } as const;

/**
 * The refine box relative to the bounding box of the first pass's landmarks (centre shift and size, in
 * units of that box): the mean TinyFaceDetector box relative to the ground-truth landmark box on
 * train-300w is shifted by (-0.008, -0.013) and 1.18 × 1.085 in size; 1.18 in both axes gave a lower NME
 * there than the mean shape.
 */
const REFINE_BOX = { dx: -0.008, dy: -0.013, width: 1.18, height: 1.18 };

/** Starts the wasm backend (once per tf instance) and loads the nets. */
export async function createFaceApiLandmarker(options: FaceApiLandmarkerOptions): Promise<FaceLandmarker> {
  const { faceapi, readModelFile } = options;
  const tf = faceapi.tf as unknown as Tf;
  const detectorKind = options.detector ?? 'tiny';
  const netKind = options.landmarkNet ?? 'full';
  const refine = options.refine ?? true;

  const detector = await createFaceApiDetector({
    faceapi,
    readModelFile,
    wasmPaths: options.wasmPaths,
    detector: detectorKind,
    inputSize: options.inputSize,
    minScore: options.minScore,
  });
  const landmarkNet = netKind === 'tiny' ? new faceapi.FaceLandmark68TinyNet() : new faceapi.FaceLandmark68Net();
  landmarkNet.loadFromWeightMap(
    await loadFaceApiWeights(
      faceapi,
      readModelFile,
      netKind === 'tiny' ? 'face_landmark_68_tiny_model' : 'face_landmark_68_model',
    ),
  );
  const [biasX, biasY] = BIAS[netKind];

  /**
   * Landmarks for `boxes` of `image`. Each box becomes a square crop of side max(width, height) about its
   * centre, with the margin along the shorter side left black, as face-api's own padToSquare does.
   */
  const landmarksIn = async (image: TfCore.Tensor3D, boxes: FaceBox[]): Promise<Float32Array[]> => {
    const [h, w] = image.shape;
    const crops = tf.tidy(() =>
      boxes.map(({ x, y, width, height }) => {
        const side = Math.max(width, height);
        const step = side / CROP;
        const left = x + width / 2 - side / 2;
        const top = y + height / 2 - side / 2;
        const padX = Math.round((CROP - width / step) / 2);
        const padY = Math.round((CROP - height / step) / 2);
        // Crop pixel i samples the image at left + (i + 0.5) * step (pixel-centre coordinates);
        // cropAndResize's box corners are the first and last sample, in units of (size - 1).
        const box = [
          (top + (padY + 0.5) * step) / Math.max(h - 1, 1),
          (left + (padX + 0.5) * step) / Math.max(w - 1, 1),
          (top + (CROP - padY - 0.5) * step) / Math.max(h - 1, 1),
          (left + (CROP - padX - 0.5) * step) / Math.max(w - 1, 1),
        ];
        const crop = tf.image.cropAndResize(
          tf.expandDims<TfCore.Tensor4D>(image, 0),
          [box],
          [0],
          [CROP - 2 * padY, CROP - 2 * padX],
        );
        return tf.pad(tf.squeeze<TfCore.Tensor3D>(crop, [0]), [
          [padY, padY],
          [padX, padX],
          [0, 0],
        ]);
      }),
    );
    let values: Float32Array;
    try {
      const out = await landmarkNet.forward(crops as unknown as FaceApi.tf.Tensor3D[]);
      values = (await out.data()) as Float32Array;
      out.dispose();
    } finally {
      for (const c of crops) c.dispose();
    }
    return boxes.map(({ x, y, width, height }, f) => {
      const side = Math.max(width, height);
      // The nets' output × 112 is a crop pixel index (face-api resizes without half-pixel centres, so its
      // pixel centres sit at integers); pixel i's centre is at left + (i + 0.5) * step here.
      const step = side / CROP;
      const left = x + width / 2 - side / 2 + (0.5 + biasX) * step;
      const top = y + height / 2 - side / 2 + (0.5 + biasY) * step;
      const points = values.slice(136 * f, 136 * (f + 1));
      for (let i = 0; i < 136; i += 2) {
        points[i] = left + points[i] * side;
        points[i + 1] = top + points[i + 1] * side;
      }
      return points;
    });
  };

  return {
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      const { width, height, data } = image;
      if (data.length !== width * height * 3)
        throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
      const input = tf.tensor3d(data, [height, width, 3], 'int32');
      try {
        const found = await detector.findFaces(input);
        if (found.length === 0) return [];
        let points = await landmarksIn(
          input,
          found.map((f) => f.box),
        );
        // The detector's boxes vary in width and position from face to face; a box derived from the
        // landmarks gives the net a steadier crop. On train-300w (1,920 faces found) the refine pass lowers
        // NME on 58 % of faces, mean 5.01 → 4.89 % (paired difference 0.12 ± 0.02), median 4.59 → 4.55 %;
        // at 2× size mean 5.03 → 4.87 %. It costs one more landmark pass, about 6 ms a face.
        if (refine) points = await landmarksIn(input, points.map(refineBox));
        return found.map((f, i) => ({ box: f.box, score: f.score, landmarks: points[i] }));
      } finally {
        input.dispose();
      }
    },
    async track(image: RgbImage, previous: Float32Array): Promise<Float32Array> {
      const { width, height, data } = image;
      if (data.length !== width * height * 3)
        throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
      const input = tf.tensor3d(data, [height, width, 3], 'int32');
      try {
        return (await landmarksIn(input, [refineBox(previous)]))[0];
      } finally {
        input.dispose();
      }
    },
    dispose(): void {
      detector.dispose();
      landmarkNet.dispose();
    },
  };
}

function refineBox(points: Float32Array): FaceBox {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    x0 = Math.min(x0, points[i]);
    x1 = Math.max(x1, points[i]);
    y0 = Math.min(y0, points[i + 1]);
    y1 = Math.max(y1, points[i + 1]);
  }
  const w = x1 - x0,
    h = y1 - y0;
  const width = w * REFINE_BOX.width,
    height = h * REFINE_BOX.height;
  return {
    x: (x0 + x1) / 2 + REFINE_BOX.dx * w - width / 2,
    y: (y0 + y1) / 2 + REFINE_BOX.dy * h - height / 2,
    width,
    height,
  };
}

/**
 * Face detection + iBUG-68 landmarks with @vladmandic/face-api on the tfjs wasm backend.
 * No Node APIs here: the face-api build, the model files and the wasm location are handed in, so the same
 * code runs in Node (see node-landmarker.ts) and in a browser (fetch-based loader, face-api.esm.js).
 */
import type * as FaceApi from '@vladmandic/face-api';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { DetectedFace, FaceBox, FaceLandmarker, RgbImage } from './face.js';

/** The face-api namespace: face-api.node-wasm.js in Node, face-api.esm.js in a browser. */
export type FaceApiModule = typeof FaceApi;

/** face-api's `tf` is the whole of tfjs plus the wasm backend's exports; its typings only list a few ops. */
type Tf = typeof TfCore & {
  setWasmPaths?: (prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean) => void;
};

export interface FaceApiLandmarkerOptions {
  faceapi: FaceApiModule;
  /** Reads a file of face-api's `model/` folder (a `*-weights_manifest.json` or the `.bin` it names). */
  readModelFile: (fileName: string) => Promise<ArrayBuffer | Uint8Array>;
  /** Folder (ending in '/') or file map of the tfjs-backend-wasm `.wasm` binaries, for tf's setWasmPaths. */
  wasmPaths?: string | Record<string, string>;
  /** 'tiny' (TinyFaceDetector, default) or 'ssd' (SSD-MobileNetV1, 4.5x slower and less accurate crops). */
  detector?: 'tiny' | 'ssd';
  /** 'full' (default, 350 kB) or 'tiny' (77 kB) 68-point net. */
  landmarkNet?: 'full' | 'tiny';
  /** TinyFaceDetector input side, a multiple of 32 (default 416). */
  inputSize?: number;
  /** Minimum detector confidence, in (0, 1) (default 0.5). */
  minScore?: number;
  /** EXPERIMENT knobs */
  refine?: number;
  offset?: [number, number];
  cropScale?: number;
  native?: boolean;
}

const LANDMARK_INPUT = 112;

/** Starts the wasm backend (once per tf instance) and loads the nets. */
export async function createFaceApiLandmarker(options: FaceApiLandmarkerOptions): Promise<FaceLandmarker> {
  const { faceapi, readModelFile } = options;
  const tf = faceapi.tf as unknown as Tf;
  const detectorKind = options.detector ?? 'tiny';
  const inputSize = options.inputSize ?? 416;
  const minScore = options.minScore ?? 0.5;
  if (!(inputSize > 0 && inputSize % 32 === 0)) throw new RangeError(`inputSize must be a positive multiple of 32, got ${inputSize}`);
  if (!(minScore > 0 && minScore < 1)) throw new RangeError(`minScore must be in (0, 1), got ${minScore}`);

  if (tf.getBackend() !== 'wasm') {
    if (options.wasmPaths !== undefined) tf.setWasmPaths?.(options.wasmPaths);
    if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to start');
  }
  await tf.ready();

  const loadWeights = async (modelName: string): Promise<TfCore.NamedTensorMap> => {
    const manifestBytes = await readModelFile(`${modelName}-weights_manifest.json`);
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as TfCore.io.WeightsManifestConfig;
    const fetchAll = (paths: string[]) => Promise.all(paths.map(async (p) => {
      const b = await readModelFile(p);
      return b instanceof Uint8Array ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer : b;
    }));
    return tf.io.weightsLoaderFactory(fetchAll)(manifest, '');
  };

  const detector = detectorKind === 'tiny' ? new faceapi.TinyFaceDetector() : new faceapi.SsdMobilenetv1();
  const landmarkNet = options.landmarkNet === 'tiny' ? new faceapi.FaceLandmark68TinyNet() : new faceapi.FaceLandmark68Net();
  detector.loadFromWeightMap(await loadWeights(detectorKind === 'tiny' ? 'tiny_face_detector_model' : 'ssd_mobilenetv1_model'));
  landmarkNet.loadFromWeightMap(await loadWeights(options.landmarkNet === 'tiny' ? 'face_landmark_68_tiny_model' : 'face_landmark_68_model'));
  const detectorOptions = detectorKind === 'tiny'
    ? new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: minScore })
    : new faceapi.SsdMobilenetv1Options({ minConfidence: minScore });
  const [ox, oy] = options.offset ?? [0, 0];
  const cropScale = options.cropScale ?? 1;

  /** Landmarks for boxes (centre x, centre y, width, height) of `image`, 136 values per box. */
  const landmarksIn = async (image: TfCore.Tensor3D, boxes: number[][]): Promise<Float32Array[]> => {
    const [h, w] = image.shape;
    const batch = tf.tidy(() => tf.stack(boxes.map(([cx, cy, bw, bh]) => {
      const side = Math.max(bw, bh) * cropScale;
      const step = side / LANDMARK_INPUT;
      // Sample i of the square crop lies at left + (i + 0.5) * step; the short side's margin stays zero
      // as in face-api's own padToSquare.
      const padX = Math.round((LANDMARK_INPUT - LANDMARK_INPUT * bw * cropScale / side) / 2);
      const padY = Math.round((LANDMARK_INPUT - LANDMARK_INPUT * bh * cropScale / side) / 2);
      const x0 = cx - side / 2 + (padX + 0.5) * step, x1 = cx - side / 2 + (LANDMARK_INPUT - padX - 0.5) * step;
      const y0 = cy - side / 2 + (padY + 0.5) * step, y1 = cy - side / 2 + (LANDMARK_INPUT - padY - 0.5) * step;
      const crop = tf.image.cropAndResize(image.expandDims<TfCore.Tensor4D>(0),
        [[y0 / Math.max(h - 1, 1), x0 / Math.max(w - 1, 1), y1 / Math.max(h - 1, 1), x1 / Math.max(w - 1, 1)]], [0],
        [LANDMARK_INPUT - 2 * padY, LANDMARK_INPUT - 2 * padX]);
      return tf.pad(crop.squeeze<TfCore.Tensor3D>([0]), [[padY, padY], [padX, padX], [0, 0]]);
    }))) as TfCore.Tensor4D;
    const crops = tf.unstack(batch) as TfCore.Tensor3D[];
    batch.dispose();
    const out = await landmarkNet.forward(crops as unknown as FaceApi.tf.Tensor3D[]);
    const values = await out.data() as Float32Array;
    out.dispose();
    for (const c of crops) c.dispose();
    return boxes.map(([cx, cy, bw, bh], f) => {
      const side = Math.max(bw, bh) * cropScale;
      const points = new Float32Array(136);
      for (let i = 0; i < 136; i += 2) {
        points[i] = cx - side / 2 + values[136 * f + i] * side + ox * side / LANDMARK_INPUT;
        points[i + 1] = cy - side / 2 + values[136 * f + i + 1] * side + oy * side / LANDMARK_INPUT;
      }
      return points;
    });
  };

  const nativeLandmarks = async (image: TfCore.Tensor3D, found: FaceApi.FaceDetection[]): Promise<Float32Array[]> => {
    const crops = await faceapi.extractFaceTensors(image as unknown as FaceApi.tf.Tensor3D, found);
    const res: Float32Array[] = [];
    for (let i = 0; i < crops.length; i++) {
      const l = await landmarkNet.detectLandmarks(crops[i]) as FaceApi.FaceLandmarks68;
      const b = found[i].box;
      const p = new Float32Array(136);
      l.positions.forEach((q, k) => { p[2 * k] = q.x + Math.max(0, b.x) + ox * Math.max(b.width, b.height) / 112; p[2 * k + 1] = q.y + Math.max(0, b.y) + oy * Math.max(b.width, b.height) / 112; });
      res.push(p);
      crops[i].dispose();
    }
    return res;
  };

  return {
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      const { width, height, data } = image;
      if (data.length !== width * height * 3) throw new RangeError(`image data has ${data.length} bytes, expected ${width}×${height}×3`);
      const input = tf.tensor3d(data, [height, width, 3], 'int32');
      try {
        const found = await detector.locateFaces(input as unknown as FaceApi.tf.Tensor3D, detectorOptions);
        found.sort((a, b) => b.score - a.score);
        if (found.length === 0) return [];
        let squares = found.map(({ box }) => [box.x + box.width / 2, box.y + box.height / 2, box.width, box.height]);
        let points = options.native ? await nativeLandmarks(input, found) : await landmarksIn(input, squares);
        for (let r = 0; r < (options.refine ?? 0); r++) {
          squares = points.map(squareAround);
          points = await landmarksIn(input, squares);
        }
        return found.map((d, i): DetectedFace => ({
          box: { x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height } satisfies FaceBox,
          score: d.score,
          landmarks: points[i],
        }));
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

export const refineK = { dx: -0.008, dy: -0.013, sw: 1.18, sh: 1.085 };
/** EXPERIMENT: detector-like box around landmarks */
function squareAround(p: Float32Array): number[] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < 136; i += 2) {
    x0 = Math.min(x0, p[i]); x1 = Math.max(x1, p[i]);
    y0 = Math.min(y0, p[i + 1]); y1 = Math.max(y1, p[i + 1]);
  }
  const lw = x1 - x0, lh = y1 - y0;
  return [(x0 + x1) / 2 + refineK.dx * lw, (y0 + y1) / 2 + refineK.dy * lh, lw * refineK.sw, lh * refineK.sh];
}

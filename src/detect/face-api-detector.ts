/**
 * Face detection with @vladmandic/face-api's TinyFaceDetector (or SSD-MobileNetV1) on the tfjs wasm backend,
 * at every scale a face can have. No Node APIs: the face-api build and its model files are handed in, as for
 * face-api-landmarker.ts.
 *
 * TinyFaceDetector is a fully convolutional net with a 32-pixel output grid; trained at 416 px, it finds faces
 * of about 48 to 260 px in its input. Instead of one run on a copy shrunk to 416 px, it runs on an image
 * pyramid, coarse to fine, each level the whole image (no tiles, so no seams and no overlap to pay for):
 * the image at 224 px on its long side (where a face that fills the photo is in the net's range), then at
 * 416, 832, 1664… until the level's smallest findable face is below `minFaceSize` (the finest level may be
 * the full-size image or beyond, never more than 2× up);
 * it stops early once every face found is at least twice the smallest face the levels so far find.
 * A face found at a fine level where the next coarser level should see it too must have support there. Boxes
 * from all levels are merged by non-maximum suppression (the best score wins). When nothing is found,
 * a grey, contrast-stretched copy gets the same search once.
 */
import type * as FaceApi from '@vladmandic/face-api';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { FaceBox } from './face.js';
import { checkTinyFaceNetParams, runTinyFaceNet } from './tiny-face-net.js';

/** The face-api namespace: face-api.node-wasm.js in Node, face-api.esm.js in a browser. */
export type FaceApiModule = typeof FaceApi;

/** face-api's `tf` is all of tfjs plus the wasm backend's exports; its typings list only a few ops. */
export type Tf = typeof TfCore & {
  setWasmPaths?: (prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean) => void;
};

/** Reads a file of face-api's `model/` folder: a `*-weights_manifest.json` or a `.bin` it names. */
export type ReadModelFile = (fileName: string) => Promise<ArrayBuffer | Uint8Array>;

export interface FaceApiDetectorOptions {
  faceapi: FaceApiModule;
  readModelFile: ReadModelFile;
  /** Folder (ending in '/') or file map of tfjs-backend-wasm's `.wasm` files, for setWasmPaths. */
  wasmPaths?: string | Record<string, string>;
  /** 'tiny': TinyFaceDetector on an image pyramid (default); 'ssd': SSD-MobileNetV1, one run at 512 px. */
  detector?: 'tiny' | 'ssd';
  /** TinyFaceDetector's input side at the coarse levels, a multiple of 32 (default 416). */
  inputSize?: number;
  /** Minimum detector confidence, in (0, 1) (default 0.5). */
  minScore?: number;
  /**
   * When nothing reaches minScore in colour or in grey, the colour pass's faces down to this confidence are
   * taken instead (default LOW_SCORE; 'tiny' only; equal to minScore: no second chance). Faces turned far
   * to the side score low; the landmarker's mirror check and the fit's quality gate judge what comes back.
   */
  lowScore?: number;
  /**
   * Smallest face side, in image pixels, the pyramid must reach (default: the larger of 48 and the image's
   * long side / 24). Smaller values add finer, costlier levels.
   */
  minFaceSize?: number;
}

export interface FoundFace {
  /** In the image's pixels (x right, y down, top-left pixel centre at (0, 0)). */
  box: FaceBox;
  /** Detector confidence in [minScore, 1] (down to lowScore when nothing reached minScore). */
  score: number;
}

/** A box of one pyramid level, before the levels are merged. */
interface Candidate extends FoundFace {
  level: number;
}

export interface FaceDetector {
  /** Faces in an RGB image tensor ([height, width, 3], int32 or float32 in 0–255), most confident first. */
  findFaces(image: TfCore.Tensor3D): Promise<FoundFace[]>;
  dispose(): void;
}

/**
 * Smallest face (box side) TinyFaceDetector finds at input 416: train-300w faces pasted on grey at 416 px
 * were found 6 / 8 / 10 times in 10 with boxes of about 37 / 46 / 55 px, and up to about 260 px.
 */
const NET_MIN_FACE = 48;
/**
 * Boxes larger than this (input pixels) are dropped at level 2 and finer: the level above, at half the
 * scale, sees them in its reliable range, and on noise canvases such big boxes at fine levels were false
 * faces (scores 0.50–0.55, and 0.77 once). Level 1 keeps them (a train-300w face of 309 px there was real).
 */
const NET_MAX_FACE = 300;
/**
 * A face found at level 2 or finer whose box the next coarser level sees at this size or more (input pixels)
 * is kept only if that level has a candidate over it too, with a score of SUPPORT_SCORE or more. On
 * face-api's sample2.jpg, the false faces of the finest level (scores 0.78, 0.53) had no such support.
 * Levels 0 and 1 (224 and 416 px, the two runs of the detector before the pyramid) need none: on
 * train-300w that rule dropped real faces that only one of the two found.
 */
const CONFIRM_FACE = 72;
const SUPPORT_SCORE = 0.3;
/** The pyramid stops once every face found is at least this times the smallest face its levels find. */
const STOP_RATIO = 0.5;
/**
 * Boxes overlapping a better one by more than this IoU, or lying this much inside it (the same face seen at
 * two levels), are dropped. At 0.7 a neighbour's box dropped a real face on train-300w.
 */
const NMS_IOU = 0.3;
/**
 * The second-chance confidence (FaceApiDetectorOptions.lowScore). Held-out synthetic faces at |yaw| 30–90°
 * (src/learn/synthetic-evaluation.ts, 32 of them) scored 0.15–0.88 where found: at 0.5, 20 were missed; at
 * 0.15, 9. Plain walls and skies score below it.
 */
export const LOW_SCORE = 0.15;
const NMS_INSIDE = 0.8;

/** Starts the wasm backend (once per tf instance). */
export async function startFaceApiBackend(
  faceapi: FaceApiModule,
  wasmPaths?: string | Record<string, string>,
): Promise<Tf> {
  const tf = faceapi.tf as unknown as Tf;
  if (tf.getBackend() !== 'wasm') {
    if (wasmPaths !== undefined) tf.setWasmPaths?.(wasmPaths);
    if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to start');
  }
  await tf.ready();
  return tf;
}

/** The weights of one of face-api's models ('tiny_face_detector_model', 'face_landmark_68_model'…). */
export async function loadFaceApiWeights(
  faceapi: FaceApiModule,
  readModelFile: ReadModelFile,
  model: string,
): Promise<FaceApi.tf.NamedTensorMap> {
  const tf = faceapi.tf as unknown as Tf;
  const manifest = JSON.parse(new TextDecoder().decode(await readModelFile(`${model}-weights_manifest.json`)));
  // tfjs joins the (empty) path prefix and each file name with '/': hand over the bare file name.
  const readAll = (paths: string[]) =>
    Promise.all(
      paths.map(async (p) => {
        const bytes = await readModelFile(p.replace(/^\/+/, ''));
        return bytes instanceof Uint8Array ? bytes.slice().buffer : bytes;
      }),
    );
  const weights = await tf.io.weightsLoaderFactory(readAll)(manifest as TfCore.io.WeightsManifestConfig, '');
  return weights as unknown as FaceApi.tf.NamedTensorMap;
}

/** What the pyramid uses of TinyFaceDetector: its weights, anchors and input mean (public but untyped). */
interface TinyNet {
  params: unknown;
  anchors: Array<{ x: number; y: number }>;
  config: { meanRgb: [number, number, number] };
}

/** Starts the backend if needed and loads the detector's weights. */
export async function createFaceApiDetector(options: FaceApiDetectorOptions): Promise<FaceDetector> {
  const { faceapi, readModelFile } = options;
  const kind = options.detector ?? 'tiny';
  const inputSize = options.inputSize ?? 416;
  const minScore = options.minScore ?? 0.5;
  if (!(Number.isInteger(inputSize) && inputSize > 0 && inputSize % 32 === 0)) {
    throw new RangeError(`inputSize must be a positive multiple of 32, got ${inputSize}`);
  }
  if (!(minScore > 0 && minScore < 1)) throw new RangeError(`minScore must be in (0, 1), got ${minScore}`);
  if (options.minFaceSize !== undefined && !(options.minFaceSize > 0)) {
    throw new RangeError(`minFaceSize must be positive, got ${options.minFaceSize}`);
  }
  const tf = await startFaceApiBackend(faceapi, options.wasmPaths);

  if (kind === 'ssd') {
    const ssd = new faceapi.SsdMobilenetv1();
    ssd.loadFromWeightMap(await loadFaceApiWeights(faceapi, readModelFile, 'ssd_mobilenetv1_model'));
    const runOptions = new faceapi.SsdMobilenetv1Options({ minConfidence: minScore });
    return {
      async findFaces(image) {
        const [h, w] = image.shape;
        const k = Math.min(1, 512 / Math.max(w, h));
        const small = k < 1 ? tf.image.resizeBilinear(image, [Math.round(h * k), Math.round(w * k)]) : image;
        try {
          const found = (await ssd.locateFaces(small as unknown as FaceApi.tf.Tensor3D, runOptions)).map((d) => {
            const r = d.relativeBox;
            return { box: { x: r.x * w, y: r.y * h, width: r.width * w, height: r.height * h }, score: d.score };
          });
          return suppress(found);
        } finally {
          if (small !== image) small.dispose();
        }
      },
      dispose: () => ssd.dispose(),
    };
  }

  const tiny = new faceapi.TinyFaceDetector();
  tiny.loadFromWeightMap(await loadFaceApiWeights(faceapi, readModelFile, 'tiny_face_detector_model'));
  const net = tiny as unknown as TinyNet;
  const params = net.params;
  checkTinyFaceNetParams(params);
  const anchors = net.anchors.map((a) => ({ x: a.x, y: a.y }));
  const mean = net.config.meanRgb;
  const lowScore = Math.min(minScore, options.lowScore ?? LOW_SCORE);
  if (!(lowScore > 0)) throw new RangeError(`lowScore must be in (0, 1), got ${options.lowScore}`);
  const threshold = Math.min(lowScore, SUPPORT_SCORE);
  /** The least score of a coarser level's candidate that confirms a finer one's. */
  const support = Math.min(minScore, SUPPORT_SCORE);

  /**
   * Faces in `input` (float32, [h, w, 3], 0–255), the image at `scale` input pixels per image pixel, no
   * larger than `maxFace` input pixels; boxes in image pixels, appended to `out`.
   */
  const run = async (input: TfCore.Tensor3D, scale: number, maxFace: number, level: number, out: Candidate[]) => {
    const x = tf.tidy(() => {
      const [h, w] = input.shape;
      const padded = tf.pad(input, [
        [0, Math.ceil(h / 32) * 32 - h],
        [0, Math.ceil(w / 32) * 32 - w],
        [0, 0],
      ]);
      return tf.expandDims<TfCore.Tensor4D>(tf.div(tf.sub(padded, tf.tensor1d(mean)), 255), 0);
    });
    let output: TfCore.Tensor4D;
    try {
      output = runTinyFaceNet(tf, x, params);
    } finally {
      x.dispose();
    }
    const [, rows, cols, channels] = output.shape;
    const values = (await output.data()) as Float32Array;
    output.dispose();
    const n = anchors.length;
    const stride = channels / n; // 5 (x, y, w, h, score): one class
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        for (let a = 0; a < n; a++) {
          const o = (row * cols + col) * channels + a * stride;
          const score = sigmoid(values[o + 4]);
          if (score < threshold) continue;
          // face-api's decoding: cell units, 32 input pixels a cell.
          const cx = (col + sigmoid(values[o])) * 32;
          const cy = (row + sigmoid(values[o + 1])) * 32;
          const bw = Math.exp(values[o + 2]) * anchors[a].x * 32;
          const bh = Math.exp(values[o + 3]) * anchors[a].y * 32;
          if (Math.max(bw, bh) > maxFace) continue;
          out.push({
            box: {
              x: (cx - bw / 2) / scale,
              y: (cy - bh / 2) / scale,
              width: bw / scale,
              height: bh / scale,
            },
            score,
            level,
          });
        }
      }
    }
  };

  /**
   * The candidates with a score of at least minScore that the next coarser level confirms where it should
   * see them too (a candidate of its own overlapping them), best first, merged by NMS.
   */
  const confirmed = (candidates: Candidate[], scales: number[], least = minScore): FoundFace[] =>
    suppress(
      candidates
        .filter(
          (c) =>
            c.score >= least
            && (c.level <= 1
              || Math.max(c.box.width, c.box.height) * scales[c.level - 1] < CONFIRM_FACE
              || candidates.some(
                (o) => o.level === c.level - 1 && o.score >= support && overlap(o.box, c.box) > NMS_IOU,
              )),
        )
        .map(({ box, score }) => ({ box, score })),
    );

  /** `image` resized by `scale`, float32, box-filtered first when shrinking by 2 or more. */
  const resized = (image: TfCore.Tensor3D, scale: number): TfCore.Tensor3D =>
    tf.tidy(() => {
      const [h, w] = image.shape;
      let x = tf.cast(image, 'float32');
      const f = Math.floor(1 / scale);
      if (f >= 2 && h >= f && w >= f) x = tf.avgPool(x, f, f, 'valid');
      const th = Math.max(1, Math.round(h * scale));
      const tw = Math.max(1, Math.round(w * scale));
      if (x.shape[0] === th && x.shape[1] === tw) return x;
      // Without half-pixel centres, as face-api resizes its input (the net's scores were a little higher so).
      return tf.image.resizeBilinear(x, [th, tw], false, false);
    });

  /** A grey copy of `image` (float32), stretched to the full 0–255 range. */
  const greyed = (image: TfCore.Tensor3D): TfCore.Tensor3D =>
    tf.tidy(() => {
      const g = tf.mean(image, 2, true);
      const lo = tf.min(g);
      const range = tf.maximum(tf.sub(tf.max(g), lo), 1);
      return tf.tile(tf.mul(tf.div(tf.sub(g, lo), range), 255), [1, 1, 3]) as TfCore.Tensor3D;
    });

  return {
    async findFaces(image) {
      const [h, w, channels] = image.shape;
      if (!(h > 0 && w > 0 && channels === 3)) throw new RangeError(`expected an RGB image, got ${image.shape}`);
      const long = Math.max(w, h);
      const minFace = options.minFaceSize ?? Math.max(48, long / 24);
      // Level 0 at about half inputSize on the long side, level 1 at inputSize, then doubling up to where
      // minFace is findable (never beyond 2× the photo).
      const scales = [Math.max(128, Math.ceil(inputSize / 64) * 32) / long, inputSize / long];
      const finest = Math.min(2, NET_MIN_FACE / minFace);
      while (finest > 1.2 * scales[scales.length - 1]) scales.push(Math.min(2 * scales[scales.length - 1], finest));
      // The finest level needed, or the image where that is larger: every level is made from it. A large
      // photo is shrunk in one bilinear pass to twice that size, then 2×2-averaged (any other op on a tensor
      // of tens of megabytes costs seconds on the wasm backend: slice and read copy it out of the heap).
      const baseScale = Math.min(1, scales[scales.length - 1]);
      const base = tf.tidy(() => {
        if (baseScale > 0.5) return baseScale < 1 ? resized(image, baseScale) : tf.cast(image, 'float32');
        const size: [number, number] = [
          2 * Math.max(1, Math.round(h * baseScale)),
          2 * Math.max(1, Math.round(w * baseScale)),
        ];
        return tf.avgPool(tf.image.resizeBilinear(image, size, false, true), 2, 2, 'valid');
      });
      // Each level's input, made when first needed and kept for the grey retry.
      const inputs: Array<{ tensor: TfCore.Tensor3D; scale: number }> = [];
      const levelInput = (level: number) => {
        if (!inputs[level]) {
          const tensor = resized(base, scales[level] / baseScale);
          inputs[level] = { tensor, scale: tensor.shape[1] / w };
        }
        return inputs[level];
      };
      let colour: Candidate[] = [];
      try {
        for (const grey of [false, true]) {
          // Nothing found in colour: once more in grey, contrast stretched.
          const candidates: Candidate[] = [];
          if (!grey) colour = candidates;
          let found: FoundFace[] = [];
          for (let level = 0; level < scales.length; level++) {
            if (level > 0) {
              // The smallest face the levels so far find.
              const smallest = NET_MIN_FACE / scales[level - 1];
              if (smallest <= minFace) break;
              if (
                found.length > 0
                && found.every((f) => STOP_RATIO * Math.max(f.box.width, f.box.height) >= smallest)
              ) {
                break;
              }
            }
            const input = levelInput(level);
            const tensor = grey ? greyed(input.tensor) : input.tensor;
            try {
              const maxFace = level <= 1 ? Infinity : NET_MAX_FACE;
              await run(tensor, input.scale, maxFace, level, candidates);
            } finally {
              if (tensor !== input.tensor) tensor.dispose();
            }
            found = confirmed(candidates, scales);
          }
          if (found.length > 0) return found;
        }
        return lowScore < minScore ? confirmed(colour, scales, lowScore) : [];
      } finally {
        for (const input of inputs) input?.tensor.dispose();
        base.dispose();
      }
    },
    dispose: () => tiny.dispose(),
  };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Best first; a box is dropped when it overlaps a better one (IoU) or lies mostly inside it. */
function suppress(found: FoundFace[]): FoundFace[] {
  found.sort((a, b) => b.score - a.score);
  const kept: FoundFace[] = [];
  for (const f of found) {
    if (kept.every((g) => overlap(f.box, g.box) < NMS_IOU && inside(f.box, g.box) < NMS_INSIDE)) kept.push(f);
  }
  return kept;
}

function intersection(a: FaceBox, b: FaceBox): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return Math.max(0, w) * Math.max(0, h);
}

/** Intersection over union. */
export function overlap(a: FaceBox, b: FaceBox): number {
  const inter = intersection(a, b);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/** The share of the smaller box inside the other. */
function inside(a: FaceBox, b: FaceBox): number {
  return intersection(a, b) / Math.min(a.width * a.height, b.width * b.height);
}

/**
 * Training examples for the one-pass 3DMM regressor (detect/face-regressor.ts): a face image with known
 * model parameters becomes the landmark net's features of the crop the pipeline would take, and the labels
 * in that crop's units.
 *
 * - Sources (RegressorSample): real train-300w faces with pseudo-labels (the landmark fit to their
 *   ground-truth landmarks), their 3D-profiled views (face-profiling.ts: the same fit seen turned further),
 *   and synthetic faces (synthetic-faces.ts: exact parameters).
 * - Crop: as at inference, the canonical crop of the landmark net's first-pass answer; the first pass sees
 *   the canonical crop of the true landmarks, shifted and scaled at random (as a detector box would be).
 * - Labels: the weak-perspective camera that best projects the true mesh's label vertices (least squares,
 *   rotation kept), the leading identity modes, the expressions, and the label vertices' true projections
 *   (perspective) in crop units.
 * The features are stored as they come out of the net: 7·7·256 floats per example (50 kB).
 */
import { type CropGeometry, canonicalGeometry, warpCrop } from '../detect/face-crop.js';
import { type FaceRegressorLayout, POSE_OUTPUTS, ROW_SCALE, regressorOutputs } from '../detect/face-regressor.js';
import {
  LANDMARK_COUNT,
  LANDMARK_NET_GRID,
  LANDMARK_NET_INPUT,
  landmarkNetFeatures,
  landmarkNetHead,
} from '../detect/landmark-net.js';
import { type LoadedLandmarkNet, landmarkPass } from '../detect/net-landmarker.js';
import type { Camera } from '../geometry/camera.js';
import { projectPoints } from '../geometry/projection.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import type { SeededRandom } from '../model/random.js';
import type { RgbImage } from '../render/rgb-image.js';

export type SampleKind = 'real' | 'profiled' | 'synthetic';

/** A face image with the model parameters that made it (or were fitted to it). */
export interface RegressorSample {
  kind: SampleKind;
  image: RgbImage;
  /** 68 points in image pixels: where the first landmark pass is centred. */
  landmarks: Float32Array;
  camera: Camera;
  identity: Float32Array;
  expression: Float32Array;
}

/** Examples as flat arrays, example i at [i·stride …]. */
export interface RegressorExamples {
  count: number;
  kinds: SampleKind[];
  /** 7·7·256 per example. */
  features: Float32Array;
  /** The landmark net's 136 outputs (crop units) per example. */
  landmarks: Float32Array;
  /** regressorOutputs(layout) target values per example. */
  targets: Float32Array;
  /** 2 per label vertex per example: true projections in crop units. */
  projections: Float32Array;
  /** True yaw (degrees) per example. */
  yaw: Float32Array;
}

export const FEATURE_SIZE = LANDMARK_NET_GRID * LANDMARK_NET_GRID * 256;

/**
 * The vertices the losses measure: the model's 68 landmark vertices and every `step`-th vertex of its face
 * region (or of the whole mesh without one).
 */
export function labelVertices(model: MorphableModel, step = 40): Int32Array {
  const set = new Set<number>();
  for (const v of model.landmarks.ibug68?.vertices ?? []) if (v >= 0) set.add(v);
  const region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
  for (let i = 0; i < region.length; i += step) set.add(region[i]);
  return Int32Array.from([...set].sort((a, b) => a - b));
}

/** Jitter of the first pass's crop: shift (fraction of the side) and scale, uniform in ±. */
const JITTER = { shift: 0.06, scale: 0.1 };

export function buildRegressorExamples(
  net: LoadedLandmarkNet,
  model: MorphableModel,
  samples: readonly RegressorSample[],
  layout: FaceRegressorLayout,
  vertices: Int32Array,
  random: SeededRandom,
  onProgress?: (done: number) => void,
): RegressorExamples {
  const n = samples.length;
  const outputs = regressorOutputs(layout);
  const V = vertices.length;
  const examples: RegressorExamples = {
    count: n,
    kinds: samples.map((s) => s.kind),
    features: new Float32Array(n * FEATURE_SIZE),
    landmarks: new Float32Array(n * 2 * LANDMARK_COUNT),
    targets: new Float32Array(n * outputs),
    projections: new Float32Array(n * 2 * V),
    yaw: new Float32Array(n),
  };
  const batchSize = 32;
  const s = LANDMARK_NET_INPUT;
  const crops = new Float32Array(batchSize * s * s * 3);
  const points = new Float64Array(3 * V);
  const projected = new Float32Array(2 * V);
  for (let start = 0; start < n; start += batchSize) {
    const batch = samples.slice(start, start + batchSize);
    const first = landmarkPass(
      net,
      batch.map((sample) => ({ image: sample.image, geometry: jittered(canonicalGeometry(sample.landmarks), random) })),
      false,
    );
    const geometries = first.map((p) => canonicalGeometry(p));
    geometries.forEach((g, b) => {
      warpCrop(batch[b].image, g, s, crops.subarray(b * s * s * 3, (b + 1) * s * s * 3));
    });
    const { tf, params, head } = net;
    const [features, landmarks] = tf.tidy(() => {
      const f = landmarkNetFeatures(
        tf,
        params,
        tf.tensor4d(crops.subarray(0, batch.length * s * s * 3), [batch.length, s, s, 3]),
      );
      return [f, landmarkNetHead(tf, params, f, head)];
    });
    examples.features.set(features.dataSync() as Float32Array, start * FEATURE_SIZE);
    examples.landmarks.set(landmarks.dataSync() as Float32Array, start * 2 * LANDMARK_COUNT);
    features.dispose();
    landmarks.dispose();
    batch.forEach((sample, b) => {
      const i = start + b;
      const shape = evaluateShape(model, sample.identity, sample.expression);
      for (let j = 0; j < V; j++) {
        const v = 3 * vertices[j];
        points[3 * j] = shape[v];
        points[3 * j + 1] = shape[v + 1];
        points[3 * j + 2] = shape[v + 2];
      }
      projectPoints(sample.camera, points, V, projected);
      const g = geometries[b];
      for (let j = 0; j < V; j++) {
        examples.projections[i * 2 * V + 2 * j] = (projected[2 * j] - g.centreX) / g.side + 0.5;
        examples.projections[i * 2 * V + 2 * j + 1] = (projected[2 * j + 1] - g.centreY) / g.side + 0.5;
      }
      weakPerspectiveTargets(
        sample,
        points,
        examples.projections.subarray(i * 2 * V, (i + 1) * 2 * V),
        layout,
        examples.targets.subarray(i * outputs, (i + 1) * outputs),
      );
      const r = sample.camera.rotation;
      examples.yaw[i] = (Math.atan2(r[2], r[8]) * 180) / Math.PI;
    });
    onProgress?.(Math.min(n, start + batchSize));
  }
  return examples;
}

function jittered(g: CropGeometry, random: SeededRandom): CropGeometry {
  const u = () => 2 * random.uniform() - 1;
  return {
    ...g,
    centreX: g.centreX + JITTER.shift * g.side * u(),
    centreY: g.centreY + JITTER.shift * g.side * u(),
    side: g.side * (1 + JITTER.scale * u()),
  };
}

/**
 * Targets of one example: s·r₀, s·r₁ (×ROW_SCALE), tx, ty from the least-squares weak perspective
 * (rotation fixed to the true one) of the label points onto their true projections `uv`, then the leading
 * identity coefficients and the expressions.
 */
function weakPerspectiveTargets(
  sample: RegressorSample,
  points: Float64Array,
  uv: Float32Array,
  layout: FaceRegressorLayout,
  out: Float32Array,
): void {
  const r = sample.camera.rotation;
  const V = uv.length / 2;
  // u_j = tx + s·a_j, v_j = ty − s·b_j with a = r₀·X, b = r₁·X: linear least squares in (s, tx, ty).
  let sa = 0,
    sb = 0,
    saa = 0,
    su = 0,
    sv = 0,
    sau = 0,
    sbv = 0;
  for (let j = 0; j < V; j++) {
    const x = points[3 * j],
      y = points[3 * j + 1],
      z = points[3 * j + 2];
    const a = r[0] * x + r[1] * y + r[2] * z;
    const b = r[3] * x + r[4] * y + r[5] * z;
    sa += a;
    sb += b;
    saa += a * a + b * b;
    su += uv[2 * j];
    sv += uv[2 * j + 1];
    sau += a * uv[2 * j];
    sbv += b * uv[2 * j + 1];
  }
  // Normal equations of [s, tx, ty]: eliminate tx = (su − s·sa)/V, ty = (sv + s·sb)/V.
  const scale = (sau - sbv - (sa * su) / V + (sb * sv) / V) / (saa - (sa * sa + sb * sb) / V);
  const tx = (su - scale * sa) / V,
    ty = (sv + scale * sb) / V;
  for (let c = 0; c < 3; c++) {
    out[c] = ROW_SCALE * scale * r[c];
    out[3 + c] = ROW_SCALE * scale * r[3 + c];
  }
  out[6] = tx;
  out[7] = ty;
  for (let k = 0; k < layout.identity; k++) out[POSE_OUTPUTS + k] = sample.identity[k] ?? 0;
  for (let k = 0; k < layout.expression; k++) out[POSE_OUTPUTS + layout.identity + k] = sample.expression[k] ?? 0;
}

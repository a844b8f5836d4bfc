/**
 * Cross-model evaluation on held-out synthetic faces: pose error and 3D shape error of fitting pipelines
 * ("variants") on faces rendered from ICT-FaceKit and from another model (the Surrey Face Model), with the
 * true camera and the true mesh of every face known.
 *
 * The set (`buildEvaluationSet`) is fixed by its seeds (1600 + i for the first model, 1700 + i for the
 * second: disjoint from any training seeds below 1600): per model, faces whose |yaw| is spread evenly over
 * the bins 0–30°, 30–60°, 60–90° (either sign), pitch ±20°, roll ±15°, identity N(0, I) in the model's own
 * units (every component), 0–3 expression blendshapes at weights up to 0.6, a random directional SH light
 * with ambient, over a smooth noisy random background, rendered by render/synthetic-face.ts (the whole mesh:
 * ICT's face and head, all of Surrey's 3448 vertices). The albedo is skin of a random tone, painted with
 * brows, eyes (white, dark iris), lips and nostrils placed from the model's own iBUG landmarks on its mean
 * face (the Surrey model has no eyes of its own, and no colour). The focal length is the pipeline's default
 * guess (3 × the image side), so the fit's focal prior is right here. Faces sit 0.9–1.15 m away (the face
 * about 40 % of the image), their landmark centroid within ±5 % of the image centre.
 *
 * Pose convention across models: the two mean faces need not share "frontal". The rotation between them is
 * measured by aligning the ICT mean's landmark points to the other mean's (similarity, the shared inner
 * iBUG points; `EvaluationSet.poseOffset`), and a second-model face at pose P is rendered with rotation
 * R(P)·R_offᵀ, so that it looks like an ICT face at pose P: poses of both models compare in ICT's convention.
 *
 * 3D error: geometry/shape-error.ts's NoW-style protocol: the true mesh's vertices within 95 mm of its nose
 * tip (iBUG 31; ICT: of its 'face' region) against the predicted ICT mesh (all its triangles), aligned by
 * the shared inner iBUG landmark vertices (similarity), then ICP with scale; per face the median distance,
 * per set the median of those medians.
 */
import type { FaceLandmarker } from '../detect/face.js';
import type { Photo } from '../fit/fit-photo.js';
import { PhotoFitter } from '../fit/fit-photo.js';
import { type Camera, createCamera } from '../geometry/camera.js';
import { anglesFromRotation, type PoseAngles, rotationFromAngles } from '../geometry/rotation.js';
import { alignSimilarity, createSimilarity, MeshDistance, pointsNear, shapeError } from '../geometry/shape-error.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { SeededRandom } from '../model/random.js';
import type { RgbImage } from '../render/rgb-image.js';
import { shDirectionalLight } from '../render/spherical-harmonics.js';
import { SyntheticFaceRenderer } from '../render/synthetic-face.js';

/** |yaw| bins, degrees. */
export const YAW_BINS: readonly (readonly [number, number])[] = [
  [0, 30],
  [30, 60],
  [60, 90],
];
/** The ground-truth region's radius around the nose tip (NoW's crop), mm. */
export const REGION_RADIUS = 95;
const NOSE_TIP = 30; // iBUG 31, 0-based
/** The iBUG points used to align meshes: the 51 inner points (contour excluded), where both models have them. */
const INNER = Array.from({ length: 51 }, (_, i) => 17 + i);

export interface EvaluationFace {
  /** "ICT-FaceKit 3" etc. */
  id: string;
  /** The model it was drawn from: 0 = ICT-FaceKit (the fitted model), 1 = the other. */
  source: number;
  seed: number;
  image: RgbImage;
  /** The true camera of the source model's space. */
  camera: Camera;
  /** The true pose in ICT's convention (the second model's offset taken out). */
  pose: PoseAngles;
  /** Index into YAW_BINS. */
  yawBin: number;
  /** The true mesh's vertices within REGION_RADIUS of its nose tip, 3M mm. */
  truthPoints: Float32Array;
  /** The true mesh at the 51 inner iBUG points (17–67), 3 × 51, NaN where the model has no vertex. */
  truthLandmarks: Float64Array;
  /** The 68 true landmark vertices projected (image pixels), NaN where the model has no vertex. */
  landmarks: Float32Array;
}

export interface EvaluationSet {
  /** Names of the source models, by `EvaluationFace.source`. */
  sources: string[];
  faces: EvaluationFace[];
  size: number;
  /** iBUG indices (0-based) used for the landmark alignment: inner points both models map. */
  landmarkIds: number[];
  /** The rotation from ICT's mean face to the second model's (its angles and the scale between them). */
  poseOffset?: { rotation: Float64Array; angles: PoseAngles; scale: number };
}

export interface EvaluationSetOptions {
  /** Faces per model (default 24), spread evenly over the yaw bins. */
  perModel?: number;
  /** Image side in pixels (default 288). */
  size?: number;
}

/** Mesh vertices at iBUG indices `ids` of `model`'s landmark set, 3 × ids.length. */
function landmarkPoints(model: MorphableModel, positions: ArrayLike<number>, ids: number[]): Float64Array {
  const out = new Float64Array(3 * ids.length);
  const vertices = model.landmarks.ibug68.vertices;
  ids.forEach((id, i) => {
    const v = vertices[id];
    for (let k = 0; k < 3; k++) out[3 * i + k] = v >= 0 ? positions[3 * v + k] : Number.NaN;
  });
  return out;
}

/** Inner iBUG points that both models have a vertex for. */
export function sharedLandmarkIds(ict: MorphableModel, other?: MorphableModel): number[] {
  return INNER.filter(
    (id) => ict.landmarks.ibug68.vertices[id] >= 0 && (!other || other.landmarks.ibug68.vertices[id] >= 0),
  );
}

/**
 * The fixed held-out set: `perModel` faces of ICT-FaceKit (`ict`) and, when given, of `other` (the Surrey
 * model), as the header describes. Both models need iBUG-68 landmarks.
 */
export function buildEvaluationSet(
  ict: MorphableModel,
  other?: MorphableModel,
  options: EvaluationSetOptions = {},
): EvaluationSet {
  const perModel = options.perModel ?? 24;
  const size = options.size ?? 288;
  const landmarkIds = sharedLandmarkIds(ict, other);
  const set: EvaluationSet = { sources: [ict.name], faces: [], size, landmarkIds };
  const offset = createSimilarity();
  if (other) {
    set.sources.push(other.name);
    alignSimilarity(
      landmarkPoints(ict, ict.mean, landmarkIds),
      landmarkPoints(other, other.mean, landmarkIds),
      landmarkIds.length,
      null,
      offset,
    );
    set.poseOffset = { rotation: offset.rotation, angles: anglesFromRotation(offset.rotation), scale: offset.scale };
  }
  const models = other ? [ict, other] : [ict];
  models.forEach((model, source) => {
    const renderer = new SyntheticFaceRenderer(model.triangles, model.vertexCount, size, size);
    const paint = facePaint(model);
    const region = source === 0 && model.regions.face ? model.regions.face : undefined;
    for (let i = 0; i < perModel; i++) {
      const seed = 1600 + 100 * source + i;
      set.faces.push(
        drawFace(model, renderer, paint, region, seed, i % YAW_BINS.length, source, source ? offset.rotation : null),
      );
      set.faces[set.faces.length - 1].id = `${model.name} ${i}`;
    }
  });
  return set;
}

function drawFace(
  model: MorphableModel,
  renderer: SyntheticFaceRenderer,
  paint: FacePaint,
  region: Uint32Array | undefined,
  seed: number,
  yawBin: number,
  source: number,
  offset: Float64Array | null,
): EvaluationFace {
  const random = new SeededRandom(seed);
  const size = renderer.width;
  const [lo, hi] = YAW_BINS[yawBin];
  const yaw = (random.uniform() < 0.5 ? -1 : 1) * (lo + (hi - lo) * random.uniform());
  const pose = { yaw, pitch: 40 * random.uniform() - 20, roll: 30 * random.uniform() - 15 };
  const identity = new Float32Array(model.identity.count).map(() => random.normal());
  const expression = new Float32Array(model.expression.count);
  const active = Math.floor(4 * random.uniform());
  for (let k = 0; k < active && expression.length > 0; k++) {
    expression[Math.floor(random.uniform() * expression.length)] = 0.6 * random.uniform();
  }
  const shape = evaluateShape(model, identity, expression);

  const camera = createCamera(size, size);
  rotationFromAngles(pose.yaw, pose.pitch, pose.roll, camera.rotation);
  if (offset) {
    // R = R(P)·R_offᵀ: the face looks like an ICT face at pose P.
    const r = Float64Array.from(camera.rotation);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += r[3 * a + k] * offset[3 * b + k];
        camera.rotation[3 * a + b] = s;
      }
  }
  // The inner landmarks' centroid goes near the image centre, 0.9–1.15 m away.
  const ids = INNER.filter((id) => model.landmarks.ibug68.vertices[id] >= 0);
  const centre = [0, 0, 0];
  const points = landmarkPoints(model, shape, ids);
  for (let i = 0; i < ids.length; i++) for (let k = 0; k < 3; k++) centre[k] += points[3 * i + k] / ids.length;
  const distance = 1050 * (0.9 + 0.25 * random.uniform());
  const shift = (0.1 * random.uniform() - 0.05) * size;
  const r = camera.rotation;
  const target = [
    (shift * distance) / camera.focal,
    ((0.1 * random.uniform() - 0.05) * size * distance) / camera.focal,
  ];
  for (let k = 0; k < 3; k++) {
    const rc = r[3 * k] * centre[0] + r[3 * k + 1] * centre[1] + r[3 * k + 2] * centre[2];
    camera.translation[k] = -rc + (k < 2 ? target[k] : -distance);
  }

  const albedo = paint.albedo(random);
  const lightDirection = [1.6 * random.uniform() - 0.8, 1.1 * random.uniform() - 0.3, 1];
  const strength = 0.6 + 0.4 * random.uniform();
  const ambient = 0.25 + 0.25 * random.uniform();
  const tint = [1, 0.95 + 0.05 * random.uniform(), 0.85 + 0.15 * random.uniform()];
  const sh = shDirectionalLight(
    lightDirection,
    tint.map((t) => t * strength),
    tint.map((t) => t * ambient),
  );
  const image = renderer.render(shape, camera, albedo, sh, randomBackground(size, random));

  const vertices = model.landmarks.ibug68.vertices;
  const landmarks = new Float32Array(136);
  for (let l = 0; l < 68; l++) {
    const v = vertices[l];
    if (v < 0) {
      landmarks[2 * l] = landmarks[2 * l + 1] = Number.NaN;
      continue;
    }
    const x = shape[3 * v],
      y = shape[3 * v + 1],
      z = shape[3 * v + 2];
    const xc = r[0] * x + r[1] * y + r[2] * z + camera.translation[0];
    const yc = r[3] * x + r[4] * y + r[5] * z + camera.translation[1];
    const d = -(r[6] * x + r[7] * y + r[8] * z + camera.translation[2]);
    landmarks[2 * l] = camera.cx + (camera.focal * xc) / d;
    landmarks[2 * l + 1] = camera.cy - (camera.focal * yc) / d;
  }
  const nose = shape.subarray(3 * vertices[NOSE_TIP], 3 * vertices[NOSE_TIP] + 3);
  const near = pointsNear(shape, nose, REGION_RADIUS, region);
  const truthPoints = new Float32Array(3 * near.length);
  near.forEach((v, i) => truthPoints.set(shape.subarray(3 * v, 3 * v + 3), 3 * i));
  return {
    id: '',
    source,
    seed,
    image,
    camera,
    pose,
    yawBin,
    truthPoints,
    truthLandmarks: landmarkPoints(model, shape, INNER),
    landmarks,
  };
}

interface FacePaint {
  /** A per-vertex linear RGB albedo (3N) for one face: a random skin tone with the painted features. */
  albedo(random: SeededRandom): Float32Array;
}

/**
 * Where brows, eyes, iris, lips, mouth and nostrils are on the model's mean face, per vertex, from its iBUG
 * landmarks seen from the front (only vertices facing forward, in front of the ears).
 */
function facePaint(model: MorphableModel): FacePaint {
  const n = model.vertexCount;
  const mean = model.mean;
  const lm = model.landmarks.ibug68.vertices;
  const at = (i: number): [number, number] => [mean[3 * lm[i]], mean[3 * lm[i] + 1]];
  const has = (i: number) => lm[i] >= 0;
  const polygon = (ids: number[]) => ids.filter(has).map(at);
  const normals = vertexNormals(mean, model.triangles);
  const noseZ = mean[3 * lm[NOSE_TIP] + 2];
  // 0 skin, 1 brow, 2 eye white, 3 iris, 4 lip, 5 mouth opening / lid line, 6 nostril
  const kind = new Uint8Array(n);
  const eyes = [36, 42].map((s) => polygon([0, 1, 2, 3, 4, 5].map((k) => s + k)));
  const outerLip = polygon([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
  const innerLip = polygon([has(60) ? 60 : 48, 61, 62, 63, has(64) ? 64 : 54, 65, 66, 67]);
  const brows = [17, 22].map((s) => polygon([0, 1, 2, 3, 4].map((k) => s + k)));
  for (let v = 0; v < n; v++) {
    const x = mean[3 * v],
      y = mean[3 * v + 1],
      z = mean[3 * v + 2];
    if (normals[3 * v + 2] < 0.2 || z < noseZ - 60) continue;
    for (const eye of eyes) {
      if (eye.length < 3) continue;
      const cx = eye.reduce((s, p) => s + p[0], 0) / eye.length,
        cy = eye.reduce((s, p) => s + p[1], 0) / eye.length;
      const width = Math.max(...eye.map((p) => p[0])) - Math.min(...eye.map((p) => p[0]));
      if (insidePolygon(eye, x, y)) kind[v] = Math.hypot(x - cx, y - cy) < 0.22 * width ? 3 : 2;
      else if (polylineDistance(eye, x, y, true) < 1.2) kind[v] = 5;
    }
    for (const brow of brows) if (brow.length > 1 && polylineDistance(brow, x, y, false) < 3.5) kind[v] = 1;
    if (insidePolygon(outerLip, x, y)) kind[v] = insidePolygon(innerLip, x, y) ? 5 : 4;
    for (const nostril of [31, 35]) {
      if (has(nostril) && Math.hypot(x - at(nostril)[0], y - at(nostril)[1]) < 2.5 && z < noseZ - 8) kind[v] = 6;
    }
  }
  return {
    albedo(random) {
      const tone = random.uniform();
      const skin = [0.62 - 0.45 * tone, 0.42 - 0.33 * tone, 0.33 - 0.27 * tone];
      const browColour = [
        0.05 + 0.1 * random.uniform(),
        0.035 + 0.06 * random.uniform(),
        0.02 + 0.04 * random.uniform(),
      ];
      const iris = [0.03 + 0.12 * random.uniform(), 0.03 + 0.08 * random.uniform(), 0.02 + 0.05 * random.uniform()];
      const gradient = [random.normal() * 0.002, random.normal() * 0.002];
      const out = new Float32Array(3 * n);
      for (let v = 0; v < n; v++) {
        const shade = 1 + gradient[0] * mean[3 * v] + gradient[1] * mean[3 * v + 1] + 0.04 * random.normal();
        for (let c = 0; c < 3; c++) {
          const s = skin[c] * shade;
          let a: number;
          switch (kind[v]) {
            case 1:
              a = 0.25 * s + 0.75 * browColour[c];
              break;
            case 2:
              a = [0.62, 0.58, 0.55][c];
              break;
            case 3:
              a = iris[c];
              break;
            case 4:
              a = s * [0.85, 0.5, 0.52][c];
              break;
            case 5:
              a = [0.04, 0.02, 0.02][c];
              break;
            case 6:
              a = 0.3 * s;
              break;
            default:
              a = s;
          }
          out[3 * v + c] = Math.max(0, Math.min(1, a));
        }
      }
      return out;
    },
  };
}

function insidePolygon(points: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i],
      [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function polylineDistance(points: [number, number][], x: number, y: number, closed: boolean): number {
  let best = Infinity;
  const count = closed ? points.length : points.length - 1;
  for (let i = 0; i < count; i++) {
    const [ax, ay] = points[i],
      [bx, by] = points[(i + 1) % points.length];
    const dx = bx - ax,
      dy = by - ay;
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy || 1)));
    best = Math.min(best, Math.hypot(x - ax - t * dx, y - ay - t * dy));
  }
  return best;
}

/** A smooth random field of muted colours (a 6 × 6 grid, bilinear) with pixel noise, sRGB. */
function randomBackground(size: number, random: SeededRandom): RgbImage {
  const grid = 6;
  const colours = new Float64Array(3 * grid * grid);
  for (let i = 0; i < grid * grid; i++) {
    const grey = 40 + 180 * random.uniform();
    for (let c = 0; c < 3; c++) colours[3 * i + c] = grey + 60 * (random.uniform() - 0.5);
  }
  const data = new Uint8Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const gy = (y / (size - 1)) * (grid - 1);
    const y0 = Math.min(Math.floor(gy), grid - 2),
      fy = gy - y0;
    for (let x = 0; x < size; x++) {
      const gx = (x / (size - 1)) * (grid - 1);
      const x0 = Math.min(Math.floor(gx), grid - 2),
        fx = gx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (i: number, j: number) => colours[3 * (j * grid + i) + c];
        const v =
          (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0))
          + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        data[3 * (y * size + x) + c] = Math.max(0, Math.min(255, Math.round(v + 8 * random.normal())));
      }
    }
  }
  return { width: size, height: size, data };
}

// ---------------------------------------------------------------------------------------------------------
// Variants and their evaluation

/** What a pipeline variant gives for one image. */
export interface VariantOutput {
  /** The fitted camera (ICT model space → camera). */
  camera: Camera;
  /** The fitted mesh in ICT model space (3N mm, the evaluated model's vertices). */
  positions: Float32Array;
  /** The 68 landmarks it fitted to (image pixels), when it has them. */
  landmarks?: Float32Array;
  iterations?: number;
  /** Wall time for the image, detection included. */
  ms: number;
  /** The pipeline would drop this face (quality gate): counted as missed. */
  rejected?: boolean;
}

/** A pipeline: image → fit of its one face, or null when it finds no face. */
export interface PipelineVariant {
  name: string;
  fit(image: RgbImage): Promise<VariantOutput | null>;
}

/** A variant that remembers its last image's answer, so that a derived variant reuses it. */
export function cachedVariant(variant: PipelineVariant): PipelineVariant {
  let last: { image: RgbImage; result: Promise<VariantOutput | null> } | undefined;
  return {
    name: variant.name,
    fit(image) {
      if (last?.image !== image) last = { image, result: variant.fit(image) };
      return last.result;
    },
  };
}

/**
 * The default pipeline without its photometric stage (`morphable fit --no-photometric`): the face detector
 * and the landmarker given (createNodeLandmarker: the project's net), then the landmark fit with the
 * default focal guess; the most confident face is fitted, and a face below the quality gate is `rejected`.
 */
export function landmarkFitVariant(fitter: PhotoFitter, landmarker: FaceLandmarker): PipelineVariant {
  return {
    name: 'landmark fit',
    async fit(image) {
      const start = performance.now();
      const photo: Photo = { name: 'synthetic', image, width: image.width, height: image.height, scale: 1 };
      const faces = await fitter.detect(landmarker, photo);
      if (faces.length === 0) return null;
      const face = faces.reduce((a, b) => ((b.detection?.score ?? 0) > (a.detection?.score ?? 0) ? b : a));
      const fitted = fitter.fit(photo, face, 0, { photometric: false });
      return {
        camera: fitted.camera,
        positions: fitted.positions,
        landmarks: face.landmarks,
        iterations: fitted.landmarkFit.iterations,
        ms: performance.now() - start,
        rejected: fitted.rejected,
      };
    },
  };
}

/** The mean face (identity 0, expressions 0) posed by `base` (make base a `cachedVariant` to fit once). */
export function meanFaceVariant(base: PipelineVariant, model: MorphableModel, name = 'mean face'): PipelineVariant {
  return {
    name,
    async fit(image) {
      const result = await base.fit(image);
      return result && { ...result, positions: model.mean, iterations: 0 };
    },
  };
}

/** The two variants of the current default pipeline: 'landmark fit' and 'mean face' (its pose, no shape). */
export function defaultVariants(model: MorphableModel, landmarker: FaceLandmarker): PipelineVariant[] {
  const fit = cachedVariant(landmarkFitVariant(new PhotoFitter(model), landmarker));
  return [fit, meanFaceVariant(fit, model)];
}

export interface FaceResult {
  face: string;
  source: number;
  yawBin: number;
  missed: boolean;
  rejected: boolean;
  /** |error| in degrees (NaN when missed). */
  yaw: number;
  pitch: number;
  roll: number;
  /** The NoW-style median and mean distance (mm). */
  median: number;
  mean: number;
  iterations: number;
  ms: number;
}

export interface VariantSummary {
  variant: string;
  source: number;
  /** Per YAW_BINS entry, then all bins together. */
  bins: {
    faces: number;
    missed: number;
    rejected: number;
    yaw: number;
    pitch: number;
    roll: number;
    /** Mean of the three. */
    pose: number;
    /** Median over faces of the per-face median distance (mm). */
    error: number;
  }[];
  iterations: number;
  /** Median ms per image. */
  ms: number;
}

export interface EvaluationReport {
  sources: string[];
  size: number;
  poseOffset?: EvaluationSet['poseOffset'];
  variants: string[];
  faces: FaceResult[][];
  summaries: VariantSummary[];
}

/**
 * Runs every variant on every face of `set` and measures (see the header): pose error in ICT's convention,
 * the NoW-style 3D error of its mesh (`model`'s triangles and landmark vertices: the ICT model fitted),
 * iterations and time. Missed and rejected faces count in `missed` / `rejected` and nowhere else.
 */
export async function evaluateVariants(
  set: EvaluationSet,
  model: MorphableModel,
  variants: PipelineVariant[],
  log?: (line: string) => void,
): Promise<EvaluationReport> {
  const grids = new Map<Float32Array, MeshDistance>();
  const results: FaceResult[][] = variants.map(() => []);
  for (const face of set.faces) {
    for (let k = 0; k < variants.length; k++) {
      const output = await variants[k].fit(face.image);
      const record: FaceResult = {
        face: face.id,
        source: face.source,
        yawBin: face.yawBin,
        missed: !output || output.rejected === true,
        rejected: output?.rejected === true,
        yaw: Number.NaN,
        pitch: Number.NaN,
        roll: Number.NaN,
        median: Number.NaN,
        mean: Number.NaN,
        iterations: output?.iterations ?? Number.NaN,
        ms: output?.ms ?? Number.NaN,
      };
      if (output && !output.rejected) {
        const angles = anglesFromRotation(output.camera.rotation);
        record.yaw = angleDifference(angles.yaw, face.pose.yaw);
        record.pitch = angleDifference(angles.pitch, face.pose.pitch);
        record.roll = angleDifference(angles.roll, face.pose.roll);
        // The inner points; alignSimilarity skips those the truth's model lacks (NaN).
        const predicted = landmarkPoints(model, output.positions, INNER);
        const truth = face.truthLandmarks;
        let mesh = grids.get(output.positions);
        if (!mesh) {
          mesh = new MeshDistance(output.positions, model.triangles);
          if (output.positions === model.mean) grids.set(output.positions, mesh);
        }
        const error = shapeError(face.truthPoints, truth, predicted, output.positions, model.triangles, { mesh });
        record.median = error.median;
        record.mean = error.mean;
      }
      results[k].push(record);
      log?.(
        `${variants[k].name.padEnd(14)} ${face.id.padEnd(32)} yaw ${face.pose.yaw.toFixed(0).padStart(4)}° `
          + (record.missed
            ? record.rejected
              ? 'rejected'
              : 'missed'
            : `pose err ${record.yaw.toFixed(1)}/${record.pitch.toFixed(1)}/${record.roll.toFixed(1)}° `
              + `3D ${record.median.toFixed(2)} mm, ${record.ms.toFixed(0)} ms`),
      );
    }
  }
  const summaries: VariantSummary[] = [];
  variants.forEach((variant, k) => {
    set.sources.forEach((_, source) => {
      const mine = results[k].filter((r) => r.source === source);
      const bin = (rows: FaceResult[]) => {
        const ok = rows.filter((r) => !r.missed);
        const yaw = average(ok.map((r) => r.yaw)),
          pitch = average(ok.map((r) => r.pitch)),
          roll = average(ok.map((r) => r.roll));
        return {
          faces: rows.length,
          missed: rows.filter((r) => r.missed).length,
          rejected: rows.filter((r) => r.rejected).length,
          yaw,
          pitch,
          roll,
          pose: (yaw + pitch + roll) / 3,
          error: median(ok.map((r) => r.median)),
        };
      };
      summaries.push({
        variant: variant.name,
        source,
        bins: [...YAW_BINS.map((_, b) => bin(mine.filter((r) => r.yawBin === b))), bin(mine)],
        iterations: median(mine.filter((r) => !r.missed).map((r) => r.iterations)),
        ms: median(mine.filter((r) => Number.isFinite(r.ms)).map((r) => r.ms)),
      });
    });
  });
  return {
    sources: set.sources,
    size: set.size,
    poseOffset: set.poseOffset,
    variants: variants.map((v) => v.name),
    faces: results,
    summaries,
  };
}

/** |a − b| in degrees, wrapped to [0, 180]. */
function angleDifference(a: number, b: number): number {
  const d = Math.abs(((((a - b) % 360) + 540) % 360) - 180);
  return d;
}

function average(values: number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : Number.NaN;
}

function median(values: number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The report as Markdown tables (for bench/RESULTS.md). */
export function formatEvaluation(report: EvaluationReport): string {
  const f = (v: number, digits = 1) => (Number.isNaN(v) ? '–' : v.toFixed(digits));
  const lines: string[] = [];
  if (report.poseOffset) {
    const { angles, scale } = report.poseOffset;
    lines.push(
      `Pose offset between the mean faces (ICT → ${report.sources[1]}, similarity on the shared inner iBUG points): `
        + `yaw ${f(angles.yaw)}°, pitch ${f(angles.pitch)}°, roll ${f(angles.roll)}°, scale ${f(scale, 3)}; `
        + `${report.sources[1]} faces are rendered with it taken out, so poses compare in ICT's convention.`,
      '',
    );
  }
  lines.push(
    '| faces from | variant | \\|yaw\\| | faces | missed (rejected) | yaw / pitch / roll MAE | pose MAE '
      + '| 3D error median (mm) | iterations | ms / face |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const s of report.summaries) {
    s.bins.forEach((b, i) => {
      const range = i < YAW_BINS.length ? `${YAW_BINS[i][0]}–${YAW_BINS[i][1]}°` : '**all**';
      const last = i === YAW_BINS.length;
      lines.push(
        `| ${report.sources[s.source]} | ${s.variant} | ${range} | ${b.faces} | ${b.missed} (${b.rejected}) `
          + `| ${f(b.yaw)}° / ${f(b.pitch)}° / ${f(b.roll)}° | ${last ? '**' : ''}${f(b.pose)}°${last ? '**' : ''} `
          + `| ${last ? '**' : ''}${f(b.error, 2)}${last ? '**' : ''} `
          + `| ${last ? f(s.iterations, 0) : ''} | ${last ? f(s.ms, 0) : ''} |`,
      );
    });
  }
  lines.push('');
  return lines.join('\n');
}

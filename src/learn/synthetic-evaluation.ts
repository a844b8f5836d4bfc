/**
 * Cross-model evaluation on held-out synthetic faces: pose error and 3D shape error of fitting pipelines
 * ("variants") on faces rendered from ICT-FaceKit and from another model (the Surrey Face Model), with the
 * true camera and the true mesh of every face known.
 *
 * The set (`buildEvaluationSet`) is fixed by its seeds: from 1600 for ICT-FaceKit and from 1700 for the second
 * model (training uses other seeds), the first seeds, in order, whose drawn |yaw| falls in the bin a face
 * needs, so that the faces spread evenly over |yaw| 0–30°, 30–60°, 60–90° (either sign). Parameters, light,
 * skin and backgrounds come from learn/synthetic-faces.ts (`EVALUATION_FACES`: pitch ±20°, roll ±15°,
 * identity N(0, I) in each model's own units, up to 3 expressions at weights up to 0.6; a random directional
 * SH light with ambient):
 * - ICT-FaceKit faces are `SyntheticFaceGenerator`'s (its face region, its landmarks, its placement: the
 *   landmark box 45–65 % of the image).
 * - Second-model faces are rendered here the same way from the same pieces (`randomFaceParameters`,
 *   `randomLight`, `photoTextures`, `backgroundFrom`): the whole mesh (Surrey: 3448 vertices), the box of its
 *   inner landmarks and jaw contours 45–65 % of the image; that generator needs all 68 landmark vertices,
 *   and Surrey has no outline ones.
 * - Skin: with `appearance` given, per-vertex colours from photos (`photoTextures`, each model fitted to the
 *   photos' landmarks) and backgrounds from photos; use photos no training saw (the bench takes the
 *   validation split of train-300w). Without it, a painted skin (random tone with brows, eyes, iris, lips
 *   and nostrils placed from the model's own iBUG points on its mean face) over smooth noise.
 * The focal length is the pipeline's default guess (3 × the image side), so the fit's focal prior is right.
 *
 * Pose convention across models: the two mean faces need not share "frontal". The rotation between them is
 * measured by aligning the ICT mean's landmark points to the other mean's (similarity, the shared inner
 * iBUG points; `EvaluationSet.poseOffset`), and a second-model face at pose P is rendered with rotation
 * R(P)·R_offᵀ, so that it looks like an ICT face at pose P: poses of both models compare in ICT's convention.
 *
 * 3D error: geometry/shape-error.ts's NoW-style protocol: the true mesh's vertices within 95 mm of its nose
 * tip (iBUG 31; of the rendered region) against the predicted ICT mesh (all its triangles), aligned by the
 * inner iBUG landmark vertices (17–67) both models have (similarity), then ICP with scale; per face the
 * median distance, per set the median of those medians.
 */
import type { DetectedFace, FaceLandmarker } from '../detect/face.js';
import type { FaceLandmarks, FittedFace, Photo, PhotoFitOptions } from '../fit/fit-photo.js';
import { embeddingIdentityOptions, PhotoFitter } from '../fit/fit-photo.js';
import { regressionStart } from '../fit/regression-start.js';
import { type Camera, createCamera } from '../geometry/camera.js';
import { projectPoints } from '../geometry/projection.js';
import { anglesFromRotation, type PoseAngles, rotationFromAngles } from '../geometry/rotation.js';
import { alignSimilarity, createSimilarity, MeshDistance, pointsNear, shapeError } from '../geometry/shape-error.js';
import { linearToSrgb, srgbToLinear } from '../model/color.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { SeededRandom } from '../model/random.js';
import type { RgbImage } from '../render/rgb-image.js';
import { SyntheticFaceRenderer } from '../render/synthetic-face.js';
import type { LandmarkFace } from './landmark-dataset.js';
import type { IdentityPredictor } from '../detect/identity-from-embedding.js';
import {
  backgroundFrom,
  type FaceDistribution,
  photoTextures,
  randomFaceParameters,
  randomLight,
  SyntheticFaceGenerator,
} from './synthetic-faces.js';

/** |yaw| bins, degrees. */
export const YAW_BINS: readonly (readonly [number, number])[] = [
  [0, 30],
  [30, 60],
  [60, 90],
];
/** The held-out faces' spread (learn/synthetic-faces.ts draws from it). */
export const EVALUATION_FACES: FaceDistribution = {
  maxYaw: 90,
  maxPitch: 20,
  maxRoll: 15,
  identitySigma: 1,
  maxExpressions: 3,
  maxExpressionWeight: 0.6,
};
/** First seed of each model's faces (ICT-FaceKit, then the second model). */
export const EVALUATION_SEEDS = [1600, 1700];
/** The ground-truth region's radius around the nose tip (NoW's crop), mm. */
export const REGION_RADIUS = 95;
const NOSE_TIP = 30; // iBUG 31, 0-based
/** The iBUG points used to align meshes: the 51 inner points (contour excluded), where both models have them. */
const INNER = Array.from({ length: 51 }, (_, i) => 17 + i);

export interface EvaluationFace {
  /** "ICT-FaceKit (face and head) 3" etc. */
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
  /** The true 68 landmarks in the image (pixels), NaN where the model has no vertex (Surrey's outline). */
  landmarks: Float32Array;
  /** The true mesh, all of the source model's vertices, model space (mm), 3N. */
  positions: Float32Array;
}

export interface EvaluationSet {
  /** Names of the source models, by `EvaluationFace.source`. */
  sources: string[];
  faces: EvaluationFace[];
  size: number;
  /** Where the skin and backgrounds came from. */
  appearance: string;
  /** The rotation from ICT's mean face to the second model's (its angles and the scale between them). */
  poseOffset?: { rotation: Float64Array; angles: PoseAngles; scale: number };
}

export interface EvaluationSetOptions {
  /** Faces per model (default 24), spread evenly over the yaw bins. */
  perModel?: number;
  /** Image side in pixels (default 288). */
  size?: number;
  /** First seed per model (default EVALUATION_SEEDS): another set, e.g. to tune a setting off the held-out one. */
  firstSeeds?: readonly number[];
  /**
   * Photos for skin (with landmarks) and backgrounds; absent: painted skin over noise. `ictTextures` (sRGB
   * 0–255 per vertex of ICT's face region, e.g. held-out learned albedos) replace the photo skin of the ICT faces.
   */
  appearance?: {
    faces: readonly LandmarkFace[];
    backgrounds: readonly RgbImage[];
    name: string;
    ictTextures?: Float32Array[];
  };
}

/** Mesh vertices at iBUG indices `ids` of `model`'s landmark set, 3 × ids.length (NaN where it has none). */
function landmarkPoints(model: MorphableModel, positions: ArrayLike<number>, ids: number[]): Float64Array {
  const out = new Float64Array(3 * ids.length);
  const vertices = model.landmarks.ibug68.vertices;
  ids.forEach((id, i) => {
    const v = vertices[id];
    for (let k = 0; k < 3; k++) out[3 * i + k] = v >= 0 ? positions[3 * v + k] : Number.NaN;
  });
  return out;
}

function yawBinOf(yaw: number): number {
  const a = Math.abs(yaw);
  return Math.min(YAW_BINS.length - 1, YAW_BINS.findIndex(([, hi]) => a < hi) >>> 0);
}

/** The next seed from `seed` whose face (drawn as learn/synthetic-faces.ts draws it) has |yaw| in `bin`. */
function seedForBin(model: MorphableModel, seed: number, bin: number): number {
  for (let s = seed; ; s++) {
    if (yawBinOf(randomFaceParameters(model, new SeededRandom(s), EVALUATION_FACES).yaw) === bin) return s;
  }
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
  const appearance = options.appearance;
  const set: EvaluationSet = {
    sources: [ict.name],
    faces: [],
    size,
    appearance: appearance ? appearance.name : 'painted skin over noise',
  };
  const offset = createSimilarity();
  if (other) {
    set.sources.push(other.name);
    alignSimilarity(landmarkPoints(ict, ict.mean, INNER), landmarkPoints(other, other.mean, INNER), 51, null, offset);
    set.poseOffset = { rotation: offset.rotation, angles: anglesFromRotation(offset.rotation), scale: offset.scale };
  }
  const backgrounds = appearance?.backgrounds ?? noiseBackgrounds(size, 8, new SeededRandom(1599));
  const models = other ? [ict, other] : [ict];
  models.forEach((model, source) => {
    const all = Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    const region = source === 0 && model.regions.face ? model.regions.face : all;
    const textures = appearance
      ? source === 0 && appearance.ictTextures
        ? appearance.ictTextures
        : photoTextures(model, appearance.faces, region).textures
      : paintedTextures(model, region, 8, new SeededRandom(1598));
    const draw =
      source === 0
        ? ictFaces(model, textures, backgrounds, size)
        : otherFaces(model, textures, backgrounds, size, offset.rotation);
    let seed = (options.firstSeeds ?? EVALUATION_SEEDS)[source];
    for (let i = 0; i < perModel; i++) {
      const bin = i % YAW_BINS.length;
      seed = seedForBin(model, seed, bin);
      const face = draw(seed);
      const nose = face.positions.subarray(
        3 * model.landmarks.ibug68.vertices[NOSE_TIP],
        3 * model.landmarks.ibug68.vertices[NOSE_TIP] + 3,
      );
      const near = pointsNear(face.positions, nose, REGION_RADIUS, region);
      const truthPoints = new Float32Array(3 * near.length);
      near.forEach((v, j) => truthPoints.set(face.positions.subarray(3 * v, 3 * v + 3), 3 * j));
      set.faces.push({
        id: `${model.name} ${i}`,
        source,
        seed,
        image: face.image,
        camera: face.camera,
        pose: face.pose,
        yawBin: bin,
        truthPoints,
        truthLandmarks: landmarkPoints(model, face.positions, INNER),
        landmarks: face.landmarks,
        positions: face.positions,
      });
      seed++;
    }
  });
  return set;
}

interface DrawnFace {
  image: RgbImage;
  camera: Camera;
  pose: PoseAngles;
  positions: Float32Array;
  landmarks: Float32Array;
}

/** ICT-FaceKit faces: learn/synthetic-faces.ts's generator, as is. */
function ictFaces(
  model: MorphableModel,
  textures: Float32Array[],
  backgrounds: readonly RgbImage[],
  size: number,
): (seed: number) => DrawnFace {
  const generator = new SyntheticFaceGenerator(model, textures, backgrounds, { size });
  return (seed) => {
    const f = generator.generate(new SeededRandom(seed), EVALUATION_FACES);
    return {
      image: f.image,
      camera: f.camera,
      pose: { yaw: f.yaw, pitch: f.pitch, roll: f.roll },
      positions: f.positions,
      landmarks: f.landmarks,
    };
  };
}

/**
 * Second-model faces, drawn as the generator draws (parameters, light, texture and gain, background, in that
 * order from the seed), the whole mesh rendered with rotation R(P)·R_offᵀ, the projected box of its inner
 * landmarks and jaw contours 45–65 % of the image, centred with a random shift of up to 6 %.
 */
function otherFaces(
  model: MorphableModel,
  textures: Float32Array[],
  backgrounds: readonly RgbImage[],
  size: number,
  offset: Float64Array,
): (seed: number) => DrawnFace {
  const renderer = new SyntheticFaceRenderer(model.triangles, model.vertexCount, size, size);
  const albedo = new Float32Array(3 * model.vertexCount);
  // What stands for the 68-point box the generator sizes by: the inner landmarks and the jaw-contour
  // candidates (Surrey maps no outline points; on ICT's mean this box is within 2 % of the 68 points' box).
  const boxVertices = Int32Array.from(
    new Set([
      ...[...model.landmarks.ibug68.vertices].slice(17).filter((v) => v >= 0),
      ...(model.contours.right ?? []),
      ...(model.contours.left ?? []),
    ]),
  );
  const boxPoints = new Float32Array(3 * boxVertices.length);
  const projected = new Float32Array(2 * boxVertices.length);
  return (seed) => {
    const random = new SeededRandom(seed);
    const p = randomFaceParameters(model, random, EVALUATION_FACES);
    const sh = randomLight(random);
    const texture = textures[Math.floor(random.uniform() * textures.length)];
    const gain = [0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform()];
    for (let i = 0; i < albedo.length; i++) albedo[i] = gain[i % 3] * srgbToLinear(texture[i] / 255);
    const background = backgroundFrom(backgrounds[Math.floor(random.uniform() * backgrounds.length)], random, size);
    const positions = evaluateShape(model, p.identity, p.expression);
    const camera = createCamera(size, size);
    const r = rotationFromAngles(p.yaw, p.pitch, p.roll);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let sum = 0;
        for (let k = 0; k < 3; k++) sum += r[3 * a + k] * offset[3 * b + k];
        camera.rotation[3 * a + b] = sum;
      }
    }
    // Measure the projected box at 1 m, then move along z and sideways (as the generator places faces).
    camera.translation.set([0, 0, -1000]);
    boxVertices.forEach((v, i) => boxPoints.set(positions.subarray(3 * v, 3 * v + 3), 3 * i));
    projectPoints(camera, boxPoints, boxVertices.length, projected);
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < boxVertices.length; i++) {
      minX = Math.min(minX, projected[2 * i]);
      maxX = Math.max(maxX, projected[2 * i]);
      minY = Math.min(minY, projected[2 * i + 1]);
      maxY = Math.max(maxY, projected[2 * i + 1]);
    }
    const depth = (1000 * Math.max(maxX - minX, maxY - minY)) / ((0.45 + 0.2 * random.uniform()) * size);
    const shift = 0.06 * size;
    const u = ((camera.cx - (minX + maxX) / 2) * 1000) / depth + (2 * random.uniform() - 1) * shift;
    const v = ((camera.cy - (minY + maxY) / 2) * 1000) / depth + (2 * random.uniform() - 1) * shift;
    camera.translation.set([(u * depth) / camera.focal, (-v * depth) / camera.focal, -depth]);
    const image = renderer.render(positions, camera, albedo, sh, background);
    const points = landmarkPoints(
      model,
      positions,
      Array.from({ length: 68 }, (_, i) => i),
    );
    const landmarks = new Float32Array(136);
    projectPoints(camera, points, 68, landmarks);
    return { image, camera, pose: { yaw: p.yaw, pitch: p.pitch, roll: p.roll }, positions, landmarks };
  };
}

/** `count` painted skins (sRGB 0–255 per vertex of `vertices`, as photoTextures gives). */
function paintedTextures(
  model: MorphableModel,
  vertices: Uint32Array,
  count: number,
  random: SeededRandom,
): Float32Array[] {
  const paint = facePaint(model);
  return Array.from({ length: count }, () => {
    const linear = paint.albedo(random);
    const out = new Float32Array(3 * vertices.length);
    vertices.forEach((v, i) => {
      for (let c = 0; c < 3; c++) out[3 * i + c] = 255 * linearToSrgb(linear[3 * v + c]);
    });
    return out;
  });
}

function noiseBackgrounds(size: number, count: number, random: SeededRandom): RgbImage[] {
  return Array.from({ length: count }, () => randomBackground(size, random));
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

/**
 * A pipeline: image → fit of the face, or null when it finds none. `truth` (the true 68 landmarks, NaN where
 * unknown) only says which face is meant when several are found (`pickFace`): backgrounds may hold faces.
 */
export interface PipelineVariant {
  name: string;
  fit(image: RgbImage, truth: Float32Array): Promise<VariantOutput | null>;
}

/**
 * The detection meant by `truth`: of the faces whose box holds the centroid of the true landmarks, the one
 * whose box centre is nearest to it; null when no box holds it.
 */
export function pickFace<T extends { detection?: DetectedFace }>(faces: readonly T[], truth: Float32Array): T | null {
  let cx = 0,
    cy = 0,
    n = 0;
  for (let i = 0; i < truth.length; i += 2) {
    if (Number.isFinite(truth[i]) && Number.isFinite(truth[i + 1])) {
      cx += truth[i];
      cy += truth[i + 1];
      n++;
    }
  }
  cx /= n;
  cy /= n;
  let best: T | null = null,
    bestDistance = Infinity;
  for (const face of faces) {
    const box = face.detection?.box;
    if (!box || cx < box.x || cx > box.x + box.width || cy < box.y || cy > box.y + box.height) continue;
    const d = Math.hypot(box.x + box.width / 2 - cx, box.y + box.height / 2 - cy);
    if (d < bestDistance) {
      best = face;
      bestDistance = d;
    }
  }
  return best;
}

/** A variant that remembers its last image's answer, so that a derived variant reuses it. */
export function cachedVariant(variant: PipelineVariant): PipelineVariant {
  let last: { image: RgbImage; result: Promise<VariantOutput | null> } | undefined;
  return {
    name: variant.name,
    fit(image, truth) {
      if (last?.image !== image) last = { image, result: variant.fit(image, truth) };
      return last.result;
    },
  };
}

/**
 * The default pipeline on a detected face: the face detector and the landmarker given (createNodeLandmarker: the
 * project's net), the landmark fit with the default focal guess of the face `pickFace` picks, then the photometric
 * stage where `options.photometric` (off by default: `morphable fit --no-photometric`); a face below the quality
 * gate is `rejected`. `options` go to PhotoFitter.fit: e.g. `{ init: 'learned' }` or `{ fast: true }` with a
 * landmarker made with the regressor (`morphable fit --init learned`, `--fast`).
 */
export function pipelineVariant(
  fitter: PhotoFitter,
  landmarker: FaceLandmarker,
  name = 'landmark fit',
  options: Partial<PhotoFitOptions> = {},
  /** Per-face options on top (e.g. an identity prior's centre from the face's embedding). */
  perFace?: (photo: Photo, face: FaceLandmarks) => Partial<PhotoFitOptions>,
): PipelineVariant {
  return {
    name,
    async fit(image, truth) {
      const start = performance.now();
      const photo = syntheticPhoto(image);
      const face: FaceLandmarks | null = pickFace(await fitter.detect(landmarker, photo), truth);
      if (!face) return null;
      const fitted = fitter.fit(photo, face, 0, { photometric: false, ...options, ...perFace?.(photo, face) });
      return fitOutput(fitted, face.landmarks, start);
    },
  };
}

/** A PhotoFitter result as a variant's output, timed from `start` (performance.now()). */
function fitOutput(fitted: FittedFace, landmarks: Float32Array, start: number): VariantOutput {
  return {
    camera: fitted.camera,
    positions: fitted.positions,
    landmarks,
    iterations: fitted.landmarkFit.iterations,
    ms: performance.now() - start,
    rejected: fitted.rejected,
  };
}

/**
 * The landmark fit given the true 68 landmarks (no detector, no landmark net; NaN points, such as Surrey's
 * outline, left out): what the fit itself reaches, detection and landmark errors aside.
 */
export function trueLandmarksVariant(
  fitter: PhotoFitter,
  name = 'fit to true landmarks',
  options: Omit<PhotoFitOptions, 'photometric'> = {},
): PipelineVariant {
  return {
    name,
    async fit(image, truth) {
      const start = performance.now();
      const photo = syntheticPhoto(image);
      const fitted = fitter.fit(photo, { landmarks: truth }, 0, { ...options, photometric: false });
      return fitOutput(fitted, truth, start);
    },
  };
}

/** The mean face (identity 0, expressions 0) posed by `base` (make base a `cachedVariant` to fit once). */
export function meanFaceVariant(base: PipelineVariant, model: MorphableModel, name = 'mean face'): PipelineVariant {
  return {
    name,
    async fit(image, truth) {
      const result = await base.fit(image, truth);
      return result && { ...result, positions: model.mean, iterations: 0 };
    },
  };
}

/**
 * The one-pass regressor's answer alone, no fitting: its camera (regression-start.ts) and its leading identity
 * modes and expressions (`landmarker` must carry the regressor: createNodeLandmarker's `regressor`).
 */
export function regressionVariant(
  fitter: PhotoFitter,
  landmarker: FaceLandmarker,
  name = 'regression only',
): PipelineVariant {
  return {
    name,
    async fit(image, truth) {
      const start = performance.now();
      const photo = syntheticPhoto(image);
      const face = pickFace(await fitter.detect(landmarker, photo), truth);
      const regression = face?.detection?.regression;
      if (!face || !regression) return null;
      const pose = regressionStart(regression, image.width, image.height);
      const camera = createCamera(image.width, image.height);
      camera.rotation.set(pose.rotation);
      camera.translation.set(pose.translation);
      return {
        camera,
        positions: evaluateShape(fitter.model, pose.identity, pose.expression),
        landmarks: face.landmarks,
        iterations: 0,
        ms: performance.now() - start,
      };
    },
  };
}

/**
 * The variants of the learned start (issue 16) on a landmarker with the regressor: `fit --init learned`,
 * `fit --fast` and the regressor's answer alone.
 */
export function learnedVariants(model: MorphableModel, landmarker: FaceLandmarker): PipelineVariant[] {
  const fitter = new PhotoFitter(model);
  return [
    pipelineVariant(fitter, landmarker, 'init learned', { init: 'learned' }),
    pipelineVariant(fitter, landmarker, 'fast', { fast: true }),
    regressionVariant(fitter, landmarker),
  ];
}

/**
 * The default fit (`--init auto`) with its identity prior centred on the face's embedding identity
 * (`fit --identity embedding`), and that identity alone at the same fit's pose.
 */
export function embeddingVariants(
  model: MorphableModel,
  landmarker: FaceLandmarker,
  predictor: IdentityPredictor,
): PipelineVariant[] {
  const fitter = new PhotoFitter(model);
  let last: ArrayLike<number> | undefined;
  const fit = cachedVariant(
    pipelineVariant(fitter, landmarker, 'embedding identity', {}, (photo, face) => {
      const options = embeddingIdentityOptions(predictor, model, photo, face);
      last = options.identityMean;
      return options;
    }),
  );
  const alone: PipelineVariant = {
    name: 'embedding identity alone',
    async fit(image, truth) {
      const result = await fit.fit(image, truth);
      return result && last
        ? { ...result, positions: evaluateShape(model, last, new Float32Array(model.expression.count)) }
        : null;
    },
  };
  return [fit, alone];
}

/**
 * The whole pipeline as `morphable fit` runs it (landmark fit, then the photometric stage with `fitter`'s colour
 * model): with `predictor`, the identity held to the embedding's (the default, `--identity auto`), without it
 * centred on the mean face (`--identity landmarks`).
 */
export function wholePipelineVariant(
  fitter: PhotoFitter,
  landmarker: FaceLandmarker,
  name: string,
  predictor?: IdentityPredictor,
  options: Partial<PhotoFitOptions> = {},
): PipelineVariant {
  const identity =
    predictor
    && ((photo: Photo, face: FaceLandmarks) => embeddingIdentityOptions(predictor, fitter.model, photo, face));
  return pipelineVariant(fitter, landmarker, name, { photometric: true, ...options }, identity);
}

const syntheticPhoto = (image: RgbImage): Photo => ({
  name: 'synthetic',
  image,
  width: image.width,
  height: image.height,
  scale: 1,
});

/** The landmark fit from the linear start ('landmark fit', `--init linear`) and 'mean face' (its pose, no shape). */
export function defaultVariants(model: MorphableModel, landmarker: FaceLandmarker): PipelineVariant[] {
  const fit = cachedVariant(pipelineVariant(new PhotoFitter(model), landmarker, 'landmark fit', { init: 'linear' }));
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
  appearance: string;
  poseOffset?: EvaluationSet['poseOffset'];
  variants: string[];
  faces: FaceResult[][];
  summaries: VariantSummary[];
}

/**
 * Runs every variant on every face of `set` and measures (see the header): pose error in ICT's convention,
 * the NoW-style 3D error of its mesh (`model`'s triangles and landmark vertices: the ICT model fitted),
 * iterations and time (after one unmeasured warm-up run of each variant on the first face). Missed and
 * rejected faces count in `missed` / `rejected` and nowhere else.
 */
export async function evaluateVariants(
  set: EvaluationSet,
  model: MorphableModel,
  variants: PipelineVariant[],
  log?: (line: string) => void,
): Promise<EvaluationReport> {
  const grids = new Map<Float32Array, MeshDistance>();
  // Warm-up (tfjs kernels, JIT); on a copy of the first image, so that no variant's cache holds it.
  if (set.faces.length > 0) {
    const { image, landmarks } = set.faces[0];
    const copy = { ...image, data: Uint8Array.from(image.data) };
    for (const variant of variants) await variant.fit(copy, landmarks);
  }
  const results: FaceResult[][] = variants.map(() => []);
  for (const face of set.faces) {
    for (let k = 0; k < variants.length; k++) {
      const output = await variants[k].fit(face.image, face.landmarks);
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
  set.sources.forEach((_, source) => {
    variants.forEach((variant, k) => {
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
    appearance: set.appearance,
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
  const deg = (v: number) => (Number.isNaN(v) ? '–' : `${v.toFixed(1)}°`);
  const lines: string[] = [];
  if (report.poseOffset) {
    const { angles, scale } = report.poseOffset;
    lines.push(
      `Pose offset between the mean faces (ICT → ${report.sources[1]}, similarity on the shared inner iBUG points): `
        + `yaw ${f(angles.yaw)}°, pitch ${f(angles.pitch)}°, roll ${f(angles.roll)}°, scale ${f(scale, 3)}; `
        + `${report.sources[1]} faces are rendered with it taken out (pitch > 0: its mean face looks down in ICT's `
        + "frame), so poses compare in ICT's convention.",
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
          + `| ${deg(b.yaw)} / ${deg(b.pitch)} / ${deg(b.roll)} | ${last ? '**' : ''}${deg(b.pose)}${last ? '**' : ''} `
          + `| ${last ? '**' : ''}${f(b.error, 2)}${last ? '**' : ''} `
          + `| ${last ? f(s.iterations, 0) : ''} | ${last ? f(s.ms, 0) : ''} |`,
      );
    });
  }
  lines.push('');
  return lines.join('\n');
}

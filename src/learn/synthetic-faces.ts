/**
 * Synthetic face photos with exact parameters, for training and for held-out evaluation (issue 16, 1b):
 * random identity, expression, pose (yaw to ±90°) and spherical-harmonics light, with skin taken from real
 * photos, over a photo background.
 *
 * - Skin: `photoTextures` fits the model to each training photo's ground-truth landmarks (FaceProfiler:
 *   faces with poor fits are skipped) and keeps the photo's colour at every vertex of the rendered region
 *   (where the photo saw it, else its mirror point, else its projection). These are not de-lit: the photo's
 *   own light stays in them, under the random light of the render; a random gain per channel varies the tone.
 * - Backgrounds: `backgroundFrom` takes a corner of another photo (mostly hair, clothes, room), mirrored at
 *   random and scaled up to the render's size.
 * - Camera: default focal (3 × the image side, as the fitter assumes), face centred with a random shift and
 *   a size of 45–65 % of the image (its landmark box).
 * - Landmarks: the model's 68 landmark points (calibrated offsets included) projected; the 17 outline points
 *   march to the silhouette of the rotated mean face (fit/contour.ts), the chin to the lowest chin vertex.
 */
import { landmarkBox } from '../detect/face-crop.js';
import { buildContourLines, chinVertex, type ContourLines, silhouetteVertices } from '../fit/contour.js';
import { type Camera, createCamera, defaultFocal } from '../geometry/camera.js';
import { projectPoints } from '../geometry/projection.js';
import { rotationFromAngles } from '../geometry/rotation.js';
import { srgbToLinear } from '../model/color.js';
import { evaluateShape } from '../model/evaluate.js';
import { landmarkPositions } from '../model/landmark-positions.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { submodel } from '../model/submesh.js';
import type { SeededRandom } from '../model/random.js';
import type { RgbImage } from '../render/rgb-image.js';
import { shDirectionalLight } from '../render/spherical-harmonics.js';
import { SyntheticFaceRenderer } from '../render/synthetic-face.js';
import { FaceProfiler } from './face-profiling.js';
import type { LandmarkFace } from './landmark-dataset.js';

/** How far random faces spread. Angles in degrees (uniform in ±), identity in standard deviations. */
export interface FaceDistribution {
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  identitySigma: number;
  /** Up to this many blendshapes (or PCA expression modes) are set per face... */
  maxExpressions: number;
  /** ...each to a weight uniform in [0, maxExpressionWeight] (PCA: normal with this σ). */
  maxExpressionWeight: number;
}

/**
 * The regressor's synthetic training faces. Roll to ±45°: the regressor reads upright crops, and with ±20° it
 * took a face of face-api's sample1.jpg rolled by 46° for one turned by 41°.
 */
export const TRAINING_FACES: FaceDistribution = {
  maxYaw: 90,
  maxPitch: 25,
  maxRoll: 45,
  identitySigma: 1,
  maxExpressions: 3,
  maxExpressionWeight: 0.7,
};

/** A synthetic photo and what made it. */
export interface SyntheticFace {
  image: RgbImage;
  camera: Camera;
  identity: Float32Array;
  expression: Float32Array;
  /** The whole model's mesh, model space (mm), 3N. */
  positions: Float32Array;
  /** 68 points, 0-based pixel-centre image coordinates, 136 values. */
  landmarks: Float32Array;
  yaw: number;
  pitch: number;
  roll: number;
}

export interface FaceParameters {
  identity: Float32Array;
  expression: Float32Array;
  yaw: number;
  pitch: number;
  roll: number;
}

/** Random identity, expression and pose, drawn from `random` in a fixed order. */
export function randomFaceParameters(
  model: MorphableModel,
  random: SeededRandom,
  distribution: FaceDistribution = TRAINING_FACES,
): FaceParameters {
  const identity = new Float32Array(model.identity.count);
  for (let k = 0; k < identity.length; k++) identity[k] = distribution.identitySigma * random.normal();
  const expression = new Float32Array(model.expression.count);
  const count = Math.floor(random.uniform() * (distribution.maxExpressions + 1));
  const pca = model.expression.kind !== 'blendshapes';
  for (let i = 0; i < count && expression.length > 0; i++) {
    const k = Math.floor(random.uniform() * expression.length);
    expression[k] = pca
      ? distribution.maxExpressionWeight * random.normal()
      : distribution.maxExpressionWeight * random.uniform();
  }
  const spread = (max: number) => (2 * random.uniform() - 1) * max;
  return {
    identity,
    expression,
    yaw: spread(distribution.maxYaw),
    pitch: spread(distribution.maxPitch),
    roll: spread(distribution.maxRoll),
  };
}

/** Random SH light: a distant light from the front hemisphere plus ambient, slightly tinted. */
export function randomLight(random: SeededRandom, out = new Float64Array(27)): Float64Array {
  const theta = random.uniform() * 2 * Math.PI;
  const elevation = Math.acos(1 - random.uniform() * 0.9); // 0..~84° off the view axis
  const direction = [Math.sin(elevation) * Math.cos(theta), Math.sin(elevation) * Math.sin(theta), Math.cos(elevation)];
  const strength = 0.4 + 0.6 * random.uniform();
  const ambient = 0.25 + 0.45 * random.uniform();
  const tint = () => 0.9 + 0.2 * random.uniform();
  return shDirectionalLight(
    direction,
    [strength * tint(), strength * tint(), strength * tint()],
    [ambient, ambient, ambient],
    out,
  );
}

/**
 * Per-vertex skin colours (sRGB bytes as floats, 3 per vertex of `vertices`) from photos with ground-truth
 * landmarks; a face whose fit FaceProfiler judges poor is skipped.
 */
export function photoTextures(
  model: MorphableModel,
  faces: readonly LandmarkFace[],
  vertices: ArrayLike<number>,
  onFace?: (done: number) => void,
): { textures: Float32Array[]; skipped: number } {
  const profiler = new FaceProfiler(model);
  const textures: Float32Array[] = [];
  let skipped = 0;
  faces.forEach((face, i) => {
    const source = profiler.prepare(face.image, face.landmarks);
    if (source) textures.push(profiler.vertexColours(source, vertices, new Float32Array(3 * vertices.length)));
    else skipped++;
    onFace?.(i + 1);
  });
  return { textures, skipped };
}

/** A size × size background: a random corner quarter of `photo`, mirrored at random, scaled up bilinearly. */
export function backgroundFrom(photo: RgbImage, random: SeededRandom, size: number): RgbImage {
  const { width, height, data } = photo;
  const w = width / 2,
    h = height / 2;
  const x0 = random.uniform() < 0.5 ? 0 : width - w;
  const y0 = random.uniform() < 0.5 ? 0 : height - h;
  const mirror = random.uniform() < 0.5;
  const out = new Uint8Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    const fy = Math.min(height - 1.001, y0 + ((y + 0.5) * h) / size);
    const iy = Math.floor(fy),
      ay = fy - iy;
    for (let x = 0; x < size; x++) {
      const u = mirror ? size - 1 - x : x;
      const fx = Math.min(width - 1.001, x0 + ((u + 0.5) * w) / size);
      const ix = Math.floor(fx),
        ax = fx - ix;
      const a = 3 * (iy * width + ix),
        b = a + 3 * width;
      for (let c = 0; c < 3; c++) {
        out[3 * (y * size + x) + c] = Math.round(
          (1 - ay) * ((1 - ax) * data[a + c] + ax * data[a + 3 + c])
            + ay * ((1 - ax) * data[b + c] + ax * data[b + 3 + c]),
        );
      }
    }
  }
  return { width: size, height: size, data: out };
}

const OUTLINE_RIGHT = [0, 1, 2, 3, 4, 5, 6, 7];
const OUTLINE_LEFT = [9, 10, 11, 12, 13, 14, 15, 16];
const CHIN = 8;

/**
 * Renders random faces of one model: the face region (`region`, default 'face' where the model has it) with a
 * skin texture from `textures` (sRGB per region vertex) over a background from `backgrounds`.
 */
export class SyntheticFaceGenerator {
  readonly model: MorphableModel;
  readonly size: number;
  private readonly region: Uint32Array;
  private readonly renderer: SyntheticFaceRenderer;
  private readonly textures: readonly Float32Array[];
  private readonly backgrounds: readonly RgbImage[];
  private readonly lines: ContourLines | undefined;
  private readonly silhouette: Int32Array;
  private readonly landmarkVertices: Int32Array;
  private readonly regionPositions: Float32Array;
  private readonly albedo: Float32Array;
  private readonly points3d = new Float64Array(3 * 68);

  constructor(
    model: MorphableModel,
    textures: readonly Float32Array[],
    backgrounds: readonly RgbImage[],
    options: { size?: number; region?: string } = {},
  ) {
    const landmarks = model.landmarks.ibug68?.vertices;
    if (landmarks?.length !== 68) throw new Error(`${model.name} has no iBUG-68 landmark set`);
    if (textures.length === 0 || backgrounds.length === 0) throw new RangeError('need textures and backgrounds');
    this.model = model;
    this.size = options.size ?? 192;
    const regionName = options.region ?? 'face';
    this.region = model.regions[regionName] ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    for (const t of textures) {
      if (t.length !== 3 * this.region.length)
        throw new RangeError(`a texture has ${t.length / 3} vertices, expected ${this.region.length}`);
    }
    this.textures = textures;
    this.backgrounds = backgrounds;
    // The region's own triangles, re-indexed to its vertices.
    const triangles = submodel(model, this.region).triangles;
    this.renderer = new SyntheticFaceRenderer(triangles, this.region.length, this.size, this.size);
    this.lines = buildContourLines(model);
    this.silhouette = new Int32Array(this.lines ? 2 * this.lines.linesPerSide : 0);
    this.landmarkVertices = Int32Array.from(landmarks);
    this.regionPositions = new Float32Array(3 * this.region.length);
    this.albedo = new Float32Array(3 * this.region.length);
  }

  /** One random face; everything drawn from `random`. */
  generate(random: SeededRandom, distribution: FaceDistribution = TRAINING_FACES): SyntheticFace {
    const { model, size } = this;
    const p = randomFaceParameters(model, random, distribution);
    const sh = randomLight(random);
    const texture = this.textures[Math.floor(random.uniform() * this.textures.length)];
    const gain = [0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform()];
    for (let i = 0; i < this.region.length; i++) {
      for (let c = 0; c < 3; c++) this.albedo[3 * i + c] = gain[c] * srgbToLinear(texture[3 * i + c] / 255);
    }
    const background = backgroundFrom(
      this.backgrounds[Math.floor(random.uniform() * this.backgrounds.length)],
      random,
      size,
    );
    const positions = evaluateShape(model, p.identity, p.expression);
    const camera = createCamera(size, size, defaultFocal(size, size));
    rotationFromAngles(p.yaw, p.pitch, p.roll, camera.rotation);
    const landmarks = this.landmarks(positions, camera, p);
    this.place(camera, landmarks, random);
    projectPoints(camera, this.points3d, 68, landmarks);
    for (let i = 0; i < this.region.length; i++) {
      const v = 3 * this.region[i];
      this.regionPositions[3 * i] = positions[v];
      this.regionPositions[3 * i + 1] = positions[v + 1];
      this.regionPositions[3 * i + 2] = positions[v + 2];
    }
    const image = this.renderer.render(this.regionPositions, camera, this.albedo, sh, background);
    return { image, camera, ...p, positions, landmarks };
  }

  /** The 68 points in model space (this.points3d) for the face's rotation, projected with `camera`. */
  private landmarks(positions: Float32Array, camera: Camera, p: FaceParameters): Float32Array {
    const { model, lines } = this;
    const vertices = Int32Array.from(this.landmarkVertices);
    if (lines) {
      silhouetteVertices(lines, model.mean, camera.rotation, this.silhouette);
      const L = lines.linesPerSide;
      OUTLINE_RIGHT.forEach((i, j) => {
        vertices[i] = this.silhouette[Math.round((j * (L - 1)) / 8)];
      });
      OUTLINE_LEFT.forEach((i, j) => {
        vertices[i] = this.silhouette[L + Math.round(((7 - j) * (L - 1)) / 8)];
      });
      const chin = chinVertex(lines, model.mean, camera.rotation);
      if (chin >= 0) vertices[CHIN] = chin;
    }
    landmarkPositions(model, vertices, positions, p.identity, p.expression, this.points3d);
    const out = new Float32Array(136);
    projectPoints(camera, this.points3d, 68, out);
    return out;
  }

  /** Sets the camera's translation: the landmark box 45–65 % of the image, centred with a random shift. */
  private place(camera: Camera, landmarks: Float32Array, random: SeededRandom): void {
    // Landmarks were projected at t = (0, 0, −1000): measure the box there, then move along z and sideways.
    camera.translation.set([0, 0, -1000]);
    projectPoints(camera, this.points3d, 68, landmarks);
    const { minX, maxX, minY, maxY } = landmarkBox(landmarks);
    const target = (0.45 + 0.2 * random.uniform()) * this.size;
    const depth = (1000 * Math.max(maxX - minX, maxY - minY)) / target;
    const shift = 0.06 * this.size;
    const u = ((camera.cx - (minX + maxX) / 2) * 1000) / depth + (2 * random.uniform() - 1) * shift;
    const v = ((camera.cy - (minY + maxY) / 2) * 1000) / depth + (2 * random.uniform() - 1) * shift;
    // A shift of (u, v) pixels at depth d is a camera-space offset of (u·d/f, −v·d/f).
    camera.translation.set([(u * depth) / camera.focal, (-v * depth) / camera.focal, -depth]);
  }
}

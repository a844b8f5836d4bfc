/**
 * Training data for the identity-from-embedding net (detect/identity-from-embedding.ts): random identities
 * α ~ N(0, I) (all of the model's modes), each rendered in several near-frontal views (|yaw| ≤ 30°,
 * |pitch|, |roll| ≤ 10°, mild random expressions, a random SH light, skin and background per view) with
 * render/synthetic-face.ts, and each view embedded by face-api's recognition net (detect/face-embedding.ts)
 * on its crop from the exact projected 68 landmarks.
 *
 * Skin and backgrounds come from the caller: per-vertex sRGB colours of the face region unwrapped from real
 * photos (learn/synthetic-faces.ts `photoTextures`) and photos to cut backgrounds from (`backgroundFrom`);
 * without them, a flat skin tone with per-vertex noise over a random grey gradient. Pure TypeScript + tfjs
 * ops on a `tf` handed in.
 */
import { landmarkBox } from '../detect/face-crop.js';
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
import { SyntheticFaceRenderer } from '../render/synthetic-face.js';
import {
  EMBEDDING_INPUT,
  EMBEDDING_SIZE,
  embeddingCrop,
  type FaceEmbeddingParams,
  faceEmbeddingForward,
} from '../detect/face-embedding.js';
import type { Tf } from '../detect/landmark-net.js';
import { backgroundFrom, randomLight } from './synthetic-faces.js';

/** The views' spread: angles in degrees (uniform in ±), expressions as in synthetic-faces.ts. */
export interface ViewDistribution {
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  maxExpressions: number;
  maxExpressionWeight: number;
}

export const IDENTITY_VIEWS: ViewDistribution = {
  maxYaw: 30,
  maxPitch: 10,
  maxRoll: 10,
  maxExpressions: 2,
  maxExpressionWeight: 0.4,
};

/**
 * One rendered view: the image, its 68 landmarks (image pixels), its pose in degrees, and what else made
 * it (camera, SH light, the face region's linear albedo, the background). `image` and `albedo` are the
 * renderer's buffers: valid until its next render.
 */
export interface IdentityView {
  image: RgbImage;
  landmarks: Float32Array;
  yaw: number;
  pitch: number;
  roll: number;
  camera: Camera;
  /** The view's expression coefficients (the renderer's buffer too). */
  expression: Float32Array;
  sh: Float64Array;
  albedo: Float32Array;
  background: RgbImage;
}

/** Renders the model's face region for given identities, near-frontal, over a background. */
export class IdentityViewRenderer {
  readonly model: MorphableModel;
  readonly size: number;
  readonly region: Uint32Array;
  /** The face region's triangles, as indices into `region`. */
  readonly triangles: Uint32Array;
  private readonly renderer: SyntheticFaceRenderer;
  private readonly landmarkVertices: Int32Array;
  private readonly positions: Float32Array;
  private readonly regionPositions: Float32Array;
  private readonly albedo: Float32Array;
  private readonly expression: Float32Array;
  private readonly points3d = new Float64Array(3 * 68);

  constructor(
    model: MorphableModel,
    private readonly textures: readonly Float32Array[] | null,
    private readonly backgrounds: readonly RgbImage[] | null,
    size = 176,
  ) {
    const landmarks = model.landmarks.ibug68?.vertices;
    if (landmarks?.length !== 68) throw new Error(`${model.name} has no iBUG-68 landmark set`);
    this.model = model;
    this.size = size;
    this.region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    for (const t of textures ?? []) {
      if (t.length !== 3 * this.region.length)
        throw new RangeError(`a texture has ${t.length / 3} vertices, expected ${this.region.length}`);
    }
    // The region's own triangles, re-indexed to its vertices.
    const triangles = submodel(model, this.region).triangles;
    this.triangles = triangles;
    this.renderer = new SyntheticFaceRenderer(this.triangles, this.region.length, size, size);
    this.landmarkVertices = Int32Array.from(landmarks);
    this.positions = new Float32Array(model.mean.length);
    this.regionPositions = new Float32Array(3 * this.region.length);
    this.albedo = new Float32Array(3 * this.region.length);
    this.expression = new Float32Array(model.expression.count);
  }

  /** One view of the face with these identity coefficients; pose, expression, light, skin from `random`. */
  render(identity: Float32Array, random: SeededRandom, views: ViewDistribution = IDENTITY_VIEWS): IdentityView {
    const { model, size, region } = this;
    const spread = (max: number) => (2 * random.uniform() - 1) * max;
    const yaw = spread(views.maxYaw),
      pitch = spread(views.maxPitch),
      roll = spread(views.maxRoll);
    const expression = this.expression.fill(0);
    const count = Math.floor(random.uniform() * (views.maxExpressions + 1));
    const pca = model.expression.kind !== 'blendshapes';
    for (let i = 0; i < count && expression.length > 0; i++) {
      const k = Math.floor(random.uniform() * expression.length);
      expression[k] = views.maxExpressionWeight * (pca ? random.normal() : random.uniform());
    }
    const sh = randomLight(random);
    this.skin(random);
    const background = this.background(random);
    const positions = evaluateShape(model, identity, expression, this.positions);
    landmarkPositions(model, this.landmarkVertices, positions, null, null, this.points3d);

    // Camera: the landmark box 50–60 % of the image, centred with a small random shift.
    const camera = createCamera(size, size, defaultFocal(size, size));
    rotationFromAngles(yaw, pitch, roll, camera.rotation);
    camera.translation.set([0, 0, -1000]);
    const landmarks = new Float32Array(136);
    projectPoints(camera, this.points3d, 68, landmarks);
    const { minX, maxX, minY, maxY } = landmarkBox(landmarks);
    const depth = (1000 * Math.max(maxX - minX, maxY - minY)) / ((0.5 + 0.1 * random.uniform()) * size);
    const u = ((camera.cx - (minX + maxX) / 2) * 1000) / depth + spread(0.04 * size);
    const v = ((camera.cy - (minY + maxY) / 2) * 1000) / depth + spread(0.04 * size);
    camera.translation.set([(u * depth) / camera.focal, (-v * depth) / camera.focal, -depth]);
    projectPoints(camera, this.points3d, 68, landmarks);

    for (let i = 0; i < region.length; i++) {
      const p = 3 * region[i];
      this.regionPositions[3 * i] = positions[p];
      this.regionPositions[3 * i + 1] = positions[p + 1];
      this.regionPositions[3 * i + 2] = positions[p + 2];
    }
    const image = this.renderer.render(this.regionPositions, camera, this.albedo, sh, background);
    return { image, landmarks, yaw, pitch, roll, camera, expression, sh, albedo: this.albedo, background };
  }

  /** this.albedo: a photo texture with a random gain per channel, or a skin tone with per-vertex noise. */
  private skin(random: SeededRandom): void {
    const n = this.region.length;
    const gain = [0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform(), 0.8 + 0.4 * random.uniform()];
    if (this.textures && this.textures.length > 0) {
      const texture = this.textures[Math.floor(random.uniform() * this.textures.length)];
      for (let i = 0; i < 3 * n; i++) this.albedo[i] = gain[i % 3] * srgbToLinear(texture[i] / 255);
      return;
    }
    const tone = [0.62, 0.42, 0.33];
    for (let i = 0; i < n; i++) {
      const noise = 1 + 0.05 * random.normal();
      for (let c = 0; c < 3; c++) this.albedo[3 * i + c] = gain[c] * tone[c] * noise;
    }
  }

  private background(random: SeededRandom): RgbImage {
    const { size } = this;
    if (this.backgrounds && this.backgrounds.length > 0) {
      const photo = this.backgrounds[Math.floor(random.uniform() * this.backgrounds.length)];
      return backgroundFrom(photo, random, size);
    }
    const data = new Uint8Array(3 * size * size);
    const top = 40 + 180 * random.uniform(),
      bottom = 40 + 180 * random.uniform();
    for (let y = 0; y < size; y++) {
      const g = Math.round(top + ((bottom - top) * y) / (size - 1));
      data.fill(g, 3 * y * size, 3 * (y + 1) * size);
    }
    return { width: size, height: size, data };
  }
}

/**
 * Embeddings (128 per face, into `out`) of faces given as image + 68 landmarks, `batch` crops per forward
 * pass.
 */
export function embedFaces(
  tf: Tf,
  params: FaceEmbeddingParams,
  faces: ReadonlyArray<{ image: RgbImage; landmarks: Float32Array }>,
  out: Float32Array = new Float32Array(faces.length * EMBEDDING_SIZE),
  batch = 8,
): Float32Array {
  const side = EMBEDDING_INPUT;
  const crop = new Float32Array(side * side * 3);
  for (let start = 0; start < faces.length; start += batch) {
    const n = Math.min(batch, faces.length - start);
    const crops = new Float32Array(n * side * side * 3);
    for (let i = 0; i < n; i++) {
      embeddingCrop(faces[start + i].image, faces[start + i].landmarks, crop);
      crops.set(crop, i * crop.length);
    }
    const values = tf.tidy(() =>
      faceEmbeddingForward(tf, params, tf.tensor4d(crops, [n, side, side, 3])).dataSync(),
    ) as Float32Array;
    out.set(values, start * EMBEDDING_SIZE);
  }
  return out;
}

import type { RgbImage } from './rgb-image.js';
import type { Camera } from '../geometry/camera.js';
import { projectToRaster, transformPoint } from '../geometry/projection.js';
import { rotateVector } from '../geometry/rotation.js';
import { linearToSrgbByte, SRGB_BYTE_TO_LINEAR } from '../model/color.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import { createRasterBuffers, interpolateAt, type RasterBuffers, rasterize } from './rasterize.js';
import { SH_K, shIrradiance } from './spherical-harmonics.js';

/** The fitted light and de-lit per-vertex albedo that turn the unwrapped photo into an albedo texture. */
export interface TextureLight {
  /** Spherical-harmonics light, 27 values sh[3k + c] (spherical-harmonics.ts), in the scale of `albedo`. */
  sh: ArrayLike<number>;
  /** Per-vertex linear RGB albedo, 3 per model vertex: what texels the photo does not show take. */
  albedo: ArrayLike<number>;
}

/** An albedo texture, and how much of each texel came from the photo (255) rather than the fitted albedo (0). */
export interface AlbedoTexture {
  texture: RgbImage;
  photoWeight: Uint8Array;
}

/**
 * Seen texels count fully from this cosine between the surface normal and the view ray on (texels are seen
 * from SEEN_COSINE, 0.2, on): between the two the photo's colour fades into the fitted albedo, no seam.
 */
export const ALBEDO_FULL_COSINE = 0.5;
/**
 * Where a texel's irradiance (per channel, over the light's ambient term K₀·sh₀) is below
 * ALBEDO_MIN_IRRADIANCE it is too dark to divide by and takes the fitted albedo; the photo counts fully
 * from twice that on.
 */
export const ALBEDO_MIN_IRRADIANCE = 0.1;
const SEEN_COSINE = 0.2;

/**
 * Unwraps the photo onto the model's UV layout: every texel's surface point (through the UV
 * triangles) is projected into the photo with the fitted camera and takes the photo's colour where
 * that point is visible (in front in the z-buffer, facing the camera). Texels the camera did not
 * see take the colour at the left/right mirror point of the face when that one was seen, else
 * `fill` (e.g. the mean albedo). Texture rows run top-down with v = 1 at the top (OBJ convention).
 * With `light`, also the albedo texture of the same texels (`albedoTexture`), sharing the work.
 */
export function unwrapTexture(
  photo: RgbImage,
  photoScale: number,
  model: MorphableModel,
  positions: Float32Array,
  camera: Camera,
  size: number,
  fill: [number, number, number],
  light?: TextureLight,
): { texture: RgbImage; seen: number; albedo?: AlbedoTexture } {
  if (light) checkLight(model, light);
  const uv = unwrapSurface(photo, photoScale, model, positions, camera, size);
  const { covered, surface, depth } = uv;
  const delighter = light && new Delighter(uv, model.triangles, light);
  const data = new Uint8Array(3 * size * size);
  const seenMask = new Uint8Array(size * size);
  for (let p = 0; p < size * size; p++) {
    if (!covered[p]) continue;
    const visible = sample(surface, 6 * p, 1, photo, photoScale, camera, depth);
    if (visible) {
      seenMask[p] = 1;
      for (let c = 0; c < 3; c++) data[3 * p + c] = Math.round(texel[c]);
    }
    delighter?.texel(p, visible);
  }
  let seen = 0;
  for (let p = 0; p < size * size; p++) {
    if (!covered[p]) continue;
    if (seenMask[p]) {
      seen++;
      continue;
    }
    const mirrored = sample(surface, 6 * p, -1, photo, photoScale, camera, depth);
    for (let c = 0; c < 3; c++) data[3 * p + c] = mirrored ? Math.round(texel[c]) : fill[c];
  }
  const texture = { width: size, height: size, data };
  return { texture, seen, albedo: delighter?.result() };
}

/**
 * The face's albedo in the model's UV layout (as `unwrapTexture`'s texture, sRGB): a texel the photo shows
 * (visible, facing the camera) is the photo's linear colour divided by the light's irradiance at its surface
 * normal, E_c(n) (spherical-harmonics.ts), clamped to [0, 1]; texels the photo does not show, or where the
 * irradiance is too small to divide by (ALBEDO_MIN_IRRADIANCE), take the per-vertex `light.albedo`
 * interpolated over the UV triangle; towards grazing angles (cosine SEEN_COSINE to ALBEDO_FULL_COSINE) and
 * dark light the two are blended linearly, so the visibility boundary leaves no seam.
 */
export function albedoTexture(
  photo: RgbImage,
  photoScale: number,
  model: MorphableModel,
  positions: Float32Array,
  camera: Camera,
  size: number,
  light: TextureLight,
): AlbedoTexture {
  checkLight(model, light);
  const uv = unwrapSurface(photo, photoScale, model, positions, camera, size);
  const delighter = new Delighter(uv, model.triangles, light);
  for (let p = 0; p < size * size; p++) {
    if (uv.covered[p]) delighter.texel(p, sample(uv.surface, 6 * p, 1, photo, photoScale, camera, uv.depth));
  }
  return delighter.result();
}

/** The UV layout's texels on the fitted surface, and the photo's z-buffer of the mesh: what both textures share. */
interface UvSurface {
  size: number;
  /** 1 where a UV triangle covers the texel. */
  covered: Uint8Array;
  /** The UV layout rasterised: per texel the mesh triangle and its barycentrics (rasterize.ts). */
  raster: RasterBuffers;
  /** Per covered texel: the surface point and its (interpolated, unnormalised) normal in model space, 6 values. */
  surface: Float32Array;
  /** The mesh's depth per photo pixel (the photo's stored resolution). */
  depth: Float32Array;
}

function unwrapSurface(
  photo: RgbImage,
  photoScale: number,
  model: MorphableModel,
  positions: Float32Array,
  camera: Camera,
  size: number,
): UvSurface {
  const n = model.vertexCount;
  // Visibility: a depth buffer of the whole mesh at the photo's stored resolution.
  const { width, height } = photo;
  const screen = new Float32Array(3 * n);
  projectToRaster(camera, positions, n, photoScale, screen);
  const depth = rasterize(screen, model.triangles, createRasterBuffers(width, height)).depth;
  const normals = vertexNormals(positions, model.triangles);

  const surface = new Float32Array(6 * size * size);
  const covered = new Uint8Array(size * size);
  // Rasterise the UV triangles into texel space (v up → rows down).
  const uvScreen = new Float32Array(3 * (model.uvs.length / 2));
  for (let i = 0; i < model.uvs.length / 2; i++) {
    uvScreen[3 * i] = model.uvs[2 * i] * size;
    uvScreen[3 * i + 1] = (1 - model.uvs[2 * i + 1]) * size;
    uvScreen[3 * i + 2] = 0;
  }
  const raster = rasterize(uvScreen, model.uvTriangles, createRasterBuffers(size, size));
  const T = model.triangles;
  for (let p = 0; p < size * size; p++) {
    if (raster.triangle[p] < 0) continue;
    covered[p] = 1;
    interpolateAt(raster, T, positions, p, interpolated);
    surface.set(interpolated, 6 * p);
    interpolateAt(raster, T, normals, p, interpolated);
    surface.set(interpolated, 6 * p + 3);
  }
  return { size, covered, raster, surface, depth };
}

/** Writes the albedo texture of `albedoTexture` texel by texel, after sample() looked at the texel. */
class Delighter {
  readonly data: Uint8Array;
  readonly photoWeight: Uint8Array;
  private readonly ambient: Float64Array;
  private readonly usable: boolean;

  constructor(
    private readonly uv: UvSurface,
    private readonly triangles: Uint32Array,
    private readonly light: TextureLight,
  ) {
    const { sh } = light;
    this.data = new Uint8Array(3 * uv.size * uv.size);
    this.photoWeight = new Uint8Array(uv.size * uv.size);
    // Irradiance is judged against the light's ambient term; a light without one shows nothing usable.
    this.ambient = Float64Array.from([0, 1, 2], (c) => SH_K[0] * sh[c]);
    this.usable = this.ambient.every((a) => a > 0);
  }

  /** Texel p, covered by the layout; `visible`: sample() found it in the photo and left it in `texel`. */
  texel(p: number, visible: boolean): void {
    const { sh, albedo } = this.light;
    const { ambient, data, triangles: T } = this;
    let weight = 0;
    if (visible && this.usable) {
      const nx = texel[4],
        ny = texel[5],
        nz = texel[6];
      const length = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
      shIrradiance(nx / length, ny / length, nz / length, sh, irradiance);
      let darkest = Infinity;
      for (let c = 0; c < 3; c++) darkest = Math.min(darkest, irradiance[c] / ambient[c]);
      weight =
        ramp(texel[3], SEEN_COSINE, ALBEDO_FULL_COSINE)
        * ramp(darkest, ALBEDO_MIN_IRRADIANCE, 2 * ALBEDO_MIN_IRRADIANCE);
      if (!(weight > 0)) weight = 0;
    }
    interpolateAt(this.uv.raster, T, albedo, p, interpolated);
    for (let c = 0; c < 3; c++) {
      const fitted = interpolated[c];
      let value = fitted;
      if (weight > 0) {
        const level = texel[c],
          k = Math.min(254, Math.floor(level));
        const linear = SRGB_BYTE_TO_LINEAR[k] + (level - k) * (SRGB_BYTE_TO_LINEAR[k + 1] - SRGB_BYTE_TO_LINEAR[k]);
        const seen = Math.min(1, Math.max(0, linear / irradiance[c]));
        value = weight * seen + (1 - weight) * Math.min(1, Math.max(0, fitted));
      }
      data[3 * p + c] = linearToSrgbByte(value);
    }
    this.photoWeight[p] = Math.round(255 * weight);
  }

  result(): AlbedoTexture {
    const { size } = this.uv;
    return { texture: { width: size, height: size, data: this.data }, photoWeight: this.photoWeight };
  }
}

function checkLight(model: MorphableModel, { sh, albedo }: TextureLight): void {
  if (sh.length !== 27) throw new RangeError(`light.sh has ${sh.length} values, expected 27`);
  if (albedo.length !== 3 * model.vertexCount) {
    throw new RangeError(`light.albedo has ${albedo.length} values, expected ${3 * model.vertexCount}`);
  }
}

function ramp(x: number, low: number, high: number): number {
  return x <= low ? 0 : x >= high ? 1 : (x - low) / (high - low);
}

// Scratch for sample(): the surface point and its normal in camera space; what it found (texel), and the
// irradiance of the de-lit texture.
const cameraPoint = new Float64Array(3),
  cameraNormal = new Float64Array(3),
  irradiance = new Float64Array(3);
/** What sample() found: the photo's sRGB colour (0–255, unrounded), the facing cosine, the camera-space normal. */
const texel = new Float64Array(7);
/** A per-vertex attribute interpolated at one texel (interpolateAt's output). */
const interpolated = new Float64Array(3);

/**
 * Samples the photo at the surface point (x mirrored when `mirror` is −1) if visible: writes `texel` and
 * returns true.
 */
function sample(
  surface: Float32Array,
  at: number,
  mirror: number,
  photo: RgbImage,
  scale: number,
  camera: Camera,
  depth: Float32Array,
): boolean {
  const x = mirror * surface[at],
    y = surface[at + 1],
    z = surface[at + 2];
  const nx = mirror * surface[at + 3],
    ny = surface[at + 4],
    nz = surface[at + 5];
  const p = transformPoint(cameraPoint, camera, x, y, z),
    q = rotateVector(cameraNormal, camera.rotation, nx, ny, nz);
  const xc = p[0],
    yc = p[1],
    zc = p[2];
  // Facing the camera: the normal points back along the ray (camera at the origin).
  const nxc = q[0],
    nyc = q[1],
    nzc = q[2];
  const lengths = Math.hypot(nxc, nyc, nzc) * Math.hypot(xc, yc, zc);
  if (nxc * xc + nyc * yc + nzc * zc > -SEEN_COSINE * lengths) return false;
  const d = -zc;
  const u = scale * (camera.cx + (camera.focal * xc) / d + 0.5),
    v = scale * (camera.cy - (camera.focal * yc) / d + 0.5);
  const { width, height, data } = photo;
  const px = Math.floor(u),
    py = Math.floor(v);
  if (px < 0 || py < 0 || px >= width || py >= height) return false;
  // In front: not more than 3 mm behind what the z-buffer holds there.
  if (d > depth[py * width + px] + 3) return false;
  const fx = u - 0.5,
    fy = v - 0.5;
  const x0 = Math.max(0, Math.min(width - 2, Math.floor(fx))),
    y0 = Math.max(0, Math.min(height - 2, Math.floor(fy)));
  const ax = Math.min(1, Math.max(0, fx - x0)),
    ay = Math.min(1, Math.max(0, fy - y0));
  for (let c = 0; c < 3; c++) {
    const a = data[3 * (y0 * width + x0) + c],
      b = data[3 * (y0 * width + x0 + 1) + c];
    const cc = data[3 * ((y0 + 1) * width + x0) + c],
      dd = data[3 * ((y0 + 1) * width + x0 + 1) + c];
    texel[c] = (1 - ay) * ((1 - ax) * a + ax * b) + ay * ((1 - ax) * cc + ax * dd);
  }
  texel[3] = -(nxc * xc + nyc * yc + nzc * zc) / lengths; // NaN for a zero normal: no weight
  texel[4] = nxc;
  texel[5] = nyc;
  texel[6] = nzc;
  return true;
}

import type { Camera } from '../geometry/camera.js';
import { transformPoints } from '../geometry/projection.js';
import { accumulateTriangleNormals } from '../model/normals.js';
import { rasterize, type RasterBuffers } from './rasterize.js';
import {
  inverseScreenArea,
  PIXEL_SHADING_SIZE,
  PX_ALBEDO_B,
  PX_ALBEDO_G,
  PX_ALBEDO_R,
  PX_B0,
  PX_B1,
  PX_B2,
  PX_INV_LENGTH,
  PX_IRRADIANCE_B,
  PX_IRRADIANCE_G,
  PX_IRRADIANCE_R,
  PX_NX,
  PX_NY,
  PX_NZ,
  PX_Y1,
  PX_Y2,
  PX_Y3,
  PX_Y4,
  PX_Y5,
  PX_Y6,
  PX_Y7,
  PX_Y8,
} from './interpolate.js';
import { SH_K } from './spherical-harmonics.js';

/**
 * Differentiable photometric rendering on the CPU, for analysis-by-synthesis fitting (the
 * rasterise / interpolate / shade steps of nvdiffrast + an SH Lambertian shader, with hand-written
 * gradients): a mesh with per-vertex albedo, lit by second-order spherical harmonics
 * (spherical-harmonics.ts), seen by the pinhole camera of camera.ts.
 *
 * The steps, each with its backward pass and forward-mode derivative tested on its own: rasterise
 * (rasterize.ts, the rasteriser every renderer here uses) → interpolate (interpolate.ts: normals and
 * albedo at the pixel, barycentrics w.r.t. the screen corners) → shade (sh-shading.ts). The per-pixel
 * loops below fuse them (V8 does not inline functions of their size: with a call per step and pixel a
 * render measured 1.06×, the gradient 1.2× and the colour derivative 1.5× slower); the tests check the
 * fused colours and light and albedo gradients against the steps composed, and all of it against
 * central differences.
 *
 * Image formation, per pixel p covered by triangle (i0, i1, i2):
 * - Vertices go to camera space, Xc = R·X + t, and to the screen as
 *   sx = cx + f·Xc.x/d + 0.5, sy = cy − f·Xc.y/d + 0.5, d = −Xc.z (camera pixels have their centres at
 *   integers, the rasteriser's pixel (i, j) at (i + 0.5, j + 0.5): output pixel (i, j) is camera pixel
 *   (u, v) = (i, j)). The render size is the camera's image size: scale a photo's camera with
 *   `scaleCamera` (geometry/crop.ts) to render smaller.
 * - The rasteriser of rasterize.ts (the one the overlay, preview and UV texture use, so the masks
 *   agree), with depth −1/d (affine in screen space, so the depth test and the depth map are perspective
 *   correct), picks the nearest triangle (a pixel centre on an edge is covered; a tie keeps the earlier
 * triangle); b = (b0, b1, b2) are the screen-space barycentrics of the
 *   pixel centre (not perspective corrected, as the brief for analysis-by-synthesis asks; across
 *   a face triangle at portrait distances the difference is far below a pixel's colour noise).
 *   Triangles of both windings are drawn; a triangle with a vertex at or behind the camera plane
 *   (d ≤ 0) is skipped (no clipping).
 * - Vertex normals: area-weighted (sum of the unnormalised face cross products (b−a)×(c−a)),
 *   normalised, computed in camera space; the pixel normal is n = m/|m|, m = Σ b_i·n_i. Normals are
 *   not flipped for back faces. +z of camera space points at the viewer.
 * - Albedo ρ_c = Σ b_i·albedo[3i_k + c]; colour C_c = ρ_c·E_c(n), E_c(n) = Σ_k Y_k(n)·sh[3k + c].
 *
 * Loss (`lossAndGradient`): L = Σ_p w_p·φ(e_p), e_p = Σ_c (C_pc − T_pc)² over covered pixels, with
 * φ(e) = e (L2, the default), Huber on the colour distance √e (φ = e for √e ≤ s, 2s√e − s²
 * beyond) or Geman–McClure (φ = s²·e/(s² + e)). Gradients: the pixel's triangle is held fixed
 * (visibility changes are ignored, as in differentiable rasterisation without antialiasing); the
 * barycentrics are differentiated w.r.t. the screen positions of the three corners
 * (∂b_j/∂s_i = −b_i·∇_P b_j), and the normals through normalisation and the area-weighted sums.
 */

export interface PhotometricImage {
  width: number;
  height: number;
  /** Linear RGB per pixel, 3·W·H, row-major; 0 where not covered. */
  color: Float32Array;
  /** 1 where a triangle covers the pixel centre. */
  mask: Uint8Array;
  /** Depth d = −Xc.z in millimetres (perspective correct); 0 where not covered. */
  depth: Float32Array;
  /** Unit camera-space normal per pixel (xyz, +z towards the viewer), 3·W·H; 0 where not covered. */
  normal: Float32Array;
}

export function createPhotometricImage(width: number, height: number): PhotometricImage {
  const n = width * height;
  return {
    width,
    height,
    color: new Float32Array(3 * n),
    mask: new Uint8Array(n),
    depth: new Float32Array(n),
    normal: new Float32Array(3 * n),
  };
}

/** Gradients of the photometric loss; every field is overwritten by `lossAndGradient`. */
export interface PhotometricGradient {
  /** ∂L/∂X, model-space vertex positions, 3N. */
  positions: Float64Array;
  /** ∂L/∂albedo, 3N. */
  albedo: Float64Array;
  /** ∂L/∂sh, 27, the layout of the coefficients (sh[3k + c]). */
  sh: Float64Array;
  /** ∂L/∂δ for R ← exp([δ]×)·R at δ = 0 (rotateBy in geometry/rotation.ts). */
  rotation: Float64Array;
  /** ∂L/∂t, camera-space millimetres. */
  translation: Float64Array;
  /** ∂L/∂f (pixels; multiply by f for a log-focal parameter). */
  focal: number;
}

export function createPhotometricGradient(vertexCount: number): PhotometricGradient {
  return {
    positions: new Float64Array(3 * vertexCount),
    albedo: new Float64Array(3 * vertexCount),
    sh: new Float64Array(27),
    rotation: new Float64Array(3),
    translation: new Float64Array(3),
    focal: 0,
  };
}

export type RobustLoss = 'l2' | 'huber' | 'geman-mcclure';

export interface PhotometricLossOptions {
  /** Per-pixel penalty of the RGB residual; 'l2' by default. */
  robust?: RobustLoss;
  /** Huber threshold / Geman–McClure scale on the RGB distance (colour units, 0–1); 0.1 by default. */
  scale?: number;
}

/**
 * Chains a position gradient to the coefficients of a linear basis: out = Bᵀ·g, with B
 * component-major (K × 3N, morphable-model.ts), g of length 3N.
 */
export function chainToBasis(
  gradPositions: ArrayLike<number>,
  basis: Float32Array,
  K: number,
  out: Float64Array | Float32Array,
): Float64Array | Float32Array {
  const n3 = gradPositions.length;
  for (let k = 0; k < K; k++) {
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    const base = k * n3;
    let i = 0;
    for (; i + 3 < n3; i += 4) {
      s0 += basis[base + i] * gradPositions[i];
      s1 += basis[base + i + 1] * gradPositions[i + 1];
      s2 += basis[base + i + 2] * gradPositions[i + 2];
      s3 += basis[base + i + 3] * gradPositions[i + 3];
    }
    for (; i < n3; i++) s0 += basis[base + i] * gradPositions[i];
    out[k] = s0 + s1 + s2 + s3;
  }
  return out;
}

/**
 * Layout of the per-pixel cache of `colorDerivative` (CACHE_STRIDE numbers per pixel): the pixel's
 * barycentrics b0…b2, unit normal and 1/|m| (as in interpolate.ts's PixelShading), irradiance and albedo per channel,
 * and 1/area of its screen triangle.
 */
const K0 = SH_K[0],
  K1 = SH_K[1],
  K2 = SH_K[2],
  K2_6 = K2 / (2 * Math.sqrt(3)),
  K2_8 = K2 / 2,
  SQRT3_K2 = Math.sqrt(3) * K2;

const CACHE_B0 = 0,
  CACHE_NORMAL = 3,
  CACHE_INV_LENGTH = 6,
  CACHE_IRRADIANCE = 7,
  CACHE_ALBEDO = 10,
  CACHE_INV_AREA = 13,
  CACHE_STRIDE = 14;

/**
 * Renders one mesh topology at one image size; all buffers are held here and reused. `render`
 * keeps what `lossAndGradient` needs (the pixel → triangle map, barycentrics, camera-space vertices
 * and normals, a copy of albedo, SH and camera), so call them in that order.
 */
export class PhotometricRenderer {
  readonly width: number;
  readonly height: number;
  readonly vertexCount: number;
  readonly triangles: Uint32Array;
  /** Triangle index per pixel from the last render, −1 where empty. */
  readonly triangleIds: Int32Array;
  /** Screen-space barycentrics (b1, b2) of each covered pixel centre from the last render. */
  readonly barycentrics: Float64Array;
  /** Covered pixels in the last render. */
  coveredPixels = 0;

  /** The last raster (rasterize.ts), in double precision; its depth is −1/d. */
  private readonly raster: RasterBuffers<Float64Array>;
  private readonly cameraPositions: Float64Array;
  private readonly screen: Float64Array;
  private readonly vertexInverseDepth: Float64Array;
  private readonly normals: Float64Array;
  private readonly normalLengths: Float64Array;
  private readonly albedo: Float64Array;
  private readonly sh = new Float64Array(27);
  /** One pixel's interpolated values and shading (interpolate.ts's PX_* slots). */
  private readonly pixel = new Float64Array(PIXEL_SHADING_SIZE);
  private readonly rotation = new Float64Array(9);
  private readonly translation = new Float64Array(3);
  private focal = 0;
  private rendered = false;
  // Per-vertex scratch of the backward pass, and of the forward pass of colorDerivative.
  private readonly gradScreen: Float64Array;
  private readonly gradNormals: Float64Array;
  private readonly gradCamera: Float64Array;
  /**
   * For `colorDerivative`, found once per render: the triangles whose normals reach a covered pixel
   * (sharing a vertex with a covered triangle), and each pixel's shading (CACHE_* above) so the derivative
   * along each direction need not redo it.
   */
  private readonly normalTriangles: Int32Array;
  private normalTriangleCount = -1;
  private readonly vertexMark: Uint8Array;
  private pixelShading = new Float64Array(0);

  constructor(triangles: Uint32Array, vertexCount: number, width: number, height: number) {
    for (let i = 0; i < triangles.length; i++) {
      if (triangles[i] >= vertexCount)
        throw new RangeError(`triangle corner ${triangles[i]} is not a vertex (${vertexCount} vertices)`);
    }
    this.triangles = triangles;
    this.vertexCount = vertexCount;
    this.width = width;
    this.height = height;
    const pixels = width * height;
    this.barycentrics = new Float64Array(2 * pixels);
    this.raster = {
      width,
      height,
      triangle: new Int32Array(pixels),
      barycentric: this.barycentrics,
      depth: new Float64Array(pixels),
    };
    this.triangleIds = this.raster.triangle;
    this.cameraPositions = new Float64Array(3 * vertexCount);
    this.screen = new Float64Array(3 * vertexCount);
    this.vertexInverseDepth = new Float64Array(vertexCount);
    this.normals = new Float64Array(3 * vertexCount);
    this.normalLengths = new Float64Array(vertexCount);
    this.albedo = new Float64Array(3 * vertexCount);
    this.gradScreen = new Float64Array(2 * vertexCount);
    this.gradNormals = new Float64Array(3 * vertexCount);
    this.gradCamera = new Float64Array(3 * vertexCount);
    this.normalTriangles = new Int32Array(triangles.length / 3);
    this.vertexMark = new Uint8Array(vertexCount);
  }

  /**
   * Rasterises the mesh (`positions`: model space, 3N, mm) with `camera` (its image size is the
   * render size), per-vertex linear RGB `albedo` (3N) and SH lighting `sh` (27, sh[3k + c]).
   * Writes colour, mask, depth and normals into `out` if given (the loss needs only the raster).
   * Returns the number of covered pixels.
   */
  render(
    positions: ArrayLike<number>,
    camera: Camera,
    albedo: ArrayLike<number>,
    sh: ArrayLike<number>,
    out?: PhotometricImage,
  ): number {
    const n = this.vertexCount;
    if (positions.length !== 3 * n || albedo.length !== 3 * n)
      throw new RangeError(`positions and albedo need ${3 * n} values`);
    if (sh.length !== 27) throw new RangeError('sh needs 27 coefficients (9 per channel)');
    if (out && (out.width !== this.width || out.height !== this.height))
      throw new RangeError('output image size differs from the renderer');
    this.rotation.set(camera.rotation);
    this.translation.set(camera.translation);
    this.focal = camera.focal;
    const f = camera.focal;
    const cx = camera.cx + 0.5,
      cy = camera.cy + 0.5;
    const cam = this.cameraPositions,
      screen = this.screen,
      invD = this.vertexInverseDepth;
    transformPoints(camera, positions, n, cam);
    for (let i = 0; i < n; i++) {
      const xc = cam[3 * i],
        yc = cam[3 * i + 1],
        zc = cam[3 * i + 2];
      if (zc < 0) {
        const w = -1 / zc;
        invD[i] = w;
        screen[3 * i] = cx + f * xc * w;
        screen[3 * i + 1] = cy - f * yc * w;
        screen[3 * i + 2] = -w;
      } else {
        invD[i] = NaN;
        screen[3 * i] = NaN;
        screen[3 * i + 1] = NaN;
        screen[3 * i + 2] = NaN;
      }
    }
    const a = this.albedo;
    for (let i = 0; i < 3 * n; i++) a[i] = albedo[i];
    for (let k = 0; k < 27; k++) this.sh[k] = sh[k];
    this.computeNormals();
    rasterize(this.screen, this.triangles, this.raster);
    this.rendered = true;
    this.normalTriangleCount = -1;
    if (out) this.shade(out);
    return this.coveredPixels;
  }

  /**
   * The loss of the last render against `target` (RGB 0–1, 3·W·H, the render's size), weighted per
   * pixel by `pixelWeights` (W·H, e.g. a face mask or robust weights; 1 if omitted), and, if
   * `gradient` is given, its gradients (overwritten). Returns L.
   */
  lossAndGradient(
    target: Float32Array,
    pixelWeights?: Float32Array | null,
    gradient?: PhotometricGradient,
    options: PhotometricLossOptions = {},
  ): number {
    if (!this.rendered) throw new Error('render() before lossAndGradient()');
    const width = this.width,
      height = this.height,
      pixels = width * height;
    if (target.length !== 3 * pixels)
      throw new RangeError(`target needs ${3 * pixels} values (RGB ${width}×${height})`);
    if (pixelWeights && pixelWeights.length !== pixels) throw new RangeError(`pixelWeights needs ${pixels} values`);
    const mode = options.robust === 'huber' ? 1 : options.robust === 'geman-mcclure' ? 2 : 0;
    const scale = options.scale ?? 0.1;
    const s2 = scale * scale;
    const withGrad = gradient !== undefined;
    const tri = this.triangleIds,
      tris = this.triangles;
    const N = this.normals,
      A = this.albedo,
      L = this.sh,
      S = this.screen;
    const gS = this.gradScreen,
      gN = this.gradNormals,
      px = this.pixel;
    const gA = withGrad ? gradient.albedo : this.albedo; // gA unused without a gradient
    const gL = withGrad ? gradient.sh : this.sh;
    if (withGrad) {
      gS.fill(0);
      gN.fill(0);
      gradient.albedo.fill(0);
      gL.fill(0);
    }
    let loss = 0;
    for (let p = 0; p < pixels; p++) {
      const t = tri[p];
      if (t < 0) continue;
      const wp = pixelWeights ? pixelWeights[p] : 1;
      if (wp === 0) continue;
      const i0 = tris[3 * t],
        i1 = tris[3 * t + 1],
        i2 = tris[3 * t + 2];
      const o0 = 3 * i0,
        o1 = 3 * i1,
        o2 = 3 * i2;
      this.shadeAt(p, o0, o1, o2);
      const d0 = px[PX_ALBEDO_R] * px[PX_IRRADIANCE_R] - target[3 * p],
        d1 = px[PX_ALBEDO_G] * px[PX_IRRADIANCE_G] - target[3 * p + 1],
        d2 = px[PX_ALBEDO_B] * px[PX_IRRADIANCE_B] - target[3 * p + 2];
      const e = d0 * d0 + d1 * d1 + d2 * d2;
      let rho: number, drho: number;
      if (mode === 0) {
        rho = e;
        drho = 1;
      } else if (mode === 1) {
        const dist = Math.sqrt(e);
        if (dist <= scale) {
          rho = e;
          drho = 1;
        } else {
          rho = 2 * scale * dist - s2;
          drho = scale / dist;
        }
      } else {
        const q = 1 / (s2 + e);
        rho = s2 * e * q;
        drho = s2 * s2 * q * q;
      }
      loss += wp * rho;
      if (!withGrad) continue;
      const s = 2 * wp * drho;
      // Backward, fused here (the per-pixel calls cost 20–50 %: V8 does not inline functions this large);
      // the same steps as sh-shading.ts's shadeBackward, then interpolate.ts's interpolateBackward and
      // barycentricBackward, which are tested on their own.
      const b0 = px[PX_B0],
        b1 = px[PX_B1],
        b2 = px[PX_B2],
        nx = px[PX_NX],
        ny = px[PX_NY],
        nz = px[PX_NZ],
        invLen = px[PX_INV_LENGTH];
      const y1 = px[PX_Y1],
        y2 = px[PX_Y2],
        y3 = px[PX_Y3],
        y4 = px[PX_Y4],
        y5 = px[PX_Y5],
        y6 = px[PX_Y6],
        y7 = px[PX_Y7],
        y8 = px[PX_Y8];
      const e0 = px[PX_IRRADIANCE_R],
        e1 = px[PX_IRRADIANCE_G],
        e2 = px[PX_IRRADIANCE_B],
        r0 = px[PX_ALBEDO_R],
        r1 = px[PX_ALBEDO_G],
        r2 = px[PX_ALBEDO_B];
      const g0 = s * d0,
        g1 = s * d1,
        g2 = s * d2; // ∂L/∂C_c
      // Albedo: ∂L/∂ρ_c = g_c·E_c.
      const ga0 = g0 * e0,
        ga1 = g1 * e1,
        ga2 = g2 * e2;
      gA[o0] += b0 * ga0;
      gA[o0 + 1] += b0 * ga1;
      gA[o0 + 2] += b0 * ga2;
      gA[o1] += b1 * ga0;
      gA[o1 + 1] += b1 * ga1;
      gA[o1 + 2] += b1 * ga2;
      gA[o2] += b2 * ga0;
      gA[o2 + 1] += b2 * ga1;
      gA[o2 + 2] += b2 * ga2;
      // SH: ∂L/∂E_c = g_c·ρ_c, ∂E_c/∂sh[3k + c] = Y_k.
      const h0 = g0 * r0,
        h1 = g1 * r1,
        h2 = g2 * r2;
      gL[0] += K0 * h0;
      gL[1] += K0 * h1;
      gL[2] += K0 * h2;
      gL[3] += y1 * h0;
      gL[4] += y1 * h1;
      gL[5] += y1 * h2;
      gL[6] += y2 * h0;
      gL[7] += y2 * h1;
      gL[8] += y2 * h2;
      gL[9] += y3 * h0;
      gL[10] += y3 * h1;
      gL[11] += y3 * h2;
      gL[12] += y4 * h0;
      gL[13] += y4 * h1;
      gL[14] += y4 * h2;
      gL[15] += y5 * h0;
      gL[16] += y5 * h1;
      gL[17] += y5 * h2;
      gL[18] += y6 * h0;
      gL[19] += y6 * h1;
      gL[20] += y6 * h2;
      gL[21] += y7 * h0;
      gL[22] += y7 * h1;
      gL[23] += y7 * h2;
      gL[24] += y8 * h0;
      gL[25] += y8 * h1;
      gL[26] += y8 * h2;
      // Normal: ∂L/∂Y_k = q_k = Σ_c h_c·sh[3k + c], then ∂L/∂n = Σ_k q_k ∇Y_k.
      const q1 = h0 * L[3] + h1 * L[4] + h2 * L[5];
      const q2 = h0 * L[6] + h1 * L[7] + h2 * L[8];
      const q3 = h0 * L[9] + h1 * L[10] + h2 * L[11];
      const q4 = h0 * L[12] + h1 * L[13] + h2 * L[14];
      const q5 = h0 * L[15] + h1 * L[16] + h2 * L[17];
      const q6 = h0 * L[18] + h1 * L[19] + h2 * L[20];
      const q7 = h0 * L[21] + h1 * L[22] + h2 * L[23];
      const q8 = h0 * L[24] + h1 * L[25] + h2 * L[26];
      const gnx = -K1 * q3 + K2 * (q4 * ny - q7 * nz + q8 * nx);
      const gny = -K1 * q1 + K2 * (q4 * nx - q5 * nz - q8 * ny);
      const gnz = K1 * q2 + K2 * (-q5 * ny - q7 * nx) + SQRT3_K2 * q6 * nz;
      // Through n = m/|m|: ∂L/∂m = (g − n(n·g))/|m|.
      const dot = nx * gnx + ny * gny + nz * gnz;
      const gmx = (gnx - nx * dot) * invLen,
        gmy = (gny - ny * dot) * invLen,
        gmz = (gnz - nz * dot) * invLen;
      gN[o0] += b0 * gmx;
      gN[o0 + 1] += b0 * gmy;
      gN[o0 + 2] += b0 * gmz;
      gN[o1] += b1 * gmx;
      gN[o1 + 1] += b1 * gmy;
      gN[o1 + 2] += b1 * gmz;
      gN[o2] += b2 * gmx;
      gN[o2 + 1] += b2 * gmy;
      gN[o2 + 2] += b2 * gmz;
      // Barycentrics: ∂L/∂b_i = Σ_c (∂L/∂ρ_c)·albedo_ic + ∂L/∂m · n_i.
      const gb0 = ga0 * A[o0] + ga1 * A[o0 + 1] + ga2 * A[o0 + 2] + gmx * N[o0] + gmy * N[o0 + 1] + gmz * N[o0 + 2];
      const gb1 = ga0 * A[o1] + ga1 * A[o1 + 1] + ga2 * A[o1 + 2] + gmx * N[o1] + gmy * N[o1 + 1] + gmz * N[o1 + 2];
      const gb2 = ga0 * A[o2] + ga1 * A[o2 + 1] + ga2 * A[o2 + 2] + gmx * N[o2] + gmy * N[o2 + 1] + gmz * N[o2 + 2];
      // Screen corners: ∂b_j/∂s_i = −b_i·∇b_j, ∇b1 = (e2y, −e2x)/area, ∇b2 = (−e1y, e1x)/area, ∇b0 = −∇b1 − ∇b2.
      const ax = S[3 * i0],
        ay = S[3 * i0 + 1];
      const e1x = S[3 * i1] - ax,
        e1y = S[3 * i1 + 1] - ay,
        e2x = S[3 * i2] - ax,
        e2y = S[3 * i2 + 1] - ay;
      const invArea = 1 / (e1x * e2y - e1y * e2x);
      const u1 = (gb1 - gb0) * invArea,
        u2 = (gb2 - gb0) * invArea;
      const hx = u1 * e2y - u2 * e1y,
        hy = u2 * e1x - u1 * e2x;
      gS[2 * i0] -= b0 * hx;
      gS[2 * i0 + 1] -= b0 * hy;
      gS[2 * i1] -= b1 * hx;
      gS[2 * i1 + 1] -= b1 * hy;
      gS[2 * i2] -= b2 * hx;
      gS[2 * i2 + 1] -= b2 * hy;
    }
    if (withGrad) this.backwardVertices(gradient);
    return loss;
  }

  /**
   * Forward-mode derivative of the last render's pixel colours (a Jacobian–vector product): the change
   * of C_pc for a change of the model-space positions `dPositions` (3N; null for none), a small
   * rotation `dRotation` (R ← exp([δ]×)·R) and a translation `dTranslation`, with albedo, light and
   * the pixel → triangle map held fixed, as in the gradient. Writes 3·W·H values into `out` (0 where
   * no triangle covers the pixel). Gauss–Newton fitting builds its Jacobian from these, one column
   * per parameter.
   */
  colorDerivative(
    dPositions: ArrayLike<number> | null,
    dRotation: ArrayLike<number> | null,
    dTranslation: ArrayLike<number> | null,
    out: Float64Array,
  ): void {
    if (!this.rendered) throw new Error('render() before colorDerivative()');
    const n = this.vertexCount,
      T = this.triangles,
      pixels = this.width * this.height;
    if (out.length !== 3 * pixels) throw new RangeError(`out needs ${3 * pixels} values`);
    const P = this.cameraPositions,
      N = this.normals,
      lens = this.normalLengths,
      invD = this.vertexInverseDepth;
    const r = this.rotation,
      tr = this.translation,
      f = this.focal;
    const dC = this.gradCamera,
      dS = this.gradScreen,
      dN = this.gradNormals;
    const wx = dRotation ? dRotation[0] : 0,
      wy = dRotation ? dRotation[1] : 0,
      wz = dRotation ? dRotation[2] : 0;
    const tx = dTranslation ? dTranslation[0] : 0,
      ty = dTranslation ? dTranslation[1] : 0,
      tz = dTranslation ? dTranslation[2] : 0;
    // Camera space: dXc = R·dX + δ × (Xc − t) + dt; then the screen.
    for (let i = 0; i < n; i++) {
      const o = 3 * i;
      const vx = P[o] - tr[0],
        vy = P[o + 1] - tr[1],
        vz = P[o + 2] - tr[2];
      let dx = wy * vz - wz * vy + tx,
        dy = wz * vx - wx * vz + ty,
        dz = wx * vy - wy * vx + tz;
      if (dPositions) {
        const X = dPositions[o],
          Y = dPositions[o + 1],
          Z = dPositions[o + 2];
        dx += r[0] * X + r[1] * Y + r[2] * Z;
        dy += r[3] * X + r[4] * Y + r[5] * Z;
        dz += r[6] * X + r[7] * Y + r[8] * Z;
      }
      dC[o] = dx;
      dC[o + 1] = dy;
      dC[o + 2] = dz;
      const w = invD[i],
        fw = f * w;
      dS[2 * i] = fw * (dx + P[o] * w * dz);
      dS[2 * i + 1] = -fw * (dy + P[o + 1] * w * dz);
    }
    // Normals: d(e1 × e2) = de1 × e2 + e1 × de2 into the sums of the corners, then through
    // normalisation; only the triangles whose normals reach a covered pixel.
    if (this.normalTriangleCount < 0) this.prepareDerivatives();
    dN.fill(0);
    const needed = this.normalTriangles;
    for (let j = 0; j < this.normalTriangleCount; j++) {
      const t = 3 * needed[j];
      const a = 3 * T[t],
        b = 3 * T[t + 1],
        c = 3 * T[t + 2];
      const e1x = P[b] - P[a],
        e1y = P[b + 1] - P[a + 1],
        e1z = P[b + 2] - P[a + 2];
      const e2x = P[c] - P[a],
        e2y = P[c + 1] - P[a + 1],
        e2z = P[c + 2] - P[a + 2];
      const d1x = dC[b] - dC[a],
        d1y = dC[b + 1] - dC[a + 1],
        d1z = dC[b + 2] - dC[a + 2];
      const d2x = dC[c] - dC[a],
        d2y = dC[c + 1] - dC[a + 1],
        d2z = dC[c + 2] - dC[a + 2];
      const mx = d1y * e2z - d1z * e2y + e1y * d2z - e1z * d2y;
      const my = d1z * e2x - d1x * e2z + e1z * d2x - e1x * d2z;
      const mz = d1x * e2y - d1y * e2x + e1x * d2y - e1y * d2x;
      dN[a] += mx;
      dN[a + 1] += my;
      dN[a + 2] += mz;
      dN[b] += mx;
      dN[b + 1] += my;
      dN[b + 2] += mz;
      dN[c] += mx;
      dN[c + 1] += my;
      dN[c + 2] += mz;
    }
    for (let i = 0; i < n; i++) {
      const o = 3 * i,
        len = lens[i];
      if (!(len > 0)) {
        dN[o] = dN[o + 1] = dN[o + 2] = 0;
        continue;
      }
      const nx = N[o],
        ny = N[o + 1],
        nz = N[o + 2],
        gx = dN[o],
        gy = dN[o + 1],
        gz = dN[o + 2];
      const dot = nx * gx + ny * gy + nz * gz,
        inv = 1 / len;
      dN[o] = (gx - nx * dot) * inv;
      dN[o + 1] = (gy - ny * dot) * inv;
      dN[o + 2] = (gz - nz * dot) * inv;
    }
    const tri = this.triangleIds,
      A = this.albedo,
      L = this.sh,
      S = this.screen,
      cache = this.pixelShading;
    for (let p = 0; p < pixels; p++) {
      const t = tri[p];
      if (t < 0) {
        out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = 0;
        continue;
      }
      const i0 = T[3 * t],
        i1 = T[3 * t + 1],
        i2 = T[3 * t + 2];
      const o0 = 3 * i0,
        o1 = 3 * i1,
        o2 = 3 * i2;
      const q = CACHE_STRIDE * p;
      const b0 = cache[q + CACHE_B0],
        b1 = cache[q + CACHE_B0 + 1],
        b2 = cache[q + CACHE_B0 + 2];
      const nx = cache[q + CACHE_NORMAL],
        ny = cache[q + CACHE_NORMAL + 1],
        nz = cache[q + CACHE_NORMAL + 2],
        invLen = cache[q + CACHE_INV_LENGTH];
      // Fused here for speed (see lossAndGradient): interpolate.ts's barycentricDerivative and
      // interpolateDerivative, then sh-shading.ts's shadeDerivative, each tested on its own.
      // Barycentrics: db_j = −∇b_j · Σ_i b_i·ds_i.
      const ax = S[3 * i0],
        ay = S[3 * i0 + 1];
      const e1x = S[3 * i1] - ax,
        e1y = S[3 * i1 + 1] - ay,
        e2x = S[3 * i2] - ax,
        e2y = S[3 * i2 + 1] - ay;
      const invArea = cache[q + CACHE_INV_AREA];
      const sx = b0 * dS[2 * i0] + b1 * dS[2 * i1] + b2 * dS[2 * i2];
      const sy = b0 * dS[2 * i0 + 1] + b1 * dS[2 * i1 + 1] + b2 * dS[2 * i2 + 1];
      const db1 = -(e2y * sx - e2x * sy) * invArea,
        db2 = -(e1x * sy - e1y * sx) * invArea,
        db0 = -db1 - db2;
      // Pixel normal n = m/|m|, m = Σ b_j·n_j.
      const mx = db0 * N[o0] + db1 * N[o1] + db2 * N[o2] + b0 * dN[o0] + b1 * dN[o1] + b2 * dN[o2];
      const my =
        db0 * N[o0 + 1] + db1 * N[o1 + 1] + db2 * N[o2 + 1] + b0 * dN[o0 + 1] + b1 * dN[o1 + 1] + b2 * dN[o2 + 1];
      const mz =
        db0 * N[o0 + 2] + db1 * N[o1 + 2] + db2 * N[o2 + 2] + b0 * dN[o0 + 2] + b1 * dN[o1 + 2] + b2 * dN[o2 + 2];
      const dot = nx * mx + ny * my + nz * mz;
      const dnx = (mx - nx * dot) * invLen,
        dny = (my - ny * dot) * invLen,
        dnz = (mz - nz * dot) * invLen;
      const dy1 = -K1 * dny,
        dy2 = K1 * dnz,
        dy3 = -K1 * dnx;
      const dy4 = K2 * (dnx * ny + nx * dny),
        dy5 = -K2 * (dny * nz + ny * dnz),
        dy6 = SQRT3_K2 * nz * dnz;
      const dy7 = -K2 * (dnx * nz + nx * dnz),
        dy8 = K2 * (nx * dnx - ny * dny);
      for (let c = 0; c < 3; c++) {
        const dE =
          dy1 * L[3 + c]
          + dy2 * L[6 + c]
          + dy3 * L[9 + c]
          + dy4 * L[12 + c]
          + dy5 * L[15 + c]
          + dy6 * L[18 + c]
          + dy7 * L[21 + c]
          + dy8 * L[24 + c];
        const dRho = db0 * A[o0 + c] + db1 * A[o1 + c] + db2 * A[o2 + c];
        out[3 * p + c] = dRho * cache[q + CACHE_IRRADIANCE + c] + cache[q + CACHE_ALBEDO + c] * dE;
      }
    }
  }

  /** The cache of `colorDerivative` for the last render (see `normalTriangles`). */
  private prepareDerivatives(): void {
    const T = this.triangles,
      mark = this.vertexMark.fill(0),
      tri = this.triangleIds,
      S = this.screen;
    if (this.pixelShading.length < CACHE_STRIDE * tri.length)
      this.pixelShading = new Float64Array(CACHE_STRIDE * tri.length);
    const cache = this.pixelShading,
      px = this.pixel;
    for (let p = 0; p < tri.length; p++) {
      const t = tri[p];
      if (t < 0) continue;
      const i0 = T[3 * t],
        i1 = T[3 * t + 1],
        i2 = T[3 * t + 2];
      mark[i0] = 1;
      mark[i1] = 1;
      mark[i2] = 1;
      this.shadeAt(p, 3 * i0, 3 * i1, 3 * i2);
      const q = CACHE_STRIDE * p;
      cache[q + CACHE_B0] = px[PX_B0];
      cache[q + CACHE_B0 + 1] = px[PX_B1];
      cache[q + CACHE_B0 + 2] = px[PX_B2];
      cache[q + CACHE_NORMAL] = px[PX_NX];
      cache[q + CACHE_NORMAL + 1] = px[PX_NY];
      cache[q + CACHE_NORMAL + 2] = px[PX_NZ];
      cache[q + CACHE_INV_LENGTH] = px[PX_INV_LENGTH];
      cache[q + CACHE_IRRADIANCE] = px[PX_IRRADIANCE_R];
      cache[q + CACHE_IRRADIANCE + 1] = px[PX_IRRADIANCE_G];
      cache[q + CACHE_IRRADIANCE + 2] = px[PX_IRRADIANCE_B];
      cache[q + CACHE_ALBEDO] = px[PX_ALBEDO_R];
      cache[q + CACHE_ALBEDO + 1] = px[PX_ALBEDO_G];
      cache[q + CACHE_ALBEDO + 2] = px[PX_ALBEDO_B];
      cache[q + CACHE_INV_AREA] = inverseScreenArea(S, i0, i1, i2);
    }
    let count = 0;
    for (let t = 0; t < T.length / 3; t++)
      if (mark[T[3 * t]] || mark[T[3 * t + 1]] || mark[T[3 * t + 2]]) this.normalTriangles[count++] = t;
    this.normalTriangleCount = count;
  }

  /** Area-weighted unit vertex normals of the camera-space mesh. */
  private computeNormals(): void {
    const N = this.normals,
      lens = this.normalLengths;
    N.fill(0);
    accumulateTriangleNormals(this.cameraPositions, this.triangles, N);
    for (let i = 0; i < this.vertexCount; i++) {
      const x = N[3 * i],
        y = N[3 * i + 1],
        z = N[3 * i + 2];
      const len = Math.sqrt(x * x + y * y + z * z);
      lens[i] = len;
      if (len > 0) {
        const inv = 1 / len;
        N[3 * i] = x * inv;
        N[3 * i + 1] = y * inv;
        N[3 * i + 2] = z * inv;
      }
    }
  }

  /**
   * One covered pixel p of the last raster, its triangle's corners at attribute offsets o0, o1, o2, into
   * `pixel`: interpolate.ts's interpolatePixel then sh-shading.ts's shadePixel, fused here (one call per
   * pixel instead of two: 6–8 % of a render; the tests check that both give the same colours). Shared by
   * the shading, the loss and the colour derivative, so they cannot drift.
   */
  private shadeAt(p: number, o0: number, o1: number, o2: number): void {
    const px = this.pixel,
      N = this.normals,
      A = this.albedo,
      L = this.sh;
    const b1 = this.barycentrics[2 * p],
      b2 = this.barycentrics[2 * p + 1],
      b0 = 1 - b1 - b2;
    // Interpolate.
    const mx = b0 * N[o0] + b1 * N[o1] + b2 * N[o2];
    const my = b0 * N[o0 + 1] + b1 * N[o1 + 1] + b2 * N[o2 + 1];
    const mz = b0 * N[o0 + 2] + b1 * N[o1 + 2] + b2 * N[o2 + 2];
    const len = Math.sqrt(mx * mx + my * my + mz * mz);
    const invLength = len > 0 ? 1 / len : 0;
    const nx = mx * invLength,
      ny = my * invLength,
      nz = mz * invLength;
    px[PX_B0] = b0;
    px[PX_B1] = b1;
    px[PX_B2] = b2;
    px[PX_NX] = nx;
    px[PX_NY] = ny;
    px[PX_NZ] = nz;
    px[PX_INV_LENGTH] = invLength;
    px[PX_ALBEDO_R] = b0 * A[o0] + b1 * A[o1] + b2 * A[o2];
    px[PX_ALBEDO_G] = b0 * A[o0 + 1] + b1 * A[o1 + 1] + b2 * A[o2 + 1];
    px[PX_ALBEDO_B] = b0 * A[o0 + 2] + b1 * A[o1 + 2] + b2 * A[o2 + 2];
    // Shade.
    const y1 = -K1 * ny,
      y2 = K1 * nz,
      y3 = -K1 * nx;
    const y4 = K2 * nx * ny,
      y5 = -K2 * ny * nz,
      y6 = K2_6 * (3 * nz * nz - 1),
      y7 = -K2 * nx * nz,
      y8 = K2_8 * (nx * nx - ny * ny);
    px[PX_Y1] = y1;
    px[PX_Y2] = y2;
    px[PX_Y3] = y3;
    px[PX_Y4] = y4;
    px[PX_Y5] = y5;
    px[PX_Y6] = y6;
    px[PX_Y7] = y7;
    px[PX_Y8] = y8;
    px[PX_IRRADIANCE_R] =
      K0 * L[0] + y1 * L[3] + y2 * L[6] + y3 * L[9] + y4 * L[12] + y5 * L[15] + y6 * L[18] + y7 * L[21] + y8 * L[24];
    px[PX_IRRADIANCE_G] =
      K0 * L[1] + y1 * L[4] + y2 * L[7] + y3 * L[10] + y4 * L[13] + y5 * L[16] + y6 * L[19] + y7 * L[22] + y8 * L[25];
    px[PX_IRRADIANCE_B] =
      K0 * L[2] + y1 * L[5] + y2 * L[8] + y3 * L[11] + y4 * L[14] + y5 * L[17] + y6 * L[20] + y7 * L[23] + y8 * L[26];
  }

  /** Colour, mask, depth and normal maps of the last raster. */
  private shade(out: PhotometricImage): void {
    const pixels = this.width * this.height;
    const tri = this.triangleIds,
      zbuf = this.raster.depth,
      T = this.triangles,
      px = this.pixel;
    const color = out.color,
      mask = out.mask,
      depth = out.depth,
      normal = out.normal;
    let covered = 0;
    for (let p = 0; p < pixels; p++) {
      const t = tri[p];
      if (t < 0) {
        mask[p] = 0;
        depth[p] = 0;
        color[3 * p] = color[3 * p + 1] = color[3 * p + 2] = 0;
        normal[3 * p] = normal[3 * p + 1] = normal[3 * p + 2] = 0;
        continue;
      }
      covered++;
      this.shadeAt(p, 3 * T[3 * t], 3 * T[3 * t + 1], 3 * T[3 * t + 2]);
      color[3 * p] = px[PX_ALBEDO_R] * px[PX_IRRADIANCE_R];
      color[3 * p + 1] = px[PX_ALBEDO_G] * px[PX_IRRADIANCE_G];
      color[3 * p + 2] = px[PX_ALBEDO_B] * px[PX_IRRADIANCE_B];
      normal[3 * p] = px[PX_NX];
      normal[3 * p + 1] = px[PX_NY];
      normal[3 * p + 2] = px[PX_NZ];
      mask[p] = 1;
      depth[p] = -1 / zbuf[p];
    }
    this.coveredPixels = covered;
  }

  /** From the per-vertex screen and normal gradients to positions and camera. */
  private backwardVertices(gradient: PhotometricGradient): void {
    const n = this.vertexCount,
      T = this.triangles;
    const P = this.cameraPositions,
      N = this.normals,
      lens = this.normalLengths,
      invD = this.vertexInverseDepth;
    const gS = this.gradScreen,
      gN = this.gradNormals,
      gC = this.gradCamera;
    const r = this.rotation,
      tr = this.translation,
      f = this.focal;
    // Unit normal → unnormalised sum S_i: (g − n(n·g))/|S_i|, in place.
    for (let i = 0; i < n; i++) {
      const o = 3 * i,
        len = lens[i];
      if (!(len > 0)) {
        gN[o] = gN[o + 1] = gN[o + 2] = 0;
        continue;
      }
      const nx = N[o],
        ny = N[o + 1],
        nz = N[o + 2];
      const gx = gN[o],
        gy = gN[o + 1],
        gz = gN[o + 2];
      const dot = nx * gx + ny * gy + nz * gz,
        inv = 1 / len;
      gN[o] = (gx - nx * dot) * inv;
      gN[o + 1] = (gy - ny * dot) * inv;
      gN[o + 2] = (gz - nz * dot) * inv;
    }
    // Face cross products c = e1 × e2 feed the sums of their three corners.
    gC.fill(0);
    for (let t = 0; t < T.length; t += 3) {
      const a = 3 * T[t],
        b = 3 * T[t + 1],
        c = 3 * T[t + 2];
      const gx = gN[a] + gN[b] + gN[c],
        gy = gN[a + 1] + gN[b + 1] + gN[c + 1],
        gz = gN[a + 2] + gN[b + 2] + gN[c + 2];
      if (gx === 0 && gy === 0 && gz === 0) continue;
      const e1x = P[b] - P[a],
        e1y = P[b + 1] - P[a + 1],
        e1z = P[b + 2] - P[a + 2];
      const e2x = P[c] - P[a],
        e2y = P[c + 1] - P[a + 1],
        e2z = P[c + 2] - P[a + 2];
      // ∂L/∂e1 = e2 × g, ∂L/∂e2 = g × e1.
      const f1x = e2y * gz - e2z * gy,
        f1y = e2z * gx - e2x * gz,
        f1z = e2x * gy - e2y * gx;
      const f2x = gy * e1z - gz * e1y,
        f2y = gz * e1x - gx * e1z,
        f2z = gx * e1y - gy * e1x;
      gC[b] += f1x;
      gC[b + 1] += f1y;
      gC[b + 2] += f1z;
      gC[c] += f2x;
      gC[c + 1] += f2y;
      gC[c + 2] += f2z;
      gC[a] -= f1x + f2x;
      gC[a + 1] -= f1y + f2y;
      gC[a + 2] -= f1z + f2z;
    }
    // Projection, then camera space → model space and camera parameters.
    const gX = gradient.positions;
    let gf = 0,
      gtx = 0,
      gty = 0,
      gtz = 0,
      gwx = 0,
      gwy = 0,
      gwz = 0;
    for (let i = 0; i < n; i++) {
      const o = 3 * i;
      let gx = gC[o],
        gy = gC[o + 1],
        gz = gC[o + 2];
      const su = gS[2 * i],
        sv = gS[2 * i + 1];
      const xc = P[o],
        yc = P[o + 1];
      if (su !== 0 || sv !== 0) {
        const w = invD[i],
          fw = f * w;
        const a = su * xc - sv * yc;
        gx += su * fw;
        gy -= sv * fw;
        gz += a * fw * w;
        gf += a * w;
      }
      gtx += gx;
      gty += gy;
      gtz += gz;
      const vx = xc - tr[0],
        vy = yc - tr[1],
        vz = P[o + 2] - tr[2];
      gwx += vy * gz - vz * gy;
      gwy += vz * gx - vx * gz;
      gwz += vx * gy - vy * gx;
      gX[o] = r[0] * gx + r[3] * gy + r[6] * gz;
      gX[o + 1] = r[1] * gx + r[4] * gy + r[7] * gz;
      gX[o + 2] = r[2] * gx + r[5] * gy + r[8] * gz;
    }
    gradient.translation[0] = gtx;
    gradient.translation[1] = gty;
    gradient.translation[2] = gtz;
    gradient.rotation[0] = gwx;
    gradient.rotation[1] = gwy;
    gradient.rotation[2] = gwz;
    gradient.focal = gf;
  }
}

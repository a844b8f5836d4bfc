import {
  GRAD_ALBEDO_B,
  GRAD_ALBEDO_G,
  GRAD_ALBEDO_R,
  GRAD_COLOR_B,
  GRAD_COLOR_G,
  GRAD_COLOR_R,
  GRAD_NX,
  GRAD_NY,
  GRAD_NZ,
  PX_ALBEDO_B,
  PX_ALBEDO_G,
  PX_ALBEDO_R,
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
  type PixelGradient,
  type PixelShading,
} from './interpolate.js';
import { SH_K } from './spherical-harmonics.js';

/**
 * The shade step of the photometric renderer: Lambertian shading of one pixel under second-order SH
 * light (spherical-harmonics.ts states the basis and the coefficient layout sh[3k + c]), colour
 * C_c = ρ_c·E_c(n), E_c(n) = Σ_k Y_k(n)·sh[3k + c], from the pixel's unit normal n and albedo ρ
 * (interpolate.ts), with its backward pass and forward-mode derivative. No allocation.
 */

const K0 = SH_K[0];
const K1 = SH_K[1];
const K2 = SH_K[2];
const K2_6 = K2 / (2 * Math.sqrt(3));
const K2_8 = K2 / 2;
const SQRT3_K2 = Math.sqrt(3) * K2;

/** The SH basis Y1…Y8 at px's normal and the irradiance per channel, into px; the colour is then albedo·irradiance. */
export function shadePixel(px: PixelShading, sh: Float64Array): void {
  const L = sh,
    nx = px[PX_NX],
    ny = px[PX_NY],
    nz = px[PX_NZ];
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

/**
 * Backward of `shadePixel` and the colour ρ·E: from ∂L/∂C in the GRAD_COLOR_* slots of grad adds ∂L/∂sh into
 * `gradSh` (27)
 * and writes ∂L/∂ρ and ∂L/∂n into the GRAD_ALBEDO_* and GRAD_N* slots of grad.
 */
export function shadeBackward(px: PixelShading, grad: PixelGradient, sh: Float64Array, gradSh: Float64Array): void {
  const g0 = grad[GRAD_COLOR_R],
    g1 = grad[GRAD_COLOR_G],
    g2 = grad[GRAD_COLOR_B];
  const L = sh,
    gL = gradSh,
    nx = px[PX_NX],
    ny = px[PX_NY],
    nz = px[PX_NZ];
  const y1 = px[PX_Y1],
    y2 = px[PX_Y2],
    y3 = px[PX_Y3],
    y4 = px[PX_Y4],
    y5 = px[PX_Y5],
    y6 = px[PX_Y6],
    y7 = px[PX_Y7],
    y8 = px[PX_Y8];
  // Albedo: ∂L/∂ρ_c = g_c·E_c.
  grad[GRAD_ALBEDO_R] = g0 * px[PX_IRRADIANCE_R];
  grad[GRAD_ALBEDO_G] = g1 * px[PX_IRRADIANCE_G];
  grad[GRAD_ALBEDO_B] = g2 * px[PX_IRRADIANCE_B];
  // SH: ∂L/∂E_c = g_c·ρ_c, ∂E_c/∂sh[3k + c] = Y_k.
  const h0 = g0 * px[PX_ALBEDO_R],
    h1 = g1 * px[PX_ALBEDO_G],
    h2 = g2 * px[PX_ALBEDO_B];
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
  grad[GRAD_NX] = -K1 * q3 + K2 * (q4 * ny - q7 * nz + q8 * nx);
  grad[GRAD_NY] = -K1 * q1 + K2 * (q4 * nx - q5 * nz - q8 * ny);
  grad[GRAD_NZ] = K1 * q2 + K2 * (-q5 * ny - q7 * nx) + SQRT3_K2 * q6 * nz;
}

/**
 * Forward-mode derivative of the colour ρ·E for a change of the normal and of the albedo (the GRAD_N* and
 * GRAD_ALBEDO_* slots of `tangent`), light held fixed: dC_c = dρ_c·E_c + ρ_c·dE_c, into out[at + c].
 */
export function shadeDerivative(
  px: PixelShading,
  tangent: PixelGradient,
  sh: Float64Array,
  out: Float64Array,
  at: number,
): void {
  const L = sh,
    nx = px[PX_NX],
    ny = px[PX_NY],
    nz = px[PX_NZ],
    dnx = tangent[GRAD_NX],
    dny = tangent[GRAD_NY],
    dnz = tangent[GRAD_NZ];
  const dy1 = -K1 * dny,
    dy2 = K1 * dnz,
    dy3 = -K1 * dnx;
  const dy4 = K2 * (dnx * ny + nx * dny),
    dy5 = -K2 * (dny * nz + ny * dnz),
    dy6 = SQRT3_K2 * nz * dnz;
  const dy7 = -K2 * (dnx * nz + nx * dnz),
    dy8 = K2 * (nx * dnx - ny * dny);
  const dE0 =
    dy1 * L[3] + dy2 * L[6] + dy3 * L[9] + dy4 * L[12] + dy5 * L[15] + dy6 * L[18] + dy7 * L[21] + dy8 * L[24];
  const dE1 =
    dy1 * L[4] + dy2 * L[7] + dy3 * L[10] + dy4 * L[13] + dy5 * L[16] + dy6 * L[19] + dy7 * L[22] + dy8 * L[25];
  const dE2 =
    dy1 * L[5] + dy2 * L[8] + dy3 * L[11] + dy4 * L[14] + dy5 * L[17] + dy6 * L[20] + dy7 * L[23] + dy8 * L[26];
  out[at] = tangent[GRAD_ALBEDO_R] * px[PX_IRRADIANCE_R] + px[PX_ALBEDO_R] * dE0;
  out[at + 1] = tangent[GRAD_ALBEDO_G] * px[PX_IRRADIANCE_G] + px[PX_ALBEDO_G] * dE1;
  out[at + 2] = tangent[GRAD_ALBEDO_B] * px[PX_IRRADIANCE_B] + px[PX_ALBEDO_B] * dE2;
}

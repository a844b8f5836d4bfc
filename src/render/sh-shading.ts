import type { PixelGradient, PixelShading } from './interpolate.js';
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

/** The SH basis Y1…Y8 at px's normal and the irradiance per channel, into px; the colour is then px.albedo·px.irradiance. */
export function shadePixel(px: PixelShading, sh: Float64Array): void {
  const L = sh, nx = px.nx, ny = px.ny, nz = px.nz;
  const y1 = -K1 * ny, y2 = K1 * nz, y3 = -K1 * nx;
  const y4 = K2 * nx * ny, y5 = -K2 * ny * nz, y6 = K2_6 * (3 * nz * nz - 1), y7 = -K2 * nx * nz, y8 = K2_8 * (nx * nx - ny * ny);
  px.y1 = y1; px.y2 = y2; px.y3 = y3; px.y4 = y4; px.y5 = y5; px.y6 = y6; px.y7 = y7; px.y8 = y8;
  px.irradianceR = K0 * L[0] + y1 * L[3] + y2 * L[6] + y3 * L[9] + y4 * L[12] + y5 * L[15] + y6 * L[18] + y7 * L[21] + y8 * L[24];
  px.irradianceG = K0 * L[1] + y1 * L[4] + y2 * L[7] + y3 * L[10] + y4 * L[13] + y5 * L[16] + y6 * L[19] + y7 * L[22] + y8 * L[25];
  px.irradianceB = K0 * L[2] + y1 * L[5] + y2 * L[8] + y3 * L[11] + y4 * L[14] + y5 * L[17] + y6 * L[20] + y7 * L[23] + y8 * L[26];
}

/**
 * Backward of `shadePixel` and the colour ρ·E: from ∂L/∂C (g0, g1, g2) adds ∂L/∂sh into `gradSh` (27)
 * and writes ∂L/∂ρ into grad.albedoR…B and ∂L/∂n into grad.nx…nz.
 */
export function shadeBackward(px: PixelShading, g0: number, g1: number, g2: number, sh: Float64Array, gradSh: Float64Array, grad: PixelGradient): void {
  const L = sh, gL = gradSh, nx = px.nx, ny = px.ny, nz = px.nz;
  const y1 = px.y1, y2 = px.y2, y3 = px.y3, y4 = px.y4, y5 = px.y5, y6 = px.y6, y7 = px.y7, y8 = px.y8;
  // Albedo: ∂L/∂ρ_c = g_c·E_c.
  grad.albedoR = g0 * px.irradianceR; grad.albedoG = g1 * px.irradianceG; grad.albedoB = g2 * px.irradianceB;
  // SH: ∂L/∂E_c = g_c·ρ_c, ∂E_c/∂sh[3k + c] = Y_k.
  const h0 = g0 * px.albedoR, h1 = g1 * px.albedoG, h2 = g2 * px.albedoB;
  gL[0] += K0 * h0; gL[1] += K0 * h1; gL[2] += K0 * h2;
  gL[3] += y1 * h0; gL[4] += y1 * h1; gL[5] += y1 * h2;
  gL[6] += y2 * h0; gL[7] += y2 * h1; gL[8] += y2 * h2;
  gL[9] += y3 * h0; gL[10] += y3 * h1; gL[11] += y3 * h2;
  gL[12] += y4 * h0; gL[13] += y4 * h1; gL[14] += y4 * h2;
  gL[15] += y5 * h0; gL[16] += y5 * h1; gL[17] += y5 * h2;
  gL[18] += y6 * h0; gL[19] += y6 * h1; gL[20] += y6 * h2;
  gL[21] += y7 * h0; gL[22] += y7 * h1; gL[23] += y7 * h2;
  gL[24] += y8 * h0; gL[25] += y8 * h1; gL[26] += y8 * h2;
  // Normal: ∂L/∂Y_k = q_k = Σ_c h_c·sh[3k + c], then ∂L/∂n = Σ_k q_k ∇Y_k.
  const q1 = h0 * L[3] + h1 * L[4] + h2 * L[5];
  const q2 = h0 * L[6] + h1 * L[7] + h2 * L[8];
  const q3 = h0 * L[9] + h1 * L[10] + h2 * L[11];
  const q4 = h0 * L[12] + h1 * L[13] + h2 * L[14];
  const q5 = h0 * L[15] + h1 * L[16] + h2 * L[17];
  const q6 = h0 * L[18] + h1 * L[19] + h2 * L[20];
  const q7 = h0 * L[21] + h1 * L[22] + h2 * L[23];
  const q8 = h0 * L[24] + h1 * L[25] + h2 * L[26];
  grad.nx = -K1 * q3 + K2 * (q4 * ny - q7 * nz + q8 * nx);
  grad.ny = -K1 * q1 + K2 * (q4 * nx - q5 * nz - q8 * ny);
  grad.nz = K1 * q2 + K2 * (-q5 * ny - q7 * nx) + SQRT3_K2 * q6 * nz;
}

/**
 * Forward-mode derivative of the colour ρ·E for a change of the normal (tangent.nx…nz) and of the
 * albedo (tangent.albedoR…B), light held fixed: dC_c = dρ_c·E_c + ρ_c·dE_c, into out[at + c].
 */
export function shadeDerivative(px: PixelShading, tangent: PixelGradient, sh: Float64Array, out: Float64Array, at: number): void {
  const L = sh, nx = px.nx, ny = px.ny, nz = px.nz, dnx = tangent.nx, dny = tangent.ny, dnz = tangent.nz;
  const dy1 = -K1 * dny, dy2 = K1 * dnz, dy3 = -K1 * dnx;
  const dy4 = K2 * (dnx * ny + nx * dny), dy5 = -K2 * (dny * nz + ny * dnz), dy6 = SQRT3_K2 * nz * dnz;
  const dy7 = -K2 * (dnx * nz + nx * dnz), dy8 = K2 * (nx * dnx - ny * dny);
  const dE0 = dy1 * L[3] + dy2 * L[6] + dy3 * L[9] + dy4 * L[12] + dy5 * L[15] + dy6 * L[18] + dy7 * L[21] + dy8 * L[24];
  const dE1 = dy1 * L[4] + dy2 * L[7] + dy3 * L[10] + dy4 * L[13] + dy5 * L[16] + dy6 * L[19] + dy7 * L[22] + dy8 * L[25];
  const dE2 = dy1 * L[5] + dy2 * L[8] + dy3 * L[11] + dy4 * L[14] + dy5 * L[17] + dy6 * L[20] + dy7 * L[23] + dy8 * L[26];
  out[at] = tangent.albedoR * px.irradianceR + px.albedoR * dE0;
  out[at + 1] = tangent.albedoG * px.irradianceG + px.albedoG * dE1;
  out[at + 2] = tangent.albedoB * px.irradianceB + px.albedoB * dE2;
}

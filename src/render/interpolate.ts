/**
 * The interpolate step of the photometric renderer (nvdiffrast's `interpolate`), between the
 * rasteriser (rasterize.ts: triangle id and barycentrics per pixel) and the shading
 * (sh-shading.ts), each with its backward pass:
 * - the barycentric blend of per-vertex unit normals, normalised, and of per-vertex albedo at one pixel
 *   (`interpolatePixel`), and its gradient into the vertex attributes and the barycentrics
 *   (`interpolateBackward`);
 * - the barycentrics of a fixed pixel centre as functions of the triangle's screen corners: their
 *   gradient (`barycentricBackward`) and forward-mode derivative (`barycentricDerivative`).
 * Per-vertex attributes are xyz/RGB triplets (stride 3); screen positions are x, y, depth (stride 3),
 * their gradients x, y (stride 2). One pixel at a time, into named slots: no allocation. The photometric
 * renderer's per-pixel loops fuse these steps (photometric.ts says why); the tests check both.
 */

/**
 * One covered pixel's interpolated and shaded values, PIXEL_SHADING_SIZE numbers at the PX_* slots:
 * `interpolatePixel` fills barycentrics b0…b2 (b0 = 1 − b1 − b2), the unit normal n = m/|m| of the
 * blended vertex normals m = Σ b_i·n_i and 1/|m| (0 where m = 0), and the blended albedo ρ per channel;
 * `shadePixel` (sh-shading.ts) the SH basis values Y1…Y8 at n (Y0 is the constant SH_K[0]) and the
 * irradiance E per channel (the colour is ρ·E). A typed array with named slots rather than an object
 * with fields, and no doubles as arguments, so that a step called per pixel (too large for V8 to
 * inline) boxes no numbers.
 */
export type PixelShading = Float64Array;
export const PX_B0 = 0,
  PX_B1 = 1,
  PX_B2 = 2,
  PX_NX = 3,
  PX_NY = 4,
  PX_NZ = 5,
  PX_INV_LENGTH = 6;
export const PX_ALBEDO_R = 7,
  PX_ALBEDO_G = 8,
  PX_ALBEDO_B = 9;
export const PX_Y1 = 10,
  PX_Y2 = 11,
  PX_Y3 = 12,
  PX_Y4 = 13,
  PX_Y5 = 14,
  PX_Y6 = 15,
  PX_Y7 = 16,
  PX_Y8 = 17;
export const PX_IRRADIANCE_R = 18,
  PX_IRRADIANCE_G = 19,
  PX_IRRADIANCE_B = 20;
/**
 * 1/(twice the signed area) of the pixel's screen triangle, for `barycentricDerivative` (set by the caller,
 * `inverseScreenArea`).
 */
export const PX_INV_AREA = 21,
  PIXEL_SHADING_SIZE = 22;

/**
 * Gradients of the loss w.r.t. one pixel's values (in forward mode, their changes), PIXEL_GRADIENT_SIZE
 * numbers at the GRAD_* slots: ∂L/∂n (unit pixel normal), ∂L/∂ρ per channel, ∂L/∂b_i, and ∂L/∂C per
 * channel (the input of `shadeBackward`).
 */
export type PixelGradient = Float64Array;
export const GRAD_NX = 0,
  GRAD_NY = 1,
  GRAD_NZ = 2,
  GRAD_ALBEDO_R = 3,
  GRAD_ALBEDO_G = 4,
  GRAD_ALBEDO_B = 5;
export const GRAD_B0 = 6,
  GRAD_B1 = 7,
  GRAD_B2 = 8,
  GRAD_COLOR_R = 9,
  GRAD_COLOR_G = 10,
  GRAD_COLOR_B = 11,
  PIXEL_GRADIENT_SIZE = 12;

/**
 * Interpolates at pixel p's barycentrics (1 − b1 − b2, b1, b2) = `barycentrics`[2p], [2p + 1] (rasterize.ts)
 * of the corners at attribute offsets o0, o1, o2 (3·vertex): the unit normal of the blended `normals` and the
 * blended `albedo`, into `out`.
 */
export function interpolatePixel(
  barycentrics: Float64Array,
  p: number,
  o0: number,
  o1: number,
  o2: number,
  normals: Float64Array,
  albedo: Float64Array,
  out: PixelShading,
): void {
  const b1 = barycentrics[2 * p],
    b2 = barycentrics[2 * p + 1],
    b0 = 1 - b1 - b2,
    N = normals,
    A = albedo;
  const mx = b0 * N[o0] + b1 * N[o1] + b2 * N[o2];
  const my = b0 * N[o0 + 1] + b1 * N[o1 + 1] + b2 * N[o2 + 1];
  const mz = b0 * N[o0 + 2] + b1 * N[o1 + 2] + b2 * N[o2 + 2];
  const len = Math.sqrt(mx * mx + my * my + mz * mz);
  const invLength = len > 0 ? 1 / len : 0;
  out[PX_B0] = b0;
  out[PX_B1] = b1;
  out[PX_B2] = b2;
  out[PX_NX] = mx * invLength;
  out[PX_NY] = my * invLength;
  out[PX_NZ] = mz * invLength;
  out[PX_INV_LENGTH] = invLength;
  out[PX_ALBEDO_R] = b0 * A[o0] + b1 * A[o1] + b2 * A[o2];
  out[PX_ALBEDO_G] = b0 * A[o0 + 1] + b1 * A[o1 + 1] + b2 * A[o2 + 1];
  out[PX_ALBEDO_B] = b0 * A[o0 + 2] + b1 * A[o1 + 2] + b2 * A[o2 + 2];
}

/**
 * Backward of `interpolatePixel`: from ∂L/∂n and ∂L/∂ρ in `grad`, adds ∂L/∂(vertex normal) into
 * `gradNormals` and, if given, ∂L/∂(vertex albedo) into `gradAlbedo`, and writes ∂L/∂b_i into its GRAD_B* slots.
 */
export function interpolateBackward(
  px: PixelShading,
  o0: number,
  o1: number,
  o2: number,
  normals: Float64Array,
  albedo: Float64Array,
  grad: PixelGradient,
  gradNormals: Float64Array,
  gradAlbedo: Float64Array | null,
): void {
  const b0 = px[PX_B0],
    b1 = px[PX_B1],
    b2 = px[PX_B2],
    nx = px[PX_NX],
    ny = px[PX_NY],
    nz = px[PX_NZ],
    invLength = px[PX_INV_LENGTH];
  const N = normals,
    A = albedo,
    gN = gradNormals;
  const ga0 = grad[GRAD_ALBEDO_R],
    ga1 = grad[GRAD_ALBEDO_G],
    ga2 = grad[GRAD_ALBEDO_B];
  if (gradAlbedo) {
    const gA = gradAlbedo;
    gA[o0] += b0 * ga0;
    gA[o0 + 1] += b0 * ga1;
    gA[o0 + 2] += b0 * ga2;
    gA[o1] += b1 * ga0;
    gA[o1 + 1] += b1 * ga1;
    gA[o1 + 2] += b1 * ga2;
    gA[o2] += b2 * ga0;
    gA[o2 + 1] += b2 * ga1;
    gA[o2 + 2] += b2 * ga2;
  }
  // Through n = m/|m|: ∂L/∂m = (g − n(n·g))/|m|.
  const gnx = grad[GRAD_NX],
    gny = grad[GRAD_NY],
    gnz = grad[GRAD_NZ];
  const dot = nx * gnx + ny * gny + nz * gnz;
  const gmx = (gnx - nx * dot) * invLength,
    gmy = (gny - ny * dot) * invLength,
    gmz = (gnz - nz * dot) * invLength;
  gN[o0] += b0 * gmx;
  gN[o0 + 1] += b0 * gmy;
  gN[o0 + 2] += b0 * gmz;
  gN[o1] += b1 * gmx;
  gN[o1 + 1] += b1 * gmy;
  gN[o1 + 2] += b1 * gmz;
  gN[o2] += b2 * gmx;
  gN[o2 + 1] += b2 * gmy;
  gN[o2 + 2] += b2 * gmz;
  // ∂L/∂b_i = Σ_c (∂L/∂ρ_c)·albedo_ic + ∂L/∂m · n_i.
  grad[GRAD_B0] = ga0 * A[o0] + ga1 * A[o0 + 1] + ga2 * A[o0 + 2] + gmx * N[o0] + gmy * N[o0 + 1] + gmz * N[o0 + 2];
  grad[GRAD_B1] = ga0 * A[o1] + ga1 * A[o1 + 1] + ga2 * A[o1 + 2] + gmx * N[o1] + gmy * N[o1 + 1] + gmz * N[o1 + 2];
  grad[GRAD_B2] = ga0 * A[o2] + ga1 * A[o2 + 1] + ga2 * A[o2 + 2] + gmx * N[o2] + gmy * N[o2 + 1] + gmz * N[o2 + 2];
}

/**
 * 1 / (twice the signed screen area) of the triangle with corners i0, i1, i2 (vertex indices into `screen`,
 * stride 3).
 */
export function inverseScreenArea(screen: Float64Array, i0: number, i1: number, i2: number): number {
  const S = screen,
    ax = S[3 * i0],
    ay = S[3 * i0 + 1];
  return 1 / ((S[3 * i1] - ax) * (S[3 * i2 + 1] - ay) - (S[3 * i1 + 1] - ay) * (S[3 * i2] - ax));
}

/**
 * Backward of the barycentrics of a fixed pixel centre w.r.t. the screen corners: ∂b_j/∂s_i = −b_i·∇b_j,
 * ∇b1 = (e2y, −e2x)/area, ∇b2 = (−e1y, e1x)/area, ∇b0 = −∇b1 − ∇b2 (e1, e2 the edges from corner 0).
 * From ∂L/∂b in grad's GRAD_B* slots, adds ∂L/∂s into `gradScreen` (stride 2).
 */
export function barycentricBackward(
  px: PixelShading,
  grad: PixelGradient,
  screen: Float64Array,
  i0: number,
  i1: number,
  i2: number,
  gradScreen: Float64Array,
): void {
  const S = screen,
    gS = gradScreen,
    b0 = px[PX_B0],
    b1 = px[PX_B1],
    b2 = px[PX_B2];
  const ax = S[3 * i0],
    ay = S[3 * i0 + 1];
  const e1x = S[3 * i1] - ax,
    e1y = S[3 * i1 + 1] - ay,
    e2x = S[3 * i2] - ax,
    e2y = S[3 * i2 + 1] - ay;
  const invArea = 1 / (e1x * e2y - e1y * e2x);
  const gb0 = grad[GRAD_B0],
    u1 = (grad[GRAD_B1] - gb0) * invArea,
    u2 = (grad[GRAD_B2] - gb0) * invArea;
  const hx = u1 * e2y - u2 * e1y,
    hy = u2 * e1x - u1 * e2x;
  gS[2 * i0] -= b0 * hx;
  gS[2 * i0 + 1] -= b0 * hy;
  gS[2 * i1] -= b1 * hx;
  gS[2 * i1 + 1] -= b1 * hy;
  gS[2 * i2] -= b2 * hx;
  gS[2 * i2 + 1] -= b2 * hy;
}

/**
 * Forward-mode derivative of the barycentrics for screen-corner changes `dScreen` (stride 2):
 * db_j = −∇b_j · Σ_i b_i·ds_i, into out's GRAD_B* slots (1/area from px's PX_INV_AREA slot).
 */
export function barycentricDerivative(
  px: PixelShading,
  screen: Float64Array,
  i0: number,
  i1: number,
  i2: number,
  dScreen: Float64Array,
  out: PixelGradient,
): void {
  const S = screen,
    dS = dScreen,
    b0 = px[PX_B0],
    b1 = px[PX_B1],
    b2 = px[PX_B2],
    invArea = px[PX_INV_AREA];
  const ax = S[3 * i0],
    ay = S[3 * i0 + 1];
  const e1x = S[3 * i1] - ax,
    e1y = S[3 * i1 + 1] - ay,
    e2x = S[3 * i2] - ax,
    e2y = S[3 * i2 + 1] - ay;
  const sx = b0 * dS[2 * i0] + b1 * dS[2 * i1] + b2 * dS[2 * i2];
  const sy = b0 * dS[2 * i0 + 1] + b1 * dS[2 * i1 + 1] + b2 * dS[2 * i2 + 1];
  const db1 = -(e2y * sx - e2x * sy) * invArea,
    db2 = -(e1x * sy - e1y * sx) * invArea;
  out[GRAD_B0] = -db1 - db2;
  out[GRAD_B1] = db1;
  out[GRAD_B2] = db2;
}

/**
 * Forward-mode derivative of `interpolatePixel`: for barycentric changes in tangent's GRAD_B* slots and
 * vertex-normal changes `dNormals` (albedo held fixed), writes the change of the unit pixel normal into
 * its GRAD_N* slots and of the blended albedo into its GRAD_ALBEDO_* slots.
 */
export function interpolateDerivative(
  px: PixelShading,
  o0: number,
  o1: number,
  o2: number,
  normals: Float64Array,
  albedo: Float64Array,
  dNormals: Float64Array,
  tangent: PixelGradient,
): void {
  const N = normals,
    A = albedo,
    dN = dNormals,
    b0 = px[PX_B0],
    b1 = px[PX_B1],
    b2 = px[PX_B2],
    nx = px[PX_NX],
    ny = px[PX_NY],
    nz = px[PX_NZ],
    invLength = px[PX_INV_LENGTH];
  const db0 = tangent[GRAD_B0],
    db1 = tangent[GRAD_B1],
    db2 = tangent[GRAD_B2];
  // Pixel normal n = m/|m|, m = Σ b_j·n_j.
  const mx = db0 * N[o0] + db1 * N[o1] + db2 * N[o2] + b0 * dN[o0] + b1 * dN[o1] + b2 * dN[o2];
  const my = db0 * N[o0 + 1] + db1 * N[o1 + 1] + db2 * N[o2 + 1] + b0 * dN[o0 + 1] + b1 * dN[o1 + 1] + b2 * dN[o2 + 1];
  const mz = db0 * N[o0 + 2] + db1 * N[o1 + 2] + db2 * N[o2 + 2] + b0 * dN[o0 + 2] + b1 * dN[o1 + 2] + b2 * dN[o2 + 2];
  const dot = nx * mx + ny * my + nz * mz;
  tangent[GRAD_NX] = (mx - nx * dot) * invLength;
  tangent[GRAD_NY] = (my - ny * dot) * invLength;
  tangent[GRAD_NZ] = (mz - nz * dot) * invLength;
  tangent[GRAD_ALBEDO_R] = db0 * A[o0] + db1 * A[o1] + db2 * A[o2];
  tangent[GRAD_ALBEDO_G] = db0 * A[o0 + 1] + db1 * A[o1 + 1] + db2 * A[o2 + 1];
  tangent[GRAD_ALBEDO_B] = db0 * A[o0 + 2] + db1 * A[o1 + 2] + db2 * A[o2 + 2];
}

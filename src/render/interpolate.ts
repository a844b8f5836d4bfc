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
 * their gradients x, y (stride 2). One pixel at a time, into named fields: no allocation.
 */

/** One covered pixel's interpolated and shaded values; `interpolatePixel` fills the first part, `shadePixel` (sh-shading.ts) the rest. */
export class PixelShading {
  /** Barycentrics of the triangle's corners (b0 = 1 − b1 − b2). */
  b0 = 0; b1 = 0; b2 = 0;
  /** Unit normal n = m/|m| of the blended vertex normals m = Σ b_i·n_i, and 1/|m| (0 where m = 0). */
  nx = 0; ny = 0; nz = 0; invLength = 0;
  /** Blended albedo ρ per channel. */
  albedoR = 0; albedoG = 0; albedoB = 0;
  /** SH basis values Y1…Y8 at n (Y0 is the constant SH_K[0]). */
  y1 = 0; y2 = 0; y3 = 0; y4 = 0; y5 = 0; y6 = 0; y7 = 0; y8 = 0;
  /** Irradiance E per channel; the colour is ρ·E. */
  irradianceR = 0; irradianceG = 0; irradianceB = 0;
}

/** Gradients w.r.t. one pixel's values, written by the backward passes. */
export class PixelGradient {
  /** ∂L/∂n (unit pixel normal). */
  nx = 0; ny = 0; nz = 0;
  /** ∂L/∂ρ per channel. */
  albedoR = 0; albedoG = 0; albedoB = 0;
  /** ∂L/∂b_i. */
  b0 = 0; b1 = 0; b2 = 0;
}

/**
 * Interpolates at barycentrics (1 − b1 − b2, b1, b2) of the corners at attribute offsets o0, o1, o2
 * (3·vertex): the unit normal of the blended `normals` and the blended `albedo`, into `out`.
 */
export function interpolatePixel(b1: number, b2: number, o0: number, o1: number, o2: number, normals: Float64Array, albedo: Float64Array, out: PixelShading): void {
  const b0 = 1 - b1 - b2, N = normals, A = albedo;
  const mx = b0 * N[o0] + b1 * N[o1] + b2 * N[o2];
  const my = b0 * N[o0 + 1] + b1 * N[o1 + 1] + b2 * N[o2 + 1];
  const mz = b0 * N[o0 + 2] + b1 * N[o1 + 2] + b2 * N[o2 + 2];
  const len = Math.sqrt(mx * mx + my * my + mz * mz);
  const invLength = len > 0 ? 1 / len : 0;
  out.b0 = b0; out.b1 = b1; out.b2 = b2;
  out.nx = mx * invLength; out.ny = my * invLength; out.nz = mz * invLength; out.invLength = invLength;
  out.albedoR = b0 * A[o0] + b1 * A[o1] + b2 * A[o2];
  out.albedoG = b0 * A[o0 + 1] + b1 * A[o1 + 1] + b2 * A[o2 + 1];
  out.albedoB = b0 * A[o0 + 2] + b1 * A[o1 + 2] + b2 * A[o2 + 2];
}

/**
 * Backward of `interpolatePixel`: from ∂L/∂n and ∂L/∂ρ in `grad`, adds ∂L/∂(vertex normal) into
 * `gradNormals` and, if given, ∂L/∂(vertex albedo) into `gradAlbedo`, and writes ∂L/∂b_i into grad.b0…b2.
 */
export function interpolateBackward(px: PixelShading, o0: number, o1: number, o2: number, normals: Float64Array, albedo: Float64Array, grad: PixelGradient, gradNormals: Float64Array, gradAlbedo: Float64Array | null): void {
  const b0 = px.b0, b1 = px.b1, b2 = px.b2, nx = px.nx, ny = px.ny, nz = px.nz, invLength = px.invLength;
  const N = normals, A = albedo, gN = gradNormals;
  const ga0 = grad.albedoR, ga1 = grad.albedoG, ga2 = grad.albedoB;
  if (gradAlbedo) {
    const gA = gradAlbedo;
    gA[o0] += b0 * ga0; gA[o0 + 1] += b0 * ga1; gA[o0 + 2] += b0 * ga2;
    gA[o1] += b1 * ga0; gA[o1 + 1] += b1 * ga1; gA[o1 + 2] += b1 * ga2;
    gA[o2] += b2 * ga0; gA[o2 + 1] += b2 * ga1; gA[o2 + 2] += b2 * ga2;
  }
  // Through n = m/|m|: ∂L/∂m = (g − n(n·g))/|m|.
  const gnx = grad.nx, gny = grad.ny, gnz = grad.nz;
  const dot = nx * gnx + ny * gny + nz * gnz;
  const gmx = (gnx - nx * dot) * invLength, gmy = (gny - ny * dot) * invLength, gmz = (gnz - nz * dot) * invLength;
  gN[o0] += b0 * gmx; gN[o0 + 1] += b0 * gmy; gN[o0 + 2] += b0 * gmz;
  gN[o1] += b1 * gmx; gN[o1 + 1] += b1 * gmy; gN[o1 + 2] += b1 * gmz;
  gN[o2] += b2 * gmx; gN[o2 + 1] += b2 * gmy; gN[o2 + 2] += b2 * gmz;
  // ∂L/∂b_i = Σ_c (∂L/∂ρ_c)·albedo_ic + ∂L/∂m · n_i.
  grad.b0 = ga0 * A[o0] + ga1 * A[o0 + 1] + ga2 * A[o0 + 2] + gmx * N[o0] + gmy * N[o0 + 1] + gmz * N[o0 + 2];
  grad.b1 = ga0 * A[o1] + ga1 * A[o1 + 1] + ga2 * A[o1 + 2] + gmx * N[o1] + gmy * N[o1 + 1] + gmz * N[o1 + 2];
  grad.b2 = ga0 * A[o2] + ga1 * A[o2 + 1] + ga2 * A[o2 + 2] + gmx * N[o2] + gmy * N[o2 + 1] + gmz * N[o2 + 2];
}

/** 1 / (twice the signed screen area) of the triangle with corners i0, i1, i2 (vertex indices into `screen`, stride 3). */
export function inverseScreenArea(screen: Float64Array, i0: number, i1: number, i2: number): number {
  const S = screen, ax = S[3 * i0], ay = S[3 * i0 + 1];
  return 1 / ((S[3 * i1] - ax) * (S[3 * i2 + 1] - ay) - (S[3 * i1 + 1] - ay) * (S[3 * i2] - ax));
}

/**
 * Backward of the barycentrics of a fixed pixel centre w.r.t. the screen corners: ∂b_j/∂s_i = −b_i·∇b_j,
 * ∇b1 = (e2y, −e2x)/area, ∇b2 = (−e1y, e1x)/area, ∇b0 = −∇b1 − ∇b2 (e1, e2 the edges from corner 0).
 * From ∂L/∂b in grad.b0…b2, adds ∂L/∂s into `gradScreen` (stride 2).
 */
export function barycentricBackward(px: PixelShading, grad: PixelGradient, screen: Float64Array, i0: number, i1: number, i2: number, gradScreen: Float64Array): void {
  const S = screen, gS = gradScreen, b0 = px.b0, b1 = px.b1, b2 = px.b2;
  const ax = S[3 * i0], ay = S[3 * i0 + 1];
  const e1x = S[3 * i1] - ax, e1y = S[3 * i1 + 1] - ay, e2x = S[3 * i2] - ax, e2y = S[3 * i2 + 1] - ay;
  const invArea = 1 / (e1x * e2y - e1y * e2x);
  const gb0 = grad.b0, u1 = (grad.b1 - gb0) * invArea, u2 = (grad.b2 - gb0) * invArea;
  const hx = u1 * e2y - u2 * e1y, hy = u2 * e1x - u1 * e2x;
  gS[2 * i0] -= b0 * hx; gS[2 * i0 + 1] -= b0 * hy;
  gS[2 * i1] -= b1 * hx; gS[2 * i1 + 1] -= b1 * hy;
  gS[2 * i2] -= b2 * hx; gS[2 * i2 + 1] -= b2 * hy;
}

/**
 * Forward-mode derivative of the barycentrics for screen-corner changes `dScreen` (stride 2):
 * db_j = −∇b_j · Σ_i b_i·ds_i, into out.b0…b2 (`invArea` from `inverseScreenArea`).
 */
export function barycentricDerivative(px: PixelShading, screen: Float64Array, i0: number, i1: number, i2: number, invArea: number, dScreen: Float64Array, out: PixelGradient): void {
  const S = screen, dS = dScreen, b0 = px.b0, b1 = px.b1, b2 = px.b2;
  const ax = S[3 * i0], ay = S[3 * i0 + 1];
  const e1x = S[3 * i1] - ax, e1y = S[3 * i1 + 1] - ay, e2x = S[3 * i2] - ax, e2y = S[3 * i2 + 1] - ay;
  const sx = b0 * dS[2 * i0] + b1 * dS[2 * i1] + b2 * dS[2 * i2];
  const sy = b0 * dS[2 * i0 + 1] + b1 * dS[2 * i1 + 1] + b2 * dS[2 * i2 + 1];
  const db1 = -(e2y * sx - e2x * sy) * invArea, db2 = -(e1x * sy - e1y * sx) * invArea;
  out.b0 = -db1 - db2; out.b1 = db1; out.b2 = db2;
}

/**
 * Forward-mode derivative of `interpolatePixel`: for barycentric changes in `tangent.b0…b2` and
 * vertex-normal changes `dNormals` (albedo held fixed), writes the change of the unit pixel normal into
 * tangent.nx…nz and of the blended albedo into tangent.albedoR…B.
 */
export function interpolateDerivative(px: PixelShading, o0: number, o1: number, o2: number, normals: Float64Array, albedo: Float64Array, dNormals: Float64Array, tangent: PixelGradient): void {
  const N = normals, A = albedo, dN = dNormals, b0 = px.b0, b1 = px.b1, b2 = px.b2, nx = px.nx, ny = px.ny, nz = px.nz, invLength = px.invLength;
  const db0 = tangent.b0, db1 = tangent.b1, db2 = tangent.b2;
  // Pixel normal n = m/|m|, m = Σ b_j·n_j.
  const mx = db0 * N[o0] + db1 * N[o1] + db2 * N[o2] + b0 * dN[o0] + b1 * dN[o1] + b2 * dN[o2];
  const my = db0 * N[o0 + 1] + db1 * N[o1 + 1] + db2 * N[o2 + 1] + b0 * dN[o0 + 1] + b1 * dN[o1 + 1] + b2 * dN[o2 + 1];
  const mz = db0 * N[o0 + 2] + db1 * N[o1 + 2] + db2 * N[o2 + 2] + b0 * dN[o0 + 2] + b1 * dN[o1 + 2] + b2 * dN[o2 + 2];
  const dot = nx * mx + ny * my + nz * mz;
  tangent.nx = (mx - nx * dot) * invLength; tangent.ny = (my - ny * dot) * invLength; tangent.nz = (mz - nz * dot) * invLength;
  tangent.albedoR = db0 * A[o0] + db1 * A[o1] + db2 * A[o2];
  tangent.albedoG = db0 * A[o0 + 1] + db1 * A[o1 + 1] + db2 * A[o2 + 1];
  tangent.albedoB = db0 * A[o0 + 2] + db1 * A[o1 + 2] + db2 * A[o2 + 2];
}

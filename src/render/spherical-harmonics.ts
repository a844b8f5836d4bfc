/**
 * Second-order spherical-harmonic (SH) lighting of a Lambertian surface, as in Deep3DFaceRecon
 * (Deng et al. 2019) after Ramamoorthi & Hanrahan (2001): the irradiance at a surface with unit
 * normal n is, per colour channel c,
 *
 *   E_c(n) = Σ_{k=0..8} Y_k(n) · sh[3k + c],
 *
 * and the shaded colour is albedo_c · E_c(n). No clamping, so everything stays differentiable.
 *
 * Normal convention: n is a unit vector in camera space (camera.ts: +x right, +y up, +z towards the
 * viewer, the camera looking down −z), so n = (0, 0, 1) faces the camera.
 *
 * Coefficient layout: 27 numbers, coefficient-major with the channels interleaved, sh[3k + c]
 * (k = 0..8 the basis function, c = 0, 1, 2 for R, G, B), like the interleaved RGB of per-vertex colours.
 * Deep3DFaceRecon's `gamma` (reshaped to 3 × 9, channel-major) maps as sh[3k + c] = gamma[9c + k]
 * (add its initial lighting 0.8 to k = 0 first).
 *
 * The basis has the Lambertian convolution folded in, with Deep3DFaceRecon's constants
 *   a = [π, 2π/√3, 2π/√8]                       (per band l = 0, 1, 2)
 *   c = [1/√(4π), √3/√(4π), 3√5/√(12π)]          (the real-SH normalisation, c₂ = √(15/(4π)))
 * giving K_l = a_l·c_l: K₀ = √π/2 ≈ 0.886227, K₁ = √π ≈ 1.772454, K₂ = √(15π/8) ≈ 2.427032
 * (SH_K below holds the exact values):
 *   Y0 = K₀
 *   Y1 = −K₁·y         Y2 = K₁·z          Y3 = −K₁·x
 *   Y4 = K₂·x·y        Y5 = −K₂·y·z       Y6 = K₂/(2√3)·(3z² − 1)
 *   Y7 = −K₂·x·z       Y8 = K₂/2·(x² − y²)
 * (the signs are those of the real SH with the Condon–Shortley phase). Note that a₁, a₂ are not
 * Ramamoorthi & Hanrahan's Â₁ = 2π/3, Â₂ = π/4: coefficients are only interchangeable with
 * Deep3DFaceRecon-style fits; `shDirectionalLight` converts a light to this basis exactly.
 *
 * Derivatives are of these polynomials in (x, y, z) (not restricted to the sphere); a caller that
 * normalises the normal chains through the normalisation, which removes the radial part.
 */

/** Lambertian-convolution constants a_l of Deep3DFaceRecon, per band. */
export const SH_A: readonly number[] = [Math.PI, (2 * Math.PI) / Math.sqrt(3), (2 * Math.PI) / Math.sqrt(8)];
/** Real-SH normalisation constants c_l, per band. */
export const SH_C: readonly number[] = [
  1 / Math.sqrt(4 * Math.PI),
  Math.sqrt(3) / Math.sqrt(4 * Math.PI),
  (3 * Math.sqrt(5)) / Math.sqrt(12 * Math.PI),
];
/** K_l = a_l · c_l, the folded constants. Y0 = SH_K[0]: a constant-only light l₀ gives irradiance SH_K[0]·l₀. */
export const SH_K: readonly number[] = [SH_A[0] * SH_C[0], SH_A[1] * SH_C[1], SH_A[2] * SH_C[2]];

const K0 = SH_A[0] * SH_C[0];
const K1 = SH_A[1] * SH_C[1];
const K2 = SH_A[2] * SH_C[2];
const K2_6 = K2 / (2 * Math.sqrt(3));
const K2_8 = K2 / 2;
const SQRT3_K2 = Math.sqrt(3) * K2;

/** Rec. 709 luminance weights of linear RGB. */
const LUMA = [0.2126, 0.7152, 0.0722];

/** The 9 basis values Y_k(n) into out[offset + k]. */
export function shBasis(nx: number, ny: number, nz: number, out: Float64Array | Float32Array, offset = 0): void {
  out[offset] = K0;
  out[offset + 1] = -K1 * ny;
  out[offset + 2] = K1 * nz;
  out[offset + 3] = -K1 * nx;
  out[offset + 4] = K2 * nx * ny;
  out[offset + 5] = -K2 * ny * nz;
  out[offset + 6] = K2_6 * (3 * nz * nz - 1);
  out[offset + 7] = -K2 * nx * nz;
  out[offset + 8] = K2_8 * (nx * nx - ny * ny);
}

/**
 * Jacobian of the 9 basis values w.r.t. the normal: out[3k + j] = ∂Y_k/∂n_j (27 numbers, j = x, y, z).
 */
export function shBasisGradient(nx: number, ny: number, nz: number, out: Float64Array | Float32Array): void {
  out.fill(0, 0, 27);
  // Y1..Y3
  out[3 * 1 + 1] = -K1;
  out[3 * 2 + 2] = K1;
  out[3 * 3 + 0] = -K1;
  // Y4 = K2 x y
  out[3 * 4 + 0] = K2 * ny;
  out[3 * 4 + 1] = K2 * nx;
  // Y5 = −K2 y z
  out[3 * 5 + 1] = -K2 * nz;
  out[3 * 5 + 2] = -K2 * ny;
  // Y6 = K2/(2√3)(3z² − 1)
  out[3 * 6 + 2] = SQRT3_K2 * nz;
  // Y7 = −K2 x z
  out[3 * 7 + 0] = -K2 * nz;
  out[3 * 7 + 2] = -K2 * nx;
  // Y8 = K2/2 (x² − y²)
  out[3 * 8 + 0] = K2 * nx;
  out[3 * 8 + 1] = -K2 * ny;
}

/** Irradiance per channel, E_c(n) = Σ_k Y_k(n)·sh[3k + c], into out[0..2]. */
export function shIrradiance(
  nx: number,
  ny: number,
  nz: number,
  sh: ArrayLike<number>,
  out: Float64Array | Float32Array,
): void {
  const y1 = -K1 * ny,
    y2 = K1 * nz,
    y3 = -K1 * nx;
  const y4 = K2 * nx * ny,
    y5 = -K2 * ny * nz,
    y6 = K2_6 * (3 * nz * nz - 1),
    y7 = -K2 * nx * nz,
    y8 = K2_8 * (nx * nx - ny * ny);
  for (let c = 0; c < 3; c++) {
    out[c] =
      K0 * sh[c]
      + y1 * sh[3 + c]
      + y2 * sh[6 + c]
      + y3 * sh[9 + c]
      + y4 * sh[12 + c]
      + y5 * sh[15 + c]
      + y6 * sh[18 + c]
      + y7 * sh[21 + c]
      + y8 * sh[24 + c];
  }
}

/**
 * The dominant light direction (unit, camera space, pointing from the surface towards the light)
 * from the band-1 coefficients, weighted across channels by Rec. 709 luminance: the linear part
 * of the irradiance is K₁·(−l₃·x − l₁·y + l₂·z), largest for n ∝ (−l₃, −l₁, l₂).
 * Writes zeros if band 1 is zero. Exact for `shDirectionalLight` and for SH fitted to normals all
 * around; for SH fitted to a face (front hemisphere only) see `shPeakDirection`.
 */
export function shLightDirection(sh: ArrayLike<number>, out = new Float64Array(3)): Float64Array {
  let l1 = 0,
    l2 = 0,
    l3 = 0;
  for (let c = 0; c < 3; c++) {
    l1 += LUMA[c] * sh[3 + c];
    l2 += LUMA[c] * sh[6 + c];
    l3 += LUMA[c] * sh[9 + c];
  }
  const x = -l3,
    y = -l1,
    z = l2;
  const len = Math.hypot(x, y, z);
  if (len > 0) {
    out[0] = x / len;
    out[1] = y / len;
    out[2] = z / len;
  } else out.fill(0);
  return out;
}

/**
 * SH coefficients (27, layout above) of a distant light of radiance-weighted colour `color` from
 * the unit direction `direction` (camera space, towards the light) plus a uniform ambient irradiance:
 * E_c(n) ≈ color_c·max(0, n·d) + ambient_c, the clamped cosine taken to second order
 * (Ramamoorthi & Hanrahan's Â_l = π, 2π/3, π/4), expressed in this basis: coefficient
 * k = Â_l/a_l²·Y_k(d)·color_c, plus ambient_c/K₀ on k = 0. Useful for synthetic scenes and tests.
 */
export function shDirectionalLight(
  direction: ArrayLike<number>,
  color: ArrayLike<number>,
  ambient: ArrayLike<number> = [0, 0, 0],
  out = new Float64Array(27),
): Float64Array {
  const len = Math.hypot(direction[0], direction[1], direction[2]);
  const dx = direction[0] / len,
    dy = direction[1] / len,
    dz = direction[2] / len;
  const basis = new Float64Array(9);
  shBasis(dx, dy, dz, basis);
  // SH of the clamped cosine max(0, n·d) = Σ_l Â_l Σ_m Y_lm(d)·Y_lm(n), with Y_k = a_l·Y_lm here.
  const kernel = [Math.PI, (2 * Math.PI) / 3, Math.PI / 4];
  for (let k = 0; k < 9; k++) {
    const l = k === 0 ? 0 : k < 4 ? 1 : 2;
    const scale = kernel[l] / (SH_A[l] * SH_A[l]);
    for (let c = 0; c < 3; c++) out[3 * k + c] = scale * basis[k] * color[c];
  }
  for (let c = 0; c < 3; c++) out[c] += ambient[c] / K0;
  return out;
}

/**
 * The direction of largest luminance irradiance (Rec. 709 weights), searched over the hemisphere
 * facing the camera (n_z ≥ 0) or the whole sphere: a Fibonacci grid of `samples` directions, then
 * projected gradient ascent. Unlike `shLightDirection` it uses bands 0–2 together, so it stays
 * close to the light when the SH were fitted to a face, which shows only normals with n_z > 0:
 * there band 1 trades off against bands 0 and 2 (z, 1 and 3z² − 1 are nearly collinear), and the
 * band-1 direction of an unregularised least-squares fit was off by 30–47° for lights 35–45° off
 * the view axis in the tests, while this peak stayed within 3.3°.
 */
export function shPeakDirection(
  sh: ArrayLike<number>,
  hemisphere = true,
  out = new Float64Array(3),
  samples = 1024,
): Float64Array {
  // Luminance SH: one channel.
  const l = new Float64Array(9);
  for (let k = 0; k < 9; k++) l[k] = LUMA[0] * sh[3 * k] + LUMA[1] * sh[3 * k + 1] + LUMA[2] * sh[3 * k + 2];
  const value = (x: number, y: number, z: number): number =>
    K0 * l[0]
    - K1 * y * l[1]
    + K1 * z * l[2]
    - K1 * x * l[3]
    + K2 * x * y * l[4]
    - K2 * y * z * l[5]
    + K2_6 * (3 * z * z - 1) * l[6]
    - K2 * x * z * l[7]
    + K2_8 * (x * x - y * y) * l[8];
  let best = -Infinity,
    bx = 0,
    by = 0,
    bz = 1;
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < samples; i++) {
    // z uniform in (0, 1] (hemisphere) or (−1, 1].
    const z = hemisphere ? 1 - (i + 0.5) / samples : 1 - (2 * (i + 0.5)) / samples;
    const r = Math.sqrt(Math.max(0, 1 - z * z)),
      phi = i * golden;
    const x = r * Math.cos(phi),
      y = r * Math.sin(phi);
    const v = value(x, y, z);
    if (v > best) {
      best = v;
      bx = x;
      by = y;
      bz = z;
    }
  }
  let step = 0.05;
  for (let iter = 0; iter < 100 && step > 1e-7; iter++) {
    const gx = -K1 * l[3] + K2 * (by * l[4] - bz * l[7] + bx * l[8]);
    const gy = -K1 * l[1] + K2 * (bx * l[4] - bz * l[5] - by * l[8]);
    const gz = K1 * l[2] + K2 * (-by * l[5] - bx * l[7]) + SQRT3_K2 * bz * l[6];
    const dot = gx * bx + gy * by + gz * bz;
    const tx = gx - dot * bx,
      ty = gy - dot * by,
      tz = gz - dot * bz;
    const tl = Math.sqrt(tx * tx + ty * ty + tz * tz);
    if (tl === 0) break;
    let x = bx + (step * tx) / tl,
      y = by + (step * ty) / tl,
      z = bz + (step * tz) / tl;
    if (hemisphere && z < 0) z = 0;
    const nl = Math.sqrt(x * x + y * y + z * z);
    x /= nl;
    y /= nl;
    z /= nl;
    const v = value(x, y, z);
    if (v > best) {
      best = v;
      bx = x;
      by = y;
      bz = z;
      step *= 1.5;
    } else step *= 0.5;
  }
  out[0] = bx;
  out[1] = by;
  out[2] = bz;
  return out;
}

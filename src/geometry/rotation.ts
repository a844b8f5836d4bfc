/**
 * Rotations as row-major 3×3 Float64Arrays, and head pose angles.
 *
 * Head pose convention: R = Ry(yaw) · Rx(pitch) · Rz(roll), applied to the model in its own frame
 * (+y up, +z out of the face) and seen by a camera looking down −z (see camera.ts). Then
 * yaw > 0: the person turns to their left (towards the image right);
 * pitch > 0: the person looks down; roll > 0: the head tilts counter-clockwise in the image.
 */

export interface PoseAngles {
  yaw: number;
  pitch: number;
  roll: number;
}

const DEG = 180 / Math.PI;

/** R = Ry(yaw) Rx(pitch) Rz(roll), angles in degrees. */
export function rotationFromAngles(
  yaw: number,
  pitch: number,
  roll: number,
  out: Float64Array = new Float64Array(9),
): Float64Array {
  const cy = Math.cos(yaw / DEG),
    sy = Math.sin(yaw / DEG);
  const cp = Math.cos(pitch / DEG),
    sp = Math.sin(pitch / DEG);
  const cr = Math.cos(roll / DEG),
    sr = Math.sin(roll / DEG);
  out[0] = cy * cr + sy * sp * sr;
  out[1] = -cy * sr + sy * sp * cr;
  out[2] = sy * cp;
  out[3] = cp * sr;
  out[4] = cp * cr;
  out[5] = -sp;
  out[6] = -sy * cr + cy * sp * sr;
  out[7] = sy * sr + cy * sp * cr;
  out[8] = cy * cp;
  return out;
}

/** out = R·(x, y, z) for a row-major 3×3 R. Returns out. */
export function rotateVector(out: Float64Array, r: ArrayLike<number>, x: number, y: number, z: number): Float64Array {
  out[0] = r[0] * x + r[1] * y + r[2] * z;
  out[1] = r[3] * x + r[4] * y + r[5] * z;
  out[2] = r[6] * x + r[7] * y + r[8] * z;
  return out;
}

/** Inverse of rotationFromAngles, degrees. */
export function anglesFromRotation(r: Float64Array): PoseAngles {
  const pitch = Math.asin(Math.max(-1, Math.min(1, -r[5])));
  const yaw = Math.atan2(r[2], r[8]);
  const roll = Math.atan2(r[3], r[4]);
  return { yaw: yaw * DEG, pitch: pitch * DEG, roll: roll * DEG };
}

/** R ← exp([w]×) R for a small rotation vector w (Rodrigues), keeping R orthonormal. */
export function rotateBy(
  r: Float64Array,
  wx: number,
  wy: number,
  wz: number,
  scratch: Float64Array = new Float64Array(9),
): void {
  const angle = Math.hypot(wx, wy, wz);
  let c = 1,
    s = 0,
    t = 0;
  let x = 0,
    y = 0,
    z = 0;
  if (angle > 1e-12) {
    x = wx / angle;
    y = wy / angle;
    z = wz / angle;
    c = Math.cos(angle);
    s = Math.sin(angle);
    t = 1 - c;
  }
  const e0 = t * x * x + c,
    e1 = t * x * y - s * z,
    e2 = t * x * z + s * y;
  const e3 = t * x * y + s * z,
    e4 = t * y * y + c,
    e5 = t * y * z - s * x;
  const e6 = t * x * z - s * y,
    e7 = t * y * z + s * x,
    e8 = t * z * z + c;
  for (let j = 0; j < 3; j++) {
    scratch[j] = e0 * r[j] + e1 * r[3 + j] + e2 * r[6 + j];
    scratch[3 + j] = e3 * r[j] + e4 * r[3 + j] + e5 * r[6 + j];
    scratch[6 + j] = e6 * r[j] + e7 * r[3 + j] + e8 * r[6 + j];
  }
  r.set(scratch);
}

/** Angle in degrees between two rotations. */
export function rotationDistance(a: Float64Array, b: Float64Array): number {
  let trace = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) trace += a[3 * i + k] * b[3 * i + k];
  return Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2))) * DEG;
}

/**
 * The rotation vector w (axis × angle, radians) of a·bᵀ, into `out`: exp([w]×)·b = a. Accurate to the angle's
 * rounding near 0 and below π (at π the axis is ill-defined; faces never turn that far from a prior).
 */
export function rotationLogDifference(a: Float64Array, b: ArrayLike<number>, out: Float64Array): Float64Array {
  // m = a·bᵀ, only the entries the log needs.
  const m = (i: number, k: number) => a[3 * i] * b[3 * k] + a[3 * i + 1] * b[3 * k + 1] + a[3 * i + 2] * b[3 * k + 2];
  const trace = m(0, 0) + m(1, 1) + m(2, 2);
  const angle = Math.acos(Math.max(-1, Math.min(1, (trace - 1) / 2)));
  const k = angle < 1e-6 ? 0.5 : angle / (2 * Math.sin(angle));
  out[0] = k * (m(2, 1) - m(1, 2));
  out[1] = k * (m(0, 2) - m(2, 0));
  out[2] = k * (m(1, 0) - m(0, 1));
  return out;
}

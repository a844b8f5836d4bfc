/** sRGB transfer functions on values in [0, 1]: models and renders work in linear RGB, files and photos are sRGB. */

export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

export function linearToSrgb(c: number): number {
  const x = Math.min(1, Math.max(0, c));
  return x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055;
}

/** srgbToLinear of each byte / 255. */
export const SRGB_BYTE_TO_LINEAR: Float64Array = Float64Array.from({ length: 256 }, (_, i) => srgbToLinear(i / 255));
/** The linear value from which a byte rounds to b: srgbToLinear((b − 0.5) / 255), b = 1…255. */
const BYTE_FROM = Float64Array.from({ length: 256 }, (_, b) => (b === 0 ? 0 : srgbToLinear((b - 0.5) / 255)));
/** For 4096 equal steps of linear [0, 1], the byte at the step's start. */
const BYTE_AT = Uint8Array.from({ length: 4096 }, (_, i) => Math.round(255 * linearToSrgb(i / 4096)));

/**
 * Math.round(255 · linearToSrgb(x)), by table: the step's byte, then up past the thresholds it crosses.
 * A pow per pixel and channel was a third of a 640-px portrait render's time.
 */
export function linearToSrgbByte(x: number): number {
  if (!(x > 0)) return 0;
  if (x >= 1) return 255;
  let b = BYTE_AT[Math.floor(4096 * x)];
  while (b < 255 && x >= BYTE_FROM[b + 1]) b++;
  return b;
}

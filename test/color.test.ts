import { describe, expect, it } from 'vitest';
import { linearToSrgb, linearToSrgbByte } from '../src/model/color.js';
import { SeededRandom } from '../src/model/random.js';

describe('linearToSrgbByte', () => {
  it('is Math.round(255 · linearToSrgb(x)) everywhere: a fine sweep, the thresholds, out-of-range values', () => {
    const random = new SeededRandom(3);
    const xs: number[] = [-1, -0, 0, 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 0.0031308, 1e-9];
    for (let i = 0; i <= 200_000; i++) xs.push(i / 200_000);
    for (let i = 0; i < 100_000; i++) xs.push(random.uniform() ** 3);
    // Just under and over each byte's threshold, where a wrong table would be one level off.
    for (let b = 1; b < 256; b++) {
      const t = ((b - 0.5) / 255 + 0.055) / 1.055;
      const x = b / 255 <= 0.04045 ? (b - 0.5) / 255 / 12.92 : t ** 2.4;
      xs.push(x * (1 - 1e-9), x * (1 + 1e-9));
    }
    let wrong = 0;
    for (const x of xs) {
      const expected = Number.isNaN(x) ? 0 : Math.round(255 * linearToSrgb(x));
      if (linearToSrgbByte(x) !== expected) wrong++;
    }
    expect(wrong).toBe(0);
  });
});

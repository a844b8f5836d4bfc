import { describe, expect, it } from 'vitest';
import { INTERIOR, renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { tinyModel } from './helpers/tiny-model.js';

describe('renderPortrait', () => {
  // A light whose red is negative on surfaces facing away from it: on an inward normal it made teal.
  const sh = shDirectionalLight([0, 0, 1], [0.9, 0.6, 0.5], [0.1, 0.3, 0.3]);
  for (let k = 3; k < 27; k += 3) sh[k] *= 3;
  const model = tinyModel({ side: 6 });
  const zeros = (n: number) => new Float32Array(n);

  function covered(yaw: number) {
    const { image } = renderPortrait(model, zeros(model.identity.count), zeros(model.expression.count), sh, {
      yaw,
      pitch: 0,
      roll: 0,
      size: 64,
    });
    const pixels: number[][] = [];
    for (let p = 0; p < 64 * 64; p++) {
      const rgb = [image.data[3 * p], image.data[3 * p + 1], image.data[3 * p + 2]];
      if (!rgb.every((v) => v === 200)) pixels.push(rgb);
    }
    return pixels;
  }

  it('draws a surface seen from behind dark, not lit', () => {
    const back = covered(180);
    expect(back.length).toBeGreaterThan(500);
    for (const rgb of back) expect(rgb).toEqual([INTERIOR, INTERIOR, INTERIOR]);
  });

  it('lights a surface seen from the front', () => {
    const front = covered(0);
    expect(front.length).toBeGreaterThan(500);
    const dark = front.filter((rgb) => rgb.every((v) => v === INTERIOR)).length;
    expect(dark).toBe(0);
  });
});

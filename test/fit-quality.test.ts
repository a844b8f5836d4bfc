import { describe, expect, it } from 'vitest';
import { coefficientMeanAbs, coefficientRms, fitQuality } from '../src/fit/fit-quality.js';
import { cropImage, faceRegion } from '../src/render/overlay.js';

const good = { nmePercent: 2, identityRms: 0.6, expressionMean: 0.08, roll: 5, pitch: -10 };

describe('fit quality', () => {
  it('is 1 for a plausible fit and the smallest part otherwise, linear between the bounds', () => {
    expect(fitQuality(good).score).toBe(1);
    const residual = fitQuality({ ...good, nmePercent: (3.5 + 6) / 2 });
    expect(residual.score).toBeCloseTo(0.5, 10);
    expect(residual.worst).toBe('landmarks');
    const rolled = fitQuality({ ...good, nmePercent: 4, roll: -90 });
    expect(rolled.worst).toBe('roll');
    expect(rolled.score).toBeCloseTo(0.25, 10);
    expect(rolled.parts.landmarks).toBeCloseTo(0.8, 10);
    // sample6's hair clip: identity 11.6 σ RMS, every expression near 1.
    expect(fitQuality({ ...good, identityRms: 11.6, expressionMean: 0.25 }).score).toBe(0);
    expect(fitQuality({ ...good, nmePercent: NaN }).score).toBe(0);
  });

  it('measures coefficients by RMS and mean absolute value', () => {
    expect(coefficientRms([3, -4])).toBeCloseTo(Math.sqrt(12.5), 12);
    expect(coefficientMeanAbs([0.5, -0.25, 0])).toBeCloseTo(0.25, 12);
    expect(coefficientRms([])).toBe(0);
  });
});

describe('overlay region', () => {
  it('grows the landmarks and box by the margin, scales to the drawn image, clips to it', () => {
    // Landmarks span x 100..200, y 50..150 in camera pixels; the overlay is drawn at half size.
    const region = faceRegion(400, 300, 0.5, [[100, 50, 200, 150]], undefined, 0.5);
    // Grown: x 50..250, y 0..200; at half size (pixel centres kept): x 24.75..125.75, y −0.25..100.75.
    expect(region).toEqual({ x: 24, y: 0, width: 126 - 24, height: 101 });
    expect(faceRegion(400, 300, 1, [[NaN, NaN]])).toEqual({ x: 0, y: 0, width: 400, height: 300 });
  });

  it('crops row by row', () => {
    const image = { width: 4, height: 3, data: Uint8Array.from({ length: 36 }, (_, i) => i) };
    const crop = cropImage(image, { x: 1, y: 1, width: 2, height: 2 });
    expect(crop.width).toBe(2);
    expect(Array.from(crop.data)).toEqual([15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  CROP_SCALE,
  type CropGeometry,
  canonicalGeometry,
  landmarkBox,
  MIRROR_68,
  mipLevel,
  unwarpLandmarks,
  warpCrop,
  warpLandmarks,
} from '../src/detect/face-crop.js';
import { augmentPixels, randomGeometry } from '../src/learn/augment.js';
import { SeededRandom } from '../src/model/random.js';
import type { RgbImage } from '../src/render/rgb-image.js';

/** 68 points spread over [40, 160] × [30, 130], all different. */
function face(): Float32Array {
  const p = new Float32Array(136);
  for (let k = 0; k < 68; k++) {
    p[2 * k] = 40 + ((k * 37) % 121);
    p[2 * k + 1] = 30 + ((k * 53) % 101);
  }
  return p;
}

/** A black image with a gaussian blob (σ in pixels, peak 250) in channel c at each (x, y, c). */
function blobs(width: number, height: number, spots: [number, number, number][], sigma: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (const [bx, by, c] of spots) {
        const v = 250 * Math.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sigma * sigma));
        data[3 * (y * width + x) + c] = Math.max(data[3 * (y * width + x) + c], Math.round(v));
      }
    }
  }
  return { width, height, data };
}

/** Centroid of channel c of a crop. */
function centroid(crop: Float32Array, size: number, c: number): [number, number] {
  let s = 0,
    sx = 0,
    sy = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = crop[3 * (y * size + x) + c];
      s += v;
      sx += v * x;
      sy += v * y;
    }
  }
  return [sx / s, sy / s];
}

describe('MIRROR_68', () => {
  it('is an involution with the iBUG pairs', () => {
    for (let k = 0; k < 68; k++) expect(MIRROR_68[MIRROR_68[k]]).toBe(k);
    const pairs = [
      [0, 16],
      [8, 8],
      [17, 26],
      [30, 30],
      [31, 35],
      [36, 45],
      [39, 42],
      [37, 44],
      [38, 43],
      [41, 46],
      [40, 47],
      [48, 54],
      [51, 51],
      [55, 59],
      [60, 64],
      [61, 63],
      [65, 67],
      [66, 66],
    ];
    for (const [a, b] of pairs) expect([a, MIRROR_68[a]]).toEqual([a, b]);
  });
});

describe('crop geometry', () => {
  it('landmarkBox and canonicalGeometry: the box centre, CROP_SCALE × its longer side', () => {
    const p = new Float32Array([10, 20, 50, 25, 30, 90]);
    expect(landmarkBox(p)).toEqual({ minX: 10, minY: 20, maxX: 50, maxY: 90 });
    expect(CROP_SCALE).toBe(1.2);
    const g = canonicalGeometry(p);
    expect(g).toEqual({ centreX: 30, centreY: 55, side: 1.2 * 70, angle: 0, flip: false });
  });

  it('warpLandmarks maps points as computed by hand (rotation, scale, flip)', () => {
    // Side 64 into 32 pixels, turned 90° counter-clockwise: the crop's x axis is the photo's up.
    const g: CropGeometry = { centreX: 100, centreY: 50, side: 64, angle: Math.PI / 2, flip: false };
    const points = new Float32Array(136);
    for (let k = 0; k < 68; k++) points.set([100, 50], 2 * k);
    points.set([100, 34], 0); // 16 px above the centre: half a crop-side's quarter to the right
    points.set([108, 50], 2); // 8 px right of the centre: 4 crop pixels down
    const out = warpLandmarks(points, g, 32, new Float32Array(136));
    expect(out[0]).toBeCloseTo(23.5, 5);
    expect(out[1]).toBeCloseTo(15.5, 5);
    expect(out[2]).toBeCloseTo(15.5, 5);
    expect(out[3]).toBeCloseTo(19.5, 5);
    expect(out[4]).toBeCloseTo(15.5, 5); // the centre lands on the crop's centre
    expect(out[5]).toBeCloseTo(15.5, 5);
    // Mirrored: x → 31 − x, and point 0 becomes point 16 (jaw 0 ↔ 16).
    const flipped = warpLandmarks(points, { ...g, flip: true }, 32, new Float32Array(136));
    expect(flipped[32]).toBeCloseTo(31 - 23.5, 5);
    expect(flipped[33]).toBeCloseTo(15.5, 5);
    expect(flipped[2 * 15]).toBeCloseTo(31 - 15.5, 5); // point 1 → 15
    expect(flipped[2 * 15 + 1]).toBeCloseTo(19.5, 5);
  });

  it('flip ∘ flip is the identity, for points and pixels', () => {
    const size = 40;
    // The mirror of a crop onto itself: centred, side = size, mirrored.
    const mirror: CropGeometry = { centreX: size / 2 - 0.5, centreY: size / 2 - 0.5, side: size, angle: 0, flip: true };
    const p = face().map((v) => v / 5);
    const once = warpLandmarks(p, mirror, size, new Float32Array(136));
    expect(Array.from(once)).not.toEqual(Array.from(p));
    const twice = warpLandmarks(once, mirror, size, new Float32Array(136));
    for (let i = 0; i < 136; i++) expect(twice[i]).toBeCloseTo(p[i], 4);

    const data = new Uint8Array(size * size * 3);
    for (let i = 0; i < data.length; i++) data[i] = Math.imul(i + 7, 2654435761) >>> 24;
    const a = warpCrop({ width: size, height: size, data }, mirror, size, new Float32Array(size * size * 3));
    expect(a[0]).toBe(data[3 * (size - 1)]); // the top-left pixel is the top-right one
    const b = warpCrop(
      { width: size, height: size, data: Uint8Array.from(a, (v) => Math.round(v)) },
      mirror,
      size,
      new Float32Array(size * size * 3),
    );
    expect(Array.from(b)).toEqual(Array.from(data));
  });

  it("a mirrored face's left eye is the mirrored right eye", () => {
    const p = face();
    const g = canonicalGeometry(p);
    const size = 64;
    const plain = warpLandmarks(p, g, size, new Float32Array(136));
    const flipped = warpLandmarks(p, { ...g, flip: true }, size, new Float32Array(136));
    const eyes = [
      [36, 45],
      [37, 44],
      [38, 43],
      [39, 42],
      [40, 47],
      [41, 46],
    ];
    for (const [a, b] of eyes) {
      for (const [k, m] of [
        [a, b],
        [b, a],
      ]) {
        expect(flipped[2 * k]).toBeCloseTo(size - 1 - plain[2 * m], 4);
        expect(flipped[2 * k + 1]).toBeCloseTo(plain[2 * m + 1], 4);
      }
    }
  });

  it('unwarpLandmarks inverts warpLandmarks', () => {
    const p = face();
    const g: CropGeometry = { centreX: 93.2, centreY: 71.9, side: 151.3, angle: -0.41, flip: true };
    const crop = warpLandmarks(p, g, 112, new Float32Array(136));
    const back = unwarpLandmarks(crop, g, 112, new Float32Array(136));
    for (let i = 0; i < 136; i++) expect(back[i]).toBeCloseTo(p[i], 3);
  });

  it.each([
    ['upscaled', 120, 1, undefined],
    ['downscaled 4.7× (mip level 2)', 300, 6, undefined],
    ['downscaled 4.7× (supersampled)', 300, 6, 'supersample' as const],
  ])('a blob lands where warpLandmarks puts its point, within 0.05 px: %s', (_, side, sigma, prefilter) => {
    const size = 64;
    const p = face();
    // Landmarks 36 (red), 45 (green) and 30 (blue) on blobs at non-integer positions.
    const spots: [number, number, number][] = [
      [170.3, 140.6, 0],
      [205.7, 131.2, 1],
      [190.4, 171.9, 2],
    ];
    const image = blobs(400, 300, spots, sigma * 2);
    p.set([170.3, 140.6], 72);
    p.set([205.7, 131.2], 90);
    p.set([190.4, 171.9], 60);
    const g: CropGeometry = { centreX: 188, centreY: 150, side, angle: (25 * Math.PI) / 180, flip: true };
    const crop = warpCrop(image, g, size, new Float32Array(size * size * 3), { prefilter });
    const points = warpLandmarks(p, g, size, new Float32Array(136));
    // Mirrored: the red blob (photo point 36) is the crop's point 45, the green one point 36.
    for (const [c, k] of [
      [0, 45],
      [1, 36],
      [2, 30],
    ]) {
      const [x, y] = centroid(crop, size, c);
      expect(Math.hypot(x - points[2 * k], y - points[2 * k + 1])).toBeLessThan(0.05); // measured ≤ 0.01
    }
  });

  it('is black outside the image', () => {
    const image: RgbImage = { width: 10, height: 10, data: new Uint8Array(300).fill(200) };
    const size = 20;
    const crop = warpCrop(
      image,
      { centreX: 4.5, centreY: 4.5, side: 20, angle: 0, flip: false },
      size,
      new Float32Array(1200),
    );
    expect(crop[3 * (10 * size + 10)]).toBe(200); // inside
    expect(crop[3 * (1 * size + 1)]).toBe(0); // 4.5 px outside
    expect(crop[3 * (10 * size + 19)]).toBe(0);
    const off = warpCrop(
      image,
      { centreX: 50, centreY: 50, side: 8, angle: 1, flip: true },
      size,
      new Float32Array(1200),
    );
    expect(off.every((v) => v === 0)).toBe(true);
  });

  it('prefilters a downscale by more than 2× (a 1-px checkerboard: 512 px into 112)', () => {
    const n = 700;
    const data = new Uint8Array(n * n * 3);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) data.fill((x + y) % 2 === 0 ? 255 : 0, 3 * (y * n + x), 3 * (y * n + x) + 3);
    const image = { width: n, height: n, data };
    const g: CropGeometry = { centreX: 349.5, centreY: 349.5, side: 512, angle: 0.3, flip: false };
    const spread = (crop: Float32Array) => {
      let s = 0,
        s2 = 0;
      for (const v of crop) {
        s += v;
        s2 += v * v;
      }
      return Math.sqrt(s2 / crop.length - (s / crop.length) ** 2);
    };
    const crop = new Float32Array(112 * 112 * 3);
    // The checkerboard's average is 127.5 grey; unfiltered samples scatter over 0..255.
    expect(spread(warpCrop(image, g, 112, crop, { prefilter: 'none' }))).toBeGreaterThan(40);
    expect(spread(warpCrop(image, g, 112, crop))).toBeLessThan(5); // mip level 2
    expect(spread(warpCrop(image, g, 112, crop, { prefilter: 'supersample' }))).toBeLessThan(5);
    // A level is made once per image: the second crop reuses it.
    expect(mipLevel(image, 2)).toBe(mipLevel(image, 2));
    expect([mipLevel(image, 2).width, mipLevel(image, 3).height]).toEqual([175, 88]);
  });
});

describe('random crops', () => {
  it('randomGeometry jitters within its ranges', () => {
    const p = face();
    const c = canonicalGeometry(p);
    const rng = new SeededRandom(3);
    let flips = 0;
    let maxAngle = 0;
    for (let k = 0; k < 2000; k++) {
      const g = randomGeometry(p, rng);
      maxAngle = Math.max(maxAngle, Math.abs(g.angle));
      expect(Math.abs(g.angle)).toBeLessThanOrEqual(Math.PI / 6);
      expect(g.side / c.side).toBeGreaterThanOrEqual(0.75);
      expect(g.side / c.side).toBeLessThanOrEqual(1.25);
      expect(Math.abs(g.centreX - c.centreX)).toBeLessThanOrEqual(0.1 * c.side);
      expect(Math.abs(g.centreY - c.centreY)).toBeLessThanOrEqual(0.1 * c.side);
      if (g.flip) flips++;
    }
    expect(maxAngle).toBeGreaterThan(0.95 * (Math.PI / 6));
    expect(flips / 2000).toBeGreaterThan(0.45);
    expect(flips / 2000).toBeLessThan(0.55);
    const none = randomGeometry(p, rng, { maxRotationDegrees: 0, maxScale: 0, maxTranslation: 0, flipProbability: 0 });
    expect(none).toEqual(c);
  });

  it('the same seed gives byte-identical crops, another seed another crop', () => {
    const p = face();
    const image = blobs(220, 180, [[100, 80, 0]], 20);
    for (let i = 0; i < image.data.length; i++) image.data[i] += (i * 7) % 50;
    const sample = (seed: number) => {
      const rng = new SeededRandom(seed);
      const crops = [];
      for (let k = 0; k < 6; k++) {
        const crop = warpCrop(image, randomGeometry(p, rng), 48, new Float32Array(48 * 48 * 3));
        // Everything on, so that every branch draws.
        augmentPixels(crop, 48, rng, {
          greyProbability: 0.5,
          blurProbability: 0.5,
          noiseProbability: 0.5,
          occlusionProbability: 0.5,
        });
        crops.push(new Uint8Array(crop.buffer));
      }
      return crops;
    };
    const a = sample(11),
      b = sample(11),
      c = sample(12);
    for (let k = 0; k < a.length; k++) {
      expect(Buffer.compare(a[k], b[k])).toBe(0);
      expect(Buffer.compare(a[k], c[k])).not.toBe(0);
    }
  });
});

describe('augmentPixels', () => {
  const size = 32;
  const base = () => {
    const px = new Float32Array(size * size * 3);
    for (let i = 0; i < px.length; i++) px[i] = 40 + ((i * 13) % 170);
    return px;
  };
  const off = {
    maxGain: 0,
    maxBrightness: 0,
    maxContrast: 0,
    greyProbability: 0,
    blurProbability: 0,
    noiseProbability: 0,
    occlusionProbability: 0,
  };

  it('leaves the crop alone with everything off', () => {
    const px = base();
    expect(Array.from(augmentPixels(px, size, new SeededRandom(1), off))).toEqual(Array.from(base()));
  });

  it('grey makes the channels equal, blur smooths, and all stays in 0..255', () => {
    const grey = augmentPixels(base(), size, new SeededRandom(1), { ...off, greyProbability: 1 });
    for (let i = 0; i < grey.length; i += 3) {
      expect(grey[i + 1]).toBeCloseTo(grey[i], 3);
      expect(grey[i + 2]).toBeCloseTo(grey[i], 3);
    }
    const rough = (px: Float32Array) => {
      let s = 0;
      for (let i = 3; i < px.length; i++) s += Math.abs(px[i] - px[i - 3]);
      return s;
    };
    const blurred = augmentPixels(base(), size, new SeededRandom(1), { ...off, blurProbability: 1 });
    expect(rough(blurred)).toBeLessThan(0.5 * rough(base()));
    const rng = new SeededRandom(5);
    for (let k = 0; k < 50; k++) {
      const px = augmentPixels(base(), size, rng, { maxGain: 0.5, maxBrightness: 0.5, noiseProbability: 1 });
      expect(px.every((v) => v >= 0 && v <= 255)).toBe(true);
    }
  });

  it('occluders cover 10–40 % of the side', () => {
    const rng = new SeededRandom(8);
    let changed = 0;
    for (let k = 0; k < 20; k++) {
      const px = augmentPixels(base(), size, rng, { ...off, occlusionProbability: 1, maxOccluders: 1 });
      const before = base();
      let n = 0;
      for (let p = 0; p < size * size; p++) if (px[3 * p] !== before[3 * p] || px[3 * p + 1] !== before[3 * p + 1]) n++;
      expect(n).toBeLessThanOrEqual(Math.round(0.4 * size) ** 2);
      changed += n;
    }
    expect(changed).toBeGreaterThan(0);
  });
});

describe('augment.ts', () => {
  it('is pure TypeScript, so that it could run in a browser: it imports no Node modules', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../src/learn/augment.ts', import.meta.url), 'utf8');
    const imports = [...text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['../detect/face-crop.js', '../model/random.js']);
  });
});

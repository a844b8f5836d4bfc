import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCamera } from '../src/geometry/camera.js';
import { rotationFromAngles } from '../src/geometry/rotation.js';
import { decodeModel } from '../src/io/model-file.js';
import { linearToSrgb } from '../src/model/color.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { createRasterBuffers, rasterize } from '../src/render/rasterize.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';
import { SyntheticFaceRenderer } from '../src/render/synthetic-face.js';
import { albedoTexture, unwrapTexture } from '../src/render/uv-texture.js';

const MODEL = fileURLToPath(new URL('../models/ict-facekit-face-head.glb', import.meta.url));
const SIZE = 512; // texture texels a side
const FALLBACK = [0.4, 0.4, 0.4]; // the "fitted" albedo handed in: deliberately not the truth

/**
 * A face rendered with a known per-vertex albedo (skin with a pattern of ±20 % about 50 mm across, so that
 * albedo detail, not only its mean, must come through) under a known coloured SH light from the upper left,
 * turned 25°; unwrapped with the true camera, shape and light.
 */
describe('the de-lit UV texture (albedoTexture) of a face with known albedo and light', () => {
  let model: MorphableModel;
  let truth: Float64Array; // the true albedo per texel, sRGB levels; NaN outside the UV layout
  let result: ReturnType<typeof unwrapTexture>;
  let fallbackLevels: number[];
  let again: () => ReturnType<typeof albedoTexture>;

  beforeAll(() => {
    model = decodeModel(readFileSync(MODEL), MODEL);
    const random = new SeededRandom(7);
    const identity = new Float32Array(model.identity.count).map(() => 0.8 * random.normal());
    const positions = evaluateShape(model, identity, new Float32Array(model.expression.count));
    const n = model.vertexCount;
    const albedo = new Float32Array(3 * n);
    for (let v = 0; v < n; v++) {
      const x = model.mean[3 * v],
        y = model.mean[3 * v + 1];
      const pattern = 1 + 0.2 * Math.sin(x / 8) * Math.cos(y / 9);
      albedo.set([0.55 * pattern, 0.36 * pattern, 0.28 * (2 - pattern)], 3 * v);
    }
    const sh = shDirectionalLight([-0.5, 0.4, 0.77], [0.85, 0.8, 0.7], [0.3, 0.32, 0.36]);
    const photoSize = 640;
    const camera = createCamera(photoSize, photoSize, 1600);
    rotationFromAngles(25, -5, 3, camera.rotation);
    camera.translation.set([4, 8, -620]);
    const background = { width: photoSize, height: photoSize, data: new Uint8Array(3 * photoSize ** 2).fill(90) };
    const renderer = new SyntheticFaceRenderer(model.triangles, n, photoSize, photoSize);
    const photo = renderer.render(positions, camera, albedo, sh, background);
    const fitted = new Float32Array(3 * n).map((_, i) => FALLBACK[i % 3]);
    result = unwrapTexture(photo, 1, model, positions, camera, SIZE, [0, 0, 0], { sh, albedo: fitted });
    again = () => albedoTexture(photo, 1, model, positions, camera, SIZE, { sh, albedo: fitted });
    fallbackLevels = FALLBACK.map((a) => Math.round(255 * linearToSrgb(a)));

    // The truth, independently: the true per-vertex albedo interpolated over each texel's UV triangle.
    const uvScreen = new Float32Array((3 * model.uvs.length) / 2);
    for (let i = 0; i < model.uvs.length / 2; i++) {
      uvScreen[3 * i] = model.uvs[2 * i] * SIZE;
      uvScreen[3 * i + 1] = (1 - model.uvs[2 * i + 1]) * SIZE;
    }
    const raster = rasterize(uvScreen, model.uvTriangles, createRasterBuffers(SIZE, SIZE));
    truth = new Float64Array(3 * SIZE * SIZE).fill(Number.NaN);
    for (let p = 0; p < SIZE * SIZE; p++) {
      const t = raster.triangle[p];
      if (t < 0) continue;
      const b1 = raster.barycentric[2 * p],
        b2 = raster.barycentric[2 * p + 1];
      const [i0, i1, i2] = [0, 1, 2].map((k) => 3 * model.triangles[3 * t + k]);
      for (let c = 0; c < 3; c++) {
        const a = (1 - b1 - b2) * albedo[i0 + c] + b1 * albedo[i1 + c] + b2 * albedo[i2 + c];
        truth[3 * p + c] = 255 * linearToSrgb(a);
      }
    }
  });

  /** RMS difference (sRGB levels) from the true albedo over the texels whose photo weight passes `where`. */
  const rms = (data: Uint8Array, weight: Uint8Array, where: (w: number) => boolean) => {
    let sum = 0,
      count = 0;
    for (let p = 0; p < SIZE * SIZE; p++) {
      if (Number.isNaN(truth[3 * p]) || !where(weight[p])) continue;
      for (let c = 0; c < 3; c++) sum += (data[3 * p + c] - truth[3 * p + c]) ** 2;
      count += 3;
    }
    return { rms: Math.sqrt(sum / count), texels: count / 3 };
  };

  it('is the true albedo where the photo shows the face, far closer than the lit texture', () => {
    const { photoWeight, texture } = result.albedo!;
    const seen = (w: number) => w === 255;
    const delit = rms(texture.data, photoWeight, seen),
      lit = rms(result.texture.data, photoWeight, seen),
      fallback = rms(new Uint8Array(3 * SIZE * SIZE).fill(fallbackLevels[0]), photoWeight, seen);
    const partly = rms(texture.data, photoWeight, (w) => w > 0 && w < 255);
    console.log(
      `albedo texture, ${delit.texels} fully seen texels of ${SIZE}²: RMS from the true albedo ${delit.rms.toFixed(2)} `
        + `sRGB levels (lit texture ${lit.rms.toFixed(2)}, the fallback albedo ${fallback.rms.toFixed(2)}); `
        + `${partly.texels} blended texels ${partly.rms.toFixed(2)}`,
    );
    expect(delit.texels).toBeGreaterThan(0.1 * SIZE * SIZE);
    // Measured 0.98 levels de-lit against 22.5 lit, 22.7 the fallback. Without the division the texture is the
    // lit one; the normal left in model space (not turned by the camera's 25°) gives 13.9, x mirrored 38.5.
    expect(delit.rms).toBeLessThan(3);
    expect(lit.rms).toBeGreaterThan(10 * delit.rms);
    expect(fallback.rms).toBeGreaterThan(10 * delit.rms);
  });

  it('is the fitted albedo where the photo does not show the face', () => {
    const { photoWeight, texture } = result.albedo!;
    let unseen = 0,
      other = 0;
    for (let p = 0; p < SIZE * SIZE; p++) {
      if (Number.isNaN(truth[3 * p]) || photoWeight[p] > 0) continue;
      unseen++;
      for (let c = 0; c < 3; c++) if (texture.data[3 * p + c] !== fallbackLevels[c]) other++;
    }
    expect(unseen).toBeGreaterThan(0.1 * SIZE * SIZE);
    expect(other).toBe(0);
  });

  it('albedoTexture alone gives the same texture as unwrapTexture alongside the lit one', () => {
    const alone = again();
    expect(Buffer.compare(alone.texture.data, result.albedo!.texture.data)).toBe(0);
    expect(Buffer.compare(alone.photoWeight, result.albedo!.photoWeight)).toBe(0);
    const fitted = new Float32Array(3 * model.vertexCount);
    expect(() =>
      albedoTexture({ width: 1, height: 1, data: new Uint8Array(3) }, 1, model, model.mean, createCamera(1, 1), 8, {
        sh: new Float64Array(9),
        albedo: fitted,
      }),
    ).toThrow(/27/);
    expect(() =>
      albedoTexture({ width: 1, height: 1, data: new Uint8Array(3) }, 1, model, model.mean, createCamera(1, 1), 8, {
        sh: new Float64Array(27),
        albedo: new Float32Array(3),
      }),
    ).toThrow(/light.albedo has 3 values/);
  });
});

import { describe, expect, it } from 'vitest';
import type { Camera } from '../src/geometry/camera.js';
import { scaleCamera } from '../src/geometry/crop.js';
import { choleskySolve } from '../src/geometry/linalg.js';
import { rotateBy, rotationFromAngles } from '../src/geometry/rotation.js';
import { SeededRandom } from '../src/model/random.js';
import {
  PhotometricRenderer,
  chainToBasis,
  createPhotometricGradient,
  createPhotometricImage,
  type PhotometricLossOptions,
} from '../src/render/photometric.js';
import {
  GRAD_ALBEDO_R,
  GRAD_B0,
  GRAD_COLOR_R,
  GRAD_NX,
  PIXEL_GRADIENT_SIZE,
  PIXEL_SHADING_SIZE,
  PX_ALBEDO_R,
  PX_B0,
  PX_INV_AREA,
  PX_IRRADIANCE_R,
  PX_NX,
  barycentricBackward,
  barycentricDerivative,
  interpolateBackward,
  interpolateDerivative,
  interpolatePixel,
  inverseScreenArea,
} from '../src/render/interpolate.js';
import { createRasterBuffers, rasterize } from '../src/render/rasterize.js';
import { shadeBackward, shadeDerivative, shadePixel } from '../src/render/sh-shading.js';
import {
  SH_K,
  shBasis,
  shBasisGradient,
  shDirectionalLight,
  shIrradiance,
  shLightDirection,
  shPeakDirection,
} from '../src/render/spherical-harmonics.js';

const DEG = 180 / Math.PI;

function angleBetween(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return (
    Math.acos(Math.max(-1, Math.min(1, dot / (Math.hypot(a[0], a[1], a[2]) * Math.hypot(b[0], b[1], b[2]))))) * DEG
  );
}

function camera(
  width: number,
  height: number,
  focal: number,
  yaw: number,
  pitch: number,
  roll: number,
  t: number[],
): Camera {
  return {
    rotation: rotationFromAngles(yaw, pitch, roll),
    translation: Float64Array.from(t),
    focal,
    cx: (width - 1) / 2,
    cy: (height - 1) / 2,
  };
}

function cloneCamera(c: Camera): Camera {
  return { rotation: c.rotation.slice(), translation: c.translation.slice(), focal: c.focal, cx: c.cx, cy: c.cy };
}

/** A curved, bumpy patch of side × side vertices over [−40, 40]² mm, bulging towards +z. */
function curvedPatch(side: number): { positions: Float64Array; triangles: Uint32Array } {
  const positions = new Float64Array(3 * side * side);
  for (let j = 0; j < side; j++) {
    for (let i = 0; i < side; i++) {
      const x = -40 + (80 * i) / (side - 1),
        y = -40 + (80 * j) / (side - 1);
      const z = -0.006 * (x * x + y * y) + 2 * Math.sin(0.15 * x) * Math.cos(0.1 * y);
      positions.set([x, y, z], 3 * (j * side + i));
    }
  }
  const triangles: number[] = [];
  for (let j = 0; j + 1 < side; j++) {
    for (let i = 0; i + 1 < side; i++) {
      const v = j * side + i;
      // Counter-clockwise seen from +z: normals towards the viewer.
      triangles.push(v, v + 1, v + side + 1, v, v + side + 1, v + side);
    }
  }
  return { positions, triangles: Uint32Array.from(triangles) };
}

interface Scene {
  renderer: PhotometricRenderer;
  positions: Float64Array;
  albedo: Float64Array;
  sh: Float64Array;
  cam: Camera;
  target: Float32Array;
  weights: Float32Array;
}

function scene(seed: number): Scene {
  const size = 64;
  const { positions, triangles } = curvedPatch(11); // 121 vertices, 200 triangles
  const n = positions.length / 3;
  const random = new SeededRandom(seed);
  const albedo = new Float64Array(3 * n);
  for (let i = 0; i < albedo.length; i++) albedo[i] = 0.2 + 0.7 * random.uniform();
  const sh = new Float64Array(27);
  for (let c = 0; c < 3; c++) sh[c] = (0.8 + 0.2 * random.uniform()) / SH_K[0];
  for (let k = 3; k < 27; k++) sh[k] = 0.15 * random.normal();
  const cam = camera(size, size, 240, 15, -10, 5, [3, -2, -400]);
  const renderer = new PhotometricRenderer(triangles, n, size, size);
  // Target: the scene with other albedo and light, plus noise and 10% outlier pixels.
  const otherAlbedo = albedo.map((a) => Math.min(1, Math.max(0, a + 0.1 * random.normal())));
  const otherSh = sh.map((l) => l + 0.05 * random.normal());
  const image = createPhotometricImage(size, size);
  renderer.render(positions, cam, otherAlbedo, otherSh, image);
  const target = new Float32Array(3 * size * size);
  const weights = new Float32Array(size * size);
  for (let p = 0; p < size * size; p++) {
    const outlier = random.uniform() < 0.1;
    for (let c = 0; c < 3; c++)
      target[3 * p + c] = outlier ? random.uniform() : image.color[3 * p + c] + 0.03 * random.normal();
    weights[p] = 0.5 + random.uniform();
  }
  return { renderer, positions, albedo, sh, cam, target, weights };
}

/**
 * Central differences of every parameter against the analytic gradient, checking that the
 * pixel → triangle map stays the same at ±ε. Returns the largest error per group, relative
 * to the group's largest gradient component.
 */
function finiteDifferenceErrors(s: Scene, options: PhotometricLossOptions, vertexStride = 1): Record<string, number> {
  const { renderer, positions, albedo, sh, cam, target, weights } = s;
  renderer.render(positions, cam, albedo, sh);
  const baseIds = renderer.triangleIds.slice();
  const g = createPhotometricGradient(renderer.vertexCount);
  const loss0 = renderer.lossAndGradient(target, weights, g, options);
  expect(loss0).toBeGreaterThan(0);
  expect(renderer.coveredPixels).toBeGreaterThan(0.4 * 64 * 64);
  expect(renderer.coveredPixels).toBeLessThan(0.95 * 64 * 64);
  let changedIds = 0;
  const evaluate = (c: Camera): number => {
    renderer.render(positions, c, albedo, sh);
    for (let p = 0; p < baseIds.length; p++) if (renderer.triangleIds[p] !== baseIds[p]) changedIds++;
    return renderer.lossAndGradient(target, weights, undefined, options);
  };
  const groupError = (values: ArrayLike<number>, eps: number, analytic: ArrayLike<number>, stride = 1): number => {
    const array = values as Float64Array;
    let maxErr = 0,
      maxGrad = 0;
    for (let i = 0; i < array.length; i += stride) {
      const v = array[i];
      array[i] = v + eps;
      const lp = evaluate(cam);
      array[i] = v - eps;
      const lm = evaluate(cam);
      array[i] = v;
      const fd = (lp - lm) / (2 * eps);
      maxErr = Math.max(maxErr, Math.abs(fd - analytic[i]));
      maxGrad = Math.max(maxGrad, Math.abs(analytic[i]));
    }
    expect(maxGrad).toBeGreaterThan(0);
    return maxErr / maxGrad;
  };
  const errors: Record<string, number> = {
    positions: groupError(positions, 1e-5, g.positions, vertexStride),
    albedo: groupError(albedo, 1e-5, g.albedo, vertexStride),
    sh: groupError(sh, 1e-5, g.sh),
  };
  // Camera, one scalar at a time, each relative to its own gradient.
  const cameraFd = (perturb: (c: Camera, e: number) => void, eps: number, analytic: number): number => {
    const cp = cloneCamera(cam),
      cm = cloneCamera(cam);
    perturb(cp, eps);
    perturb(cm, -eps);
    const fd = (evaluate(cp) - evaluate(cm)) / (2 * eps);
    return Math.abs(fd - analytic) / Math.abs(analytic);
  };
  const axes = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let a = 0; a < 3; a++) {
    errors[`rotation${a}`] = cameraFd(
      (c, e) => rotateBy(c.rotation, e * axes[a][0], e * axes[a][1], e * axes[a][2]),
      1e-7,
      g.rotation[a],
    );
    errors[`translation${a}`] = cameraFd(
      (c, e) => {
        c.translation[a] += e;
      },
      1e-5,
      g.translation[a],
    );
  }
  errors.focal = cameraFd(
    (c, e) => {
      c.focal += e;
    },
    1e-5,
    g.focal,
  );
  expect(changedIds).toBe(0);
  return errors;
}

describe('spherical harmonics', () => {
  it('has the Deep3DFaceRecon constants', () => {
    expect(SH_K[0]).toBeCloseTo(Math.PI / Math.sqrt(4 * Math.PI), 14);
    expect(SH_K[1]).toBeCloseTo(((2 * Math.PI) / Math.sqrt(3)) * (Math.sqrt(3) / Math.sqrt(4 * Math.PI)), 14);
    expect(SH_K[2]).toBeCloseTo(((2 * Math.PI) / Math.sqrt(8)) * ((3 * Math.sqrt(5)) / Math.sqrt(12 * Math.PI)), 14);
    const y = new Float64Array(9);
    shBasis(0, 0, 1, y);
    expect(y[2]).toBeCloseTo(SH_K[1], 14);
    expect(y[6]).toBeCloseTo(SH_K[2] / Math.sqrt(3), 14);
  });

  it('differentiates the basis', () => {
    const jac = new Float64Array(27),
      yp = new Float64Array(9),
      ym = new Float64Array(9);
    const n = [0.3, -0.5, 0.81];
    shBasisGradient(n[0], n[1], n[2], jac);
    for (let j = 0; j < 3; j++) {
      const p = n.slice(),
        m = n.slice();
      p[j] += 1e-6;
      m[j] -= 1e-6;
      shBasis(p[0], p[1], p[2], yp);
      shBasis(m[0], m[1], m[2], ym);
      for (let k = 0; k < 9; k++) expect(jac[3 * k + j]).toBeCloseTo((yp[k] - ym[k]) / 2e-6, 7);
    }
  });

  it('is brighter towards the light than away from it, and approximates the clamped cosine', () => {
    const d = [0.4, 0.6, 0.7];
    const len = Math.hypot(d[0], d[1], d[2]);
    const u = d.map((v) => v / len);
    const sh = shDirectionalLight(u, [1, 0.8, 0.6], [0.1, 0.1, 0.1]);
    const towards = new Float64Array(3),
      away = new Float64Array(3),
      side = new Float64Array(3);
    shIrradiance(u[0], u[1], u[2], sh, towards);
    shIrradiance(-u[0], -u[1], -u[2], sh, away);
    for (let c = 0; c < 3; c++) expect(towards[c]).toBeGreaterThan(away[c] + 0.5);
    // The second-order clamped cosine is within 0.1 of max(0, n·d) everywhere.
    const random = new SeededRandom(3);
    for (let i = 0; i < 200; i++) {
      const n = [random.normal(), random.normal(), random.normal()];
      const l = Math.hypot(n[0], n[1], n[2]);
      shIrradiance(n[0] / l, n[1] / l, n[2] / l, sh, side);
      const cos = Math.max(0, (n[0] * u[0] + n[1] * u[1] + n[2] * u[2]) / l);
      expect(Math.abs(side[0] - (cos + 0.1))).toBeLessThan(0.1);
    }
  });

  /** SH fitted by least squares to 0.2 + colour·max(0, n·d) + noise at random normals. */
  function fitSh(d: number[], hemisphere: boolean): Float64Array {
    const random = new SeededRandom(7);
    const len = Math.hypot(d[0], d[1], d[2]);
    const ata = new Float64Array(81),
      atb = new Float64Array(27),
      y = new Float64Array(9);
    const color = [1, 0.8, 0.6];
    for (let i = 0; i < 2000; i++) {
      const n = [random.normal(), random.normal(), hemisphere ? Math.abs(random.normal()) + 0.2 : random.normal()];
      const l = Math.hypot(n[0], n[1], n[2]);
      shBasis(n[0] / l, n[1] / l, n[2] / l, y);
      const cos = Math.max(0, (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) / (l * len));
      for (let a = 0; a < 9; a++) {
        for (let b = 0; b < 9; b++) ata[9 * a + b] += y[a] * y[b];
        for (let c = 0; c < 3; c++) atb[9 * c + a] += y[a] * (0.2 + color[c] * cos + 0.01 * random.normal());
      }
    }
    const sh = new Float64Array(27);
    for (let c = 0; c < 3; c++) {
      const a = ata.slice(),
        b = atb.slice(9 * c, 9 * c + 9);
      for (let k = 0; k < 9; k++) a[10 * k] += 1e-6;
      expect(choleskySolve(a, b, 9)).toBe(true);
      for (let k = 0; k < 9; k++) sh[3 * k + c] = b[k];
    }
    return sh;
  }

  it('recovers the light direction', () => {
    const d = [-0.5, 0.3, 0.8];
    expect(angleBetween(shLightDirection(shDirectionalLight(d, [0.9, 0.7, 0.5], [0.3, 0.3, 0.3])), d)).toBeLessThan(
      1e-6,
    );
    expect(angleBetween(shPeakDirection(shDirectionalLight(d, [0.9, 0.7, 0.5], [0.3, 0.3, 0.3])), d)).toBeLessThan(
      0.01,
    );
    // SH fitted to normals all around: band 1 alone points at the light.
    expect(angleBetween(shLightDirection(fitSh(d, false)), d)).toBeLessThan(10);
    // Fitted to the front hemisphere only (a face): band 1 drifts, the irradiance peak does not.
    for (const light of [d, [0.7, 0, 0.7], [0.1, -0.6, 0.8]]) {
      const sh = fitSh(light, true);
      console.log(
        `hemisphere fit, light ${light.join(',')}: `
          + `band-1 direction off by ${angleBetween(shLightDirection(sh), light).toFixed(1)}°, `
          + `peak by ${angleBetween(shPeakDirection(sh), light).toFixed(1)}°`,
      );
      expect(angleBetween(shPeakDirection(sh), light)).toBeLessThan(10);
    }
  });
});

describe('photometric renderer', () => {
  it('renders a flat quad facing the camera in one colour over the expected pixels', () => {
    const positions = Float32Array.from([-20, -20, 0, 20, -20, 0, 20, 20, 0, -20, 20, 0]);
    const triangles = Uint32Array.from([0, 1, 2, 0, 2, 3]);
    const a = [0.6, 0.4, 0.2];
    const albedo = Float32Array.from([...a, ...a, ...a, ...a]);
    const sh = new Float32Array(27);
    sh[0] = 1.1;
    sh[1] = 0.9;
    sh[2] = 0.7;
    // 40 mm at 500 mm with f = 400: 32 pixels, from camera pixel 16 to 47 (screen 16 to 48).
    const cam = camera(64, 64, 400, 0, 0, 0, [0, 0, -500]);
    const renderer = new PhotometricRenderer(triangles, 4, 64, 64);
    const image = createPhotometricImage(64, 64);
    expect(renderer.render(positions, cam, albedo, sh, image)).toBe(32 * 32);
    for (let j = 0; j < 64; j++) {
      for (let i = 0; i < 64; i++) {
        const p = 64 * j + i,
          inside = i >= 16 && i < 48 && j >= 16 && j < 48;
        expect(image.mask[p]).toBe(inside ? 1 : 0);
        for (let c = 0; c < 3; c++) expect(image.color[3 * p + c]).toBeCloseTo(inside ? a[c] * SH_K[0] * sh[c] : 0, 6);
        if (!inside) continue;
        expect(image.depth[p]).toBeCloseTo(500, 3);
        expect(image.normal[3 * p + 2]).toBeCloseTo(1, 6);
      }
    }
  });

  it('shows the nearer of two overlapping quads, whichever is drawn first', () => {
    for (const nearFirst of [true, false]) {
      const near = [-10, -10, 50, 10, -10, 50, 10, 10, 50, -10, 10, 50];
      const far = [-20, -20, 0, 20, -20, 0, 20, 20, 0, -20, 20, 0];
      const positions = Float32Array.from(nearFirst ? [...near, ...far] : [...far, ...near]);
      const triangles = Uint32Array.from([0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7]);
      const albedo = new Float32Array(24);
      for (let v = 0; v < 8; v++) albedo[3 * v] = v < 4 === nearFirst ? 1 : 0.5;
      const sh = new Float32Array(27);
      sh[0] = sh[1] = sh[2] = 1 / SH_K[0];
      const renderer = new PhotometricRenderer(triangles, 8, 64, 64);
      const image = createPhotometricImage(64, 64);
      renderer.render(positions, camera(64, 64, 400, 0, 0, 0, [0, 0, -500]), albedo, sh, image);
      const centre = 64 * 32 + 32,
        edge = 64 * 32 + 20;
      expect(image.color[3 * centre]).toBeCloseTo(1, 6);
      expect(image.depth[centre]).toBeCloseTo(450, 3);
      expect(image.color[3 * edge]).toBeCloseTo(0.5, 6);
      expect(image.depth[edge]).toBeCloseTo(500, 3);
    }
  });

  it('gives perspective-correct depth and normals on a tilted quad', () => {
    const positions = Float32Array.from([-30, -30, 0, 30, -30, 0, 30, 30, 0, -30, 30, 0]);
    const triangles = Uint32Array.from([0, 1, 2, 0, 2, 3]);
    const cam = camera(64, 64, 300, 35, 25, 10, [5, -3, -400]);
    const renderer = new PhotometricRenderer(triangles, 4, 64, 64);
    const image = createPhotometricImage(64, 64);
    const covered = renderer.render(
      positions,
      cam,
      new Float32Array(12).fill(0.5),
      new Float32Array(27).fill(0.1),
      image,
    );
    expect(covered).toBeGreaterThan(500);
    const r = cam.rotation,
      t = cam.translation;
    const normal = [r[2], r[5], r[8]];
    const offset = normal[0] * t[0] + normal[1] * t[1] + normal[2] * t[2];
    for (let j = 0; j < 64; j++) {
      for (let i = 0; i < 64; i++) {
        const p = 64 * j + i;
        if (!image.mask[p]) continue;
        const dir = [(i - cam.cx) / cam.focal, -(j - cam.cy) / cam.focal, -1];
        const depth = offset / (normal[0] * dir[0] + normal[1] * dir[1] + normal[2] * dir[2]);
        expect(Math.abs(image.depth[p] - depth) / depth).toBeLessThan(1e-5);
        for (let c = 0; c < 3; c++) expect(image.normal[3 * p + c]).toBeCloseTo(normal[c], 5);
      }
    }
  });

  it('matches the loss computed from the rendered image, and is zero against itself', () => {
    const s = scene(11);
    const image = createPhotometricImage(64, 64);
    s.renderer.render(s.positions, s.cam, s.albedo, s.sh, image);
    let expected = 0;
    for (let p = 0; p < 64 * 64; p++) {
      if (!image.mask[p]) continue;
      for (let c = 0; c < 3; c++) expected += s.weights[p] * (image.color[3 * p + c] - s.target[3 * p + c]) ** 2;
    }
    expect(s.renderer.lossAndGradient(s.target, s.weights)).toBeCloseTo(expected, 3);
    const g = createPhotometricGradient(s.renderer.vertexCount);
    expect(s.renderer.lossAndGradient(image.color, null, g)).toBeLessThan(1e-9);
    expect(Math.max(...g.positions.map(Math.abs))).toBeLessThan(1e-5);
  });

  it.each([
    ['l2', {}],
    ['huber', { robust: 'huber', scale: 0.1 }],
    ['geman-mcclure', { robust: 'geman-mcclure', scale: 0.1 }],
  ] as [string, PhotometricLossOptions][])('has gradients that match central differences (%s)', (name, options) => {
    const errors = finiteDifferenceErrors(scene(5), options, name === 'l2' ? 1 : 5);
    console.log(
      `photometric FD (${name}): ${Object.entries(errors)
        .map(([k, v]) => `${k} ${v.toExponential(1)}`)
        .join(', ')}`,
    );
    for (const [key, error] of Object.entries(errors)) expect(error, key).toBeLessThan(1e-3);
  });

  it('has colour derivatives (Jacobian–vector products) that match central differences and the gradient', () => {
    const s = scene(5);
    const { renderer, positions, albedo, sh, cam } = s;
    const random = new SeededRandom(9);
    const n3 = positions.length,
      pixels = 64 * 64;
    const dX = Float64Array.from({ length: n3 }, () => random.normal());
    const dRotation = [0.3, -0.2, 0.5],
      dTranslation = [1, -2, 3];
    renderer.render(positions, cam, albedo, sh);
    const ids = renderer.triangleIds.slice();
    const jvp = new Float64Array(3 * pixels);
    renderer.colorDerivative(dX, dRotation, dTranslation, jvp);
    // Central differences of the rendered colours along the same direction.
    // The image is float32: a step large enough for its rounding, small enough to keep the raster.
    const eps = 1e-3,
      plus = createPhotometricImage(64, 64),
      minus = createPhotometricImage(64, 64);
    const moved = (e: number, out: typeof plus) => {
      const c = cloneCamera(cam);
      rotateBy(c.rotation, e * dRotation[0], e * dRotation[1], e * dRotation[2]);
      for (let k = 0; k < 3; k++) c.translation[k] += e * dTranslation[k];
      renderer.render(
        positions.map((v, i) => v + e * dX[i]),
        c,
        albedo,
        sh,
        out,
      );
      for (let p = 0; p < pixels; p++) if (renderer.triangleIds[p] !== ids[p]) ids[p] = -2;
    };
    moved(eps, plus);
    moved(-eps, minus);
    // Pixels that change triangle within ±ε have no derivative to compare: a few along edges.
    let maxErr = 0,
      maxValue = 0,
      compared = 0;
    for (let p = 0; p < pixels; p++) {
      if (ids[p] < 0) continue;
      compared++;
      for (let i = 3 * p; i < 3 * p + 3; i++) {
        maxErr = Math.max(maxErr, Math.abs((plus.color[i] - minus.color[i]) / (2 * eps) - jvp[i]));
        maxValue = Math.max(maxValue, Math.abs(jvp[i]));
      }
    }
    expect(compared).toBeGreaterThan(0.95 * renderer.coveredPixels);
    expect(maxValue).toBeGreaterThan(0);
    expect(maxErr / maxValue).toBeLessThan(1e-3);
    console.log(`colour JVP vs central differences: ${(maxErr / maxValue).toExponential(1)}`);
    // The L2 gradient is Jᵀ·2(C − T): its dot product with the direction is Σ 2(C − T)·J·v.
    const image = createPhotometricImage(64, 64);
    renderer.render(positions, cam, albedo, sh, image);
    const g = createPhotometricGradient(renderer.vertexCount);
    renderer.lossAndGradient(s.target, null, g);
    let viaGradient = 0,
      viaJvp = 0;
    for (let i = 0; i < n3; i++) viaGradient += g.positions[i] * dX[i];
    for (let k = 0; k < 3; k++) viaGradient += g.rotation[k] * dRotation[k] + g.translation[k] * dTranslation[k];
    for (let p = 0; p < pixels; p++) {
      if (!image.mask[p]) continue;
      for (let c = 0; c < 3; c++) viaJvp += 2 * (image.color[3 * p + c] - s.target[3 * p + c]) * jvp[3 * p + c];
    }
    // Equal up to the float32 rounding of the image's colours (about 1e-8 relative here).
    expect(Math.abs(viaGradient - viaJvp)).toBeLessThan(1e-7 * Math.abs(viaGradient));
  });

  it('chains position gradients to a basis', () => {
    const random = new SeededRandom(2);
    const n3 = 30,
      K = 4;
    const basis = Float32Array.from({ length: K * n3 }, () => random.normal());
    const g = Float64Array.from({ length: n3 }, () => random.normal());
    const out = new Float64Array(K);
    chainToBasis(g, basis, K, out);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let i = 0; i < n3; i++) s += basis[k * n3 + i] * g[i];
      expect(out[k]).toBeCloseTo(s, 10);
    }
  });

  it('scales a camera keeping pixel corners', () => {
    const cam = camera(1000, 800, 3000, 0, 0, 0, [0, 0, -600]);
    const small = scaleCamera(cam, 0.256);
    expect(small.cx).toBeCloseTo(255 / 2, 10);
    expect(small.cy).toBeCloseTo((0.256 * 800 - 1) / 2, 10);
    expect(small.focal).toBeCloseTo(768, 10);
  });
});

/** Central difference of f at x[i]. */
function centralDifference(x: Float64Array, i: number, f: () => number, h = 1e-6): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const fp = f();
  x[i] = x0 - h;
  const fm = f();
  x[i] = x0;
  return (fp - fm) / (2 * h);
}

describe(
  'photometric renderer steps (interpolate, shade, barycentrics): backward passes against central ' + 'differences',
  () => {
    const random = new SeededRandom(14);
    const uniform = (n: number, lo: number, hi: number) =>
      Float64Array.from({ length: n }, () => lo + (hi - lo) * random.uniform());
    // One triangle: corners 0, 1, 2 (attribute offsets 0, 3, 6); unit-ish vertex normals facing the viewer.
    const normals = Float64Array.from([0.1, 0.2, 0.97, -0.3, 0.1, 0.95, 0.2, -0.25, 0.94]);
    const albedo = uniform(9, 0.2, 0.8);
    const bary = Float64Array.from([0.3, 0.25]); // b1, b2 of pixel 0
    const sh = uniform(27, -0.3, 0.3);
    sh[0] = 1.1;
    sh[1] = 0.9;
    sh[2] = 0.8;
    const w = uniform(12, -1, 1); // weights of a linear loss on the pixel's values
    const px = new Float64Array(PIXEL_SHADING_SIZE),
      grad = new Float64Array(PIXEL_GRADIENT_SIZE);

    it('interpolate: vertex normals, albedo and barycentrics', () => {
      // L = w·n + w'·ρ of the interpolated unit normal and albedo.
      const loss = () => {
        interpolatePixel(bary, 0, 0, 3, 6, normals, albedo, px);
        let l = 0;
        for (let k = 0; k < 3; k++) l += w[k] * px[PX_NX + k] + w[3 + k] * px[PX_ALBEDO_R + k];
        return l;
      };
      loss();
      for (let k = 0; k < 3; k++) {
        grad[GRAD_NX + k] = w[k];
        grad[GRAD_ALBEDO_R + k] = w[3 + k];
      }
      const gN = new Float64Array(9),
        gA = new Float64Array(9);
      interpolateBackward(px, 0, 3, 6, normals, albedo, grad, gN, gA);
      for (let i = 0; i < 9; i++) {
        expect(gN[i]).toBeCloseTo(centralDifference(normals, i, loss), 6);
        expect(gA[i]).toBeCloseTo(centralDifference(albedo, i, loss), 6);
      }
      // b0 = 1 − b1 − b2: ∂L/∂b1 (b2 fixed) = gb1 − gb0.
      expect(grad[GRAD_B0 + 1] - grad[GRAD_B0]).toBeCloseTo(centralDifference(bary, 0, loss), 6);
      expect(grad[GRAD_B0 + 2] - grad[GRAD_B0]).toBeCloseTo(centralDifference(bary, 1, loss), 6);
      // Forward mode: a change of b1 and of the vertex normals.
      interpolatePixel(bary, 0, 0, 3, 6, normals, albedo, px);
      const dN = uniform(9, -1, 1),
        tangent = new Float64Array(PIXEL_GRADIENT_SIZE);
      tangent[GRAD_B0] = -1;
      tangent[GRAD_B0 + 1] = 1;
      tangent[GRAD_B0 + 2] = 0;
      interpolateDerivative(px, 0, 3, 6, normals, albedo, dN, tangent);
      let expected = 0;
      for (let i = 0; i < 9; i++) expected += dN[i] * centralDifference(normals, i, loss);
      expected += centralDifference(bary, 0, loss);
      let got = 0;
      for (let k = 0; k < 3; k++) got += w[k] * tangent[GRAD_NX + k] + w[3 + k] * tangent[GRAD_ALBEDO_R + k];
      expect(got).toBeCloseTo(expected, 5);
    });

    it('shade: normal, albedo and SH light', () => {
      // L = Σ_c w_c·C_c, C_c = ρ_c·E_c(n), at a fixed (not renormalised) normal.
      const n = Float64Array.from([0.2, -0.3, 0.9]),
        rho = Float64Array.from([0.6, 0.5, 0.4]);
      const loss = () => {
        for (let k = 0; k < 3; k++) {
          px[PX_NX + k] = n[k];
          px[PX_ALBEDO_R + k] = rho[k];
        }
        shadePixel(px, sh);
        let l = 0;
        for (let c = 0; c < 3; c++) l += w[c] * px[PX_ALBEDO_R + c] * px[PX_IRRADIANCE_R + c];
        return l;
      };
      loss();
      for (let c = 0; c < 3; c++) grad[GRAD_COLOR_R + c] = w[c];
      const gL = new Float64Array(27);
      shadeBackward(px, grad, sh, gL);
      for (let k = 0; k < 3; k++) {
        expect(grad[GRAD_NX + k]).toBeCloseTo(centralDifference(n, k, loss), 6);
        expect(grad[GRAD_ALBEDO_R + k]).toBeCloseTo(centralDifference(rho, k, loss), 6);
      }
      for (let k = 0; k < 27; k++) expect(gL[k]).toBeCloseTo(centralDifference(sh, k, loss), 6);
      expect(gL.some((g) => Math.abs(g) > 0.01)).toBe(true);
      // Forward mode along a change of normal and albedo.
      loss();
      const tangent = new Float64Array(PIXEL_GRADIENT_SIZE),
        dn = uniform(3, -1, 1),
        drho = uniform(3, -1, 1);
      for (let k = 0; k < 3; k++) {
        tangent[GRAD_NX + k] = dn[k];
        tangent[GRAD_ALBEDO_R + k] = drho[k];
      }
      const dC = new Float64Array(3);
      shadeDerivative(px, tangent, sh, dC, 0);
      const colour = (c: number) => () => {
        loss();
        return px[PX_ALBEDO_R + c] * px[PX_IRRADIANCE_R + c];
      };
      for (let c = 0; c < 3; c++) {
        let expected = 0;
        for (let k = 0; k < 3; k++)
          expected += dn[k] * centralDifference(n, k, colour(c)) + drho[k] * centralDifference(rho, k, colour(c));
        expect(dC[c]).toBeCloseTo(expected, 6);
      }
    });

    it('barycentrics: screen corners, backward and forward', () => {
      // The pixel centre (10.5, 7.5) in a screen triangle (x, y, depth per corner).
      const screen = Float64Array.from([4.2, 3.1, -0.002, 17.9, 5.3, -0.0021, 8.4, 15.7, -0.0019]);
      const baryOf = (out: Float64Array) => {
        const ax = screen[0],
          ay = screen[1],
          e1x = screen[3] - ax,
          e1y = screen[4] - ay,
          e2x = screen[6] - ax,
          e2y = screen[7] - ay;
        const inv = 1 / (e1x * e2y - e1y * e2x),
          px0 = 10.5 - ax,
          py0 = 7.5 - ay;
        out[1] = (px0 * e2y - py0 * e2x) * inv;
        out[2] = (e1x * py0 - e1y * px0) * inv;
        out[0] = 1 - out[1] - out[2];
      };
      const b = new Float64Array(3);
      const loss = () => {
        baryOf(b);
        return w[0] * b[0] + w[1] * b[1] + w[2] * b[2];
      };
      loss();
      expect(Math.min(b[0], b[1], b[2])).toBeGreaterThan(0);
      for (let k = 0; k < 3; k++) {
        px[PX_B0 + k] = b[k];
        grad[GRAD_B0 + k] = w[k];
      }
      const gS = new Float64Array(6);
      barycentricBackward(px, grad, screen, 0, 1, 2, gS);
      for (let i = 0; i < 3; i++)
        for (let a = 0; a < 2; a++) expect(gS[2 * i + a]).toBeCloseTo(centralDifference(screen, 3 * i + a, loss), 6);
      // Forward: db for a change of the corners (stride 2), against central differences of each b_j.
      const dS = uniform(6, -1, 1),
        tangent = new Float64Array(PIXEL_GRADIENT_SIZE);
      px[PX_INV_AREA] = inverseScreenArea(screen, 0, 1, 2);
      barycentricDerivative(px, screen, 0, 1, 2, dS, tangent);
      for (let j = 0; j < 3; j++) {
        let expected = 0;
        for (let i = 0; i < 3; i++)
          for (let a = 0; a < 2; a++)
            expected +=
              dS[2 * i + a]
              * centralDifference(screen, 3 * i + a, () => {
                baryOf(b);
                return b[j];
              });
        expect(tangent[GRAD_B0 + j]).toBeCloseTo(expected, 6);
      }
    });

    it("composed per pixel, give the renderer's colours and its (fused) light and albedo gradients", () => {
      const positions = Float32Array.from([-20, -20, 3, 20, -20, -2, 20, 20, 4, -20, 20, -1, 0, 0, 8]);
      const tri = Uint32Array.from([0, 1, 4, 1, 2, 4, 2, 3, 4, 3, 0, 4]),
        size = 40;
      const cam = camera(size, size, 500, 0.3, -0.2, 0.1, [1, -2, -600]);
      const alb = Float32Array.from({ length: 15 }, () => 0.3 + 0.5 * random.uniform());
      const renderer = new PhotometricRenderer(tri, 5, size, size);
      const image = createPhotometricImage(size, size);
      renderer.render(positions, cam, alb, sh, image);
      const target = Float32Array.from({ length: 3 * size * size }, () => random.uniform());
      const gradient = createPhotometricGradient(5);
      renderer.lossAndGradient(target, null, gradient);
      // The renderer's camera-space vertex normals and albedo (private), through the steps pixel by pixel.
      const inner = renderer as unknown as { normals: Float64Array; albedo: Float64Array; screen: Float64Array };
      const gL = new Float64Array(27),
        gA = new Float64Array(15),
        gN = new Float64Array(15),
        p0 = new Float64Array(PIXEL_SHADING_SIZE),
        g = new Float64Array(PIXEL_GRADIENT_SIZE);
      let pixels = 0;
      for (let p = 0; p < size * size; p++) {
        const t = renderer.triangleIds[p];
        if (t < 0) continue;
        pixels++;
        const o0 = 3 * tri[3 * t],
          o1 = 3 * tri[3 * t + 1],
          o2 = 3 * tri[3 * t + 2];
        interpolatePixel(renderer.barycentrics, p, o0, o1, o2, inner.normals, inner.albedo, p0);
        shadePixel(p0, Float64Array.from(sh));
        for (let c = 0; c < 3; c++) {
          const colour = p0[PX_ALBEDO_R + c] * p0[PX_IRRADIANCE_R + c];
          expect(colour).toBeCloseTo(image.color[3 * p + c], 6);
          g[GRAD_COLOR_R + c] = 2 * (colour - target[3 * p + c]);
        }
        shadeBackward(p0, g, Float64Array.from(sh), gL);
        interpolateBackward(p0, o0, o1, o2, inner.normals, inner.albedo, g, gN, gA);
      }
      expect(pixels).toBeGreaterThan(300);
      for (let k = 0; k < 27; k++) expect(gL[k]).toBeCloseTo(gradient.sh[k], 8);
      for (let k = 0; k < 15; k++) expect(gA[k]).toBeCloseTo(gradient.albedo[k], 8);
    });

    it('rasterises with the same rasteriser as the overlay: identical coverage and triangle ids', () => {
      // A small random-ish mesh: a 6×6 grid of vertices, jittered, seen at an angle (perspective depth).
      const positions = new Float32Array(3 * 36),
        triangles: number[] = [];
      for (let j = 0; j < 6; j++)
        for (let i = 0; i < 6; i++) {
          const v = 6 * j + i;
          positions[3 * v] = -25 + 10 * i + 3 * (random.uniform() - 0.5);
          positions[3 * v + 1] = -25 + 10 * j + 3 * (random.uniform() - 0.5);
          positions[3 * v + 2] = 8 * Math.sin(i + 2 * j);
          if (i < 5 && j < 5) triangles.push(v, v + 1, v + 7, v, v + 7, v + 6);
        }
      const tri = Uint32Array.from(triangles),
        size = 48;
      const cam = camera(size, size, 60, 0.4, 0.2, 0.1, [0, 0, -120]);
      const renderer = new PhotometricRenderer(tri, 36, size, size);
      const image = createPhotometricImage(size, size);
      const covered = renderer.render(
        positions,
        cam,
        new Float32Array(3 * 36).fill(0.5),
        Float32Array.from({ length: 27 }, (_, k) => (k < 3 ? 1 : 0)),
        image,
      );
      // The same screen positions (x, y, −1/d) through rasterize.ts directly.
      const screen = new Float64Array(3 * 36),
        r = cam.rotation,
        t = cam.translation;
      for (let v = 0; v < 36; v++) {
        const x = positions[3 * v],
          y = positions[3 * v + 1],
          z = positions[3 * v + 2];
        const xc = r[0] * x + r[1] * y + r[2] * z + t[0],
          yc = r[3] * x + r[4] * y + r[5] * z + t[1],
          zc = r[6] * x + r[7] * y + r[8] * z + t[2];
        const wv = -1 / zc;
        screen[3 * v] = cam.cx + 0.5 + cam.focal * xc * wv;
        screen[3 * v + 1] = cam.cy + 0.5 - cam.focal * yc * wv;
        screen[3 * v + 2] = -wv;
      }
      const raster = rasterize(screen, tri, createRasterBuffers(size, size));
      let count = 0;
      for (let p = 0; p < size * size; p++) {
        expect(renderer.triangleIds[p]).toBe(raster.triangle[p]);
        expect(image.mask[p]).toBe(raster.triangle[p] >= 0 ? 1 : 0);
        if (raster.triangle[p] >= 0) count++;
      }
      expect(count).toBe(covered);
      expect(covered).toBeGreaterThan(200);
    });
  },
);

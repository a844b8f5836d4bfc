/**
 * A face rendered like a photo: per-vertex linear albedo shaded by spherical-harmonics light
 * (photometric.ts), over a background image, rendered at 2× and averaged 2 × 2 (no aliased edges, as a
 * lens and a sensor would give), stored as 8-bit sRGB. For synthetic training and evaluation faces,
 * whose exact parameters are known. Pure TypeScript; the renderer and its buffers are made once per
 * size and reused.
 */
import type { Camera } from '../geometry/camera.js';
import { scaleCamera } from '../geometry/crop.js';
import { linearToSrgbByte, srgbToLinear } from '../model/color.js';
import { createPhotometricImage, type PhotometricImage, PhotometricRenderer } from './photometric.js';
import type { RgbImage } from './rgb-image.js';

const SUPERSAMPLE = 2;

/** sRGB byte → linear, tabulated. */
const LINEAR = Float32Array.from({ length: 256 }, (_, i) => srgbToLinear(i / 255));

export class SyntheticFaceRenderer {
  readonly width: number;
  readonly height: number;
  private readonly renderer: PhotometricRenderer;
  private readonly image: PhotometricImage;
  private readonly camera: Camera;

  /** Renders meshes of `vertexCount` vertices and these triangles into width × height images. */
  constructor(triangles: Uint32Array, vertexCount: number, width: number, height: number) {
    this.width = width;
    this.height = height;
    this.renderer = new PhotometricRenderer(triangles, vertexCount, SUPERSAMPLE * width, SUPERSAMPLE * height);
    this.image = createPhotometricImage(SUPERSAMPLE * width, SUPERSAMPLE * height);
    this.camera = {
      rotation: new Float64Array(9),
      translation: new Float64Array(3),
      focal: 0,
      cx: 0,
      cy: 0,
    };
  }

  /**
   * The face (model-space positions, 3N mm; linear RGB albedo, 3N; 27 SH coefficients) seen by `camera`
   * (of a width × height image) over `background` (same size, sRGB; left unchanged), into `out` (a new
   * image when absent). Returns out.
   */
  render(
    positions: Float32Array,
    camera: Camera,
    albedo: Float32Array,
    sh: ArrayLike<number>,
    background: RgbImage,
    out?: RgbImage,
  ): RgbImage {
    const { width, height } = this;
    if (background.width !== width || background.height !== height) {
      throw new RangeError(`background is ${background.width}×${background.height}, expected ${width}×${height}`);
    }
    const target = out ?? { width, height, data: new Uint8Array(3 * width * height) };
    this.renderer.render(positions, scaleCamera(camera, SUPERSAMPLE, this.camera), albedo, sh, this.image);
    const { color, mask } = this.image;
    const W = SUPERSAMPLE * width;
    const bg = background.data;
    const data = target.data;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = 3 * (y * width + x);
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let j = 0; j < SUPERSAMPLE; j++) {
            for (let i = 0; i < SUPERSAMPLE; i++) {
              const q = (SUPERSAMPLE * y + j) * W + SUPERSAMPLE * x + i;
              sum += mask[q] ? color[3 * q + c] : LINEAR[bg[p + c]];
            }
          }
          data[p + c] = linearToSrgbByte(sum / (SUPERSAMPLE * SUPERSAMPLE));
        }
      }
    }
    return target;
  }

  /** Fraction of the image's pixels the face covered in the last render. */
  coverage(): number {
    const { mask } = this.image;
    let n = 0;
    for (let i = 0; i < mask.length; i++) n += mask[i];
    return n / mask.length;
  }
}

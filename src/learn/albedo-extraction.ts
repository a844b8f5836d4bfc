/**
 * Albedo from one photo (issue 18, the colour model's data): the model fitted to the face's ground-truth
 * landmarks (fit/landmark-fit.ts, the quality gate face-profiling.ts uses), then the photometric stage
 * (fit/photometric-fit.ts: SH light and the per-vertex albedo solved in closed form, i.e. the photo de-lit by
 * the fitted light), and a per-vertex confidence of that albedo on the model's face region:
 *
 *   weight = coverage · grazing · highlight · range
 *
 * - coverage: how much the albedo solve saw the vertex (its `albedoWeight`: robust pixel weight × barycentric,
 *   summed), over the median of the seen vertices', capped at 1; 0 for self-occluded or out-of-frame vertices;
 * - grazing: the fitted surface's cos(angle to the view ray), ramped from 0 at GRAZING_LOW to 1 at GRAZING_HIGH;
 * - highlight: albedo luminance above HIGHLIGHT_START × the face's median fades to 0 at HIGHLIGHT_END × it
 *   (specular highlights, which the Lambertian light cannot explain, end up in the albedo);
 * - range: 0 where a channel sits at the solve's clamps (≤ 0.006 or ≥ 0.995: saturated or black photo pixels).
 *
 * Scale: light and albedo trade off per colour channel (albedo × k, light / k render the same), so each channel
 * is scaled until the fitted light's mean irradiance over the seen face is 1 (white): the albedo is the photo
 * de-lit under that convention, with the camera's exposure and white balance still in it.
 *
 * Mirror: where the model has a left/right vertex pair (mirrorVertices, as the photometric fit ties them), a
 * vertex seen less than MIRROR_WEIGHT × its mirror takes the mirror's albedo blended in with that weight.
 * Pure TypeScript.
 */
import { MIN_QUALITY } from '../fit/fit-quality.js';
import { LandmarkFitter } from '../fit/landmark-fit.js';
import { mirrorVertices, PhotometricFitter } from '../fit/photometric-fit.js';
import { fitAnnotation } from './face-profiling.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { vertexNormals } from '../model/normals.js';
import type { RgbImage } from '../render/rgb-image.js';
import { shIrradiance } from '../render/spherical-harmonics.js';

export interface AlbedoExtractionOptions {
  /** Landmark fits scoring below this (fit/fit-quality.ts) are skipped (default MIN_QUALITY, 0.5). */
  minQuality?: number;
  /** Landmark fits further than this NME (%) from the ground truth are skipped (default 5). */
  maxFitNmePercent?: number;
  /** Photometric fits whose RMSE (sRGB, [0, 1]) is above this are skipped (default 0.1). */
  maxRmse?: number;
  /** Photometric render size (default 256, the fit's). */
  size?: number;
  /** Fill poorly seen vertices from their left/right mirror (default true). */
  mirror?: boolean;
}

export interface AlbedoExtraction {
  /** Linear RGB albedo, 3 per stored vertex (AlbedoExtractor.vertices). */
  albedo: Float32Array;
  /** Confidence in [0, 1] per stored vertex; 0: never seen. */
  weight: Float32Array;
  nmePercent: number;
  quality: number;
  rmse: number;
  yawDeg: number;
  /** The fitted identity coefficients (σ units): the face's shape, for joint shape + colour models. */
  identity: number[];
}

export type AlbedoSkip = { skipped: 'fit' | 'photometric'; nmePercent: number; quality: number; rmse: number };

const GRAZING_LOW = 0.15;
const GRAZING_HIGH = 0.5;
const HIGHLIGHT_START = 1.6;
const HIGHLIGHT_END = 2.4;
const MIRROR_WEIGHT = 0.5;
const LUMA = [0.2126, 0.7152, 0.0722];

export class AlbedoExtractor {
  readonly model: MorphableModel;
  /** The model vertices kept: its face region (all vertices without one). */
  readonly vertices: Uint32Array;
  private readonly fitter: LandmarkFitter;
  private readonly photometric: PhotometricFitter;
  private readonly options: Required<AlbedoExtractionOptions>;
  /** Per stored vertex, the stored index of its mirror vertex (-1: none). */
  private readonly mirror: Int32Array;
  private readonly normals: Float32Array;
  private readonly luminance: Float32Array;
  private readonly cosine: Float32Array;
  private readonly irradiance = new Float64Array(3);

  constructor(model: MorphableModel, options: AlbedoExtractionOptions = {}) {
    this.model = model;
    this.vertices = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
    this.options = {
      minQuality: options.minQuality ?? MIN_QUALITY,
      maxFitNmePercent: options.maxFitNmePercent ?? 5,
      maxRmse: options.maxRmse ?? 0.1,
      size: options.size ?? 256,
      mirror: options.mirror ?? true,
    };
    this.fitter = new LandmarkFitter(model);
    this.photometric = new PhotometricFitter(model, { size: this.options.size });
    const stored = new Int32Array(model.vertexCount).fill(-1);
    this.vertices.forEach((v, i) => {
      stored[v] = i;
    });
    const mirrorAll = mirrorVertices(model.mean);
    this.mirror = Int32Array.from(this.vertices, (v) => (mirrorAll[v] >= 0 ? stored[mirrorAll[v]] : -1));
    this.normals = new Float32Array(3 * model.vertexCount);
    this.luminance = new Float32Array(this.vertices.length);
    this.cosine = new Float32Array(this.vertices.length);
  }

  /** The face's albedo and confidence, or why it was skipped. `landmarks`: 136 values, 0-based pixel centres. */
  extract(image: RgbImage, landmarks: Float32Array): AlbedoExtraction | AlbedoSkip {
    const { model, options, vertices } = this;
    const { fit, angles, nmePercent, quality } = fitAnnotation(this.fitter, image, landmarks);
    if (!(quality >= options.minQuality) || !(nmePercent <= options.maxFitNmePercent))
      return { skipped: 'fit', nmePercent, quality, rmse: NaN };
    const result = this.photometric.fit(image, 1, landmarks, fit);
    const rmse = result.rmseAfter;
    if (!(rmse <= options.maxRmse)) return { skipped: 'photometric', nmePercent, quality, rmse };

    // The fitted mesh's camera-space normals: grazing angles, and the light's irradiance at each vertex.
    const positions = evaluateShape(model, result.identity, result.expression);
    const normals = vertexNormals(positions, model.triangles, this.normals);
    const R = result.camera.rotation,
      t = result.camera.translation;
    const n = vertices.length;
    const albedo = new Float32Array(3 * n),
      weight = new Float32Array(n),
      cosine = this.cosine,
      irradiance = this.irradiance;
    const seen: number[] = [];
    let e0 = 0,
      e1 = 0,
      e2 = 0,
      seenWeight = 0;
    for (let i = 0; i < n; i++) {
      const v = vertices[i];
      weight[i] = result.albedoWeight[v];
      if (!(weight[i] > 0)) continue;
      seen.push(weight[i]);
      const p = 3 * v;
      const x = positions[p],
        y = positions[p + 1],
        z = positions[p + 2];
      const cx = R[0] * x + R[1] * y + R[2] * z + t[0],
        cy = R[3] * x + R[4] * y + R[5] * z + t[1],
        cz = R[6] * x + R[7] * y + R[8] * z + t[2];
      const nx = normals[p],
        ny = normals[p + 1],
        nz = normals[p + 2];
      const ncx = R[0] * nx + R[1] * ny + R[2] * nz,
        ncy = R[3] * nx + R[4] * ny + R[5] * nz,
        ncz = R[6] * nx + R[7] * ny + R[8] * nz;
      cosine[i] = -(ncx * cx + ncy * cy + ncz * cz) / Math.max(1e-9, Math.hypot(cx, cy, cz));
      shIrradiance(ncx, ncy, ncz, result.sh, irradiance);
      e0 += weight[i] * irradiance[0];
      e1 += weight[i] * irradiance[1];
      e2 += weight[i] * irradiance[2];
      seenWeight += weight[i];
    }
    // Light and albedo trade off per channel: scale each so that the light's mean irradiance over the seen face is 1.
    const scale = [e0 / seenWeight, e1 / seenWeight, e2 / seenWeight];
    if (!scale.every((k) => k > 1e-3)) return { skipped: 'photometric', nmePercent, quality, rmse };
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) albedo[3 * i + c] = scale[c] * result.albedo[3 * vertices[i] + c];
    }
    const coverageScale = 1 / Math.max(1e-9, median(seen));
    const luminance = this.luminance;
    const lumSeen: number[] = [];
    for (let i = 0; i < n; i++) {
      luminance[i] = LUMA[0] * albedo[3 * i] + LUMA[1] * albedo[3 * i + 1] + LUMA[2] * albedo[3 * i + 2];
      if (weight[i] > 0) lumSeen.push(luminance[i]);
    }
    const faceLuminance = Math.max(1e-6, median(lumSeen));
    for (let i = 0; i < n; i++) {
      if (!(weight[i] > 0)) continue;
      const grazing = ramp(cosine[i], GRAZING_LOW, GRAZING_HIGH);
      const highlight = 1 - ramp(luminance[i] / faceLuminance, HIGHLIGHT_START, HIGHLIGHT_END);
      let range = 1;
      for (let c = 0; c < 3; c++) {
        const a = result.albedo[3 * vertices[i] + c];
        if (a <= 0.006 || a >= 0.995) range = 0;
      }
      weight[i] = Math.min(1, weight[i] * coverageScale) * grazing * highlight * range;
    }
    if (options.mirror) this.fillFromMirror(albedo, weight);
    return { albedo, weight, nmePercent, quality, rmse, yawDeg: angles.yaw, identity: Array.from(result.identity) };
  }

  /** A vertex seen less than MIRROR_WEIGHT × its mirror takes the mirror's albedo in, with that weight. */
  private fillFromMirror(albedo: Float32Array, weight: Float32Array): void {
    const n = weight.length,
      original = Float32Array.from(weight),
      source = Float32Array.from(albedo);
    for (let i = 0; i < n; i++) {
      const j = this.mirror[i];
      if (j < 0 || j === i) continue;
      const wm = MIRROR_WEIGHT * original[j];
      if (!(wm > original[i])) continue;
      const wi = original[i];
      for (let c = 0; c < 3; c++) albedo[3 * i + c] = (wi * source[3 * i + c] + wm * source[3 * j + c]) / (wi + wm);
      weight[i] = wm;
    }
  }
}

function ramp(x: number, low: number, high: number): number {
  return x <= low ? 0 : x >= high ? 1 : (x - low) / (high - low);
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  return values[values.length >> 1];
}

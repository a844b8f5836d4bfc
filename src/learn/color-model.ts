/**
 * Blanz–Vetter's colour model T learned from photos (issue 18): the weighted PCA (model/weighted-pca.ts) of
 * the de-lit per-vertex albedos an albedo dataset (albedo-data.ts) holds, each entry weighted by how well its
 * photo saw it, over the training faces of the dataset's split by photo. Vertices outside the dataset's region
 * get the region's mean colour and no variation. The validation faces measure what it is worth: each face's
 * colour is predicted at half of its seen vertices (odd indices) from the other half (even indices), and the
 * error measured there, against the number of components: more components cannot just fit the noise of the
 * vertices they are scored on.
 */
import { linearToSrgb } from '../model/color.js';
import { spreadColorModel } from '../model/color-region.js';
import type { ColorModel, MorphableModel } from '../model/morphable-model.js';
import { projectWeighted, reconstruct, weightedPca } from '../model/weighted-pca.js';
import type { AlbedoDataset } from './albedo-data.js';

export interface ColorLearningOptions {
  /** Keep the fewest components reaching this fraction of the variance (default 0.95). */
  variance?: number;
  /** At most this many components (default 40). */
  maxComponents?: number;
  /** EM iterations at most (default 60) and the relative change that stops them earlier (default 1e-4). */
  maxIterations?: number;
  tolerance?: number;
  /** Component counts the validation error is measured at (default 0, 5, 10, 20, 40 and all kept). */
  evaluateAt?: number[];
  onProgress?: (iteration: number, change: number) => void;
}

export interface ColorReconstructionError {
  components: number;
  /**
   * Weighted RMS error in 8-bit sRGB levels (0–255) over the validation faces' seen odd vertices, predicted from
   * their seen even vertices.
   */
  rmseSrgb: number;
}

export interface LearnedColorModel {
  color: ColorModel;
  trainFaces: number;
  validationFaces: number;
  /** Fraction of the variance each kept component explains. */
  explainedVariance: number[];
  validation: ColorReconstructionError[];
  iterations: number;
  seconds: number;
}

/** Learns the colour model of `model` (whose vertex count the dataset must have been made for). */
export function learnColorModel(
  model: Pick<MorphableModel, 'vertexCount'>,
  dataset: AlbedoDataset,
  options: ColorLearningOptions = {},
): LearnedColorModel {
  const start = performance.now();
  const { header, vertexIds } = dataset;
  const V = header.vertices;
  const d = 3 * V;
  const train = splitFaces(header, 'train');
  const validation = splitFaces(header, 'validation');
  if (train.length < 2) throw new RangeError(`the dataset has ${train.length} training faces: at least 2 needed`);

  const [data, weights] = rows(dataset, train);
  const pca = weightedPca(data, weights, train.length, d, {
    variance: options.variance ?? 0.95,
    maxComponents: options.maxComponents ?? 40,
    namePrefix: 'color',
    maxIterations: options.maxIterations ?? 60,
    tolerance: options.tolerance ?? 1e-4,
    onProgress: options.onProgress && ((p) => options.onProgress!(p.iteration, p.change)),
  });
  const region: ColorModel = { mean: pca.mean, basis: pca.basis };

  // The validation error against the number of components, each face projected from its seen entries.
  const kept = pca.basis.count;
  const counts = [...new Set([...(options.evaluateAt ?? [0, 5, 10, 20, 40]), kept])]
    .filter((k) => k <= kept)
    .sort((a, b) => a - b);
  const [vData, vWeights] = rows(dataset, validation);
  const errors = counts.map((components) => ({
    components,
    rmseSrgb: heldOutColorError(region, vData, vWeights, components),
  }));

  return {
    color: spreadColorModel(model.vertexCount, vertexIds, region),
    trainFaces: train.length,
    validationFaces: validation.length,
    explainedVariance: [...pca.explainedVariance],
    validation: errors,
    iterations: pca.iterations,
    seconds: (performance.now() - start) / 1000,
  };
}

/** The indices of the dataset's faces in one part of its split (a name without a face is left out). */
export function splitFaces(header: AlbedoDataset['header'], part: 'train' | 'validation'): number[] {
  const index = new Map(header.faces.map((face, i) => [face.name, i]));
  return header.split[part].map((name) => index.get(name)).filter((i): i is number => i !== undefined);
}

/**
 * The weighted RMS error (8-bit sRGB levels) of `region`'s prediction of the faces' colour at their seen odd
 * vertices from their seen even vertices, with its first `components` components. `data`: the faces' linear RGB
 * albedos (F × 3V, V the region's vertices); `weights`: the same shape, each entry's confidence in [0, 1].
 */
export function heldOutColorError(
  region: ColorModel,
  data: Float32Array,
  weights: Float32Array,
  components: number,
): number {
  const d = region.mean.length;
  const faces = data.length / d;
  const sample = new Float32Array(d);
  const given = new Float32Array(d); // the even vertices' weights: what the prediction sees
  const out = new Float32Array(d);
  let sum = 0;
  let weight = 0;
  for (let f = 0; f < faces; f++) {
    sample.set(data.subarray(f * d, (f + 1) * d));
    const seen = weights.subarray(f * d, (f + 1) * d);
    for (let j = 0; j < d; j++) given[j] = Math.floor(j / 3) % 2 === 0 ? seen[j] : 0;
    const coefficients = projectWeighted(region, sample, given, { count: components });
    reconstruct(region, coefficients, out);
    for (let j = 0; j < d; j++) {
      const w = Math.floor(j / 3) % 2 === 1 ? seen[j] : 0;
      if (w === 0) continue;
      const e = 255 * (linearToSrgb(out[j]) - linearToSrgb(sample[j]));
      sum += w * e * e;
      weight += w;
    }
  }
  return weight > 0 ? Math.sqrt(sum / weight) : Number.NaN;
}

/** The faces' albedos (F × 3V) and their weights, one per channel. */
function rows(dataset: AlbedoDataset, faces: number[]): [Float32Array, Float32Array] {
  const V = dataset.header.vertices;
  const d = 3 * V;
  const data = new Float32Array(faces.length * d);
  const weights = new Float32Array(faces.length * d);
  for (const [row, f] of faces.entries()) {
    data.set(dataset.albedo.subarray(f * d, (f + 1) * d), row * d);
    for (let v = 0; v < V; v++) {
      const w = dataset.weight[f * V + v];
      const o = row * d + 3 * v;
      weights[o] = w;
      weights[o + 1] = w;
      weights[o + 2] = w;
    }
  }
  return [data, weights];
}

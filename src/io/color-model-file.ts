/**
 * A learned colour model as a small file (issue 18): "MCLR", a float16 weights file (detect/weights-file.ts)
 * that holds the colour PCA over the vertices it covers only (ICT-FaceKit's face region, not the whole head)
 * instead of a whole model .glb. The header names the model it belongs to (name and vertex count), the covered
 * vertices as sorted [start, end) ranges (float16 cannot hold vertex ids), each component's σ and explained
 * variance, and how it was made (`training`: command, seed, data hash, faces, time); the tensors are the mean
 * (V × 3, linear RGB) and the basis (K × V × 3, σ-scaled as ColorModel stores it). Pure TS: the web app reads
 * the bytes it fetched. `withColorModel` spreads it over a whole model.
 */
import { decodeWeights, encodeWeights, type Tensors } from '../detect/weights-file.js';
import { spreadColorModel } from '../model/color-region.js';
import type { ColorModel, MorphableModel } from '../model/morphable-model.js';

const MAGIC = 'MCLR';

export interface ColorModelFile {
  /** The model's name (MorphableModel.name) and vertex count: the file is refused for another model. */
  model: { name: string; vertexCount: number };
  /** The covered vertex ids, ascending (V). */
  vertices: Uint32Array;
  /** Per covered vertex linear RGB, 3V. */
  mean: Float32Array;
  /** K × 3V, component-major, each component scaled by its σ (coefficients in standard deviations). */
  basis: Float32Array;
  /** σ_k per component (K). */
  stddev: Float32Array;
  /** Fraction of the training variance each component explains (K). */
  explainedVariance: number[];
  /** How the file was made: command, seed, data hash, faces, seconds… */
  training: Record<string, unknown>;
}

/**
 * The colour model of `model` restricted to `covered` (distinct vertex ids; stored ascending), as a file's contents.
 */
export function colorModelFileFrom(
  model: Pick<MorphableModel, 'name' | 'vertexCount'>,
  color: ColorModel,
  covered: ArrayLike<number>,
  explainedVariance: number[],
  training: Record<string, unknown>,
): ColorModelFile {
  const vertices = Uint32Array.from(covered).sort();
  const V = vertices.length;
  const N = model.vertexCount;
  const K = color.basis.count;
  const mean = new Float32Array(3 * V);
  const basis = new Float32Array(K * 3 * V);
  for (let v = 0; v < V; v++) {
    const from = 3 * vertices[v];
    for (let c = 0; c < 3; c++) {
      mean[3 * v + c] = color.mean[from + c];
      for (let k = 0; k < K; k++) basis[k * 3 * V + 3 * v + c] = color.basis.basis[k * 3 * N + from + c];
    }
  }
  return {
    model: { name: model.name, vertexCount: N },
    vertices,
    mean,
    basis,
    stddev: Float32Array.from(color.basis.stddev),
    explainedVariance: [...explainedVariance],
    training,
  };
}

export function encodeColorModelFile(file: ColorModelFile): Uint8Array {
  const V = file.vertices.length;
  const K = file.stddev.length;
  const tensors: Tensors = new Map([
    ['mean', { shape: [V, 3], values: file.mean }],
    ['basis', { shape: [K, V, 3], values: file.basis }],
  ]);
  const fields = {
    model: file.model,
    vertexRanges: toRanges(file.vertices),
    vertexCount: V,
    components: K,
    stddev: Array.from(file.stddev),
    explainedVariance: file.explainedVariance,
  };
  return encodeWeights(MAGIC, fields, tensors, file.training);
}

/**
 * Reads a colour model file. Throws an Error naming `source` (a file name or URL) and the problem: not such a
 * file, truncated, or counts that disagree with each other or the tensors.
 */
export function decodeColorModelFile(bytes: Uint8Array, source: string): ColorModelFile {
  let vertices: Uint32Array = new Uint32Array(0);
  const { header, tensors, training } = decodeWeights(bytes, source, MAGIC, 'colour model', (h) => {
    const model = h.model as { name?: unknown; vertexCount?: unknown } | undefined;
    if (typeof model?.name !== 'string' || !isCount(model.vertexCount)) throw new Error('no model name or size');
    const K = h.components;
    if (!isCount(K)) throw new Error(`component count ${K}`);
    for (const field of ['stddev', 'explainedVariance']) {
      const values = h[field];
      if (!Array.isArray(values) || values.length !== K || !values.every((x) => Number.isFinite(x)))
        throw new Error(`${field} is not ${K} numbers`);
    }
    vertices = fromRanges(h.vertexRanges, model.vertexCount as number);
    if (vertices.length !== h.vertexCount)
      throw new Error(`the vertex ranges hold ${vertices.length} vertices, the header says ${h.vertexCount}`);
    return [
      ['mean', [vertices.length, 3]],
      ['basis', [K as number, vertices.length, 3]],
    ];
  });
  return {
    model: header.model as ColorModelFile['model'],
    vertices,
    mean: tensors.get('mean')!.values,
    basis: tensors.get('basis')!.values,
    stddev: Float32Array.from(header.stddev as number[]),
    explainedVariance: header.explainedVariance as number[],
    training,
  };
}

/**
 * `model` with the file's colour model spread over all its vertices: the covered ones as in the file, the others
 * the covered vertices' mean colour and no variation. Throws an Error naming `source` when the file was made for
 * another model (name or vertex count).
 */
export function withColorModel(model: MorphableModel, file: ColorModelFile, source = 'colour model'): MorphableModel {
  if (file.model.name !== model.name || file.model.vertexCount !== model.vertexCount) {
    throw new Error(
      `${source}: a colour model of ${file.model.name} (${file.model.vertexCount} vertices), not of ${model.name} `
        + `(${model.vertexCount} vertices)`,
    );
  }
  const K = file.stddev.length;
  const names = Array.from({ length: K }, (_, k) => `color${String(k).padStart(3, '0')}`);
  const region: ColorModel = {
    mean: file.mean,
    basis: { kind: 'pca', count: K, basis: file.basis, stddev: file.stddev, names },
  };
  const color = spreadColorModel(model.vertexCount, file.vertices, region);
  return { ...model, color };
}

/**
 * The file's colour model carried over to another model whose vertices correspond to the file model's:
 * `newIndex[v]` is the other model's vertex for the file model's vertex v (−1 where it has none). Covered
 * vertices without a counterpart are left out (the result may cover none); the rest keep their mean and basis.
 */
export function remapColorModelFile(
  file: ColorModelFile,
  target: ColorModelFile['model'],
  newIndex: Int32Array,
): ColorModelFile {
  const V = file.vertices.length;
  const K = file.stddev.length;
  const kept: Array<[number, number]> = []; // [target vertex, position in the file]
  for (let v = 0; v < V; v++) {
    const to = newIndex[file.vertices[v]];
    if (to >= 0) kept.push([to, v]);
  }
  kept.sort((a, b) => a[0] - b[0]);
  const W = kept.length;
  const vertices = Uint32Array.from(kept, ([to]) => to);
  if (vertices.some((id, i) => id >= target.vertexCount || (i > 0 && id === vertices[i - 1])))
    throw new RangeError('remapColorModelFile: the vertex map is not one-to-one into the target model');
  const mean = new Float32Array(3 * W);
  const basis = new Float32Array(K * 3 * W);
  for (let w = 0; w < W; w++) {
    const from = 3 * kept[w][1];
    for (let c = 0; c < 3; c++) {
      mean[3 * w + c] = file.mean[from + c];
      for (let k = 0; k < K; k++) basis[k * 3 * W + 3 * w + c] = file.basis[k * 3 * V + from + c];
    }
  }
  return { ...file, model: { ...target }, vertices, mean, basis };
}

const isCount = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

/** Ascending ids → [start, end) pairs. */
function toRanges(ids: Uint32Array): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && ids[i] <= ids[i - 1]) throw new RangeError('colour model vertices must be ascending');
    const last = ranges[ranges.length - 1];
    if (last && last[1] === ids[i]) last[1]++;
    else ranges.push([ids[i], ids[i] + 1]);
  }
  return ranges;
}

/** [start, end) pairs → ascending ids below `vertexCount`, or an Error saying what is wrong. */
function fromRanges(ranges: unknown, vertexCount: number): Uint32Array {
  if (!Array.isArray(ranges) || ranges.length === 0) throw new Error('no vertex ranges');
  let total = 0;
  let previous = -1;
  for (const r of ranges) {
    const ok = Array.isArray(r) && r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]);
    if (!ok || r[0] < Math.max(0, previous) || r[1] <= r[0] || r[1] > vertexCount)
      throw new Error(`vertex range ${JSON.stringify(r)} is not ascending within the model's ${vertexCount}`);
    total += r[1] - r[0];
    previous = r[1];
  }
  const ids = new Uint32Array(total);
  let at = 0;
  for (const [start, end] of ranges as Array<[number, number]>) for (let v = start; v < end; v++) ids[at++] = v;
  return ids;
}

/**
 * The albedo dataset (issue 18): every face of a train-300w-like folder (NAME.jpg + NAME.pts + manifest.csv)
 * fitted and de-lit by albedo-extraction.ts, written compactly to a folder:
 *
 * - albedo.json: format, model name and vertex count, the stored vertices (the model's face region), the
 *   faces (name, source photo, yaw, fit NME, photometric RMSE), the faces skipped and why, the split by photo
 *   (splitByPhoto with a fixed seed: train / validation names) and the time taken;
 * - albedo.bin: uint32 vertex ids [V], then float16 linear-RGB albedo [F × V × 3], then uint8 weight
 *   [F × V] (confidence × 255; 0: never seen), little-endian, in the order of the JSON's faces.
 *
 * Faces are fitted on worker threads (albedo-worker.ts) when jobs > 1, else in this thread. Node.
 */
import { readFile, mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { halvesToFloats, toHalf } from '../detect/weights-file.js';
import { InputError } from '../errors.js';
import { checkWritableFolder, writeFileAtomic } from '../io/node/atomic-write.js';
import { loadImage } from '../io/node/image.js';
import { loadModel } from '../io/node/load-model.js';
import { embeddedModelPath } from '../io/node/model-paths.js';
import { parsePts } from '../io/pts.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { WorkerPool } from '../service/worker-pool.js';
import { AlbedoExtractor, type AlbedoExtraction, type AlbedoSkip } from './albedo-extraction.js';
import { photoFromPath, splitByPhoto } from './landmark-dataset.js';
import { readManifest } from './profile-dataset.js';

export const ALBEDO_FORMAT = 'morphable-albedo-data';
/** The split's seed and validation fraction (the landmark net's). */
export const ALBEDO_SPLIT = { seed: 15, validationFraction: 0.1 };

export interface AlbedoFaceInfo {
  name: string;
  photo: string;
  yawDeg: number;
  nmePercent: number;
  rmse: number;
  /** Fitted identity coefficients (σ units, 4 decimals); absent in datasets made before they were kept. */
  identity?: number[];
}

export interface AlbedoHeader {
  format: typeof ALBEDO_FORMAT;
  version: 1;
  model: string;
  modelVertexCount: number;
  /** Stored vertices per face (the model's face region). */
  vertices: number;
  faces: AlbedoFaceInfo[];
  skipped: { fit: string[]; photometric: string[] };
  split: { seed: number; validationFraction: number; train: string[]; validation: string[] };
  seconds: number;
  msPerFace: number;
  jobs: number;
}

export interface AlbedoDataset {
  header: AlbedoHeader;
  /** Model vertex of each stored vertex. */
  vertexIds: Uint32Array;
  /** F × V × 3 linear RGB. */
  albedo: Float32Array;
  /** F × V confidences in [0, 1]. */
  weight: Float32Array;
}

export interface AlbedoDatasetOptions {
  dataDir: string;
  outDir: string;
  /** Only n faces, spread evenly over the manifest (every (N/n)-th), so that each source is represented. */
  limit?: number;
  /** Worker threads (default: the cores); 1 fits in this thread. */
  jobs?: number;
  /** In this thread only (jobs 1); default the model shipped in models/. */
  model?: MorphableModel;
  onProgress?: (done: number, total: number) => void;
}

/** What a worker (or this thread) is given and gives back per face. */
export interface AlbedoTask {
  dir: string;
  name: string;
}
export type AlbedoTaskResult = AlbedoExtraction | AlbedoSkip;

/** Fits one face of the folder (its .jpg and .pts): the worker's job. */
export async function extractFace(extractor: AlbedoExtractor, task: AlbedoTask): Promise<AlbedoTaskResult> {
  const ptsFile = join(task.dir, `${task.name}.pts`);
  const text = await readFile(ptsFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new InputError(ptsFile, err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`);
  });
  const landmarks = parsePts(text, ptsFile);
  const { image } = await loadImage(join(task.dir, `${task.name}.jpg`));
  return extractor.extract(image, landmarks);
}

/** n items of the list at evenly spaced positions (all of them when n ≥ its length). */
export function spreadEvenly<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return items.slice();
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)] as T);
}

/** Writes the dataset (see the module comment); nothing is written unless every face could be read. */
export async function writeAlbedoDataset(options: AlbedoDatasetOptions): Promise<AlbedoHeader> {
  const { dataDir, outDir } = options;
  const rows = await readManifest(join(dataDir, 'manifest.csv'));
  const chosen = options.limit ? spreadEvenly(rows, options.limit) : rows;
  await checkWritableFolder(outDir, `--out ${outDir}`);
  const jobs = Math.max(1, Math.min(options.jobs ?? availableParallelism(), chosen.length));
  const start = performance.now();
  const results: AlbedoTaskResult[] = new Array(chosen.length);
  let done = 0;
  let vertexIds: Uint32Array;
  let modelName: string, modelVertexCount: number;
  if (jobs === 1) {
    const model = options.model ?? (await loadModel(embeddedModelPath()));
    const extractor = new AlbedoExtractor(model);
    for (const [i, row] of chosen.entries()) {
      results[i] = await extractFace(extractor, { dir: dataDir, name: row.name });
      options.onProgress?.(++done, chosen.length);
    }
    vertexIds = extractor.vertices;
    modelName = model.name;
    modelVertexCount = model.vertexCount;
  } else {
    const pool = await WorkerPool.start<AlbedoTask | 'model', AlbedoTaskResult | WorkerModelInfo>(
      new URL('./albedo-worker.js', import.meta.url),
      { modelPath: embeddedModelPath() },
      jobs,
    );
    try {
      const info = (await pool.run('model')) as WorkerModelInfo;
      ({ vertexIds, name: modelName, vertexCount: modelVertexCount } = info);
      await Promise.all(
        chosen.map(async (row, i) => {
          results[i] = (await pool.run({ dir: dataDir, name: row.name })) as AlbedoTaskResult;
          options.onProgress?.(++done, chosen.length);
        }),
      );
    } finally {
      await pool.close();
    }
  }
  const seconds = (performance.now() - start) / 1000;

  const V = vertexIds.length;
  const faces: AlbedoFaceInfo[] = [];
  const kept: AlbedoExtraction[] = [];
  const skipped = { fit: [] as string[], photometric: [] as string[] };
  chosen.forEach((row, i) => {
    const r = results[i];
    if ('skipped' in r) {
      skipped[r.skipped].push(row.name);
      return;
    }
    kept.push(r);
    faces.push({
      name: row.name,
      photo: photoFromPath(row.path, row.source),
      yawDeg: round(r.yawDeg, 2),
      nmePercent: round(r.nmePercent, 3),
      rmse: round(r.rmse, 4),
      identity: r.identity.map((x) => round(x, 4)),
    });
  });
  const split = splitByPhoto(faces, ALBEDO_SPLIT);
  const header: AlbedoHeader = {
    format: ALBEDO_FORMAT,
    version: 1,
    model: modelName,
    modelVertexCount,
    vertices: V,
    faces,
    skipped,
    split: { ...ALBEDO_SPLIT, train: split.train.map((f) => f.name), validation: split.validation.map((f) => f.name) },
    seconds: round(seconds, 1),
    msPerFace: round((1000 * seconds) / Math.max(1, chosen.length), 1),
    jobs,
  };
  const bytes = encodeAlbedoData(vertexIds, kept);
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, 'albedo.bin'), bytes);
  await writeFileAtomic(join(outDir, 'albedo.json'), `${JSON.stringify(header, null, 1)}\n`);
  return header;
}

/** Reads a folder written by writeAlbedoDataset; a missing or inconsistent file is an InputError. */
export async function readAlbedoDataset(dir: string): Promise<AlbedoDataset> {
  const jsonPath = join(dir, 'albedo.json'),
    binPath = join(dir, 'albedo.bin');
  const read = (path: string) =>
    readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(path, err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`);
    });
  let header: AlbedoHeader;
  try {
    header = JSON.parse((await read(jsonPath)).toString('utf8')) as AlbedoHeader;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(jsonPath, 'not valid JSON');
  }
  if (header.format !== ALBEDO_FORMAT)
    throw new InputError(jsonPath, `not an albedo dataset (format ${header.format})`);
  const bin = await read(binPath);
  const V = header.vertices,
    F = header.faces.length;
  if (bin.length !== 4 * V + 7 * F * V)
    throw new InputError(
      binPath,
      `${bin.length} bytes, the header's ${F} faces × ${V} vertices need ${4 * V + 7 * F * V}`,
    );
  const { vertexIds, albedo, weight } = decodeAlbedoData(bin, V, F);
  return { header, vertexIds, albedo, weight };
}

/** albedo.bin's bytes: vertex ids, then float16 albedo (3 per vertex per face), then uint8 weights × 255. */
export function encodeAlbedoData(
  vertexIds: Uint32Array,
  faces: readonly { albedo: Float32Array; weight: Float32Array }[],
): Uint8Array {
  const V = vertexIds.length,
    F = faces.length;
  const bytes = new Uint8Array(4 * V + 7 * F * V);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < V; i++) view.setUint32(4 * i, vertexIds[i], true);
  let o = 4 * V;
  for (const face of faces) {
    for (let i = 0; i < 3 * V; i++, o += 2) view.setUint16(o, toHalf(face.albedo[i]), true);
  }
  for (const face of faces) {
    for (let i = 0; i < V; i++) bytes[o++] = Math.round(255 * Math.min(1, Math.max(0, face.weight[i])));
  }
  return bytes;
}

/** The inverse of encodeAlbedoData for F faces of V vertices (the length is the caller's to check). */
export function decodeAlbedoData(
  bytes: Uint8Array,
  V: number,
  F: number,
): { vertexIds: Uint32Array; albedo: Float32Array; weight: Float32Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vertexIds = new Uint32Array(V);
  for (let i = 0; i < V; i++) vertexIds[i] = view.getUint32(4 * i, true);
  const albedo = new Float32Array(3 * F * V),
    weight = new Float32Array(F * V);
  let o = 4 * V;
  halvesToFloats(view, o, albedo);
  o += 2 * albedo.length;
  for (let i = 0; i < weight.length; i++) weight[i] = bytes[o++] / 255;
  return { vertexIds, albedo, weight };
}

export interface WorkerModelInfo {
  name: string;
  vertexCount: number;
  vertexIds: Uint32Array;
}

function round(x: number, digits: number): number {
  const s = 10 ** digits;
  return Math.round(x * s) / s;
}

/** Albedo datasets (src/learn/albedo-data.ts) made up from a known colour model, for the colour model's tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALBEDO_FORMAT, type AlbedoDataset, type AlbedoHeader, encodeAlbedoData } from '../../src/learn/albedo-data.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';
import { SeededRandom } from '../../src/model/random.js';

/**
 * Albedos of `faces` faces on the first `region` vertices of `model` from a known colour model: a skin mean,
 * `rank` components of decreasing σ, 0.003 of noise; each face sees only part of the region (weight 0 on a
 * random left or right half, lower weights elsewhere), as a turned face does.
 */
export function syntheticAlbedoDataset(
  model: Pick<MorphableModel, 'name' | 'vertexCount'>,
  region: number,
  faces: number,
  rank: number,
): AlbedoDataset {
  const random = new SeededRandom(18);
  const d = 3 * region;
  const components = Array.from({ length: rank }, () => Float32Array.from({ length: d }, () => random.normal()));
  for (const c of components) {
    const norm = Math.hypot(...c);
    for (let j = 0; j < d; j++) c[j] /= norm;
  }
  const albedo = new Float32Array(faces * d);
  const weight = new Float32Array(faces * region);
  for (let f = 0; f < faces; f++) {
    for (let v = 0; v < region; v++) albedo.set([0.4, 0.22, 0.15], f * d + 3 * v);
    for (let k = 0; k < rank; k++) {
      const z = (0.6 / (k + 1)) * random.normal();
      for (let j = 0; j < d; j++) albedo[f * d + j] += z * components[k][j];
    }
    for (let j = 0; j < d; j++) albedo[f * d + j] += 0.003 * random.normal();
    const hidden = random.uniform() < 0.5;
    for (let v = 0; v < region; v++)
      weight[f * region + v] = v < region / 2 === hidden ? 0 : 0.5 + 0.5 * random.uniform();
  }
  const names = Array.from({ length: faces }, (_, i) => `face${i}`);
  const header: AlbedoHeader = {
    format: ALBEDO_FORMAT,
    version: 1,
    model: model.name,
    modelVertexCount: model.vertexCount,
    vertices: region,
    faces: names.map((name) => ({ name, photo: name, yawDeg: 0, nmePercent: 2, rmse: 0.04 })),
    skipped: { fit: [], photometric: [] },
    split: { seed: 1, validationFraction: 0.2, train: names.slice(0, faces - 10), validation: names.slice(faces - 10) },
    seconds: 0,
    msPerFace: 0,
    jobs: 1,
  };
  return { header, vertexIds: Uint32Array.from({ length: region }, (_, i) => i), albedo, weight };
}

/** Writes `dataset` as `morphable train albedo` does (albedo.json + albedo.bin) into `folder`; returns it. */
export function writeAlbedoFolder(folder: string, dataset: AlbedoDataset): string {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'albedo.json'), JSON.stringify(dataset.header));
  writeFileSync(join(folder, 'albedo.bin'), encodeAlbedoData(dataset.vertexIds, splitFaces(dataset)));
  return folder;
}

function splitFaces(dataset: AlbedoDataset) {
  const V = dataset.header.vertices;
  return dataset.header.faces.map((_, f) => ({
    albedo: dataset.albedo.subarray(3 * V * f, 3 * V * (f + 1)),
    weight: dataset.weight.subarray(V * f, V * (f + 1)),
  }));
}

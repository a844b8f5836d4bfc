/**
 * `model fetch --color-model FILE|DIR|none`: the colour model stored in the fetched ICT-FaceKit model as its colour
 * basis. By default the shipped models/color-model-300w.bin (made for the face-and-head model); DIR, an albedo
 * folder (`morphable train albedo`), is learned from as `model learn-color` does. A colour model made for one
 * ICT-FaceKit region carries over to another through the full mesh's vertex ids (ictRegionVertices).
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { type ColorModelFile, remapColorModelFile, withColorModel } from '../io/color-model-file.js';
import { ICT_REGIONS, type IctRegion, ictModelName, ictRegionVertices } from '../io/importers/ict-facekit.js';
import { loadColorModelFile, NO_COLOR_MODEL } from '../io/node/color-model.js';
import { shippedColorModelPath } from '../io/node/model-paths.js';
import { type AlbedoDataset, readAlbedoDataset } from '../learn/albedo-data.js';
import type { MorphableModel } from '../model/morphable-model.js';
import {
  albedosOfAnotherModel,
  type ColorLearningCliOptions,
  checkTrainingFaces,
  learnColorWithProgress,
} from './learn-color-command.js';

/** The terms of the shipped colour model's data. */
const SHIPPED_TERMS = 'learned from 300-W photos: research use only';

export interface FetchColorModel {
  /** The colour model made for the region's model, or undefined: none goes in. */
  file?: ColorModelFile;
  /** The file it came from, as given (or the shipped file's path). */
  source?: string;
  /** What `fetch` prints: which colour model went in, or why none did. */
  line: string;
  /** Added to the model's licence when the colour model goes in. */
  terms?: string;
  /**
   * `--color-model DIR`: the albedo folder's data, checked before the download; learnFetchedColorModel learns the
   * colour model (`file`) from it once the model is in.
   */
  albedo?: AlbedoDataset;
}

/**
 * The colour model `option` names (a file, an albedo folder, NO_COLOR_MODEL, or undefined: the shipped file) for
 * the model of ICT-FaceKit's `region`, checked before the import so that a wrong file costs no time. A given file
 * or folder made for another model (or covering no vertex of the region) is an InputError naming it; the shipped
 * file in that case is left out with a line saying so. A folder's colour model is learned later
 * (learnFetchedColorModel): that takes minutes, and a failed download should not cost them.
 */
export async function fetchColorModel(
  option: string | undefined,
  region: IctRegion,
  shipped = shippedColorModelPath(),
): Promise<FetchColorModel> {
  if (option === NO_COLOR_MODEL) return { line: 'colour model: none (--color-model none)' };
  if (option === undefined && !existsSync(shipped)) return { line: 'colour model: none (the package ships none)' };
  if (option !== undefined && (await stat(option).catch(() => undefined))?.isDirectory())
    return checkedAlbedoFolder(option, region);
  const path = option ?? shipped;
  const file = await loadColorModelFile(path);
  const fitted = forIctRegion(file, regionModel(region), region);
  const problem = !fitted
    ? `a colour model of ${file.model.name} (${file.model.vertexCount} vertices), not of ${describe(region)}`
    : fitted.vertices.length === 0
      ? noVertexOf(region)
      : undefined;
  if (problem) {
    if (option !== undefined) throw new InputError(option, problem);
    return { line: `colour model: none (the shipped ${basename(shipped)} does not fit --region ${region})` };
  }
  const terms = option === undefined ? SHIPPED_TERMS : fileTerms(path);
  return { file: fitted, source: path, terms, line: chosenLine(basename(path), fitted!, terms) };
}

/**
 * `chosen` with its colour model learned when it names an albedo folder (`model learn-color`'s learner and
 * options, with its progress bar), carried over to `region` as a file would be; else `chosen` as it is.
 */
export async function learnFetchedColorModel(
  chosen: FetchColorModel,
  region: IctRegion,
  options: ColorLearningCliOptions,
): Promise<FetchColorModel> {
  if (!chosen.albedo) return chosen;
  const folder = chosen.source!;
  const { header } = chosen.albedo;
  const dataModel = { name: header.model, vertexCount: header.modelVertexCount };
  const { learned, file } = await learnColorWithProgress(dataModel, folder, chosen.albedo, options);
  const fitted = forIctRegion(file, regionModel(region), region)!; // checked by fetchColorModel
  const terms = fileTerms(folder);
  const explained = learned.explainedVariance.reduce((a, b) => a + b, 0);
  const what =
    `learned from ${basename(folder)} (${learned.trainFaces} faces, ${(100 * explained).toFixed(1)}% of their `
    + 'variance)';
  return { file: fitted, source: folder, terms, line: chosenLine(what, fitted, terms) };
}

/**
 * The albedo folder's data when made for the region's model (or another region's, sharing vertices with it) and
 * holding enough training faces.
 */
async function checkedAlbedoFolder(folder: string, region: IctRegion): Promise<FetchColorModel> {
  const dataset = await readAlbedoDataset(folder);
  const { header } = dataset;
  const target = regionModel(region);
  if (header.model !== target.name || header.modelVertexCount !== target.vertexCount) {
    const map = ictVertexMap({ name: header.model, vertexCount: header.modelVertexCount }, region);
    if (!map) throw new InputError(folder, albedosOfAnotherModel(header, target, `--region ${region}`));
    if (!dataset.vertexIds.some((v) => map[v] >= 0)) throw new InputError(folder, noVertexOf(region));
  }
  checkTrainingFaces(folder, dataset);
  return { source: folder, albedo: dataset, line: `colour model: to be learned from ${basename(folder)}` };
}

/** The model of ICT-FaceKit's region: its name and vertex count. */
function regionModel(region: IctRegion): ColorModelFile['model'] {
  return { name: ictModelName(region), vertexCount: ictRegionVertices(region).length };
}

function describe(region: IctRegion): string {
  const { name, vertexCount } = regionModel(region);
  return `${name} (${vertexCount} vertices, --region ${region})`;
}

const noVertexOf = (region: IctRegion) => `covers no vertex of ${ictModelName(region)} (--region ${region})`;
const fileTerms = (path: string) => `from ${basename(path)}: the terms of its training data apply`;

/** What `fetch` prints about the colour model that goes in (`what`: its file, or how it was learned). */
function chosenLine(what: string, file: ColorModelFile, terms: string): string {
  const { vertexCount } = file.model;
  return (
    `colour model: ${what}, ${file.stddev.length} components over ${file.vertices.length} of ${vertexCount} `
    + `vertices; ${terms} (--color-model none leaves it out)`
  );
}

/** `model` with the colour model as its colour basis, and the colour model's terms added to its licence. */
export function withFetchedColorModel(model: MorphableModel, chosen: FetchColorModel): MorphableModel {
  if (!chosen.file) return model;
  const source = chosen.source ?? 'colour model';
  try {
    const colored = withColorModel(model, chosen.file, source);
    return { ...colored, licence: `${model.licence}; colour model ${chosen.terms}` };
  } catch (error) {
    // Only an archive imported with --no-verify could give a model other than the region's.
    throw new InputError(source, (error as Error).message.replace(`${source}: `, ''));
  }
}

/**
 * The file as made for `target` (the model of `region`): as it is when made for it, carried over when made for
 * another ICT-FaceKit region's model, undefined when made for another model.
 */
function forIctRegion(
  file: ColorModelFile,
  target: ColorModelFile['model'],
  region: IctRegion,
): ColorModelFile | undefined {
  const { name, vertexCount } = file.model;
  if (name === target.name && vertexCount === target.vertexCount) return file;
  const newIndex = ictVertexMap(file.model, region);
  return newIndex && remapColorModelFile(file, target, newIndex);
}

/**
 * Each vertex of `model`, when it is an ICT-FaceKit region's model, mapped to the vertex of `region`'s model it is
 * (−1 where that has none); undefined for any other model.
 */
function ictVertexMap(model: ColorModelFile['model'], region: IctRegion): Int32Array | undefined {
  const from = ICT_REGIONS.find(
    (r) => ictModelName(r) === model.name && ictRegionVertices(r).length === model.vertexCount,
  );
  if (!from) return undefined;
  const toIds = ictRegionVertices(region);
  const fullToTarget = new Int32Array(ictRegionVertices('full').length).fill(-1);
  for (let i = 0; i < toIds.length; i++) fullToTarget[toIds[i]] = i;
  return Int32Array.from(ictRegionVertices(from), (full) => fullToTarget[full]);
}

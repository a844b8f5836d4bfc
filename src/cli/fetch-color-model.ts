/**
 * `model fetch --color-model FILE|none`: the colour model stored in the fetched ICT-FaceKit model as its colour
 * basis. By default the shipped models/color-model-300w.bin (made for the face-and-head model); a file made for
 * one ICT-FaceKit region carries over to another through the full mesh's vertex ids (ictRegionVertices).
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { type ColorModelFile, remapColorModelFile, withColorModel } from '../io/color-model-file.js';
import { ICT_REGIONS, type IctRegion, ictModelName, ictRegionVertices } from '../io/importers/ict-facekit.js';
import { loadColorModelFile, NO_COLOR_MODEL } from '../io/node/color-model.js';
import { shippedColorModelPath } from '../io/node/model-paths.js';
import type { MorphableModel } from '../model/morphable-model.js';

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
}

/**
 * The colour model `option` names (a file, NO_COLOR_MODEL, or undefined: the shipped file) for the model of
 * ICT-FaceKit's `region`, checked before the import so that a wrong file costs no time. A given file made for
 * another model (or covering no vertex of the region) is an InputError naming it; the shipped file in that case
 * is left out with a line saying so.
 */
export async function fetchColorModel(
  option: string | undefined,
  region: IctRegion,
  shipped = shippedColorModelPath(),
): Promise<FetchColorModel> {
  if (option === NO_COLOR_MODEL) return { line: 'colour model: none (--color-model none)' };
  if (option === undefined && !existsSync(shipped)) return { line: 'colour model: none (the package ships none)' };
  const path = option ?? shipped;
  const file = await loadColorModelFile(path);
  const target = { name: ictModelName(region), vertexCount: ictRegionVertices(region).length };
  const fitted = forIctRegion(file, target, region);
  const problem = !fitted
    ? `a colour model of ${file.model.name} (${file.model.vertexCount} vertices), not of ${target.name} `
      + `(${target.vertexCount} vertices, --region ${region})`
    : fitted.vertices.length === 0
      ? `covers no vertex of ${target.name} (--region ${region})`
      : undefined;
  if (problem) {
    if (option !== undefined) throw new InputError(option, problem);
    return { line: `colour model: none (the shipped ${basename(shipped)} does not fit --region ${region})` };
  }
  const terms = option === undefined ? SHIPPED_TERMS : `from ${basename(path)}: the terms of its training data apply`;
  const K = fitted!.stddev.length;
  return {
    file: fitted,
    source: path,
    terms,
    line:
      `colour model: ${basename(path)}, ${K} components over ${fitted!.vertices.length} of ${target.vertexCount} `
      + `vertices; ${terms} (--color-model none leaves it out)`,
  };
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
  const from = ICT_REGIONS.find((r) => ictModelName(r) === name && ictRegionVertices(r).length === vertexCount);
  if (!from) return undefined;
  const fromIds = ictRegionVertices(from);
  const toIds = ictRegionVertices(region);
  const fullToTarget = new Int32Array(ictRegionVertices('full').length).fill(-1);
  for (let i = 0; i < toIds.length; i++) fullToTarget[toIds[i]] = i;
  const newIndex = Int32Array.from(fromIds, (full) => fullToTarget[full]);
  return remapColorModelFile(file, target, newIndex);
}

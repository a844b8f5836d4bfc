/**
 * `--color-model`: which colour model the photometric fit uses (src/io/color-model-file.ts). A file, `none`
 * (the per-vertex albedo of the fit without one), or by default the shipped models/color-model-300w.bin where
 * it was made for the model (else none); a model that carries its own colour model keeps it by default.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../../errors.js';
import { type ColorModelFile, decodeColorModelFile, withColorModel } from '../color-model-file.js';
import type { MorphableModel } from '../../model/morphable-model.js';
import { shippedColorModelPath } from './model-paths.js';

/** `--color-model none`: no colour model, the photometric fit's per-vertex albedo. */
export const NO_COLOR_MODEL = 'none';

/** Reads a colour model file; anything wrong is an InputError naming the file. */
export async function loadColorModelFile(path: string): Promise<ColorModelFile> {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`);
  });
  try {
    return decodeColorModelFile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  } catch (error) {
    throw new InputError(path, (error as Error).message.replace(`${path}: `, ''));
  }
}

export interface ColoredModel {
  model: MorphableModel;
  /** What the fit reports as its colour model: the file's name, "none", or "in the model". */
  colorModel: string;
}

/**
 * `model` with the colour model `option` names: a file (refused, as an InputError naming it, when made for
 * another model), NO_COLOR_MODEL (the model's own colour model dropped too), or undefined: the model's own
 * colour model if it has one, else the shipped file (`shipped`) if it exists and was made for this model, else
 * none.
 */
export async function applyColorModel(
  model: MorphableModel,
  option?: string,
  shipped = shippedColorModelPath(),
): Promise<ColoredModel> {
  if (option === NO_COLOR_MODEL)
    return { model: model.color ? { ...model, color: undefined } : model, colorModel: 'none' };
  if (option === undefined) {
    if (model.color) return { model, colorModel: 'in the model' };
    if (!existsSync(shipped)) return { model, colorModel: 'none' };
    const file = await loadColorModelFile(shipped);
    if (file.model.name !== model.name || file.model.vertexCount !== model.vertexCount)
      return { model, colorModel: 'none' };
    return { model: withColorModel(model, file, shipped), colorModel: basename(shipped) };
  }
  const file = await loadColorModelFile(option);
  try {
    return { model: withColorModel(model, file, option), colorModel: basename(option) };
  } catch (error) {
    throw new InputError(option, (error as Error).message.replace(`${option}: `, ''));
  }
}

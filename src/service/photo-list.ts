/**
 * The photos a batch fits, and their output names, decided before any work: files as given, folders walked
 * (image files only, sorted, hidden entries and the output folder skipped). A photo in a folder keeps its
 * path relative to that folder in its name (DIR/a/x.jpg → a/x), so photos in different subfolders never
 * share outputs; names that still clash get -2, -3… (output-files.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { outputNames } from './output-files.js';

/** Extensions of the formats sharp decodes here (compared lower-case). */
export const PHOTO_EXTENSIONS = ['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'];

export interface ListedPhoto {
  path: string;
  /** The output name: relative path without extension, '/'-separated. */
  name: string;
}

/**
 * Lists `inputs` (files and folders) as photos with distinct output names. A path that does not exist stays
 * in the list as a file, to fail as one photo; a folder without photos is an InputError.
 */
export async function listPhotos(inputs: string[], options: { skip?: string } = {}): Promise<ListedPhoto[]> {
  const skip = options.skip ? resolve(options.skip) : undefined;
  const found: { path: string; stem: string }[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (!info?.isDirectory()) {
      found.push({ path: input, stem: basename(input, extname(input)) });
      continue;
    }
    const before = found.length;
    for (const path of await walk(input, skip)) {
      const rel = relative(input, path).split(sep).join('/');
      found.push({ path, stem: rel.slice(0, rel.length - extname(rel).length) });
    }
    if (found.length === before)
      throw new InputError(input, `no photos in this folder (${PHOTO_EXTENSIONS.join(' ')})`);
  }
  const names = outputNames(found.map((f) => f.stem));
  return found.map((f, i) => ({ path: f.path, name: names[i] }));
}

/** The photo files under `folder`, sorted by path (code-point order, so the same on every machine). */
async function walk(folder: string, skip: string | undefined): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(folder, `cannot read the folder (${err.code ?? err.message})`);
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (resolve(path) !== skip) out.push(...(await walk(path, skip)));
    } else if (entry.isFile() && PHOTO_EXTENSIONS.includes(extname(entry.name).toLowerCase())) out.push(path);
  }
  return out;
}

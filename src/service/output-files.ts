import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Distinct output names for photos whose natural names (`stems`: the file name without its extension, or
 * its path in a folder) may clash: a/x.jpg and b/x.png given as files both want x, compared
 * case-insensitively as some file systems do. Clashes get x, x-2, x-3… in the order given, skipping names
 * another photo already has.
 */
export function outputNames(stems: string[]): string[] {
  const key = (name: string) => name.toLowerCase();
  const natural = new Set(stems.map(key)); // each kept by the first photo with it
  const used = new Set<string>();
  return stems.map((stem) => {
    let name = stem;
    for (let k = 2; used.has(key(name)); k++) {
      name = `${stem}-${k}`;
      if (natural.has(key(name))) name = stem; // another photo's own name: try the next number
    }
    used.add(key(name));
    return name;
  });
}

/**
 * What a fit can write per face (NAME is the photo's output name, with _faceK when it has several faces):
 * json NAME.json; obj NAME.obj (+ NAME.mtl when textured); glb NAME.glb; overlay NAME.png (the mesh over the
 * photo); texture NAME_texture.png; albedo-texture NAME_albedo.png (the de-lit texture);
 * albedo NAME_albedo.ply; compare NAME_compare.png. The last four need the photometric stage.
 */
export const OUTPUT_KINDS = [
  'json',
  'obj',
  'glb',
  'overlay',
  'texture',
  'albedo-texture',
  'albedo',
  'compare',
] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** What `morphable fit` writes per face, after its name. */
const OUTPUT_SUFFIXES = [
  '.obj',
  '.mtl',
  '.glb',
  '.png',
  '.json',
  '_albedo.ply',
  '_texture.png',
  '_albedo.png',
  '_compare.png',
];

/**
 * The files in `folder` that an earlier fit wrote for the photo named `stem` (NAME.* and
 * NAME_faceK.*, every output kind): replaced by the new run's set, so none stays behind stale.
 */
export async function previousOutputs(folder: string, stem: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  return names
    .filter((name) => {
      if (!name.startsWith(stem)) return false;
      const rest = name.slice(stem.length).replace(/^_face\d+/, '');
      return OUTPUT_SUFFIXES.includes(rest);
    })
    .map((name) => join(folder, name));
}

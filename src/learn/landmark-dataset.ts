/**
 * Landmark training data: a folder of faces as NAME.jpg (or .jpeg, .png) + NAME.pts (300-W, 1-based; read
 * 0-based) with an optional manifest.csv, such as /work/shared/data/train-300w, and a split into
 * training and validation faces by source photo. Node (reads files, decodes with sharp).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import sharp from 'sharp';
import { parsePts } from '../io/pts.js';
import type { RgbImage } from '../render/rgb-image.js';

export interface LandmarkFace {
  /** The file name without its extension, e.g. afw_1051618982_1. */
  name: string;
  /** The source photo: faces of one photo share it (see loadLandmarkDataset). */
  photo: string;
  image: RgbImage;
  /** 68 iBUG points, 0-based pixel-centre image coordinates, x0 y0 x1 y1 … (136 values). */
  landmarks: Float32Array;
}

export interface LandmarkDataset {
  /** In name order. */
  faces: LandmarkFace[];
  /** sha256 (hex) of manifest.csv; without one, of the sorted list of image and .pts files with their sizes. */
  manifestHash: string;
}

const IMAGE = /\.(jpe?g|png)$/i;
const PTS = /\.pts$/i;
/** Files decoded at once (sharp decodes on libuv's thread pool). */
const DEFAULT_CONCURRENCY = 8;

/**
 * Reads every face of `dir`. The photo of a face is, in this order: the manifest's `photo` column; from
 * its `path` column the original file's name without folder, extension and face number `_<n>` (AFW and
 * HELEN name faces `<photo id>_<face>`; LFPW's `image_<nnnn>` are photos with one face each, so rows
 * whose `source` is `lfpw` keep their whole name), prefixed with `source/` when there is a source column
 * (`afw/1051618982`, `helen/100040721`, `lfpw/image_0006`); without a manifest, the face's name.
 * Rendered faces of a photo should carry that photo's id (a LandmarkFace's `photo`) in a `photo` column
 * so that they fall on its side of splitByPhoto. Problems throw an InputError naming the folder or file.
 */
export async function loadLandmarkDataset(
  dir: string,
  options: { concurrency?: number } = {},
): Promise<LandmarkDataset> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const info = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(dir, err.code === 'ENOENT' ? 'no such folder' : `cannot read (${err.code ?? err.message})`);
  });
  if (!info.isDirectory()) throw new InputError(dir, 'not a folder');
  const files = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  files.sort();

  const images = new Map<string, string>();
  const pts = new Map<string, string>();
  for (const file of files) {
    const stem = file.replace(/\.[^.]*$/, '');
    if (IMAGE.test(file)) {
      const other = images.get(stem);
      if (other !== undefined) throw new InputError(join(dir, file), `a second image of face ${stem} (and ${other})`);
      images.set(stem, file);
    } else if (PTS.test(file)) pts.set(stem, file);
  }
  for (const [stem, file] of images)
    if (!pts.has(stem)) throw new InputError(join(dir, file), `no landmarks beside it (${stem}.pts)`);
  for (const [stem, file] of pts)
    if (!images.has(stem)) throw new InputError(join(dir, file), `no image beside it (${stem}.jpg)`);
  const names = [...images.keys()].sort(byCodeUnits);
  if (names.length === 0) throw new InputError(dir, 'no faces (no NAME.jpg with a NAME.pts beside it)');

  const manifestPath = join(dir, 'manifest.csv');
  const manifestBytes = await readFile(manifestPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new InputError(manifestPath, `cannot read (${err.code ?? err.message})`);
  });
  let photos: Map<string, string>;
  let manifestHash: string;
  if (manifestBytes !== undefined) {
    manifestHash = createHash('sha256').update(manifestBytes).digest('hex');
    photos = photosFromManifest(manifestBytes.toString('utf8'), manifestPath, new Set(names));
  } else {
    const hash = createHash('sha256');
    for (const file of files) {
      if (!IMAGE.test(file) && !PTS.test(file)) continue;
      const { size } = await stat(join(dir, file));
      hash.update(`${file}\t${size}\n`);
    }
    manifestHash = hash.digest('hex');
    photos = new Map(names.map((n) => [n, n]));
  }

  const faces = new Array<LandmarkFace>(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const k = next++;
      const name = names[k];
      const ptsPath = join(dir, pts.get(name)!);
      const landmarks = parsePts(await readFile(ptsPath, 'utf8'), ptsPath);
      const image = await decodeRgb(join(dir, images.get(name)!));
      faces[k] = { name, photo: photos.get(name)!, image, landmarks };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, names.length)) }, worker));
  return { faces, manifestHash };
}

/**
 * An image file as 8-bit sRGB RGB, EXIF orientation applied. One sharp call (io/node/image.ts's loadImage
 * reads the header first and checks sizes, twice the time on these small crops).
 */
async function decodeRgb(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path, { failOn: 'truncated', autoOrient: true })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((err: Error) => {
      throw new InputError(path, `cannot decode the image (${err.message.split('\n')[0].trim()})`);
    });
  if (info.channels !== 3) throw new Error(`sharp gave ${info.channels} channels for ${path}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Photo id of each face named in manifest.csv; every face must have exactly one row and every row a face. */
function photosFromManifest(text: string, path: string, names: Set<string>): Map<string, string> {
  const rows = parseCsv(text, path);
  if (rows.length === 0) throw new InputError(path, 'empty (expected a header line with a "name" column)');
  const header = rows[0].map((h) => h.trim());
  const column = (key: string) => header.indexOf(key);
  const nameAt = column('name'),
    photoAt = column('photo'),
    pathAt = column('path'),
    sourceAt = column('source');
  if (nameAt < 0) throw new InputError(path, 'no "name" column in its header line');
  const photos = new Map<string, string>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    if (row.length === 1 && row[0].trim() === '') continue; // a blank line
    const line = `line ${r + 1}`;
    if (row.length !== header.length)
      throw new InputError(path, `${line}: ${row.length} fields, but the header has ${header.length}`);
    const name = row[nameAt];
    if (photos.has(name)) throw new InputError(path, `${line}: a second row for ${name}`);
    if (!names.has(name)) throw new InputError(path, `${line}: ${name} has no image and .pts in the folder`);
    let photo: string;
    if (photoAt >= 0) {
      photo = row[photoAt].trim();
      if (photo === '') throw new InputError(path, `${line}: empty "photo" for ${name}`);
    } else if (pathAt >= 0) {
      const source = sourceAt >= 0 ? row[sourceAt].trim() : '';
      photo = photoFromPath(row[pathAt].trim(), source);
      if (photo === '') throw new InputError(path, `${line}: empty "path" for ${name}`);
    } else photo = name;
    photos.set(name, photo);
  }
  for (const name of names) if (!photos.has(name)) throw new InputError(path, `no row for face ${name}`);
  return photos;
}

/** `afw/afw/1051618982_2.jpg` of source afw → `afw/1051618982`; see loadLandmarkDataset. */
export function photoFromPath(path: string, source = ''): string {
  let stem = path.replace(/^.*[/\\]/, '').replace(/\.[^.]*$/, '');
  if (source.toLowerCase() !== 'lfpw') stem = stem.replace(/_\d+$/, '');
  return source === '' || stem === '' ? stem : `${source}/${stem}`;
}

/** RFC 4180 CSV: fields separated by commas, optionally in double quotes ("" for a quote); \n or \r\n lines. */
function parseCsv(text: string, path: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && s[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else field += ch;
  }
  if (quoted) throw new InputError(path, `line ${line}: a quoted field is not closed`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Splits faces into training and validation by photo, so that no photo has faces on both sides: a photo
 * goes to validation when a seeded hash of its id, read as a number in [0, 1), is below
 * `validationFraction`. The same photo id and seed always give the same side, whatever the faces' order.
 */
export function splitByPhoto<T extends { photo: string }>(
  faces: readonly T[],
  options: { validationFraction?: number; seed?: number } = {},
): { train: T[]; validation: T[] } {
  const { validationFraction = 0.1, seed = 15 } = options;
  if (!(validationFraction >= 0 && validationFraction <= 1))
    throw new RangeError(`validationFraction must be in [0, 1], got ${validationFraction}`);
  const train: T[] = [],
    validation: T[] = [];
  for (const face of faces) (photoHash(face.photo, seed) < validationFraction ? validation : train).push(face);
  return { train, validation };
}

/** A seeded 32-bit hash of a string (FNV-1a over its UTF-16 units, murmur3's finaliser), in [0, 1). */
export function photoHash(photo: string, seed: number): number {
  let h = (2166136261 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < photo.length; i++) h = Math.imul(h ^ photo.charCodeAt(i), 16777619);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

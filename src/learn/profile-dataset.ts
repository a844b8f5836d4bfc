/**
 * A profiled copy of a 300-W style crop folder (train-300w: NAME.jpg + 1-based NAME.pts + manifest.csv):
 * every face fitted once (learn/face-profiling.ts) and rendered turned away from frontal, written as
 * NAME_yawP30.jpg / .pts (N for negative yaws: the yaw of the turned head, rounded to the degree) and a
 * manifest.csv with the columns name, photo, source_face, yaw. `photo` is the source face's photo by
 * landmark-dataset.ts's rule (photoFromPath: afw/1051618982), so that loadLandmarkDataset reads the folder
 * and splitByPhoto puts every rendered face on its source photo's side.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { checkWritableFolder, writeFileAtomic } from '../io/node/atomic-write.js';
import { loadImage } from '../io/node/image.js';
import { loadModel } from '../io/node/load-model.js';
import { embeddedModelPath } from '../io/node/model-paths.js';
import { formatPts, parsePts } from '../io/pts.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { FaceProfiler, type ProfileOptions } from './face-profiling.js';
import { photoFromPath } from './landmark-dataset.js';

export interface ProfiledDatasetOptions {
  /** A folder with manifest.csv (columns name, source, path at least) and NAME.jpg + NAME.pts per row. */
  dataDir: string;
  /** A new or empty folder. */
  outDir: string;
  /** Only these faces (manifest names); default all. */
  names?: Set<string>;
  /** Turns away from frontal, in degrees (their sign is ignored unless a face is frontal): one render each. */
  yawDeltasDeg?: number[];
  /**
   * Instead of fixed turns: |yaw| values to turn each face to; a target the face is already within 5° of,
   * or beyond, is skipped.
   */
  yawTargetsDeg?: number[];
  /** Picks the way a frontal face (|yaw| < 5°) turns, per face (the same for every subset of names). */
  seed: number;
  /** Default: the compact ICT-FaceKit model shipped in models/ (what `morphable fit` uses when none is fetched). */
  model?: MorphableModel;
  profile?: ProfileOptions;
  /** JPEG quality of the images (default 92, as train-300w's). */
  jpegQuality?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ProfiledDatasetResult {
  /** Faces read. */
  faces: number;
  /** Faces whose fit was poor (none of their renders written). */
  skippedFit: string[];
  /** Renders asked for but skipped: the face's |yaw| was already at or beyond the target. */
  skippedTurns: number;
  /** Images written. */
  written: number;
  /** Wall time over all faces, and per face (fit, renders, encoding, writing). */
  seconds: number;
  msPerFace: number;
}

export interface ManifestRow {
  name: string;
  source: string;
  path: string;
}

/** Writes the profiled dataset; see the module comment. Bad input (no manifest, a bad .pts) is an InputError. */
export async function writeProfiledDataset(options: ProfiledDatasetOptions): Promise<ProfiledDatasetResult> {
  const { dataDir, outDir } = options;
  const deltas = options.yawDeltasDeg ?? [];
  const targets = options.yawTargetsDeg ?? [];
  if (deltas.length + targets.length === 0) throw new RangeError('give yawDeltasDeg or yawTargetsDeg');
  const rows = await readManifest(join(dataDir, 'manifest.csv'));
  const chosen = options.names ? rows.filter((r) => options.names?.has(r.name)) : rows;
  await checkWritableFolder(outDir);
  // An earlier run's files would stand beside the new ones without a manifest row.
  const existing = await readdir(outDir).catch(() => []);
  if (existing.length > 0) throw new InputError(outDir, 'not empty: give a new or empty folder');
  await mkdir(outDir, { recursive: true });
  const model = options.model ?? (await loadModel(embeddedModelPath()));
  const profiler = new FaceProfiler(model, options.profile);
  const quality = options.jpegQuality ?? 92;

  const manifest = ['name,photo,source_face,yaw'];
  const result: ProfiledDatasetResult = {
    faces: chosen.length,
    skippedFit: [],
    skippedTurns: 0,
    written: 0,
    seconds: 0,
    msPerFace: 0,
  };
  const start = performance.now();
  for (const [index, row] of chosen.entries()) {
    const ptsFile = join(dataDir, `${row.name}.pts`);
    const landmarks = parsePts(await readPtsFile(ptsFile), ptsFile);
    const { image } = await loadImage(join(dataDir, `${row.name}.jpg`));
    const source = profiler.prepare(image, landmarks);
    if (!source) {
      result.skippedFit.push(row.name);
      options.onProgress?.(index + 1, chosen.length);
      continue;
    }
    const sign = new SeededRandom(options.seed ^ hashName(row.name)).uniform() < 0.5 ? -1 : 1;
    const turns: number[] = deltas.map((d) => (d === 0 ? 0 : sign * Math.abs(d)));
    for (const target of targets) {
      const turn = profiler.turnToward(source, target, sign);
      if (turn === null) result.skippedTurns++;
      else turns.push(turn);
    }
    const photo = photoFromPath(row.path, row.source);
    for (const turn of turns) {
      const profiled = profiler.render(source, turn);
      const yaw = profiled.yawDeg;
      const name = `${row.name}_yaw${yaw < 0 ? 'N' : 'P'}${Math.round(Math.abs(yaw))}`;
      const { width, height, data } = profiled.image;
      const jpeg = await sharp(data, { raw: { width, height, channels: 3 } })
        .jpeg({ quality })
        .toBuffer();
      await writeFileAtomic(join(outDir, `${name}.jpg`), jpeg);
      await writeFileAtomic(join(outDir, `${name}.pts`), formatPts(profiled.landmarks));
      manifest.push(`${name},${photo},${row.name},${yaw.toFixed(2)}`);
      result.written++;
    }
    options.onProgress?.(index + 1, chosen.length);
  }
  await writeFileAtomic(join(outDir, 'manifest.csv'), `${manifest.join('\n')}\n`);
  result.seconds = (performance.now() - start) / 1000;
  result.msPerFace = chosen.length ? (1000 * result.seconds) / chosen.length : 0;
  return result;
}

async function readPtsFile(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`);
  });
}

/** The rows of a train-300w manifest.csv (columns found by their header names). */
export async function readManifest(path: string): Promise<ManifestRow[]> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new InputError(path, err.code === 'ENOENT' ? 'no such file' : `cannot read (${err.code ?? err.message})`);
  });
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = (lines[0] ?? '').split(',');
  const column = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new InputError(path, `no "${name}" column in the header line`);
    return i;
  };
  const name = column('name'),
    source = column('source'),
    file = column('path');
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== header.length)
      throw new InputError(path, `line ${i + 2}: ${cells.length} values, the header has ${header.length}`);
    return { name: cells[name], source: cells[source], path: cells[file] };
  });
}

/** FNV-1a of a name: a per-face seed that does not depend on which other faces are written. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../../errors.js';
import type { MorphableModel } from '../../model/morphable-model.js';
import { IctFaceKitAssembler, type IctRegion } from '../importers/ict-facekit.js';
import { importSurreyModel } from '../importers/surrey.js';
import { decodeModel } from '../model-file.js';
import { readArchive } from './archive.js';

export interface ImportOptions {
  /** ICT-FaceKit only: which part of the head to keep. */
  region?: IctRegion;
  /**
   * ICT-FaceKit archives only: the expected content digest (see `ictContentDigest`); a mismatch is
   * an InputError. Pins the content, not the archive bytes, so .tar.gz and .tar.xz packings match.
   */
  expectedDigest?: string;
  /** Called as work proceeds, with a fraction in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

/**
 * Imports a model from what a user downloaded, whatever its form: the ICT-FaceKit repository or
 * its FaceXModel folder, an archive of either (.tar, .tar.gz, .tar.xz), eos's Surrey model folder
 * or its sfm_shape_*.bin, or a native .glb model.
 */
export async function importModel(source: string, options: ImportOptions = {}): Promise<MorphableModel> {
  const info = await stat(source).catch(() => {
    throw new InputError(source, 'no such file or folder');
  });
  if (info.isDirectory()) {
    const folder = await findModelFolder(source);
    if (folder.kind === 'ict') return importIctFolder(folder.path, options);
    return importSurreyFolder(folder.path, join(folder.path, folder.shapeFile));
  }
  const head = await readHead(source, 512);
  if (head.length >= 4 && head[0] === 0x67 && head[1] === 0x6c && head[2] === 0x54 && head[3] === 0x46) {
    return decodeModel(await readFile(source), source);
  }
  if (/^sfm_shape_\d+\.bin$/.test(basename(source))) return importSurreyFolder(dirname(source), source);
  if (isArchive(head)) return importIctArchive(source, options);
  throw new InputError(
    source,
    'unknown model format: expected an ICT-FaceKit folder or archive (.tar.xz/.tar.gz), a Surrey model '
      + '(sfm_shape_*.bin), or a morphable .glb',
  );
}

type ModelFolder = { kind: 'ict'; path: string } | { kind: 'surrey'; path: string; shapeFile: string };

async function findModelFolder(folder: string): Promise<ModelFolder> {
  const names = await readdir(folder);
  if (names.includes('generic_neutral_mesh.obj')) return { kind: 'ict', path: folder };
  if (names.includes('FaceXModel')) return findModelFolder(join(folder, 'FaceXModel'));
  const shapeFile = names.find((n) => /^sfm_shape_\d+\.bin$/.test(n));
  if (shapeFile) return { kind: 'surrey', path: folder, shapeFile };
  throw new InputError(
    folder,
    "no model found here (expected ICT-FaceKit's FaceXModel folder or eos's sfm_shape_*.bin)",
  );
}

async function importIctFolder(folder: string, options: ImportOptions): Promise<MorphableModel> {
  const assembler = new IctFaceKitAssembler();
  const names = (await readdir(folder)).filter((n) => IctFaceKitAssembler.wants(n));
  for (let i = 0; i < names.length; i++) {
    assembler.add(names[i], await readFile(join(folder, names[i])), join(folder, names[i]));
    options.onProgress?.((i + 1) / names.length);
  }
  return assembler.finish(folder, options.region);
}

async function importIctArchive(file: string, options: ImportOptions): Promise<MorphableModel> {
  const assembler = new IctFaceKitAssembler();
  // The FaceXModel folder may sit at any depth (a repository archive has a top folder of its own).
  const include = (path: string) => /(^|\/)FaceXModel\/[^/]+$/.test(path) && IctFaceKitAssembler.wants(basename(path));
  const onBytes = (read: number, total: number) => options.onProgress?.(read / total);
  const hashes: string[] = [];
  for await (const entry of readArchive(file, { include, onBytes })) {
    const name = basename(entry.path);
    if (options.expectedDigest) hashes.push(`${name} ${createHash('sha256').update(entry.data).digest('hex')}\n`);
    assembler.add(name, entry.data, `${file}:${entry.path}`);
  }
  const model = assembler.finish(file, options.region);
  if (options.expectedDigest) {
    const digest = createHash('sha256').update(hashes.sort().join('')).digest('hex');
    if (digest !== options.expectedDigest) {
      throw new InputError(
        file,
        `content differs from the pinned ICT-FaceKit release (digest ${digest.slice(0, 16)}…, expected `
          + `${options.expectedDigest.slice(0, 16)}…); if you trust this source, rerun with --no-verify`,
      );
    }
  }
  return model;
}

async function importSurreyFolder(folder: string, shapeFile: string): Promise<MorphableModel> {
  const optional = async (name: string) => {
    const path = join(folder, name);
    return (await stat(path).catch(() => undefined)) ? { path, data: await readFile(path) } : undefined;
  };
  const vertices = /sfm_shape_(\d+)\.bin$/.exec(shapeFile)?.[1] ?? '3448';
  const blendshapes = await optional(`expression_blendshapes_${vertices}.bin`);
  const mapping = await optional('ibug_to_sfm.txt');
  const contours = await optional('sfm_model_contours.json');
  return importSurreyModel({
    shape: await readFile(shapeFile),
    shapeName: shapeFile,
    blendshapes: blendshapes?.data,
    blendshapesName: blendshapes?.path,
    ibugMapping: mapping?.data.toString('utf8'),
    ibugMappingName: mapping?.path,
    contours: contours?.data.toString('utf8'),
    contoursName: contours?.path,
  });
}

async function readHead(file: string, length: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function isArchive(head: Uint8Array): boolean {
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const xz =
    head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0;
  const tar = head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar';
  return gzip || xz || tar;
}

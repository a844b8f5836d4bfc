import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { srgbToLinear } from '../../model/color.js';
import { InputError } from '../../errors.js';
import { emptyBasis, type MorphableModel } from '../../model/morphable-model.js';
import { pca, type PcaOptions, type PcaResult } from '../../model/pca.js';
import { parseObj } from '../obj-reader.js';
import { parsePly } from '../ply-reader.js';

/**
 * `morphable model build`: a morphable model from a folder of registered meshes that share one
 * topology (same vertex count, same triangles, vertex i the same point of the face in every mesh),
 * by PCA of their shapes and, where the meshes have vertex colours, of their colours.
 *
 * The sample collection is pure TypeScript on bytes (the PLY reader is io/ply-reader.ts); only
 * `buildModelFromFolder` touches the file system.
 */

export const DEFAULT_BUILD_LICENCE = 'built from user data; check the licence of your meshes';
export const UNITS = { mm: 1, cm: 10, m: 1000 } as const;
export type Units = keyof typeof UNITS;

export interface BuildOptions extends Pick<PcaOptions, 'varianceFraction' | 'maxComponents'> {
  /** Units of the mesh coordinates, converted to millimetres. Default 'mm'. */
  units?: Units;
  /** Text file with 68 vertex indices in iBUG order, one per line, -1 where missing. */
  landmarksFile?: string;
  /** Model name; default the folder's name. */
  name?: string;
  /** Licence text stored in the model; default DEFAULT_BUILD_LICENCE. */
  licence?: string;
  /** Called after each mesh is read. */
  onProgress?: (done: number, total: number) => void;
}

/** What a PCA left out of the model, for the summary. */
export type PcaSummary = Omit<PcaResult, 'mean' | 'basis'>;

export interface BuildResult {
  model: MorphableModel;
  /** The meshes read, in the order used (sorted by name). */
  files: string[];
  shape: PcaSummary;
  color?: PcaSummary;
}

/** Reads every .obj and .ply mesh in `folder` (sorted by name) and builds the model. */
export async function buildModelFromFolder(folder: string, options: BuildOptions = {}): Promise<BuildResult> {
  const info = await stat(folder).catch(() => {
    throw new InputError(folder, 'no such folder');
  });
  if (!info.isDirectory()) throw new InputError(folder, 'not a folder: give the folder that holds the meshes');
  // Dot files are skipped: macOS leaves "._name.obj" resource forks beside copied files.
  const names = (await readdir(folder))
    .filter((n) => !n.startsWith('.') && ['.obj', '.ply'].includes(extname(n).toLowerCase()))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new InputError(folder, 'no .obj or .ply meshes in this folder');
  const files = names.map((n) => join(folder, n));
  if (files.length < 2)
    throw new InputError(folder, `only one mesh (${names[0]}): a model needs at least 2 (PCA of how faces differ)`);

  // Read the landmarks first: a typo there should not cost the time of reading every mesh.
  const landmarkText =
    options.landmarksFile === undefined
      ? undefined
      : await readFile(options.landmarksFile, 'utf8').catch(() => {
          throw new InputError(options.landmarksFile!, 'cannot read the landmarks file');
        });

  const samples = new MeshSamples(files.length, options.units ?? 'mm');
  for (const [i, file] of files.entries()) {
    const bytes = await readFile(file).catch(() => {
      throw new InputError(file, 'cannot read this file');
    });
    samples.add(file, parseMesh(bytes, file));
    options.onProgress?.(i + 1, files.length);
  }
  const landmarks =
    landmarkText === undefined
      ? undefined
      : parseLandmarkIndices(landmarkText, options.landmarksFile!, samples.vertexCount);
  return { ...samples.build({ ...options, name: options.name ?? basename(folder) }, landmarks), files };
}

/** One mesh as read: positions as written (file units), colours as linear RGB in [0, 1] or empty. */
export interface SampleMesh {
  positions: Float32Array;
  colors: Float32Array;
  triangles: Uint32Array;
  uvs: Float32Array;
  uvTriangles: Uint32Array;
}

/** Reads an .obj or .ply mesh (by extension), colours converted from sRGB to linear. */
export function parseMesh(bytes: Uint8Array, fileName: string): SampleMesh {
  const ext = extname(fileName).toLowerCase();
  const mesh = ext === '.ply' ? parsePly(bytes, fileName) : parseObj(bytes, fileName);
  let maxColor = 0;
  for (const c of mesh.colors) if (!(c <= maxColor)) maxColor = c; // catches NaN as well
  if (!(maxColor <= 1))
    throw new InputError(fileName, `vertex colour value ${maxColor} above 1 (expected r g b in 0..1)`);
  return { ...mesh, colors: mesh.colors.map(srgbToLinear) };
}

/**
 * Collects registered meshes as rows of an M×3N matrix (and M×3N colours), checking each against
 * the first, then runs the PCAs. Holds one float32 copy of the data, not the parsed meshes.
 */
export class MeshSamples {
  private first?: { file: string; mesh: SampleMesh };
  private shapes?: Float32Array;
  private colors?: Float32Array;
  private added = 0;
  private readonly scale: number;

  constructor(
    /** How many meshes will be added. */
    readonly total: number,
    units: Units = 'mm',
  ) {
    this.scale = UNITS[units];
  }

  /** Vertex count of the meshes (of the first one added), 0 before any. */
  vertexCount = 0;

  add(file: string, mesh: SampleMesh): void {
    if (this.added === this.total) throw new RangeError(`more than the ${this.total} meshes announced`);
    const n = mesh.positions.length / 3;
    for (let i = 0; i < mesh.positions.length; i++) {
      if (!Number.isFinite(mesh.positions[i]))
        throw new InputError(file, `vertex ${Math.floor(i / 3)} has a coordinate that is not a finite number`);
    }
    if (!this.first) {
      if (mesh.triangles.length === 0)
        throw new InputError(file, 'no faces (a point cloud?): the meshes need triangles');
      // Keep the first mesh's topology and UVs; its positions and colours live in the sample rows.
      this.first = { file, mesh: { ...mesh, positions: new Float32Array(0), colors: new Float32Array(0) } };
      this.vertexCount = n;
      this.shapes = new Float32Array(this.total * 3 * n);
      if (mesh.colors.length) this.colors = new Float32Array(this.total * 3 * n);
    } else {
      this.check(file, mesh);
    }
    const row = this.added * 3 * n;
    for (let i = 0; i < mesh.positions.length; i++) this.shapes![row + i] = this.scale * mesh.positions[i];
    if (this.colors) this.colors.set(mesh.colors, row);
    this.added++;
  }

  /** Same vertex count, same triangles, colours on all or none: the first mesh is the reference. */
  private check(file: string, mesh: SampleMesh): void {
    const ref = this.first!;
    const refName = basename(ref.file);
    const n = mesh.positions.length / 3;
    if (n !== this.vertexCount)
      throw new InputError(
        file,
        `has ${n} vertices, the first mesh (${refName}) has ${this.vertexCount}: the meshes must be `
          + `registered to one topology`,
      );
    const a = mesh.triangles,
      b = ref.mesh.triangles;
    if (a.length !== b.length)
      throw new InputError(
        file,
        `has ${a.length / 3} triangles, the first mesh (${refName}) has ${b.length / 3}: the meshes must `
          + `share one topology`,
      );
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        const t = i - (i % 3);
        throw new InputError(
          file,
          `triangle ${t / 3} is (${a.slice(t, t + 3).join(', ')}), in the first mesh (${refName}) it is `
            + `(${b.slice(t, t + 3).join(', ')}): the meshes must share one topology`,
        );
      }
    }
    if (!!mesh.colors.length !== !!this.colors) {
      throw new InputError(
        file,
        mesh.colors.length
          ? `has vertex colours, the first mesh (${refName}) has none: give all meshes colours or none`
          : `has no vertex colours, the first mesh (${refName}) has them: give all meshes colours or none`,
      );
    }
  }

  /** Shape PCA, colour PCA (if coloured), topology and UVs of the first mesh. */
  build(
    options: Pick<BuildOptions, 'varianceFraction' | 'maxComponents' | 'name' | 'licence'>,
    landmarks?: Int32Array,
  ): Omit<BuildResult, 'files'> {
    if (this.added !== this.total || !this.first) throw new RangeError(`${this.added} of ${this.total} meshes added`);
    const pcaOptions = { varianceFraction: options.varianceFraction, maxComponents: options.maxComponents };
    const shape = pca(this.shapes!, this.total, pcaOptions);
    const color = this.colors ? pca(this.colors, this.total, pcaOptions) : undefined;
    const ref = this.first.mesh;
    const model: MorphableModel = {
      name: options.name ?? 'morphable model',
      licence: options.licence ?? DEFAULT_BUILD_LICENCE,
      vertexCount: this.vertexCount,
      mean: shape.mean,
      triangles: ref.triangles,
      uvs: ref.uvs,
      uvTriangles: ref.uvTriangles,
      identity: shape.basis,
      expression: emptyBasis('blendshapes'),
      landmarks: landmarks ? { ibug68: { vertices: landmarks } } : {},
      regions: {},
      contours: {},
    };
    // A mean of colours in [0, 1] stays in [0, 1]; clamping only removes float rounding.
    if (color) model.color = { mean: color.mean.map((c) => Math.min(1, Math.max(0, c))), basis: color.basis };
    return { model, shape: summary(shape), color: color && summary(color) };
  }
}

function summary({ variances, totalVariance, explained }: PcaResult): PcaSummary {
  return { variances, totalVariance, explained };
}

/**
 * 68 vertex indices in iBUG order, one per line, -1 where the mesh has no vertex for a point.
 * Blank lines and `#` comments are ignored.
 */
export function parseLandmarkIndices(text: string, fileName: string, vertexCount: number): Int32Array {
  const values: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    if (!/^-?\d+$/.test(line))
      throw new InputError(
        fileName,
        `line ${i + 1}: "${line.slice(0, 20)}" is not a vertex index (one integer per line, -1 for missing)`,
      );
    const v = Number(line);
    if (v < -1 || v >= vertexCount)
      throw new InputError(
        fileName,
        `line ${i + 1}: vertex ${v} out of range (the meshes have vertices 0..${vertexCount - 1}; -1 for missing)`,
      );
    values.push(v);
  });
  if (values.length !== 68)
    throw new InputError(fileName, `${values.length} landmark indices, expected 68 (iBUG order, -1 for missing)`);
  return Int32Array.from(values);
}

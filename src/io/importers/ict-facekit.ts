import { InputError } from '../../errors.js';
import { componentNorms, type LinearBasis, type MorphableModel } from '../../model/morphable-model.js';
import { submodel } from '../../model/submesh.js';
import { parseObj, type ObjMesh } from '../obj-reader.js';

/**
 * Importer for ICT-FaceKit's FaceXModel folder (github.com/ICT-VGL/ICT-FaceKit, MIT licence).
 * Files arrive one at a time in any order (from a folder or streamed out of an archive);
 * each OBJ is parsed on arrival and its text dropped, so memory holds only the float arrays.
 */

export const ICT_LICENCE =
  'ICT-FaceKit: MIT licence, Copyright (c) 2020 USC Institute for Creative Technologies '
  + '(github.com/ICT-VGL/ICT-FaceKit)';
const CENTIMETRES_TO_MM = 10;
export const ICT_IDENTITY_COUNT = 100;
const NEUTRAL = 'generic_neutral_mesh.obj';
const INDICES = 'vertex_indices.json';

/** Vertex ranges of the mesh parts, inclusive, from ICT-FaceKit's README ("Face Model Topology"). */
const PARTS: Record<string, [number, number]> = {
  face: [0, 9408],
  headNeck: [9409, 11247],
  mouthSocket: [11248, 13293],
  eyeSocketLeft: [13294, 13677],
  eyeSocketRight: [13678, 14061],
  gumsTongue: [14062, 17038],
  teeth: [17039, 21450],
  eyeballLeft: [21451, 23020],
  eyeballRight: [23021, 24590],
  lacrimalFluidLeft: [24591, 24794],
  lacrimalFluidRight: [24795, 24998],
  eyeBlendLeft: [24999, 25022],
  eyeBlendRight: [25023, 25046],
  eyeOcclusionLeft: [25047, 25198],
  eyeOcclusionRight: [25199, 25350],
  eyelashesLeft: [25351, 26034],
  eyelashesRight: [26035, 26718],
  narrowFace: [0, 6705],
};
const FULL_VERTEX_COUNT = 26719;

/**
 * The extended jawlines of the README ("Right/Left extended jawline"), which the outline
 * landmarks slide along as the head turns. The right one runs from the ear down to the chin,
 * the left one from the chin up to the ear; both are stored top-to-chin.
 */
const RIGHT_JAWLINE = [1280, 1278, 1275, 1272, 1248, 12, 820, 1834, 1902, 243, 844, 781, 1673, 2199, 801, 1447, 800];
const LEFT_JAWLINE_CHIN_UP = [
  3041, 3661, 3042, 4390, 3880, 3022, 3085, 2484, 4102, 4036, 3061, 2253, 3466, 3490, 3493, 3496, 3498,
];

export type IctRegion = 'full' | 'face-head' | 'face';
export const ICT_REGIONS: IctRegion[] = ['full', 'face-head', 'face'];

/** The name of the model the importer makes of `region` (MorphableModel.name). */
export function ictModelName(region: IctRegion): string {
  return region === 'full' ? 'ICT-FaceKit' : region === 'face' ? 'ICT-FaceKit (face)' : 'ICT-FaceKit (face and head)';
}

/**
 * The vertices of the full ICT-FaceKit mesh that `region`'s model keeps, in its vertex order (vertex i of the
 * region's model is vertex out[i] of the full mesh): what relates the regions' vertices to each other.
 */
export function ictRegionVertices(region: IctRegion): Uint32Array {
  const last = region === 'full' ? FULL_VERTEX_COUNT - 1 : region === 'face' ? PARTS.face[1] : PARTS.headNeck[1];
  return range(0, last);
}

interface VertexIndicesJson {
  expressions: string[];
  idx_to_landmark_verts: number[];
}

export class IctFaceKitAssembler {
  private neutral?: ObjMesh;
  private indices?: VertexIndicesJson;
  private readonly shapes = new Map<string, Float32Array>();

  /** Whether `name` (a base file name) is a file this importer reads. */
  static wants(name: string): boolean {
    return name === NEUTRAL || name === INDICES || (name.endsWith('.obj') && !name.startsWith('PupilDilate'));
  }

  /** Feeds one file of the folder; `name` is its base name, `source` names it in errors. */
  add(name: string, bytes: Uint8Array, source = name): void {
    if (name === INDICES) {
      this.indices = parseIndices(bytes, source);
    } else if (name === NEUTRAL) {
      this.neutral = parseObj(bytes, source);
    } else if (IctFaceKitAssembler.wants(name)) {
      const shape = parseObj(bytes, source, { positionsOnly: true }).positions;
      if (shape.length !== FULL_VERTEX_COUNT * 3) {
        throw new InputError(source, `has ${shape.length / 3} vertices, ICT-FaceKit meshes have ${FULL_VERTEX_COUNT}`);
      }
      this.shapes.set(name.slice(0, -4), shape);
    }
  }

  /** The names of the files still needed, given what has been added. */
  missing(): string[] {
    const missing: string[] = [];
    if (!this.neutral) missing.push(NEUTRAL);
    if (!this.indices) missing.push(INDICES);
    for (const name of this.componentNames()) if (!this.shapes.has(name)) missing.push(`${name}.obj`);
    return missing;
  }

  private componentNames(): string[] {
    const identities = Array.from({ length: ICT_IDENTITY_COUNT }, (_, k) => `identity${String(k).padStart(3, '0')}`);
    return identities.concat(this.indices?.expressions ?? []);
  }

  finish(folder: string, region: IctRegion = 'face-head'): MorphableModel {
    const missing = this.missing();
    if (missing.length) {
      const list =
        missing.length > 4 ? `${missing.slice(0, 4).join(', ')} and ${missing.length - 4} more` : missing.join(', ');
      throw new InputError(folder, `not a complete ICT-FaceKit FaceXModel folder: missing ${list}`);
    }
    const neutral = this.neutral!;
    const indices = this.indices!;
    if (neutral.positions.length !== FULL_VERTEX_COUNT * 3) {
      throw new InputError(
        `${folder}/${NEUTRAL}`,
        `has ${neutral.positions.length / 3} vertices, ICT-FaceKit meshes have ${FULL_VERTEX_COUNT}`,
      );
    }
    const mean = neutral.positions.map((v) => v * CENTIMETRES_TO_MM);
    const identityNames = this.componentNames().slice(0, ICT_IDENTITY_COUNT);
    const full: MorphableModel = {
      name: 'ICT-FaceKit',
      licence: ICT_LICENCE,
      vertexCount: FULL_VERTEX_COUNT,
      mean,
      triangles: neutral.triangles,
      uvs: neutral.uvs,
      uvTriangles: neutral.uvTriangles,
      identity: this.deltaBasis('pca', identityNames, neutral.positions),
      expression: this.deltaBasis('blendshapes', indices.expressions, neutral.positions),
      landmarks: { ibug68: { vertices: Int32Array.from(indices.idx_to_landmark_verts) } },
      regions: Object.fromEntries(Object.entries(PARTS).map(([key, [from, to]]) => [key, range(from, to)])),
      contours: { right: Uint32Array.from(RIGHT_JAWLINE), left: Uint32Array.from(LEFT_JAWLINE_CHIN_UP).reverse() },
    };
    this.shapes.clear();
    return region === 'full' ? full : submodel(full, ictRegionVertices(region), ictModelName(region));
  }

  /** (shape − neutral) in mm per component: identity modes have unit-normal weights, blendshapes [0, 1]. */
  private deltaBasis(kind: LinearBasis['kind'], names: string[], neutral: Float32Array): LinearBasis {
    const n = neutral.length;
    const basis = new Float32Array(names.length * n);
    names.forEach((name, k) => {
      const shape = this.shapes.get(name)!;
      for (let i = 0, j = k * n; i < n; i++, j++) basis[j] = (shape[i] - neutral[i]) * CENTIMETRES_TO_MM;
    });
    return { kind, count: names.length, basis, stddev: componentNorms(basis, names.length), names: names.slice() };
  }
}

function parseIndices(bytes: Uint8Array, source: string): VertexIndicesJson {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new InputError(source, `not valid JSON (${(error as Error).message})`);
  }
  const data = json as Partial<VertexIndicesJson>;
  const isIntList = (v: unknown, length: number) =>
    Array.isArray(v) && v.length === length && v.every((x) => Number.isInteger(x) && x >= 0 && x < FULL_VERTEX_COUNT);
  if (!Array.isArray(data.expressions) || !data.expressions.every((x) => typeof x === 'string' && /^\w+$/.test(x))) {
    throw new InputError(source, 'has no "expressions" list of names');
  }
  if (!isIntList(data.idx_to_landmark_verts, 68)) {
    throw new InputError(
      source,
      `"idx_to_landmark_verts" is not a list of 68 vertex indices below ${FULL_VERTEX_COUNT}`,
    );
  }
  return { expressions: data.expressions, idx_to_landmark_verts: data.idx_to_landmark_verts! };
}

function range(from: number, to: number): Uint32Array {
  const out = new Uint32Array(to - from + 1);
  for (let i = 0; i < out.length; i++) out[i] = from + i;
  return out;
}

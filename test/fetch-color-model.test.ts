import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchColorModel, learnFetchedColorModel, withFetchedColorModel } from '../src/cli/fetch-color-model.js';
import { InputError } from '../src/errors.js';
import { type ColorModelFile, encodeColorModelFile, remapColorModelFile } from '../src/io/color-model-file.js';
import { ictRegionVertices } from '../src/io/importers/ict-facekit.js';
import { readAlbedoDataset } from '../src/learn/albedo-data.js';
import { learnColorModel } from '../src/learn/color-model.js';
import { coveredVertexCount } from '../src/model/color-region.js';
import { componentNorms } from '../src/model/morphable-model.js';
import { syntheticAlbedoDataset, writeAlbedoFolder } from './helpers/albedo-dataset.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { tinyModel } from './helpers/tiny-model.js';

const work = mkdtempSync(join(tmpdir(), 'morphable-fetch-color-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const K = 2;

/** Vertex v's made-up mean colour, channel c: multiples of 1/1024 below 1, exact in float16. */
const meanOf = (v: number, c: number) => ((v % 256) + c / 4) / 256;
/** Component k's made-up entry at vertex v (every channel): exact in float16 too. */
const basisOf = (v: number, k: number) => ((k + 1) * ((v % 256) + 1)) / 1024;

/**
 * A made-up colour model (not learned from any data) of `model` over `vertices`, whose entries tell which vertex
 * they came from (meanOf, basisOf; the test's vertex ids differ mod 256).
 */
function labelledFile(model: ColorModelFile['model'], vertices: number[]): ColorModelFile {
  const basis = Float32Array.from(
    Array.from({ length: K }, (_, k) => vertices.flatMap((v) => [0, 1, 2].map(() => basisOf(v, k)))).flat(),
  );
  return {
    model,
    vertices: Uint32Array.from(vertices),
    mean: Float32Array.from(vertices.flatMap((v) => [0, 1, 2].map((c) => meanOf(v, c)))),
    basis,
    stddev: componentNorms(basis, K),
    explainedVariance: [0.6, 0.2],
    training: { command: 'test' },
  };
}

function write(name: string, file: ColorModelFile): string {
  const path = join(work, name);
  writeFileSync(path, encodeColorModelFile(file));
  return path;
}

const FACE_HEAD = { name: 'ICT-FaceKit (face and head)', vertexCount: 11248 };

describe('remapColorModelFile', () => {
  it('moves each covered vertex to its counterpart, drops those without one, keeps ids ascending', () => {
    const file = labelledFile({ name: 'a', vertexCount: 6 }, [1, 2, 4, 5]);
    // a's vertex v is b's vertex 4 − v (a reversal), and a's vertex 5 is not in b.
    const newIndex = Int32Array.from([4, 3, 2, 1, 0, -1]);
    const out = remapColorModelFile(file, { name: 'b', vertexCount: 5 }, newIndex);
    expect(out.model).toEqual({ name: 'b', vertexCount: 5 });
    expect([...out.vertices]).toEqual([0, 2, 3]); // from a's 4, 2, 1
    const fromA = [4, 2, 1];
    expect([...out.mean]).toEqual(fromA.flatMap((v) => [0, 1, 2].map((c) => meanOf(v, c))));
    expect([...out.basis]).toEqual([0, 1].flatMap((k) => fromA.flatMap((v) => [0, 1, 2].map(() => basisOf(v, k)))));
    expect(out.stddev).toBe(file.stddev);
  });

  it('refuses a map that sends two vertices to one', () => {
    const file = labelledFile({ name: 'a', vertexCount: 3 }, [0, 1]);
    expect(() => remapColorModelFile(file, { name: 'b', vertexCount: 2 }, Int32Array.from([1, 1, 0]))).toThrow(
      /one-to-one/,
    );
  });
});

describe('model fetch --color-model (before the import)', () => {
  it('the ICT regions keep the full mesh vertices in order: face ⊂ face-head ⊂ full', () => {
    const face = ictRegionVertices('face');
    const faceHead = ictRegionVertices('face-head');
    const full = ictRegionVertices('full');
    expect([face.length, faceHead.length, full.length]).toEqual([9409, 11248, 26719]);
    expect(face.every((v, i) => v === i) && faceHead.every((v, i) => v === i) && full.every((v, i) => v === i)).toBe(
      true,
    );
  });

  it('a face-and-head file goes into the face-and-head model as it is', async () => {
    const file = labelledFile(FACE_HEAD, [0, 1, 9408, 9409, 11247]);
    const chosen = await fetchColorModel(write('fh.bin', file), 'face-head');
    expect(chosen.file?.model).toEqual(FACE_HEAD);
    expect([...chosen.file!.vertices]).toEqual([0, 1, 9408, 9409, 11247]);
    expect(chosen.line).toMatch(/^colour model: fh\.bin, 2 components over 5 of 11248 vertices/);
  });

  it('carries a face-and-head file over to the face region: vertices past the face are dropped', async () => {
    const file = labelledFile(FACE_HEAD, [0, 1, 9408, 9409, 11247]);
    const chosen = await fetchColorModel(write('fh.bin', file), 'face');
    expect(chosen.file?.model).toEqual({ name: 'ICT-FaceKit (face)', vertexCount: 9409 });
    expect([...chosen.file!.vertices]).toEqual([0, 1, 9408]);
    expect([...chosen.file!.mean.subarray(6)]).toEqual([0, 1, 2].map((c) => meanOf(9408, c)));
    expect(chosen.file!.basis[3 * 3 + 2 * 3]).toBe(basisOf(9408, 1)); // component 1, vertex 9408
    expect(chosen.line).toContain('3 of 9409 vertices');
  });

  it('and to the full mesh; the written model varies exactly the covered vertices', async () => {
    const file = labelledFile(FACE_HEAD, [3, 11247]);
    const chosen = await fetchColorModel(write('fh.bin', file), 'full');
    expect([...chosen.file!.vertices]).toEqual([3, 11247]);
    const model = { ...tinyModel({ side: 3 }), name: 'ICT-FaceKit', vertexCount: 26719, licence: 'MIT' };
    const colored = withFetchedColorModel(model, chosen);
    expect(colored.color?.basis.count).toBe(K);
    expect(coveredVertexCount(colored.color!, 26719)).toBe(2);
    expect(colored.color!.mean[3 * 11247 + 1]).toBe(meanOf(11247, 1));
    expect(colored.color!.basis.basis[3 * 26719 + 3 * 3]).toBe(basisOf(3, 1)); // component 1, vertex 3
    expect(colored.licence).toBe('MIT; colour model from fh.bin: the terms of its training data apply');
  });

  it('a file of another model is refused, naming the file, both models and the region', async () => {
    const path = write('other.bin', labelledFile({ name: 'Surrey', vertexCount: 3448 }, [0, 1]));
    const error = await fetchColorModel(path, 'face-head').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).subject).toBe(path);
    expect((error as InputError).problem).toBe(
      'a colour model of Surrey (3448 vertices), not of ICT-FaceKit (face and head) (11248 vertices, '
        + '--region face-head)',
    );
  });

  it('a face-and-head file covering only the head is refused for the face region', async () => {
    const path = write('head.bin', labelledFile(FACE_HEAD, [9409, 10000]));
    await expect(fetchColorModel(path, 'face')).rejects.toThrow(/covers no vertex of ICT-FaceKit \(face\)/);
  });

  it('the shipped file is left out with a line where it does not fit, and "none" takes none', async () => {
    const shipped = write('shipped.bin', labelledFile({ name: 'Surrey', vertexCount: 3448 }, [0]));
    const chosen = await fetchColorModel(undefined, 'face', shipped);
    expect(chosen.file).toBeUndefined();
    expect(chosen.line).toBe('colour model: none (the shipped shipped.bin does not fit --region face)');
    expect((await fetchColorModel('none', 'face')).file).toBeUndefined();
    expect((await fetchColorModel(undefined, 'face', join(work, 'absent.bin'))).file).toBeUndefined();
  });
});

describe('model fetch --color-model DIR: an albedo folder (`morphable train albedo`)', () => {
  const options = { variance: 0.95, maxComponents: 4 };
  // 40 face vertices of the face-and-head model, 20 faces (10 for validation) of a known rank-2 colour model.
  const dataset = syntheticAlbedoDataset(FACE_HEAD, 40, 20, 2);
  const folder = writeAlbedoFolder(join(work, 'albedo-fh'), dataset);

  it('is checked before the download and learned after it, as `model learn-color` learns it', async () => {
    const chosen = await fetchColorModel(folder, 'face-head');
    expect(chosen.file).toBeUndefined(); // nothing learned before the download
    expect(chosen.albedo?.header.faces).toHaveLength(20);
    const learned = await learnFetchedColorModel(chosen, 'face-head', options);
    const file = learned.file!;
    expect(file.model).toEqual(FACE_HEAD);
    expect([...file.vertices]).toEqual([...dataset.vertexIds]);
    // learn-color's learner with its options (60 EM iterations at most) on the folder's (float16) data: the same
    // model, to the bit.
    const direct = learnColorModel(FACE_HEAD, await readAlbedoDataset(folder), { ...options, maxIterations: 60 });
    expect(file.stddev.length).toBe(direct.color.basis.count);
    expect(file.mean).toEqual(direct.color.mean.subarray(0, 3 * 40));
    // The data's skin mean (0.4, 0.22, 0.15) comes back, averaged over the vertices.
    for (const [c, truth] of [0.4, 0.22, 0.15].entries()) {
      const average = file.mean.filter((_, j) => j % 3 === c).reduce((a, b) => a + b, 0) / 40;
      expect(average).toBeCloseTo(truth, 1);
    }
    expect(learned.line).toMatch(
      new RegExp(
        String.raw`^colour model: learned from albedo-fh \(10 faces, [\d.]+% of their variance\), `
          + String.raw`\d components over 40 of 11248 vertices; from albedo-fh: the terms of its training data apply`,
      ),
    );
    const model = { ...tinyModel({ side: 3 }), name: FACE_HEAD.name, vertexCount: 11248, licence: 'MIT' };
    expect(coveredVertexCount(withFetchedColorModel(model, learned).color!, 11248)).toBe(40);
  });

  it('carries over to another ICT-FaceKit region, as a file does', async () => {
    const learned = await learnFetchedColorModel(await fetchColorModel(folder, 'face'), 'face', options);
    expect(learned.file?.model).toEqual({ name: 'ICT-FaceKit (face)', vertexCount: 9409 });
    expect(learned.file?.vertices).toHaveLength(40);
  });

  it('refuses, naming the folder, albedos of another model or of no vertex of the region', async () => {
    const other = writeAlbedoFolder(
      join(work, 'albedo-tiny'),
      syntheticAlbedoDataset(tinyModel({ side: 4 }), 8, 12, 1),
    );
    const error = await fetchColorModel(other, 'face-head').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).subject).toBe(other);
    expect((error as InputError).problem).toBe(
      'its albedos are of tiny (16 vertices), not of ICT-FaceKit (face and head) (11248 vertices, --region face-head)',
    );
    const head = writeAlbedoFolder(join(work, 'albedo-head'), {
      ...dataset,
      vertexIds: Uint32Array.from(dataset.vertexIds, (v) => 9409 + v),
    });
    await expect(fetchColorModel(head, 'face')).rejects.toThrow(/covers no vertex of ICT-FaceKit \(face\)/);
    const fewFaces = { ...dataset.header.split, train: dataset.header.split.train.slice(0, 1) };
    const few = writeAlbedoFolder(join(work, 'albedo-few'), {
      ...dataset,
      header: { ...dataset.header, split: fewFaces },
    });
    await expect(fetchColorModel(few, 'face-head')).rejects.toThrow('1 training faces in its split: at least 2');
    // The CLI: one line, and nothing downloaded (the URL would refuse anyway).
    const home = join(work, 'albedo-home');
    const result = await runCli(
      ['model', 'fetch', '--url', 'http://127.0.0.1:9/x.tar.xz', '--color-model', other, '-o', join(work, 'm.glb')],
      { MORPHABLE_HOME: home },
    );
    expectOneLineError(result, other, 'its albedos are of tiny (16 vertices), not of ICT-FaceKit (face and head)');
    expect(existsSync(join(home, 'downloads'))).toBe(false);
  });
});

import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { importModel } from '../src/io/node/import-model.js';
import { evaluateVertices } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { ICT_FACEKIT_SOURCE } from '../src/cli/sources.js';
import { importIctModel } from './helpers/ict-fixture.js';
import { expectSameModel } from './helpers/same-model.js';
import { ICT_ARCHIVE, hasShared } from './helpers/shared.js';

/** iBUG 68 (0-based) pairs mirrored left/right: jaw, brows, eyes, nose wings, mouth. */
const MIRROR_PAIRS: [number, number][] = [
  [0, 16],
  [4, 12],
  [17, 26],
  [19, 24],
  [36, 45],
  [39, 42],
  [31, 35],
  [48, 54],
  [50, 52],
  [58, 56],
];

describe.skipIf(!hasShared)('ICT-FaceKit import (../shared/models/ict-facekit.tar.xz)', () => {
  let full: MorphableModel;
  let faceHead: MorphableModel;
  let folder: string;

  beforeAll(async () => {
    full = await importModel(ICT_ARCHIVE, { region: 'full', expectedDigest: ICT_FACEKIT_SOURCE.contentDigest });
    folder = mkdtempSync(join(tmpdir(), 'morphable-ict-'));
    execFileSync('tar', ['-xJf', ICT_ARCHIVE, '-C', folder]);
    faceHead = await importModel(folder, { region: 'face-head' });
  });
  afterAll(() => folder && rmSync(folder, { recursive: true, force: true }));

  it('has the full head topology, 100 identity modes and 53 ARKit-named blendshapes', () => {
    expect(full.vertexCount).toBe(26719);
    expect(full.identity.count).toBe(100);
    expect(full.identity.kind).toBe('pca');
    expect(full.expression.count).toBe(53);
    expect(full.expression.kind).toBe('blendshapes');
    expect(full.expression.names).toContain('jawOpen');
    expect(full.expression.names).toContain('eyeBlink_L');
    expect(full.expression.names).toContain('mouthSmile_R');
    expect(full.landmarks.ibug68.vertices.length).toBe(68);
    // The README's list begins 1225, 1888, 1052 and ends 5517, 5966.
    expect(Array.from(full.landmarks.ibug68.vertices.slice(0, 3))).toEqual([1225, 1888, 1052]);
    expect(Array.from(full.landmarks.ibug68.vertices.slice(66))).toEqual([5517, 5966]);
    expect(Object.keys(full.regions)).toEqual(
      expect.arrayContaining(['face', 'headNeck', 'teeth', 'eyeballLeft', 'eyelashesRight']),
    );
    expect(full.uvTriangles.length).toBe(full.triangles.length);
  });

  it('keeps face and head only when asked, with the same landmarks', () => {
    expect(faceHead.vertexCount).toBe(11248);
    expect(Array.from(faceHead.landmarks.ibug68.vertices)).toEqual(Array.from(full.landmarks.ibug68.vertices));
    expect(faceHead.triangles.length).toBeLessThan(full.triangles.length);
    expect(Math.max(...faceHead.triangles)).toBeLessThan(11248);
  });

  it('reads the same numbers from the folder as from the archive, in millimetres', () => {
    const v = 1225; // landmark 1
    for (let c = 0; c < 3; c++) {
      expect(faceHead.mean[3 * v + c]).toBe(full.mean[3 * v + c]);
      expect(faceHead.identity.basis[3 * faceHead.vertexCount * 5 + 3 * v + c]).toBe(
        full.identity.basis[3 * full.vertexCount * 5 + 3 * v + c],
      );
    }
    // A head is about 15 cm wide: the model is in mm, not cm.
    let minX = Infinity,
      maxX = -Infinity;
    for (let i = 0; i < faceHead.mean.length; i += 3) {
      minX = Math.min(minX, faceHead.mean[i]);
      maxX = Math.max(maxX, faceHead.mean[i]);
    }
    expect(maxX - minX).toBeGreaterThan(130);
    expect(maxX - minX).toBeLessThan(300);
  });

  it('has landmarks in a face layout: eyes above nose above mouth above chin, left/right symmetric', () => {
    const p = evaluateVertices(faceHead, faceHead.landmarks.ibug68.vertices, [], []);
    const y = (i: number) => p[3 * i + 1];
    const x = (i: number) => p[3 * i];
    expect(y(36)).toBeGreaterThan(y(30));
    expect(y(30)).toBeGreaterThan(y(51));
    expect(y(57)).toBeGreaterThan(y(8));
    expect(x(36)).toBeLessThan(x(45)); // the person's right eye is at -x
    for (const [r, l] of MIRROR_PAIRS) {
      expect(Math.abs(x(r) + x(l))).toBeLessThan(2);
      expect(Math.abs(y(r) - y(l))).toBeLessThan(2);
    }
    expect(Math.abs(x(30))).toBeLessThan(1);
  });

  it('round-trips through the native file with identical arrays', async () => {
    expectSameModel(faceHead, decodeModel(await encodeModel(faceHead), 'ict.glb'));
  });

  it("is what the tests' shared import (helpers/ict-fixture.ts) reads back", async () => {
    expectSameModel(faceHead, await importIctModel());
  });

  it('refuses an archive whose content differs from the pinned release', async () => {
    // A complete FaceXModel (the real neutral mesh and vertex_indices.json, every identity and
    // expression mesh present with the right vertex count) whose meshes are not the release's:
    // an uncompressed ~36 MB tar instead of the 405 MB in the real .tar.xz, so the test takes
    // seconds. The message comes after the model is assembled: only the content check refuses it.
    const source = join(folder, 'FaceXModel');
    const flat = Buffer.from('v 0 0 0\n'.repeat(full.vertexCount));
    const tar = pack();
    const written = pipeline(tar, createWriteStream(join(folder, 'altered.tar')));
    for (const name of readdirSync(source).sort()) {
      if (!name.endsWith('.obj') && name !== 'vertex_indices.json') continue;
      const real = name === 'generic_neutral_mesh.obj' || name === 'vertex_indices.json';
      if (!real && name.startsWith('PupilDilate')) continue;
      await new Promise<void>((resolve, reject) =>
        tar.entry({ name: `FaceXModel/${name}` }, real ? readFileSync(join(source, name)) : flat, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
    tar.finalize();
    await written;
    await expect(
      importModel(join(folder, 'altered.tar'), { expectedDigest: ICT_FACEKIT_SOURCE.contentDigest }),
    ).rejects.toThrow('content differs from the pinned ICT-FaceKit release');
  });
});

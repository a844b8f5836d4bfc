import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../src/io/model-file.js';
import { fitPhoto } from '../src/node.js';
import { runCli } from './helpers/cli.js';
import { SHARED, SFM_FOLDER, hasShared } from './helpers/shared.js';
import { tinyModel } from './helpers/tiny-model.js';

const work = mkdtempSync(join(tmpdir(), 'morphable-node-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const FACES = `${SHARED}data/faces-68`;
const ROOT = new URL('..', import.meta.url);

function node(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('a model without landmarks', () => {
  it('is refused by fit with one line naming the model file, exit 2', async () => {
    const model = tinyModel();
    model.landmarks = {};
    const file = join(work, 'built.glb');
    writeFileSync(file, await encodeModel(model));
    // A photo that reads: `morphable fit` checks the photo before it loads the model.
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#b0a89c' } })
      .jpeg()
      .toFile(join(work, 'photo.jpg'));
    const result = await runCli(['fit', join(work, 'photo.jpg'), '--model', file, '--out', join(work, 'fits')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^morphable: .*built\.glb: the model has no iBUG-68 landmarks.*model build --landmarks.*\n$/,
    );
    await expect(fitPhoto(join(work, 'photo.jpg'), { model: file })).rejects.toThrow(
      /built\.glb: the model has no iBUG-68 landmarks/,
    );
    model.landmarks = { ibug68: { vertices: new Int32Array(68).fill(-1).fill(3, 0, 5) } };
    await expect(fitPhoto(join(work, 'photo.jpg'), { model })).rejects.toThrow(
      'tiny: the model has only 5 of its 68 iBUG landmark vertices',
    );
  });
});

describe('the Node entry, morphable/node', () => {
  it('is exported by the package', async () => {
    const result = await node(
      "const m = await import('morphable/node'); "
        + 'console.log(typeof m.fitPhoto, typeof m.loadModel, typeof m.createNodeLandmarker)',
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('function function function');
  });

  it.skipIf(!hasShared)(
    'fits a photo given as a path (detected) and as bytes (with landmarks)',
    async () => {
      const { loadModel } = await import('../src/node.js');
      const { parsePts } = await import('../src/io/pts.js');
      const model = await loadModel(SFM_FOLDER);
      const path = `${FACES}/lfpw_image_0010.png`;
      const detected = await fitPhoto(path, { model, photometric: false, maxFaces: 1 });
      expect(detected).toHaveLength(1);
      expect(detected[0].report.landmarks.source).toBe('detector');
      expect(detected[0].positions).toHaveLength(3 * model.vertexCount);
      expect(detected[0].rejected).toBe(false);
      expect(detected[0].report.focal.source).toBe('default');
      const landmarks = parsePts(readFileSync(`${FACES}/lfpw_image_0010.pts`, 'utf8'), 'lfpw_image_0010.pts');
      const [fromBytes] = await fitPhoto(new Uint8Array(readFileSync(path)), {
        model,
        landmarks,
        photometric: false,
        name: 'upload.png',
        focal: 2000,
      });
      expect(fromBytes.report.focal).toEqual({ px: 2000, source: 'option' });
      expect(fromBytes.report.image).toMatchObject({ file: 'upload.png', width: 1280, height: 1024 });
      expect(fromBytes.report.quality.nmePercent).toBeLessThan(5);
      await expect(fitPhoto(new Uint8Array([1, 2, 3]), { model, name: 'junk.jpg' })).rejects.toThrow(/^junk\.jpg: /);
    },
    120_000,
  );
});

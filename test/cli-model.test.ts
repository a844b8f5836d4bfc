import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BufferGeometry, Mesh as ThreeMesh, Object3D } from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ColorModelFile, decodeColorModelFile, encodeColorModelFile } from '../src/io/color-model-file.js';
import { shippedColorModelPath } from '../src/io/node/model-paths.js';
import { expectOneLineError, runCli } from './helpers/cli.js';
import { ICT_ARCHIVE, SFM_FOLDER, hasShared } from './helpers/shared.js';

// Each test starts the CLI several times: on a loaded machine that takes seconds.

const work = mkdtempSync(join(tmpdir(), 'morphable-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A made-up colour model file of a 16-vertex model named "tiny" (not learned from any data). */
function tinyColorModelFile(): ColorModelFile {
  return {
    model: { name: 'tiny', vertexCount: 16 },
    vertices: Uint32Array.from([0, 1, 2]),
    mean: new Float32Array(9).fill(0.5),
    basis: Float32Array.from([0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.1]),
    stddev: Float32Array.from([0.1732]),
    explainedVariance: [1],
    training: { command: 'test' },
  };
}

function meshCount(root: Object3D): number {
  let vertices = 0;
  root.traverse((o) => {
    if ((o as ThreeMesh).isMesh)
      vertices += ((o as ThreeMesh).geometry as BufferGeometry).getAttribute('position').count;
  });
  return vertices;
}

describe('morphable --help', () => {
  it('runs as the README runs it: `npx morphable` in a clone, after `npm ci` built it', async () => {
    // npx starts the package's bin file itself: it must be executable (the build sets the bit).
    const root = fileURLToPath(new URL('../', import.meta.url));
    expect(statSync(join(root, 'dist/src/cli/main.js')).mode & 0o111).not.toBe(0);
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile('npx', ['--no-install', 'morphable', '--help'], { cwd: root }, (error, stdout) =>
        resolve({ code: error ? 1 : 0, stdout }),
      );
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: morphable');
  });

  it('explains the model commands', async () => {
    const help = await runCli(['model', '--help']);
    expect(help.code).toBe(0);
    for (const command of ['fetch', 'import', 'info', 'sample']) expect(help.stdout).toContain(command);
    const sample = await runCli(['model', 'sample', '--help']);
    expect(sample.stdout).toContain('--component');
    expect(sample.stdout).toContain('--seed');
  });
});

describe('bad input: one line naming the file and the problem, exit 2, nothing written', () => {
  it('missing source', async () => {
    const out = join(work, 'missing.glb');
    expectOneLineError(
      await runCli(['model', 'import', join(work, 'nope.tar.xz'), '-o', out]),
      'nope.tar.xz',
      'no such file',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('unknown format', async () => {
    const text = join(work, 'notes.txt');
    writeFileSync(text, 'just some text\n');
    expectOneLineError(
      await runCli(['model', 'import', text, '-o', join(work, 'x.glb')]),
      'notes.txt',
      'unknown model format',
    );
    expectOneLineError(await runCli(['model', 'info', text]), 'notes.txt', 'unknown model format');
  });

  it('output that is not .glb', async () => {
    expectOneLineError(await runCli(['model', 'import', SFM_FOLDER, '-o', join(work, 'x.obj')]), 'x.obj', '.glb');
  });

  it('corrupt and truncated native model files', async () => {
    const bad = join(work, 'bad.glb');
    writeFileSync(bad, 'glTF but not really');
    expectOneLineError(await runCli(['model', 'info', bad]), 'bad.glb');
  });

  it('a broken OBJ in an ICT folder names the file and the line', async () => {
    const folder = join(work, 'FaceXModel');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'generic_neutral_mesh.obj'), 'v 1 2 3\nv 1 2 oops\n');
    const result = await runCli(['model', 'import', folder, '-o', join(work, 'broken.glb')]);
    expectOneLineError(result, 'generic_neutral_mesh.obj', 'line 2');
    expect(existsSync(join(work, 'broken.glb'))).toBe(false);
  });

  it('model fetch --color-model: a file made for another model, refused before the download', async () => {
    const other = join(work, 'other-color.bin');
    writeFileSync(other, encodeColorModelFile(tinyColorModelFile()));
    const home = join(work, 'color-home');
    const out = join(work, 'colored.glb');
    const result = await runCli(
      ['model', 'fetch', '--url', 'http://127.0.0.1:9/x.tar.xz', '--color-model', other, '-o', out],
      {
        MORPHABLE_HOME: home,
      },
    );
    expectOneLineError(
      result,
      'other-color.bin',
      'a colour model of tiny (16 vertices), not of ICT-FaceKit (face and head)',
    );
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(home, 'downloads'))).toBe(false);
  });

  it.skipIf(!hasShared)('a truncated archive', async () => {
    const cut = join(work, 'cut.tar.xz');
    writeFileSync(cut, readFileSync(ICT_ARCHIVE).subarray(0, 3_000_000));
    const out = join(work, 'cut.glb');
    expectOneLineError(await runCli(['model', 'import', cut, '-o', out]), 'cut.tar.xz', 'truncated or corrupt archive');
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!hasShared)('a wrong landmark mapping file in a Surrey folder', async () => {
    const folder = join(work, 'sfm');
    mkdirSync(folder, { recursive: true });
    for (const name of readdirSync(SFM_FOLDER)) copyFileSync(join(SFM_FOLDER, name), join(folder, name));
    writeFileSync(join(folder, 'ibug_to_sfm.txt'), '[landmark_mappings]\n1 = "lots"\n');
    expectOneLineError(await runCli(['model', 'info', folder]), 'ibug_to_sfm.txt', 'vertex index for iBUG point 1');
  });

  // `model calibrate` rewriting a model file in place, and the line it prints: test/embedded-model.test.ts.
  it('calibrate refuses anything but a .glb', async () => {
    expectOneLineError(
      await runCli(['model', 'calibrate', join(work, 'face.obj')]),
      'face.obj',
      'native model file (.glb)',
    );
  });

  it('no model fetched yet: the embedded model is the default, and calibrate has nothing to rewrite', async () => {
    const home = join(work, 'empty-home');
    const info = await runCli(['model', 'info', '--json'], { MORPHABLE_HOME: home });
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout).vertices).toBe(11248);
    expectOneLineError(await runCli(['model', 'calibrate'], { MORPHABLE_HOME: home }), 'morphable model fetch');
  });

  it.skipIf(!hasShared)('bad sample options', async () => {
    const out = join(work, 'bad-samples');
    expectOneLineError(await runCli(['model', 'sample', SFM_FOLDER, '--format', 'stl', '--out', out]), 'stl');
    expectOneLineError(
      await runCli(['model', 'sample', SFM_FOLDER, '--component', '63', '--out', out]),
      '--component',
      '0..62',
    );
    expectOneLineError(
      await runCli(['model', 'sample', SFM_FOLDER, '-n', '0', '--out', out]),
      '--count: 0 is not a positive integer',
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe.skipIf(!hasShared)('fetch → info → sample, as in the README (served from a local HTTP server)', () => {
  const shipped = decodeColorModelFile(readFileSync(shippedColorModelPath()), 'color-model-300w.bin');
  let server: Server;
  let url: string;
  const home = join(work, 'home');
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url !== '/ict-facekit.tar.xz') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': statSync(ICT_ARCHIVE).size });
      createReadStream(ICT_ARCHIVE).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ict-facekit.tar.xz`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fetches, checks and imports ICT-FaceKit as the default model', async () => {
    const result = await runCli(['model', 'fetch', '--url', url], { MORPHABLE_HOME: home });
    // Off a terminal: at most plain progress lines for the stages that last ("importing …: 50%").
    expect(result.stderr.split('\n').filter((line) => line && !/^[^:]+: \d+%$/.test(line))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('licence: ICT-FaceKit: MIT');
    expect(result.stdout).toMatch(/landmarks calibrated to the face detector on \d+ renders/);
    // The shipped colour model goes in by default, and says whose terms it carries.
    expect(result.stdout).toContain(
      `colour model: color-model-300w.bin, ${shipped.stddev.length} components over ${shipped.vertices.length} of `
        + '11248 vertices; learned from 300-W photos: research use only',
    );
    expect(result.stdout).toMatch(/^licence: ICT-FaceKit: MIT.*; colour model learned from 300-W photos/m);
    expect(existsSync(join(home, 'models/ict-facekit.glb'))).toBe(true);
  }, 300_000); // download, import of the 100-MB archive and calibration: 15 s idle, minutes on a loaded machine

  it('reports 100 identity and 53 ARKit-named expression components and 68 landmarks', async () => {
    const result = await runCli(['model', 'info', '--json'], { MORPHABLE_HOME: home });
    expect(result.code).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(info.identity.count).toBe(100);
    expect(info.expression.count).toBe(53);
    expect(info.expression.names).toEqual(
      expect.arrayContaining(['jawOpen', 'mouthSmile_L', 'eyeBlink_R', 'browInnerUp_L']),
    );
    expect(info.landmarks.ibug68).toMatchObject({ points: 68, missing: 0, calibrated: true });
    expect(info.landmarks.ibug68.vertices).toHaveLength(68);
    // The colour basis the fetch stored: the shipped file's components over its vertices (the face region).
    expect(info.color).toMatchObject({
      kind: 'pca',
      count: shipped.stddev.length,
      coveredVertices: shipped.vertices.length,
    });
    const text = await runCli(['model', 'info'], { MORPHABLE_HOME: home });
    expect(text.stdout).toContain(
      `colour       ${shipped.stddev.length} pca components over ${shipped.vertices.length} of 11248 vertices`,
    );
  });

  it('writes samples that three.js loads', async () => {
    const out = join(work, 'samples');
    const result = await runCli(['model', 'sample', '-n', '2', '--seed', '5', '--format', 'obj,glb', '--out', out], {
      MORPHABLE_HOME: home,
    });
    expect(result.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'sample-000.glb',
      'sample-000.json',
      'sample-000.obj',
      'sample-001.glb',
      'sample-001.json',
      'sample-001.obj',
    ]);
    const obj = new OBJLoader().parse(readFileSync(join(out, 'sample-000.obj'), 'utf8'));
    expect(meshCount(obj)).toBe(3 * 22288); // OBJLoader expands every triangle
    const glb = readFileSync(join(out, 'sample-001.glb'));
    const gltf = await new GLTFLoader().parseAsync(
      glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer,
      '',
    );
    expect(meshCount(gltf.scene)).toBeGreaterThanOrEqual(11248);
    // The same seed gives the same face.
    const again = await runCli(['model', 'sample', '-n', '1', '--seed', '5', '--out', join(work, 'again')], {
      MORPHABLE_HOME: home,
    });
    expect(again.code).toBe(0);
    expect(readFileSync(join(work, 'again/sample-000.obj'), 'utf8')).toBe(
      readFileSync(join(out, 'sample-000.obj'), 'utf8'),
    );
  });

  it('imports the Surrey model: 3448 vertices, 63 identity components, 6 expressions', async () => {
    const out = join(work, 'sfm.glb');
    // Renders of this face mask (no eyes, grey): the detector finds fewer than half of them, so the calibration
    // tracks the landmarks from where the vertices project instead, and uses all 40.
    const imported = await runCli(['model', 'import', SFM_FOLDER, '-o', out]);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/landmarks calibrated to the face detector on 40 renders/);
    const info = JSON.parse((await runCli(['model', 'info', out, '--json'])).stdout);
    expect(info.vertices).toBe(3448);
    expect(info.landmarks.ibug68.calibrated).toBe(true);
    // The vertex indices, so that a user can write the `model build --landmarks` file from them.
    expect(info.landmarks.ibug68.vertices).toHaveLength(68);
    expect(info.landmarks.ibug68.vertices.every((v: number) => Number.isInteger(v) && v >= -1 && v < 3448)).toBe(true);
    expect(info.landmarks.ibug68.vertices.filter((v: number) => v < 0)).toHaveLength(info.landmarks.ibug68.missing);
    expect(new Set(info.landmarks.ibug68.vertices.filter((v: number) => v >= 0)).size).toBe(
      68 - info.landmarks.ibug68.missing,
    );
    expect(info.identity.count).toBe(63);
    expect(info.expression.names).toEqual(['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise']);
  });
});

import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, isCompactModel } from '../src/io/model-file.js';
import { runCli } from './helpers/cli.js';
import { loadWithThree } from './helpers/three-gltf.js';

const EMBEDDED = fileURLToPath(new URL('../models/ict-facekit-face-head.glb', import.meta.url));
const PHOTO = join(
  dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
  'demo/sample1.jpg',
);
const work = mkdtempSync(join(tmpdir(), 'morphable-embedded-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the compact ICT-FaceKit model shipped in models/', () => {
  it('is the calibrated face + head model, under 6 MB', () => {
    const bytes = readFileSync(EMBEDDED);
    expect(bytes.length).toBeLessThan(6e6);
    const model = decodeModel(bytes, EMBEDDED);
    expect(model.vertexCount).toBe(11248);
    expect(model.identity.count).toBe(100);
    expect(model.expression.count).toBe(53);
    expect(model.expression.names).toContain('jawOpen');
    expect(model.landmarks.ibug68.offsets).toBeDefined();
    expect(model.licence).toContain('MIT');
  });

  it('is a head about 0.25 m wide (ear to ear) for three.js, with its 153 morph targets by name', async () => {
    const three = await loadWithThree(readFileSync(EMBEDDED));
    // Millimetres read as metres would be 248 wide, the old mistake; the file's own scale says 0.2483.
    expect(three.size.x).toBeGreaterThan(0.2);
    expect(three.size.x).toBeLessThan(0.3);
    expect(three.morphTargets).toHaveLength(153);
    expect(three.morphTargets).toContain('mouthSmile_L');
  });

  it('`model calibrate` rewrites a copy of it in place: says on how many renders, and it stays compact', async () => {
    const copy = join(work, 'copy.glb');
    copyFileSync(EMBEDDED, copy);
    const result = await runCli(['model', 'calibrate', copy]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/landmarks calibrated to the face detector on \d+ renders: mean offset \d+\.\d mm/);
    const bytes = readFileSync(copy);
    expect(isCompactModel(bytes)).toBe(true);
    expect(bytes.length).toBeLessThan(6e6);
  }, 180_000);

  it('is what `fit` uses with no model fetched, and the fitted GLB is in metres', async () => {
    const home = join(work, 'empty-home');
    const info = await runCli(['model', 'info', '--json'], { MORPHABLE_HOME: home });
    expect(info.stderr).toBe('');
    expect(JSON.parse(info.stdout).landmarks.ibug68.calibrated).toBe(true);

    const out = join(work, 'fits');
    const result = await runCli(['fit', PHOTO, '--max-faces', '1', '--no-photometric', '--out', out, '--json'], {
      MORPHABLE_HOME: home,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [report] = JSON.parse(result.stdout);
    expect(report.model).toContain('ICT-FaceKit');
    expect(existsSync(join(home, 'models/ict-facekit.glb'))).toBe(false);
    const glb = readdirSync(out).find((f) => f.endsWith('.glb'))!;
    const three = await loadWithThree(readFileSync(join(out, glb)));
    expect(three.size.x).toBeGreaterThan(0.15); // 0.228 m for this photo
    expect(three.size.x).toBeLessThan(0.3);
  }, 180_000);
});

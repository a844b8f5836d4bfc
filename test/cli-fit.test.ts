import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, expectOneLineError, runCli } from './helpers/cli.js';
import { SHARED, SFM_FOLDER, hasShared } from './helpers/shared.js';

const FACES = `${SHARED}data/faces-68`;
const work = mkdtempSync(join(tmpdir(), 'morphable-fit-'));
const model = join(work, 'sfm.glb');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * `morphable fit` of lfpw_image_0010.png to its .pts with the photometric stage, run once for the tests that
 * check its outputs (the files and JSON, and `render --params` of the JSON), whichever runs first.
 */
const landmarkFitOut = join(work, 'out');
let landmarkFit: Promise<CliResult> | undefined;
const fitToGivenLandmarks = () => (landmarkFit ??= runCli(lfpwFitArgs(landmarkFitOut, '--json')));

/** `fit` of lfpw_image_0010.png to its .pts with the Surrey model into `out`, then `options`. */
function lfpwFitArgs(out: string, ...options: string[]): string[] {
  return [
    'fit',
    `${FACES}/lfpw_image_0010.png`,
    '--landmarks',
    `${FACES}/lfpw_image_0010.pts`,
    '--model',
    model,
    '--out',
    out,
    ...options,
  ];
}

describe.skipIf(!hasShared)('morphable fit', () => {
  beforeAll(async () => {
    // The small Surrey model keeps these tests quick; the ICT model is fitted in the benchmark.
    expect((await runCli(['model', 'import', SFM_FOLDER, '-o', model, '--no-calibrate'])).code).toBe(0);
  });

  it('fits to given landmarks and writes mesh, overlay and JSON', async () => {
    const out = landmarkFitOut;
    const result = await fitToGivenLandmarks();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'lfpw_image_0010.glb',
      'lfpw_image_0010.json',
      'lfpw_image_0010.mtl',
      'lfpw_image_0010.obj',
      'lfpw_image_0010.png',
      'lfpw_image_0010_albedo.ply',
      'lfpw_image_0010_albedo.png',
      'lfpw_image_0010_compare.png',
      'lfpw_image_0010_texture.png',
      'results.jsonl',
    ]);
    const [report] = JSON.parse(result.stdout);
    expect(report.image).toMatchObject({ width: 1280, height: 1024 });
    expect(report.photometric.rmseAfter).toBeLessThan(report.photometric.rmseBefore);
    expect(readFileSync(join(out, 'lfpw_image_0010.obj'), 'utf8')).toContain('mtllib lfpw_image_0010.mtl');
    const compare = await sharp(join(out, 'lfpw_image_0010_compare.png')).metadata();
    expect(compare.width).toBe(3 * compare.height!);
    // The de-lit texture: the same UV layout as the photo's.
    const albedo = await sharp(join(out, 'lfpw_image_0010_albedo.png')).metadata();
    const texture = await sharp(join(out, 'lfpw_image_0010_texture.png')).metadata();
    expect([albedo.width, albedo.height]).toEqual([texture.width, texture.height]);
    expect(report.landmarks.source).toBe('file');
    expect(report.landmarks.fitted).toHaveLength(68);
    expect(report.quality.nmePercent).toBeLessThan(5);
    expect(report.pose.modelView).toHaveLength(16);
    expect(Object.keys(report.expression)).toEqual(['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise']);
    expect(report.focal.source).toBe('default');
    expect(report.quality.score).toBeGreaterThanOrEqual(0.5);
    // The default --identity auto: the shipped identity net predicts ICT-FaceKit identities, not Surrey's.
    expect(report.identityFrom).toBe('mean face');
    // The overlay is the face's region of the photo, not the whole 1280 × 1024 photo.
    const overlay = await sharp(join(out, 'lfpw_image_0010.png')).metadata();
    expect(overlay.width).toBeLessThan(1280);
    expect(overlay.height).toBeLessThan(1024);
    expect(overlay.width! * overlay.height!).toBeGreaterThan(200 * 200);
  });

  it('rejects a fit below --min-quality: reported on stderr, nothing written, exit code 2', async () => {
    // The annotation's points in reverse order: the jaw where the mouth is, no face can follow them.
    const points = readFileSync(`${FACES}/lfpw_image_0010.pts`, 'utf8').match(/^[\d.]+ [\d.]+$/gm)!;
    expect(points).toHaveLength(68);
    const scrambled = join(work, 'scrambled.pts');
    writeFileSync(scrambled, `version: 1\nn_points: 68\n{\n${points.reverse().join('\n')}\n}\n`);
    const out = join(work, 'rejected');
    const args = [
      'fit',
      `${FACES}/lfpw_image_0010.png`,
      '--landmarks',
      scrambled,
      '--model',
      model,
      '--out',
      out,
      '--no-photometric',
    ];
    const rejected = await runCli(args);
    expectOneLineError(rejected, 'lfpw_image_0010.png: face 1 rejected (quality 0.');
    expect(rejected.stderr).toMatch(/: face 1 rejected \(quality 0\.\d\d: [a-z ]+\)$/m);
    expect(existsSync(out)).toBe(false);
    // --min-quality 0 keeps it, and the JSON says why it scored low.
    const kept = await runCli([...args, '--min-quality', '0', '--json']);
    expect(kept.code).toBe(0);
    const [report] = JSON.parse(kept.stdout);
    expect(report.quality.score).toBeLessThan(0.5);
    expect(report.quality.parts[report.quality.worst]).toBe(report.quality.score);
    expect(readdirSync(out)).toContain('lfpw_image_0010.json');
    expectOneLineError(await runCli([...args, '--min-quality', '1.5']), '1.5', 'from 0 to 1');
  });

  it('takes the focal length from EXIF, and --focal over it', async () => {
    const photo = join(work, 'exif.jpg');
    await sharp(`${FACES}/lfpw_image_0010.png`)
      .jpeg()
      .withExif({ IFD2: { FocalLengthIn35mmFilm: '50' } })
      .toFile(photo);
    const args = [
      'fit',
      photo,
      '--landmarks',
      `${FACES}/lfpw_image_0010.pts`,
      '--model',
      model,
      '--out',
      join(work, 'exif'),
      '--json',
      '--no-photometric',
    ];
    const [fromExif] = JSON.parse((await runCli(args)).stdout);
    expect(fromExif.focal.source).toBe('exif-35mm');
    expect(fromExif.focal.px).toBeCloseTo((50 / 36) * 1280, 1);
    expect(fromExif.pose.focalLength).toBeCloseTo(fromExif.focal.px, 1);
    const [fromOption] = JSON.parse((await runCli([...args, '--focal', '2000'])).stdout);
    expect(fromOption.focal).toEqual({ px: 2000, source: 'option' });
  });

  it('refuses --identity embedding for a model the identity net was not trained for, in one line', async () => {
    const out = join(work, 'no-embedding');
    expectOneLineError(
      await runCli(lfpwFitArgs(out, '--identity', 'embedding')),
      '--identity embedding',
      'its net predicts ICT-FaceKit (face and head) identities, not Surrey Face Model',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--expression-stiffness: the default holds the expressions nearer neutral than 1; 0 is refused', async () => {
    const fitWith = async (stiffness: string[]) => {
      const out = join(work, `expression-${stiffness.join('') || 'default'}`);
      const result = await runCli(lfpwFitArgs(out, '--no-photometric', '--outputs', 'json', '--json', ...stiffness));
      expect(result.code).toBe(0);
      const weights = Object.values(JSON.parse(result.stdout)[0].expression) as number[];
      return weights.reduce((sum, w) => sum + Math.abs(w), 0);
    };
    const held = await fitWith([]);
    const free = await fitWith(['--expression-stiffness', '1']);
    expect(free).toBeGreaterThan(0);
    expect(held).toBeLessThan(0.7 * free);
    expectOneLineError(
      await runCli(['fit', `${FACES}/lfpw_image_0010.png`, '--expression-stiffness', '0']),
      '--expression-stiffness',
      '0 is not a positive number',
    );
  });

  it('rejects a .pts with the wrong number of points', async () => {
    const pts = join(work, 'short.pts');
    writeFileSync(pts, 'version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n');
    const out = join(work, 'none');
    expectOneLineError(
      await runCli(['fit', `${FACES}/lfpw_image_0010.png`, '--landmarks', pts, '--model', model, '--out', out]),
      'short.pts',
      'has 2 points',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('rejects a mismatch between images and .pts files', async () => {
    expectOneLineError(
      await runCli(['fit', 'a.jpg', 'b.jpg', '--landmarks', 'a.pts', '--model', model]),
      '--landmarks',
      'one per image',
    );
  });

  it('rejects bad images with one line each and writes nothing', async () => {
    const text = join(work, 'notes.jpg');
    writeFileSync(text, 'not an image');
    const empty = join(work, 'empty.png');
    writeFileSync(empty, '');
    const jpeg = readFileSync(`${FACES}/afw_134212_1.jpg`);
    const truncated = join(work, 'cut.jpg');
    writeFileSync(truncated, jpeg.subarray(0, jpeg.length >> 1));
    const tiny = join(work, 'tiny.png');
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#888' } })
      .png()
      .toFile(tiny);
    const pts = `${FACES}/lfpw_image_0010.pts`;
    const out = join(work, 'bad-out');
    expectOneLineError(
      await runCli(['fit', text, '--landmarks', pts, '--model', model, '--out', out]),
      'notes.jpg',
      'not an image',
    );
    expectOneLineError(
      await runCli(['fit', empty, '--landmarks', pts, '--model', model, '--out', out]),
      'empty.png',
      'empty file',
    );
    expectOneLineError(
      await runCli(['fit', truncated, '--landmarks', pts, '--model', model, '--out', out]),
      'cut.jpg',
      'truncated or corrupt',
    );
    expectOneLineError(
      await runCli(['fit', tiny, '--landmarks', pts, '--model', model, '--out', out]),
      'tiny.png',
      'too small',
    );
    expectOneLineError(
      await runCli(['fit', join(work, 'missing.jpg'), '--landmarks', pts, '--model', model, '--out', out]),
      'missing.jpg',
      'no such file',
    );
    // One photo is read before the model loads: its problem is the one named, even with no model there either.
    expectOneLineError(
      await runCli(['fit', text, '--landmarks', pts, '--model', join(work, 'missing.glb'), '--out', out]),
      'notes.jpg',
      'not an image',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('detects the faces itself: two faces in one photo give two results', async () => {
    const out = join(work, 'detected');
    const result = await runCli([
      'fit',
      `${FACES}/afw_134212_1.jpg`,
      '--model',
      model,
      '--out',
      out,
      '--json',
      '--no-photometric',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const reports = JSON.parse(result.stdout);
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports[0].landmarks.source).toBe('detector');
    expect(reports[0].face.box.width).toBeGreaterThan(50);
    expect(readdirSync(out)).toContain('afw_134212_1_face2.json');
    // Numbered left to right.
    const centres = reports.map(
      (r: { face: { box: { x: number; width: number } } }) => r.face.box.x + r.face.box.width / 2,
    );
    expect(centres).toEqual([...centres].sort((a, b) => a - b));
  });

  it('handles greyscale, RGBA, 16-bit and EXIF-rotated photos', async () => {
    const source = `${FACES}/lfpw_image_0010.png`;
    const variants: [string, (s: sharp.Sharp) => sharp.Sharp][] = [
      ['grey.jpg', (s) => s.greyscale().jpeg()],
      ['rgba.png', (s) => s.ensureAlpha(0.8).png()],
      ['sixteen.png', (s) => s.toColourspace('rgb16').png()],
      // Stored on its side with EXIF orientation 6 (rotate 90° clockwise to view): the face must be found upright.
      ['rotated.jpg', (s) => s.rotate(-90).jpeg().withMetadata({ orientation: 6 })],
    ];
    // One run, as a batch: each photo's report comes back in the order given.
    const files = variants.map(([name]) => join(work, name));
    for (const [i, [, make]] of variants.entries()) await make(sharp(source)).toFile(files[i]);
    const result = await runCli([
      'fit',
      ...files,
      '--model',
      model,
      '--out',
      join(work, 'variants'),
      '--json',
      '--max-faces',
      '1',
      '--no-photometric',
      '--outputs',
      'json',
    ]);
    // Nothing on stderr but progress lines (off a terminal, once the batch has lasted 2 s).
    expect(result.stderr.split('\n').filter((line) => line && !/^fitting: \d+% \(/.test(line))).toEqual([]);
    const reports = JSON.parse(result.stdout);
    expect(reports.map((r: { image: { file: string } }) => r.image.file)).toEqual(files);
    for (const [i, report] of reports.entries()) {
      expect(report.image, files[i]).toMatchObject({ width: 1280, height: 1024 });
      expect(Math.abs(report.pose.roll), files[i]).toBeLessThan(30);
    }
  }, 120_000);

  it('refuses --fast and --init learned where the regressor cannot run, in one line', async () => {
    const photo = join(work, 'regressor-input.png');
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#b0a89c' } })
      .png()
      .toFile(photo);
    const out = join(work, 'regressor');
    expectOneLineError(
      await runCli(['fit', photo, '--model', model, '--out', out, '--fast', '--landmarker', 'face-api']),
      '--fast',
      "needs the project's landmark net",
    );
    // The shipped regressor predicts ICT-FaceKit coefficients: asked for with the Surrey model, it says so.
    expectOneLineError(
      await runCli(['fit', photo, '--model', model, '--out', out, '--init', 'learned']),
      'face-regressor-300w.bin',
      'trained for ICT-FaceKit',
    );
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it('a photo without a face: a clear message, exit code 2, nothing written for it', async () => {
    const blank = join(work, 'wall.png');
    await sharp({ create: { width: 640, height: 480, channels: 3, background: '#b0a89c' } })
      .png()
      .toFile(blank);
    const out = join(work, 'noface');
    expectOneLineError(await runCli(['fit', blank, '--model', model, '--out', out]), 'wall.png', 'no face found');
    expect(existsSync(join(out, 'wall.json'))).toBe(false);
    // Among several photos the others are still fitted (one face each: the caption of this photo
    // holds letters the detector takes for a weak second face).
    const result = await runCli([
      'fit',
      blank,
      `${FACES}/lfpw_image_0010.png`,
      '--model',
      model,
      '--out',
      out,
      '--max-faces',
      '1',
      '--no-photometric',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('wall.png: no face found');
    expect(readdirSync(out).sort()).toEqual([
      'lfpw_image_0010.glb',
      'lfpw_image_0010.json',
      'lfpw_image_0010.obj',
      'lfpw_image_0010.png',
      'results.jsonl',
    ]);
  });

  it('a very large photo is detected on a downscaled copy', async () => {
    const big = join(work, 'big.jpg');
    // Nearest-neighbour upscaling: the same face at the same place, made in half the time of the default kernel.
    await sharp(`${FACES}/lfpw_image_0010.png`)
      .resize(12000, 9600, { kernel: 'nearest' })
      .jpeg({ quality: 60 })
      .toFile(big);
    const result = await runCli([
      'fit',
      big,
      '--model',
      model,
      '--out',
      join(work, 'big'),
      '--json',
      '--max-faces',
      '1',
      '--no-photometric',
    ]);
    expect(result.stderr).toBe('');
    const [report] = JSON.parse(result.stdout);
    expect(report.image).toMatchObject({ width: 12000, height: 9600 });
    expect(report.face.box.width).toBeGreaterThan(1000);
  }, 120_000);

  it('renders a fit from another viewpoint, and a random face', async () => {
    const out = join(work, 'render');
    // The JSON of the first test's fit (--json changes only what goes to stdout).
    expect((await fitToGivenLandmarks()).code).toBe(0);
    const png = join(out, 'side.png');
    const result = await runCli([
      'render',
      model,
      '--params',
      join(landmarkFitOut, 'lfpw_image_0010.json'),
      '--yaw',
      '40',
      '--size',
      '256',
      '-o',
      png,
    ]);
    expect(result.stderr).toBe('');
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([256, 256]);
    // The face covers the middle of the picture: not the grey background there.
    const centre = 3 * (128 * 256 + 128);
    expect([data[centre], data[centre + 1], data[centre + 2]]).not.toEqual([200, 200, 200]);
    const random = await runCli(['render', model, '--seed', '3', '--light', '1,0,1', '-o', join(out, 'random.png')]);
    expect(random.code).toBe(0);
  });

  it("gives photos with the same name distinct outputs, and replaces an earlier run's files", async () => {
    const out = join(work, 'same-name');
    for (const folder of ['a', 'b']) mkdirSync(join(work, folder), { recursive: true });
    copyFileSync(`${FACES}/lfpw_image_0010.png`, join(work, 'a', 'x.png'));
    await sharp(`${FACES}/lfpw_image_0010.png`)
      .jpeg()
      .toFile(join(work, 'b', 'x.jpg'));
    const pts = `${FACES}/lfpw_image_0010.pts`;
    const result = await runCli([
      'fit',
      join(work, 'a', 'x.png'),
      join(work, 'b', 'x.jpg'),
      '--landmarks',
      pts,
      pts,
      '--model',
      model,
      '--out',
      out,
      '--json',
    ]);
    expect(result.code).toBe(0);
    const reports = JSON.parse(result.stdout);
    expect(reports.map((r: { image: { file: string } }) => r.image.file)).toEqual([
      join(work, 'a', 'x.png'),
      join(work, 'b', 'x.jpg'),
    ]);
    const files = readdirSync(out).sort();
    expect(files.filter((f) => f.endsWith('.json'))).toEqual(['x-2.json', 'x.json']);
    expect(files).toContain('x-2_texture.png');
    expect(JSON.parse(readFileSync(join(out, 'x-2.json'), 'utf8')).image.file).toBe(join(work, 'b', 'x.jpg'));
    expect(readFileSync(join(out, 'x-2.obj'), 'utf8')).toContain('mtllib x-2.mtl');
    // Again without the photometric stage: x's texture, material, comparison and albedo go.
    const again = await runCli([
      'fit',
      join(work, 'a', 'x.png'),
      '--landmarks',
      pts,
      '--model',
      model,
      '--out',
      out,
      '--no-photometric',
    ]);
    expect(again.code).toBe(0);
    expect(
      readdirSync(out)
        .filter((f) => /^x[._]/.test(f))
        .sort(),
    ).toEqual(['x.glb', 'x.json', 'x.obj', 'x.png']);
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readdirSync(out)).toContain('x-2_albedo.ply'); // another photo's files stay
  }, 120_000);

  it.skipIf(!existsSync('/usr/bin/script'))(
    'shows the stage of a single-photo fit on a terminal; --outputs albedo-texture writes only NAME_albedo.png',
    async () => {
      // script(1) gives the CLI a pseudo-terminal as stderr.
      const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
      const command = [
        process.execPath,
        main,
        'fit',
        `${FACES}/lfpw_image_0010.png`,
        '--landmarks',
        `${FACES}/lfpw_image_0010.pts`,
        '--model',
        model,
        '--out',
        join(work, 'tty'),
        '--outputs',
        'albedo-texture',
      ]
        .map((arg) => `'${arg}'`)
        .join(' ');
      const output = await new Promise<string>((resolve) => {
        execFile('/usr/bin/script', ['-qec', command, '/dev/null'], { timeout: 120_000 }, (_error, stdout) =>
          resolve(stdout),
        );
      });
      for (const stage of ['landmark fit', 'photometric fit', 'texture', 'writing'])
        expect(output).toContain(`fitting lfpw_image_0010.png: ${stage}`);
      expect(output).toContain('landmark error');
      expect(readdirSync(join(work, 'tty')).sort()).toEqual(['lfpw_image_0010_albedo.png', 'results.jsonl']);
      const logged = JSON.parse(readFileSync(join(work, 'tty', 'results.jsonl'), 'utf8'));
      expect(logged.files).toEqual([join(work, 'tty', 'lfpw_image_0010_albedo.png')]);
    },
    120_000,
  );

  it('checks that --out is writable before any work', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, '');
    // A missing model would be the first error if --out were checked after loading it.
    expectOneLineError(
      await runCli([
        'fit',
        `${FACES}/lfpw_image_0010.png`,
        '--model',
        join(work, 'missing.glb'),
        '--out',
        join(file, 'fits'),
      ]),
      '--out',
      'a parent is not a folder',
    );
    expectOneLineError(
      await runCli(['fit', `${FACES}/lfpw_image_0010.png`, '--model', join(work, 'missing.glb'), '--out', file]),
      '--out',
      'not a folder',
    );
    if (existsSync('/sys/kernel')) {
      // sysfs refuses new files even to root: "not writable", not "no such folder".
      expectOneLineError(
        await runCli(['fit', `${FACES}/lfpw_image_0010.png`, '--model', model, '--out', '/sys/kernel/morphable-fits']),
        '--out /sys/kernel/morphable-fits',
        'not writable (permission denied)',
      );
    }
  });

  it('rejects bad render parameters with one line', async () => {
    const notFit = join(work, 'not-a-fit.json');
    writeFileSync(notFit, '{"hello": 1}');
    expectOneLineError(
      await runCli(['render', model, '--params', notFit, '-o', join(work, 'x.png')]),
      'not-a-fit.json',
      'not a `morphable fit` result',
    );
    expectOneLineError(
      await runCli(['render', model, '--light', '0,0', '-o', join(work, 'x.png')]),
      '--light',
      'three numbers',
    );
    expectOneLineError(await runCli(['render', model, '-o', join(work, 'x.jpg')]), 'x.jpg', '.png');
    expect(existsSync(join(work, 'x.png'))).toBe(false);
  });
});

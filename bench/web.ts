/**
 * The web app in Debian's Chromium (headless, software WebGL, this machine's 2 cores): time to fit a
 * photo in the page (worker: detection, landmark fit, photometric fit, texture), and the webcam frame
 * rate on Chromium's fake camera playing a photo.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel } from '../src/io/model-file.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { CHROMIUM, fakeCamera, launchChromium, serveWebApp, writeY4m } from '../test/helpers/web.js';
import { median } from './faces68.js';

/** `query`: appended to the page's URL, e.g. '?landmarker=face-api'. */
export async function webBench(
  model: MorphableModel,
  photo: string,
  log: (line: string) => void,
  query = '',
): Promise<string> {
  if (!existsSync(CHROMIUM)) return `Not measured: ${CHROMIUM} is not installed.\n`;
  const work = mkdtempSync(join(tmpdir(), 'morphable-web-bench-'));
  const modelFile = join(work, 'model.glb');
  writeFileSync(modelFile, await encodeModel(model));
  const site = await serveWebApp(join(work, 'site'), modelFile);
  const video = join(work, 'camera.y4m');
  await writeY4m(photo, video, 640, 480);
  const browser = await launchChromium(fakeCamera(video));
  try {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 850 } })).newPage();
    await page.goto(site.url + query);
    await page.waitForFunction(() => !(document.getElementById('photo-file') as HTMLInputElement).disabled, null, {
      timeout: 60_000,
    });

    const photoMs: number[] = [];
    for (let run = 0; run < 4; run++) {
      await page.evaluate(() => {
        delete document.body.dataset.state;
      });
      await page.setInputFiles('#photo-file', photo);
      await page.waitForFunction(() => document.body.dataset.state === 'fitted', null, { timeout: 60_000 });
      if (run > 0) photoMs.push(Number(await page.evaluate(() => document.body.dataset.fitMs)));
    }

    await page.click('#webcam');
    await page.waitForFunction(
      () => document.getElementById('identity-state')!.textContent === 'identity fixed',
      null,
      { timeout: 60_000 },
    );
    const fps: number[] = [],
      fitMs: number[] = [];
    for (let i = 0; i < 8; i++) {
      await page.waitForTimeout(1500);
      const shown = await page.evaluate(() => [
        Number(document.getElementById('fps')!.dataset.value),
        Number(document.getElementById('fit-ms')!.textContent),
      ]);
      fps.push(shown[0]);
      fitMs.push(shown[1]);
    }
    const rows = [
      `| photo fit in the page (${photo.split('/').pop()}: detection, landmark + photometric fit, texture), `
        + `median of 3 after warm-up | ${median(photoMs).toFixed(0)} ms |`,
      '| webcam, 640×480 fake camera: frames fitted per second, median of 8 readings '
        + `| **${median(fps).toFixed(1)} fps** (target ≥ 15) |`,
      `| webcam: time in the worker per frame (landmark pass + fit + mesh), median | ${median(fitMs).toFixed(0)} ms |`,
    ];
    for (const row of rows) log(row);
    return [
      '| what | result |',
      '|---|---|',
      ...rows,
      '',
      'Chromium runs headless with --disable-gpu, so three.js draws through SwiftShader (software WebGL) '
        + 'on the same 2 cores as the fitting; the page draws at most once per animation frame '
        + 'and never holds up the fitting.',
      '',
    ].join('\n');
  } finally {
    await browser.close();
    await site.close();
    rmSync(work, { recursive: true, force: true });
  }
}

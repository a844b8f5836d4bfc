/**
 * The web app with no model fetched: its build serves the compact model shipped in models/ as the
 * default (vite.config.ts), and the page decodes it (meshopt, int16) and fits a photo as the CLI does
 * with the same model.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { SHARED, hasShared } from './helpers/shared.js';
import { CHROMIUM, launchChromium, PAGE_TIMEOUT, serveWebApp, TEST_TIMEOUT } from './helpers/web.js';

const PHOTO = `${SHARED}data/faces-68/300w_outdoor_002.png`;
const EMBEDDED = fileURLToPath(new URL('../models/ict-facekit-face-head.glb', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'morphable-web-embedded-'));
const home = join(work, 'empty-home');
let site: { url: string; close: () => Promise<void> } | undefined;
let browser: Browser | undefined;
const saved = { home: process.env.MORPHABLE_HOME, model: process.env.MORPHABLE_MODEL };

describe.skipIf(!hasShared)('web app with the embedded model', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium), as .ci/run does`,
      );
    process.env.MORPHABLE_HOME = home; // nothing fetched there
    site = await serveWebApp(join(work, 'site'), ''); // no MORPHABLE_MODEL: the default
    browser = await launchChromium();
  }, TEST_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    for (const [name, value] of [
      ['MORPHABLE_HOME', saved.home],
      ['MORPHABLE_MODEL', saved.model],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(work, { recursive: true, force: true });
  });

  it(
    'builds with the embedded model as its default and fits a photo as the CLI does with it',
    async () => {
      expect(readFileSync(join(work, 'site/models/default.glb')).equals(readFileSync(EMBEDDED))).toBe(true);
      const fit = await runCli(['fit', PHOTO, '--out', join(work, 'cli'), '--json'], { MORPHABLE_HOME: home });
      expect(fit.code).toBe(0);
      const [cli] = JSON.parse(fit.stdout);

      const page = await (await browser!.newContext()).newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(site!.url);
      await page.waitForFunction(
        () =>
          !(document.getElementById('photo-file') as HTMLInputElement).disabled
          || !document.getElementById('error')!.hidden,
        null,
        { timeout: PAGE_TIMEOUT },
      );
      expect(await page.locator('#error').isHidden()).toBe(true);
      await page.setInputFiles('#photo-file', PHOTO);
      await page.waitForFunction(
        () => document.body.dataset.state === 'fitted' || !document.getElementById('error')!.hidden,
        null,
        { timeout: PAGE_TIMEOUT },
      );
      expect(await page.locator('#error').isHidden()).toBe(true);
      const pose = await page.evaluate(() =>
        Object.fromEntries(
          ['yaw', 'pitch', 'roll'].map((k) => [k, Number(document.getElementById(`pose-${k}`)!.dataset.value)]),
        ),
      );
      for (const k of ['yaw', 'pitch', 'roll'] as const) expect(Math.abs(pose[k] - cli.pose[k])).toBeLessThan(0.5);
      expect(errors).toEqual([]);
      await page.context().close();
    },
    TEST_TIMEOUT,
  );
});

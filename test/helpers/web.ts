import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { build, createServer, preview } from 'vite';

/** Debian's Chromium, started as this machine allows (no sandbox as root, no GPU, no network chatter). */
export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(extraFlags: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...extraFlags] });
}

/** Chromium's flags for a fake webcam that plays `video` (.y4m) in a loop, permission granted. */
export const fakeCamera = (video: string) => [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  `--use-file-for-fake-video-capture=${video}`,
];

// From test/helpers/ under vitest, or from dist/test/helpers/ when the benchmark runs compiled.
const configFile = () =>
  ['../../web/vite.config.ts', '../../../web/vite.config.ts']
    .map((p) => fileURLToPath(new URL(p, import.meta.url)))
    .find((p) => existsSync(p))!;

/** The development server of `npm run web`, with `model` as its default model; resolves to its URL. */
export async function serveWebAppDev(model: string): Promise<{ url: string; close: () => Promise<void> }> {
  process.env.MORPHABLE_MODEL = model;
  const server = await createServer({
    configFile: configFile(),
    logLevel: 'error',
    server: { port: 0, strictPort: false },
  });
  await server.listen();
  return { url: server.resolvedUrls!.local[0], close: () => server.close() };
}

/** Builds the web app into `outDir` with `model` as its default model and serves it; resolves to its URL. */
export async function serveWebApp(outDir: string, model: string): Promise<{ url: string; close: () => Promise<void> }> {
  process.env.MORPHABLE_MODEL = model;
  await build({ configFile: configFile(), logLevel: 'error', build: { outDir } });
  const server = await preview({
    configFile: configFile(),
    logLevel: 'error',
    build: { outDir },
    preview: { port: 0, strictPort: false },
  });
  return {
    url: server.resolvedUrls!.local[0],
    close: () => new Promise((resolve) => server.httpServer.close(() => resolve())),
  };
}

/** A .y4m video (YUV 4:2:0, BT.601 studio range) of `frames` copies of a photo letterboxed to width × height. */
export async function writeY4m(photo: string, file: string, width: number, height: number, frames = 1): Promise<void> {
  const { data } = await sharp(photo)
    .resize(width, height, { fit: 'contain', background: '#808080' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const y = Buffer.alloc(width * height),
    u = Buffer.alloc((width * height) / 4),
    v = Buffer.alloc((width * height) / 4);
  for (let i = 0; i < width * height; i++)
    y[i] = Math.round(16 + 0.257 * data[3 * i] + 0.504 * data[3 * i + 1] + 0.098 * data[3 * i + 2]);
  for (let j = 0; j < height / 2; j++) {
    for (let i = 0; i < width / 2; i++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < 4; k++) {
        const p = 3 * ((2 * j + (k >> 1)) * width + 2 * i + (k & 1));
        r += data[p] / 4;
        g += data[p + 1] / 4;
        b += data[p + 2] / 4;
      }
      u[(j * width) / 2 + i] = Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b);
      v[(j * width) / 2 + i] = Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b);
    }
  }
  const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; f++) parts.push(Buffer.from('FRAME\n'), y, u, v);
  writeFileSync(file, Buffer.concat(parts));
}

/**
 * Chromium's waits and the web tests' limits: a page that loads the model, face-api's weights and
 * tfjs's wasm and fits a photo in a few seconds alone took over 60 s with two test suites running, and over
 * 150 s with two suites whose batch tests fit on worker threads too.
 */
export const PAGE_TIMEOUT = 300_000;
export const TEST_TIMEOUT = 700_000;

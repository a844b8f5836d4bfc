import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../src/render/rgb-image.js';
import { InputError } from '../src/errors.js';
import { encodePng, loadImage, savePng } from '../src/io/node/image.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'morphable-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** w×h RGB: red in the top-left quarter, blue elsewhere. */
function quarters(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const red = x < w / 2 && y < h / 2;
      data.set(red ? [230, 20, 20] : [20, 20, 230], 3 * (y * w + x));
    }
  }
  return data;
}

/** Pseudo-random RGB bytes: a photo-sized file that does not compress to nothing. */
function noise(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.imul(i + 1, 2654435761) >>> 24;
  return data;
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const i = 3 * (y * image.width + x);
  return Array.from(image.data.subarray(i, i + 3));
}

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  actual.forEach((v, i) =>
    expect(Math.abs(v - expected[i]), `channel ${i}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance),
  );
}

async function expectInputError(path: string, message: string): Promise<void> {
  const error = await loadImage(path).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toContain(`${path}: ${message}`);
}

describe('loadImage', () => {
  it('loads a JPEG and a PNG as 8-bit RGB', async () => {
    const raw = { raw: { width: 120, height: 80, channels: 3 as const } };
    await sharp(quarters(120, 80), raw).jpeg({ quality: 95 }).toFile(join(dir, 'q.jpg'));
    await sharp(quarters(120, 80), raw).png().toFile(join(dir, 'q.png'));
    for (const name of ['q.jpg', 'q.png']) {
      const { image, originalWidth, originalHeight, scale } = await loadImage(join(dir, name));
      expect([image.width, image.height, originalWidth, originalHeight, scale]).toEqual([120, 80, 120, 80, 1]);
      expect(image.data).toBeInstanceOf(Uint8Array);
      expect(image.data.length).toBe(120 * 80 * 3);
      expectClose(pixel(image, 10, 10), [230, 20, 20], name.endsWith('png') ? 0 : 12);
      expectClose(pixel(image, 100, 70), [20, 20, 230], name.endsWith('png') ? 0 : 12);
    }
  });

  it('converts greyscale, RGBA (on white), 16-bit, palette and CMYK images to 8-bit sRGB', async () => {
    const grey = Buffer.alloc(64 * 48).fill(90);
    await sharp(grey, { raw: { width: 64, height: 48, channels: 1 } })
      .png()
      .toFile(join(dir, 'grey.png'));
    expectClose(pixel((await loadImage(join(dir, 'grey.png'))).image, 5, 5), [90, 90, 90], 0);

    // Left half opaque red, right half fully transparent.
    const rgba = Buffer.alloc(64 * 48 * 4);
    for (let i = 0; i < 64 * 48; i++) rgba.set(i % 64 < 32 ? [200, 0, 0, 255] : [0, 0, 0, 0], 4 * i);
    await sharp(rgba, { raw: { width: 64, height: 48, channels: 4 } })
      .png()
      .toFile(join(dir, 'rgba.png'));
    const flat = (await loadImage(join(dir, 'rgba.png'))).image;
    expectClose(pixel(flat, 5, 5), [200, 0, 0], 0);
    expectClose(pixel(flat, 60, 5), [255, 255, 255], 0);

    const raw = { raw: { width: 64, height: 48, channels: 3 as const } };
    await sharp(quarters(64, 48), raw).toColourspace('rgb16').png().toFile(join(dir, 'deep.png'));
    expect((await sharp(join(dir, 'deep.png')).metadata()).depth).toBe('ushort');
    const deep = (await loadImage(join(dir, 'deep.png'))).image;
    expectClose(pixel(deep, 5, 5), [230, 20, 20], 1);
    expectClose(pixel(deep, 60, 40), [20, 20, 230], 1);

    await sharp(quarters(64, 48), raw).png({ palette: true }).toFile(join(dir, 'palette.png'));
    expect((await sharp(join(dir, 'palette.png')).metadata()).isPalette).toBe(true);
    expectClose(pixel((await loadImage(join(dir, 'palette.png'))).image, 5, 5), [230, 20, 20], 4);

    await sharp(quarters(64, 48), raw).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(join(dir, 'cmyk.jpg'));
    expect((await sharp(join(dir, 'cmyk.jpg')).metadata()).space).toBe('cmyk');
    const cmyk = (await loadImage(join(dir, 'cmyk.jpg'))).image;
    const [r, g, b] = pixel(cmyk, 5, 5);
    expect(r).toBeGreaterThan(150); // red stays red through CMYK and back (profile conversions shift it)
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
    const [r2, , b2] = pixel(cmyk, 60, 40); // this blue is outside the CMYK gamut: it comes back darker
    expect(b2).toBeGreaterThan(100);
    expect(b2 - r2).toBeGreaterThan(60);
  });

  it('applies the EXIF orientation', async () => {
    // Stored 120 wide, 80 high, red top-left; orientation 6 means "turn 90° clockwise to display".
    const raw = { raw: { width: 120, height: 80, channels: 3 as const } };
    await sharp(quarters(120, 80), raw)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(join(dir, 'rotated.jpg'));
    expect((await sharp(join(dir, 'rotated.jpg')).metadata()).orientation).toBe(6);
    const { image, originalWidth, originalHeight } = await loadImage(join(dir, 'rotated.jpg'));
    expect([image.width, image.height, originalWidth, originalHeight]).toEqual([80, 120, 80, 120]);
    expectClose(pixel(image, 75, 5), [230, 20, 20], 12); // the red corner is now top-right
    expectClose(pixel(image, 5, 5), [20, 20, 230], 12);
    expectClose(pixel(image, 75, 115), [20, 20, 230], 12);
  });

  it('downscales to maxSide and reports the scale', async () => {
    const raw = { raw: { width: 120, height: 80, channels: 3 as const } };
    await sharp(quarters(120, 80), raw).png().toFile(join(dir, 'small.png'));
    const loaded = await loadImage(join(dir, 'small.png'), { maxSide: 60 });
    expect([loaded.image.width, loaded.image.height, loaded.originalWidth, loaded.originalHeight]).toEqual([
      60, 40, 120, 80,
    ]);
    expect(loaded.scale).toBe(0.5);
    expectClose(pixel(loaded.image, 5, 5), [230, 20, 20], 2);
    expect((await loadImage(join(dir, 'small.png'), { maxSide: 500 })).scale).toBe(1); // never enlarges
  });

  it('shrinks a 12000×12000 JPEG while decoding, without holding it at full size', async () => {
    const path = join(dir, 'huge.jpg');
    // Upscaling a tiny image streams through libvips; optimiseCoding off keeps the encoder from
    // buffering all coefficients (close to 1 GB at this size).
    const tile = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    await sharp(tile)
      .resize(12000, 12000, { kernel: 'nearest' })
      .jpeg({ quality: 80, optimiseCoding: false })
      .toFile(path);

    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 1);
    const loaded = await loadImage(path, { maxSide: 1024 });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);

    expect([loaded.image.width, loaded.image.height, loaded.originalWidth, loaded.originalHeight]).toEqual([
      1024, 1024, 12000, 12000,
    ]);
    expect(loaded.scale).toBeCloseTo(1024 / 12000, 10);
    expectClose(pixel(loaded.image, 512, 512), [40, 120, 200], 3);
    // Decoded at full size it would take 432 MB of pixels alone; shrink-on-load takes about 15 MB.
    expect(peak - before).toBeLessThan(200e6);
  });

  it('rejects a missing file, an empty file, a non-image and a 1×1 image', async () => {
    await expectInputError(join(dir, 'nothing-here.jpg'), 'no such file');
    await writeFile(join(dir, 'empty.jpg'), '');
    await expectInputError(join(dir, 'empty.jpg'), 'empty file');
    await writeFile(join(dir, 'text.jpg'), 'these are not the pixels you are looking for\n');
    await expectInputError(join(dir, 'text.jpg'), 'not an image (or an unsupported format)');
    await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } })
      .png()
      .toFile(join(dir, 'dot.png'));
    await expectInputError(join(dir, 'dot.png'), 'image too small (1×1 px)');
  });

  it('rejects JPEGs and PNGs cut in half', async () => {
    const raw = { raw: { width: 200, height: 150, channels: 3 as const } };
    await sharp(noise(200, 150), raw).jpeg().toFile(join(dir, 'full.jpg'));
    await sharp(noise(200, 150), raw).png().toFile(join(dir, 'full.png'));
    for (const ext of ['jpg', 'png']) {
      const bytes = await readFile(join(dir, `full.${ext}`));
      await writeFile(join(dir, `half.${ext}`), bytes.subarray(0, bytes.length >> 1));
      await loadImage(join(dir, `full.${ext}`)); // the whole file is fine
      await expectInputError(join(dir, `half.${ext}`), 'truncated or corrupt image: ');
    }
  });

  it('rejects absurd pixel counts from the header, before decoding', async () => {
    // A PNG whose header claims 100000×100000 pixels (30 GB decoded).
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([length, body, crc]);
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(100_000, 0);
    header.writeUInt32BE(100_000, 4);
    header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
    const png = Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(Buffer.alloc(1000))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    await writeFile(join(dir, 'bomb.png'), png);
    await expectInputError(join(dir, 'bomb.png'), 'image too large (100000×100000 px');
  });
});

describe('encodePng / savePng', () => {
  it('round-trips an RgbImage', async () => {
    const image: RgbImage = { width: 48, height: 36, data: new Uint8Array(noise(48, 36)) };
    const png = await encodePng(image);
    expect(Array.from(png.subarray(0, 4))).toEqual([137, 80, 78, 71]);
    const path = join(dir, 'out.png');
    await savePng(path, image);
    expect(Buffer.compare(await readFile(path), png)).toBe(0);
    const back = await loadImage(path);
    expect([back.image.width, back.image.height]).toEqual([48, 36]);
    expect(Buffer.compare(Buffer.from(back.image.data), Buffer.from(image.data))).toBe(0);
  });

  it('refuses data of the wrong length', async () => {
    await expect(encodePng({ width: 4, height: 4, data: new Uint8Array(10) })).rejects.toThrow(RangeError);
  });
});

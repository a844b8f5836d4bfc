import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { exifFocalPixels, readExif } from '../src/io/exif.js';

/** A JPEG (SOI, APP1 with `tiff`, EOI) around hand-made TIFF bytes. */
function jpegWithApp1(tiff: Uint8Array): Uint8Array {
  const payload = new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]);
  const length = payload.length + 2;
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe1, length >> 8, length & 0xff, ...payload, 0xff, 0xd9]);
}

/**
 * Big-endian TIFF: IFD0 with Orientation 6 and the Exif IFD pointer; the Exif IFD with FocalLength 50/10 mm,
 * PixelXDimension 4000, FocalPlaneXResolution 2000/1 per cm (unit 3).
 */
function bigEndianTiff(): Uint8Array {
  const bytes = new Uint8Array(108);
  const view = new DataView(bytes.buffer);
  bytes.set([0x4d, 0x4d], 0);
  view.setUint16(2, 42);
  view.setUint32(4, 8);
  const entry = (at: number, tag: number, type: number, value: number) => {
    view.setUint16(at, tag);
    view.setUint16(at + 2, type);
    view.setUint32(at + 4, 1);
    if (type === 3) view.setUint16(at + 8, value);
    else view.setUint32(at + 8, value);
  };
  view.setUint16(8, 2);
  entry(10, 0x0112, 3, 6);
  entry(22, 0x8769, 4, 38);
  view.setUint32(34, 0);
  view.setUint16(38, 4);
  entry(40, 0x920a, 5, 92);
  entry(52, 0xa002, 4, 4000);
  entry(64, 0xa20e, 5, 100);
  entry(76, 0xa210, 3, 3);
  view.setUint32(88, 0);
  view.setUint32(92, 50);
  view.setUint32(96, 10);
  view.setUint32(100, 2000);
  view.setUint32(104, 1);
  return bytes;
}

describe('EXIF focal length', () => {
  it('reads FocalLengthIn35mmFilm from a JPEG written by sharp: f35 / 36 × the long side', async () => {
    const jpeg = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#888' } })
      .jpeg()
      .withExif({ IFD2: { FocalLengthIn35mmFilm: '52', FocalLength: '4.25' } })
      .toBuffer();
    const exif = readExif(new Uint8Array(jpeg));
    expect(exif).toMatchObject({ orientation: 1, focal35mm: 52, focalLengthMm: 4.25 });
    const focal = exifFocalPixels(exif, 120, 80)!;
    expect(focal.source).toBe('exif-35mm');
    expect(focal.px).toBeCloseTo((52 / 36) * 120, 6);
  });

  it('without a 35 mm value: FocalLength × focal-plane resolution, rescaled to the photo and its orientation', () => {
    const exif = readExif(jpegWithApp1(bigEndianTiff()));
    expect(exif).toMatchObject({ orientation: 6, focalLengthMm: 5, pixelXDimension: 4000, focalPlanePxPerMm: 200 });
    // Orientation 6: displayed 1500 × 2000 is stored 2000 wide, half of the 4000 the resolution counts.
    const focal = exifFocalPixels(exif, 1500, 2000)!;
    expect(focal.source).toBe('exif-sensor');
    expect(focal.px).toBeCloseTo(5 * 200 * 0.5, 6);
  });

  it('is absent, never an error, without EXIF or with a broken block', async () => {
    const plain = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#888' } })
      .jpeg()
      .toBuffer();
    expect(readExif(new Uint8Array(plain))).toBeNull();
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    expect(readExif(new Uint8Array(png))).toBeNull();
    const tiff = bigEndianTiff();
    // The Exif IFD pointer aims past the end: the orientation survives, no focal length.
    new DataView(tiff.buffer).setUint32(30, 5000);
    const broken = readExif(jpegWithApp1(tiff));
    expect(broken === null || broken.focalLengthMm === undefined).toBe(true);
    expect(exifFocalPixels(broken, 100, 100)).toBeNull();
    // A segment length running past the end of the file.
    const cut = jpegWithApp1(bigEndianTiff()).subarray(0, 40);
    expect(readExif(cut)).toBeNull();
  });
});

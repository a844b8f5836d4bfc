/**
 * The image type of render, io and detect: photos in, renders and overlays out. Pixel coordinates:
 * x right, y down, the centre of the top-left pixel at (0, 0) (see detect/face.ts).
 */

/** An 8-bit RGB image, row-major, 3 bytes per pixel, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

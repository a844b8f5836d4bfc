import type { RgbImage } from './rgb-image.js';

/** Two size × size 8-bit sRGB images (3 bytes a pixel) of one crop, and where the rendering covers it. */
export interface ComparisonImages {
  photo: Uint8Array;
  rendered: Uint8Array;
  /** 1 where the rendering counts, 0 elsewhere; size × size. */
  mask: Uint8Array;
  size: number;
}

/**
 * Photo | rendering | difference (×3), side by side: one 3·size × size image. Outside the mask the
 * rendering panel shows the photo darkened to a quarter and the difference panel is black.
 */
export function comparisonImage({ photo, rendered, mask, size }: ComparisonImages): RgbImage {
  const data = new Uint8Array(3 * 3 * size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x,
        row = 3 * (y * 3 * size);
      for (let c = 0; c < 3; c++) {
        data[row + 3 * x + c] = photo[3 * p + c];
        data[row + 3 * (size + x) + c] = mask[p] ? rendered[3 * p + c] : photo[3 * p + c] >> 2;
        data[row + 3 * (2 * size + x) + c] = mask[p]
          ? Math.min(255, 3 * Math.abs(rendered[3 * p + c] - photo[3 * p + c]))
          : 0;
      }
    }
  }
  return { width: 3 * size, height: size, data };
}

import { describe, expect, it } from 'vitest';
import { comparisonImage } from '../src/render/comparison.js';

describe('comparisonImage', () => {
  it(
    'puts photo | rendering | difference ×3 side by side, the photo darkened and no difference outside the ' + 'mask',
    () => {
      // 2 × 2 crop; pixel 1 (top right) outside the mask.
      const photo = Uint8Array.from([100, 50, 20, 200, 40, 8, 10, 20, 30, 0, 0, 0]);
      const rendered = Uint8Array.from([110, 40, 20, 1, 2, 3, 200, 20, 0, 255, 255, 255]);
      const mask = Uint8Array.from([1, 0, 1, 1]);
      const image = comparisonImage({ photo, rendered, mask, size: 2 });
      expect([image.width, image.height]).toEqual([6, 2]);
      const px = (x: number, y: number) => Array.from(image.data.subarray(3 * (y * 6 + x), 3 * (y * 6 + x) + 3));
      expect([px(0, 0), px(1, 0), px(0, 1), px(1, 1)]).toEqual([
        [100, 50, 20],
        [200, 40, 8],
        [10, 20, 30],
        [0, 0, 0],
      ]);
      expect([px(2, 0), px(3, 0), px(2, 1), px(3, 1)]).toEqual([
        [110, 40, 20],
        [50, 10, 2],
        [200, 20, 0],
        [255, 255, 255],
      ]);
      expect([px(4, 0), px(5, 0), px(4, 1), px(5, 1)]).toEqual([
        [30, 30, 0],
        [0, 0, 0],
        [255, 0, 90],
        [255, 255, 255],
      ]);
    },
  );
});

import type { MorphableModel } from '../../src/model/morphable-model.js';
import { componentNorms } from '../../src/model/morphable-model.js';
import { SeededRandom } from '../../src/model/random.js';

/**
 * A small random model for unit tests: a grid of `side × side` vertices in the xy plane
 * (two triangles per cell, one UV per vertex), random identity and expression bases.
 */
export function tinyModel(
  options: { side?: number; identity?: number; expression?: number; seed?: number; color?: boolean } = {},
): MorphableModel {
  const side = options.side ?? 4;
  const n = side * side;
  const random = new SeededRandom(options.seed ?? 1);
  const mean = new Float32Array(3 * n);
  const uvs = new Float32Array(2 * n);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = y * side + x;
      mean.set([x * 10, y * 10, 5 * Math.sin(x + y)], 3 * v);
      uvs.set([x / (side - 1), y / (side - 1)], 2 * v);
    }
  }
  const triangles: number[] = [];
  for (let y = 0; y + 1 < side; y++) {
    for (let x = 0; x + 1 < side; x++) {
      const v = y * side + x;
      triangles.push(v, v + 1, v + side + 1, v, v + side + 1, v + side);
    }
  }
  const basis = (count: number, kind: 'pca' | 'blendshapes', prefix: string) => {
    const b = new Float32Array(count * 3 * n);
    for (let i = 0; i < b.length; i++) b[i] = random.normal();
    return {
      kind,
      count,
      basis: b,
      stddev: componentNorms(b, count),
      names: Array.from({ length: count }, (_, k) => `${prefix}${k}`),
    };
  };
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  const model: MorphableModel = {
    name: 'tiny',
    licence: 'test data',
    vertexCount: n,
    mean,
    triangles: Uint32Array.from(triangles),
    uvs,
    uvTriangles: Uint32Array.from(triangles),
    identity: basis(options.identity ?? 3, 'pca', 'pc'),
    expression: basis(options.expression ?? 2, 'blendshapes', 'shape'),
    landmarks: { ibug68: { vertices: Int32Array.from({ length: 68 }, (_, i) => (i % 7 === 3 ? -1 : i % n)) } },
    regions: { face: all, left: all.filter((v) => v % side < side / 2) },
    contours: { right: Uint32Array.from([0, side, 2 * side]), left: Uint32Array.from([side - 1, 2 * side - 1]) },
  };
  if (options.color) {
    model.color = { mean: mean.map((_, i) => 0.5 + 0.01 * (i % 7)), basis: basis(2, 'pca', 'color') };
  }
  return model;
}

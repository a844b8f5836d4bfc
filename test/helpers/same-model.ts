import { expect } from 'vitest';
import type { MorphableModel } from '../../src/model/morphable-model.js';

/** Bit-for-bit equality of two typed arrays (toEqual is far too slow for 50 MB of floats). */
export function expectSameArray(actual: ArrayBufferView, expected: ArrayBufferView): void {
  expect(actual.constructor).toBe(expected.constructor);
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(bytes(actual).equals(bytes(expected))).toBe(true);
}

export function expectSameModel(a: MorphableModel, b: MorphableModel): void {
  expect(b.name).toBe(a.name);
  expect(b.licence).toBe(a.licence);
  expect(b.vertexCount).toBe(a.vertexCount);
  expectSameArray(b.mean, a.mean);
  expectSameArray(b.triangles, a.triangles);
  expectSameArray(b.uvs, a.uvs);
  expectSameArray(b.uvTriangles, a.uvTriangles);
  for (const key of ['identity', 'expression'] as const) {
    expect(b[key].kind).toBe(a[key].kind);
    expect(b[key].names).toEqual(a[key].names);
    expect(b[key].stddev).toEqual(a[key].stddev);
    expectSameArray(b[key].basis, a[key].basis);
  }
  expect(b.landmarks).toEqual(a.landmarks);
  expect(b.regions).toEqual(a.regions);
  expect(b.contours).toEqual(a.contours);
  expect(!!b.color).toBe(!!a.color);
  if (a.color && b.color) {
    expectSameArray(b.color.mean, a.color.mean);
    expectSameArray(b.color.basis.basis, a.color.basis.basis);
    expect(b.color.basis.names).toEqual(a.color.basis.names);
  }
}

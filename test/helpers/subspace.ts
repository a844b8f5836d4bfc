import { symmetricEigen } from '../../src/geometry/linalg.js';

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

/** Gram–Schmidt: orthonormal rows spanning the same space. */
export function orthonormalise(rows: ArrayLike<number>[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const r of rows) {
    const v = Float64Array.from(r);
    for (const q of out) {
      const p = dot(q, v);
      for (let j = 0; j < v.length; j++) v[j] -= p * q[j];
    }
    const norm = Math.sqrt(dot(v, v));
    out.push(v.map((x) => x / norm));
  }
  return out;
}

/** Cosines of the principal angles between the spans of two sets of rows, descending. */
export function principalCosines(a: ArrayLike<number>[], b: ArrayLike<number>[]): number[] {
  const qa = orthonormalise(a),
    qb = orthonormalise(b),
    k = qa.length;
  const c = qa.map((u) => qb.map((v) => dot(u, v)));
  const cct = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) cct[i * k + j] = dot(c[i], c[j]);
  const values = new Float64Array(k);
  symmetricEigen(cct, k, values, new Float64Array(k * k));
  return Array.from(values, (v) => Math.sqrt(Math.max(0, v)));
}

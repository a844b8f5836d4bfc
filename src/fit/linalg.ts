/**
 * Small dense linear algebra on row-major Float64Arrays, in place, allocation-free.
 */

/**
 * Solves A x = b for a symmetric positive definite n×n A by Cholesky (A is overwritten by its
 * factor, b by x). Returns false if A is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let d = a[rowJ + j];
    for (let k = 0; k < j; k++) d -= a[rowJ + k] * a[rowJ + k];
    if (!(d > 0)) return false;
    const ljj = Math.sqrt(d);
    a[rowJ + j] = ljj;
    const inv = 1 / ljj;
    // Two rows at a time, two independent sums each: one load of row j feeds two rows, and the
    // subtractions do not wait on each other.
    let i = j + 1;
    for (; i + 2 <= n; i += 2) {
      const rowI = i * n, rowI1 = rowI + n;
      let s0 = a[rowI + j], s1 = 0, t0 = a[rowI1 + j], t1 = 0, k = 0;
      for (; k + 2 <= j; k += 2) {
        const l0 = a[rowJ + k], l1 = a[rowJ + k + 1];
        s0 -= a[rowI + k] * l0;
        s1 -= a[rowI + k + 1] * l1;
        t0 -= a[rowI1 + k] * l0;
        t1 -= a[rowI1 + k + 1] * l1;
      }
      if (k < j) {
        s0 -= a[rowI + k] * a[rowJ + k];
        t0 -= a[rowI1 + k] * a[rowJ + k];
      }
      a[rowI + j] = (s0 + s1) * inv;
      a[rowI1 + j] = (t0 + t1) * inv;
    }
    if (i < n) {
      const rowI = i * n;
      let s0 = a[rowI + j], s1 = 0, k = 0;
      for (; k + 2 <= j; k += 2) {
        s0 -= a[rowI + k] * a[rowJ + k];
        s1 -= a[rowI + k + 1] * a[rowJ + k + 1];
      }
      if (k < j) s0 -= a[rowI + k] * a[rowJ + k];
      a[rowI + j] = (s0 + s1) * inv;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

/** Copies the upper triangle of a symmetric n×n matrix into its lower triangle. */
export function symmetrizeFromUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[j * n + i] = a[i * n + j];
}

/**
 * Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations (accurate, and fast
 * enough for the one-off 100×100 problems of model preparation). `a` is destroyed; eigenvalues go
 * to `values` in descending order, eigenvectors to the columns of `vectors` (row-major n×n).
 */
export function symmetricEigen(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array): void {
  vectors.fill(0);
  for (let i = 0; i < n; i++) vectors[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = vectors[k * n + p], vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Sort descending (selection sort on columns: n is small).
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  for (let i = 0; i < n; i++) {
    let best = i;
    for (let j = i + 1; j < n; j++) if (values[j] > values[best]) best = j;
    if (best === i) continue;
    const tv = values[i]; values[i] = values[best]; values[best] = tv;
    for (let k = 0; k < n; k++) {
      const t = vectors[k * n + i]; vectors[k * n + i] = vectors[k * n + best]; vectors[k * n + best] = t;
    }
  }
}

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
      const rowI = i * n,
        rowI1 = rowI + n;
      let s0 = a[rowI + j],
        s1 = 0,
        t0 = a[rowI1 + j],
        t1 = 0,
        k = 0;
      for (; k + 2 <= j; k += 2) {
        const l0 = a[rowJ + k],
          l1 = a[rowJ + k + 1];
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
      let s0 = a[rowI + j],
        s1 = 0,
        k = 0;
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
 * Eigen-decomposition of a symmetric n×n matrix: Householder reduction to tridiagonal form, then
 * implicit QL iterations with Wilkinson shifts (the QR algorithm on the reversed matrix; EISPACK's
 * tred2/tql2, as in JAMA), O(n³) with a small constant. Reads the upper triangle of `a` and destroys
 * it; eigenvalues go to `values` in descending order, unit eigenvectors to the columns of `vectors`
 * (row-major n×n). Allocation-free: `a` holds the transforms, `vectors` the off-diagonal meanwhile.
 */
export function symmetricEigen(a: Float64Array, n: number, values: Float64Array, vectors: Float64Array): void {
  if (n <= 0) return;
  // Work on W = Vᵀ in `a` (row-major), so every inner loop runs along a row: W's rows are V's
  // columns, and W starts as A (symmetric). d = values, e = vectors[0..n).
  const w = a,
    d = values,
    e = vectors;
  const last = n - 1;
  for (let j = 0; j < n; j++) d[j] = w[j * n + last];
  for (let i = last; i > 0; i--) {
    let scale = 0,
      h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[row + j] * f;
        for (let k = j + 1; k < i; k++) {
          const wjk = w[row + k];
          g += wjk * d[k];
          e[k] += wjk * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const row = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k < i; k++) w[row + k] -= f * e[k] + g * d[k];
        d[j] = w[row + i - 1];
        w[row + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the Householder transforms into W.
  for (let i = 0; i < last; i++) {
    const row = i * n,
      next = row + n;
    w[row + last] = w[row + i];
    w[row + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const rowJ = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[next + k] * w[rowJ + k];
        for (let k = 0; k <= i; k++) w[rowJ + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + last];
    w[j * n + last] = 0;
  }
  w[last * n + last] = 1;

  // Implicit QL on the tridiagonal (d, e), rotations applied to the rows of W.
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[last] = 0;
  let shift = 0,
    norm = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    norm = Math.max(norm, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < last && !(Math.abs(e[m]) <= eps * norm)) m++; // e[last] = 0 ends it; NaN stops too
    if (m > l) {
      for (let iter = 0; iter < 100; iter++) {
        // Wilkinson shift: the eigenvalue of the leading 2×2 block nearer d[l].
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        shift += h;
        p = d[m];
        let c = 1,
          c2 = 1,
          c3 = 1,
          s = 0,
          s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const rowI = i * n,
            rowI1 = rowI + n;
          for (let k = 0; k < n; k++) {
            const wi = w[rowI + k],
              wi1 = w[rowI1 + k];
            w[rowI1 + k] = s * wi + c * wi1;
            w[rowI + k] = c * wi - s * wi1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * norm)) break;
      }
    }
    d[l] += shift;
    e[l] = 0;
  }

  // Sort descending (selection sort, swapping W's rows), then Vᵀ → V.
  for (let i = 0; i < n; i++) {
    let best = i;
    for (let j = i + 1; j < n; j++) if (d[j] > d[best]) best = j;
    if (best === i) continue;
    const t = d[i];
    d[i] = d[best];
    d[best] = t;
    const rowI = i * n,
      rowB = best * n;
    for (let k = 0; k < n; k++) {
      const u = w[rowI + k];
      w[rowI + k] = w[rowB + k];
      w[rowB + k] = u;
    }
  }
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vectors[k * n + i] = w[i * n + k];
}

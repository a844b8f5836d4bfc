import type { LinearBasis, MorphableModel } from './morphable-model.js';

/**
 * Shape of the model for the given coefficients: mean + identity·α + expression·β.
 * Missing trailing coefficients count as zero; `out` (3N) is returned.
 * Component-major bases make this one contiguous multiply-add per component.
 */
export function evaluateShape(
  model: MorphableModel,
  identity: ArrayLike<number>,
  expression: ArrayLike<number>,
  out: Float32Array = new Float32Array(model.mean.length),
): Float32Array {
  out.set(model.mean);
  addBasis(model.identity, identity, out);
  addBasis(model.expression, expression, out);
  return out;
}

function addBasis(basis: LinearBasis, coefficients: ArrayLike<number>, out: Float32Array): void {
  const n = out.length;
  const count = Math.min(basis.count, coefficients.length);
  const b = basis.basis;
  for (let k = 0; k < count; k++) {
    const c = coefficients[k];
    if (c === 0) continue;
    for (let i = 0, j = k * n; i < n; i++, j++) out[i] += c * b[j];
  }
}

/**
 * Positions of only the given vertices (e.g. the 68 landmarks), without touching the rest
 * of the mesh: `out` gets 3·indices.length values. Negative indices (missing landmarks) give NaN.
 */
export function evaluateVertices(
  model: MorphableModel,
  indices: ArrayLike<number>,
  identity: ArrayLike<number>,
  expression: ArrayLike<number>,
  out: Float32Array = new Float32Array(indices.length * 3),
): Float32Array {
  const n = model.mean.length;
  const id = model.identity;
  const ex = model.expression;
  const idCount = Math.min(id.count, identity.length);
  const exCount = Math.min(ex.count, expression.length);
  for (let p = 0; p < indices.length; p++) {
    const v = indices[p];
    if (v < 0) {
      out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = NaN;
      continue;
    }
    for (let c = 0; c < 3; c++) {
      const row = 3 * v + c;
      let s = model.mean[row];
      for (let k = 0; k < idCount; k++) s += identity[k] * id.basis[k * n + row];
      for (let k = 0; k < exCount; k++) s += expression[k] * ex.basis[k * n + row];
      out[3 * p + c] = s;
    }
  }
  return out;
}

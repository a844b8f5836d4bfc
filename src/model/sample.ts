import type { LinearBasis, MorphableModel } from './morphable-model.js';
import type { SeededRandom } from './random.js';

export interface FaceCoefficients {
  identity: Float32Array;
  expression: Float32Array;
  color?: Float32Array;
}

export interface SampleOptions {
  /** Scale of the identity (and colour) draw in standard deviations; 1 draws from the prior. */
  sigma?: number;
  /** Draw an expression too: a few random blendshapes at moderate weights, or N(0, 1) for a PCA expression basis. */
  expression?: boolean;
}

/**
 * A random face from the model's prior: identity (and colour) coefficients ~ N(0, σ²),
 * expression neutral unless asked. Deterministic for a given `random` state.
 */
export function sampleCoefficients(
  model: MorphableModel,
  random: SeededRandom,
  options: SampleOptions = {},
): FaceCoefficients {
  const sigma = options.sigma ?? 1;
  const identity = drawNormal(model.identity.count, sigma, random);
  const expression = new Float32Array(model.expression.count);
  if (options.expression) drawExpression(model.expression, random, expression);
  const result: FaceCoefficients = { identity, expression };
  if (model.color) result.color = drawNormal(model.color.basis.count, sigma, random);
  return result;
}

function drawNormal(count: number, sigma: number, random: SeededRandom): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = sigma * random.normal();
  return out;
}

/** A few active blendshapes with moderate weights look like real expressions; all of them at once do not. */
function drawExpression(basis: LinearBasis, random: SeededRandom, out: Float32Array): void {
  if (basis.kind === 'pca') {
    for (let k = 0; k < basis.count; k++) out[k] = random.normal();
    return;
  }
  const active = Math.min(3, basis.count);
  for (let i = 0; i < active; i++) out[Math.floor(random.uniform() * basis.count)] = 0.3 + 0.5 * random.uniform();
}

/** Coefficients that move one component by `sigma` (or set one blendshape weight), all else zero. */
export function componentCoefficients(
  model: MorphableModel,
  basis: 'identity' | 'expression',
  component: number,
  sigma: number,
): FaceCoefficients {
  const identity = new Float32Array(model.identity.count);
  const expression = new Float32Array(model.expression.count);
  (basis === 'identity' ? identity : expression)[component] = sigma;
  return { identity, expression };
}

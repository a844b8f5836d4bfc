/**
 * The one-pass regressor's answer (detect/face-regressor.ts) as a landmark fit's start: its weak-perspective
 * pose turned into the perspective camera the fitter uses, with its identity and expressions.
 */
import type { FaceRegression } from '../detect/face-regressor.js';
import { defaultFocal } from '../geometry/camera.js';
import type { LandmarkFitStart } from './landmark-fit.js';

/**
 * The camera that puts the model origin where the regressor saw it, at the depth where the model's scale in
 * the image is the regressor's (d = f / pixels-per-mm), for an image of width × height with focal `focal`
 * (default: the fitter's). Identity and expressions as regressed.
 */
export function regressionStart(
  regression: FaceRegression,
  width: number,
  height: number,
  focal = defaultFocal(width, height),
): Required<Pick<LandmarkFitStart, 'rotation' | 'translation' | 'identity' | 'expression'>> {
  const depth = focal / regression.pixelsPerMm;
  const cx = (width - 1) / 2,
    cy = (height - 1) / 2;
  return {
    rotation: Float64Array.from(regression.rotation),
    translation: Float64Array.from([
      ((regression.originX - cx) * depth) / focal,
      (-(regression.originY - cy) * depth) / focal,
      -depth,
    ]),
    identity: regression.identity,
    expression: regression.expression,
  };
}

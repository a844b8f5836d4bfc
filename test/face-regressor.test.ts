import { describe, expect, it } from 'vitest';
import { decodeFaceRegressorFile, encodeFaceRegressorFile } from '../src/detect/face-regressor-file.js';
import {
  decodeFaceRegression,
  faceRegressorShapes,
  POSE_OUTPUTS,
  ROW_SCALE,
  regressorOutputs,
  rotationFromScaledRows,
} from '../src/detect/face-regressor.js';
import { regressionStart } from '../src/fit/regression-start.js';
import { createCamera } from '../src/geometry/camera.js';
import { projectPoints } from '../src/geometry/projection.js';
import { rotationFromAngles } from '../src/geometry/rotation.js';
import { anglesOfRows } from '../src/learn/regressor-training.js';

describe('one-pass regressor: decoding', () => {
  it('recovers a rotation and its scale from two scaled, perturbed rows', () => {
    const r = rotationFromAngles(63, -12, 8);
    const s = 4.2;
    const values = [0, ...[0, 1, 2, 3, 4, 5].map((i) => s * r[i])];
    values[5] += 0.01; // the second row a little off orthogonal: Gram–Schmidt keeps the first
    const out = new Float64Array(9);
    const scale = rotationFromScaledRows(values, 1, out);
    expect(scale).toBeCloseTo(s, 2);
    for (let i = 0; i < 3; i++) expect(out[i]).toBeCloseTo(r[i], 6);
    for (let i = 0; i < 9; i++) expect(out[i]).toBeCloseTo(r[i], 2);
    const [yaw, pitch, roll] = anglesOfRows(values, 1);
    expect(yaw).toBeCloseTo(63, 0);
    expect(pitch).toBeCloseTo(-12, 0);
    expect(roll).toBeCloseTo(8, 0);
  });

  it('turns the weak-perspective answer into a camera that puts the model where the regressor saw it', () => {
    const layout = { identity: 3, expression: 2 };
    const r = rotationFromAngles(-30, 5, -4);
    const s = 0.006; // crop units per mm
    const output = new Float32Array(regressorOutputs(layout));
    for (let i = 0; i < 6; i++) output[i] = ROW_SCALE * s * r[i];
    output[6] = 0.45;
    output[7] = 0.55;
    output.set([1, -0.5, 0.25], POSE_OUTPUTS);
    output.set([1.4, -0.2], POSE_OUTPUTS + 3);
    const geometry = { centreX: 300, centreY: 220, side: 180, angle: 0, flip: false };
    const regression = decodeFaceRegression(output, 0, layout, geometry, 5, true);
    expect(regression.originX).toBeCloseTo(300 + (0.45 - 0.5) * 180, 4);
    expect(regression.originY).toBeCloseTo(220 + (0.55 - 0.5) * 180, 4);
    expect(regression.pixelsPerMm).toBeCloseTo(s * 180, 6);
    expect(Array.from(regression.identity)).toEqual([1, -0.5, 0.25, 0, 0]);
    expect(Array.from(regression.expression)).toEqual([1, 0]); // blendshapes clamped to [0, 1]

    const width = 640,
      height = 480;
    const start = regressionStart(regression, width, height);
    const camera = createCamera(width, height);
    camera.rotation.set(start.rotation);
    camera.translation.set(start.translation);
    const projected = new Float32Array(4);
    // The origin lands where the regressor put it; 10 mm along the camera's x moves it by pixelsPerMm·10.
    const along = [r[0] * 10, r[1] * 10, r[2] * 10];
    projectPoints(camera, [0, 0, 0, ...along], 2, projected);
    expect(projected[0]).toBeCloseTo(regression.originX, 3);
    expect(projected[1]).toBeCloseTo(regression.originY, 3);
    expect(projected[2] - projected[0]).toBeCloseTo(10 * regression.pixelsPerMm, 1);
  });

  it('writes and reads its weight file, and names what is wrong with a bad one', () => {
    const layout = { identity: 4, expression: 3 };
    const tensors = new Map(
      faceRegressorShapes(layout).map(([name, shape]) => {
        const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) * 0.25);
        return [name, { shape, values }] as const;
      }),
    );
    const bytes = encodeFaceRegressorFile({
      layout,
      model: { name: 'm', vertexCount: 10 },
      tensors,
      training: { seed: 1 },
    });
    const file = decodeFaceRegressorFile(bytes, 'r.bin');
    expect(file.layout).toEqual(layout);
    expect(file.model).toEqual({ name: 'm', vertexCount: 10 });
    expect(file.training).toEqual({ seed: 1 });
    for (const [name, { values }] of tensors)
      expect(Array.from(file.tensors.get(name)!.values)).toEqual(Array.from(values));
    expect(() => decodeFaceRegressorFile(bytes.subarray(0, bytes.length - 2), 'r.bin')).toThrow(
      /^r\.bin: not a morphable face regressor file \(truncated at regressor\/out_bias\)$/,
    );
    expect(() => decodeFaceRegressorFile(new Uint8Array(12), 'r.bin')).toThrow(/no MRGW signature/);
  });
});

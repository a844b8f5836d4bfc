import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { POSE_OUTPUTS, ROW_SCALE, regressorOutputs } from '../src/detect/face-regressor.js';
import { decodeLandmarkNetFile } from '../src/detect/landmark-net-file.js';
import { type LoadedLandmarkNet, loadLandmarkNet } from '../src/detect/net-landmarker.js';
import { decodeModel } from '../src/io/model-file.js';
import { embeddedModelPath, shippedLandmarkNetPath } from '../src/io/node/model-paths.js';
import { buildRegressorExamples, labelVertices, type RegressorSample } from '../src/learn/regressor-dataset.js';
import { SyntheticFaceGenerator } from '../src/learn/synthetic-faces.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { evaluateShape } from '../src/model/evaluate.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';

/**
 * The regressor's labels against ground truth: synthetic faces with known parameters (a flat skin over a
 * plain background: the net's features do not matter here), their labels in the crop the pipeline takes.
 */
describe('one-pass regressor: training labels', () => {
  let model: MorphableModel;
  let net: LoadedLandmarkNet;
  beforeAll(async () => {
    model = decodeModel(new Uint8Array(readFileSync(embeddedModelPath())), 'embedded');
    const tf = await trainingTf();
    net = loadLandmarkNet(tf, decodeLandmarkNetFile(new Uint8Array(readFileSync(shippedLandmarkNetPath())), 'net'));
  }, 120_000);

  it('gives a weak-perspective camera that reprojects the true mesh onto its true projections', () => {
    const region = model.regions.face;
    const skin = new Float32Array(3 * region.length).fill(170);
    const background = { width: 64, height: 64, data: new Uint8Array(3 * 64 * 64).fill(90) };
    const generator = new SyntheticFaceGenerator(model, [skin], [background], { size: 192 });
    const random = new SeededRandom(5);
    const samples: RegressorSample[] = [0, 1, 2].map(() => ({ kind: 'synthetic', ...generator.generate(random) }));
    const layout = { identity: 10, expression: model.expression.count };
    const vertices = labelVertices(model);
    const examples = buildRegressorExamples(net, model, samples, layout, vertices, new SeededRandom(6));
    const outputs = regressorOutputs(layout);
    const V = vertices.length;
    samples.forEach((sample, i) => {
      const t = examples.targets.subarray(i * outputs, (i + 1) * outputs);
      const shape = evaluateShape(model, sample.identity, sample.expression);
      const landmarkVertices = new Set(model.landmarks.ibug68.vertices);
      let sum = 0,
        worstLandmark = 0;
      for (let j = 0; j < V; j++) {
        const x = shape[3 * vertices[j]],
          y = shape[3 * vertices[j] + 1],
          z = shape[3 * vertices[j] + 2];
        const u = t[6] + (t[0] * x + t[1] * y + t[2] * z) / ROW_SCALE;
        const v = t[7] - (t[3] * x + t[4] * y + t[5] * z) / ROW_SCALE;
        const p = examples.projections.subarray(i * 2 * V + 2 * j, i * 2 * V + 2 * j + 2);
        const e = Math.hypot(u - p[0], v - p[1]);
        sum += e;
        if (landmarkVertices.has(vertices[j])) worstLandmark = Math.max(worstLandmark, e);
      }
      // Weak perspective against the true perspective (focal 3 × the image side, the face 0.7 m away): points
      // of the neck and the top of the head, 170 mm from the centre and set back, move up to 10 % of the crop.
      // Measured: 2.0 % mean, 3.6 % at the worst landmark (a sign or axis wrong: over 20 %).
      expect(sum / V).toBeLessThan(0.03);
      expect(worstLandmark).toBeLessThan(0.05);
      // The scaled rows are the true rotation's first two rows, times one positive scale.
      const r = sample.camera.rotation;
      const scale = Math.hypot(t[0], t[1], t[2]);
      for (let c = 0; c < 6; c++) expect(t[c] / scale).toBeCloseTo(r[c], 6);
      expect(Array.from(t.subarray(POSE_OUTPUTS, POSE_OUTPUTS + 10))).toEqual(
        Array.from(sample.identity.subarray(0, 10)),
      );
      expect(examples.yaw[i]).toBeCloseTo((Math.atan2(r[2], r[8]) * 180) / Math.PI, 4);
    });
  }, 120_000);
});

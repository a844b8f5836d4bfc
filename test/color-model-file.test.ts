import { describe, expect, it } from 'vitest';
import { encodeWeights } from '../src/detect/weights-file.js';
import {
  type ColorModelFile,
  colorModelFileFrom,
  decodeColorModelFile,
  encodeColorModelFile,
  withColorModel,
} from '../src/io/color-model-file.js';
import { componentNorms } from '../src/model/morphable-model.js';
import { SeededRandom } from '../src/model/random.js';
import { tinyModel } from './helpers/tiny-model.js';

const model = tinyModel({ side: 6 }); // 36 vertices
/** A "face region" of three runs with gaps: ranges [2, 9), [12, 13), [20, 34). */
const covered = Uint32Array.from([...range(2, 9), 12, ...range(20, 34)]);
const K = 3;

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/** A random colour model over `covered`: skin-like mean, σ-scaled random components (not learned from data). */
function randomFile(): ColorModelFile {
  const random = new SeededRandom(7);
  const V = covered.length;
  const mean = Float32Array.from({ length: 3 * V }, (_, j) => [0.45, 0.25, 0.17][j % 3] + 0.05 * random.normal());
  const basis = Float32Array.from({ length: K * 3 * V }, () => 0.02 * random.normal());
  return {
    model: { name: model.name, vertexCount: model.vertexCount },
    vertices: covered,
    mean,
    basis,
    stddev: componentNorms(basis, K),
    explainedVariance: [0.5, 0.3, 0.1],
    training: { command: 'test', seed: 7 },
  };
}

/**
 * Largest |a − b| over float16's rounding bound at b: rounding to nearest is off by at most half a step, which is
 * at most |b|·2^-11 (6e-8 absolute among the subnormals); truncation would reach twice that.
 */
function worstHalfError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(6e-8, Math.abs(b[i]) * 2 ** -11));
  return worst;
}

describe('colour model file', () => {
  const file = randomFile();
  const bytes = encodeColorModelFile(file);

  it('round-trips: header exact, tensors within float16 rounding, vertex ranges compact', () => {
    const read = decodeColorModelFile(bytes, 'x.bin');
    expect(read.model).toEqual(file.model);
    expect([...read.vertices]).toEqual([...covered]);
    expect(read.explainedVariance).toEqual(file.explainedVariance);
    expect(read.training).toEqual(file.training);
    expect([...read.stddev]).toEqual([...file.stddev]);
    expect(worstHalfError(read.mean, file.mean)).toBeLessThanOrEqual(1);
    expect(worstHalfError(read.basis, file.basis)).toBeLessThanOrEqual(1);
    expect(worstHalfError(read.basis, file.basis)).toBeGreaterThan(0); // float16, not float32 copies
    const header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(8, 8 + new DataView(bytes.buffer).getUint32(4, true))),
    );
    expect(header.vertexRanges).toEqual([
      [2, 9],
      [12, 13],
      [20, 34],
    ]);
    expect(bytes.length).toBeLessThan(400 + 2 * (K + 1) * 3 * covered.length);
  });

  it('withColorModel spreads it over the model: covered as in the file, elsewhere the mean colour and no basis', () => {
    const read = decodeColorModelFile(bytes, 'x.bin');
    const colored = withColorModel(model, read);
    const N = model.vertexCount;
    const color = colored.color!;
    expect(color.mean.length).toBe(3 * N);
    expect(color.basis.count).toBe(K);
    expect(color.basis.basis.length).toBe(K * 3 * N);
    const V = covered.length;
    const average = [0, 1, 2].map((c) => read.mean.filter((_, j) => j % 3 === c).reduce((a, b) => a + b, 0) / V);
    const index = new Map([...covered].map((v, i) => [v, i]));
    for (let v = 0; v < N; v++) {
      const i = index.get(v);
      for (let c = 0; c < 3; c++) {
        if (i === undefined) expect(color.mean[3 * v + c]).toBeCloseTo(average[c], 6);
        else expect(color.mean[3 * v + c]).toBe(read.mean[3 * i + c]);
        for (let k = 0; k < K; k++)
          expect(color.basis.basis[k * 3 * N + 3 * v + c]).toBe(
            i === undefined ? 0 : read.basis[k * 3 * V + 3 * i + c],
          );
      }
    }
    // Back to a file: the same contents.
    const again = colorModelFileFrom(colored, color, covered, read.explainedVariance, read.training);
    expect([...again.mean]).toEqual([...read.mean]);
    expect([...again.basis]).toEqual([...read.basis]);
    expect(colored.mean).toBe(model.mean); // the shape is shared, not copied
  });

  it('refuses a model of another name or size in one clear error', () => {
    const read = decodeColorModelFile(bytes, 'x.bin');
    expect(() => withColorModel(tinyModel({ side: 5 }), read, 'c.bin')).toThrow(
      /^c\.bin: a colour model of .* \(36 vertices\), not of .* \(25 vertices\)$/,
    );
    expect(() => withColorModel({ ...model, name: 'Other' }, read, 'c.bin')).toThrow(/not of Other/);
  });

  it('gives one Error naming the source for a wrong signature, truncation or counts that disagree', () => {
    const bad = (b: Uint8Array) => () => decodeColorModelFile(b, 'bad.bin');
    expect(bad(new TextEncoder().encode('MLNW and more bytes'))).toThrow(
      'bad.bin: not a morphable colour model file (no MCLR signature)',
    );
    expect(bad(bytes.subarray(0, 20))).toThrow('bad.bin: not a morphable colour model file (truncated header)');
    expect(bad(bytes.subarray(0, bytes.length - 2))).toThrow(
      'bad.bin: not a morphable colour model file (truncated at basis)',
    );
    const V = covered.length;
    const tensors = (k: number, v: number) =>
      new Map([
        ['mean', { shape: [v, 3], values: new Float32Array(3 * v) }],
        ['basis', { shape: [k, v, 3], values: new Float32Array(k * 3 * v) }],
      ]);
    const fields = {
      model: file.model,
      vertexRanges: [
        [2, 9],
        [12, 13],
        [20, 34],
      ],
      vertexCount: V,
      components: K,
      stddev: [1, 1, 1],
      explainedVariance: [0.5, 0.3, 0.1],
    };
    const withFields = (changed: Record<string, unknown>, k = K, v = V) =>
      encodeWeights('MCLR', { ...fields, ...changed }, tensors(k, v), {});
    expect(decodeColorModelFile(withFields({}), 'ok.bin').vertices.length).toBe(V); // the baseline is valid
    expect(bad(withFields({ components: 2 }))).toThrow(/\(stddev is not 2 numbers\)/);
    expect(bad(withFields({ vertexCount: V + 1 }))).toThrow(/the vertex ranges hold 22 vertices, the header says 23/);
    expect(bad(withFields({ vertexRanges: [[30, 40]] }))).toThrow(/vertex range \[30,40\] is not ascending/);
    expect(
      bad(
        withFields({
          vertexRanges: [
            [5, 9],
            [2, 4],
          ],
        }),
      ),
    ).toThrow(/vertex range \[2,4\]/);
    expect(bad(withFields({ model: { name: 'x' } }))).toThrow(/no model name or size/);
    expect(bad(withFields({}, 2))).toThrow(/tensor 1 is basis \[2,22,3\], expected basis \[3,22,3\]/);
    expect(bad(withFields({}, K, V - 1))).toThrow(/tensor 0 is mean \[21,3\], expected mean \[22,3\]/);
  });
});

import { describe, expect, it } from 'vitest';
import { randomUvDecoder } from '../bench/decoder-rates.js';
import { decodeWithTf } from '../src/learn/albedo-decoder.js';
import { trainingTf } from '../src/learn/tf-node.js';
import { uvConvArchitecture } from '../src/learn/uv-conv-network.js';
import { SeededRandom } from '../src/model/random.js';
import { bilinearSampling, decodeUv, UvDecoderWorkspace, vertexUvs } from '../src/model/uv-conv-decoder.js';
import { differenceFromTf, heldOutErrorRatio } from './helpers/teacher-decoder.js';

/** V vertices on a ring (the image's middle and corners stay unsampled, so the decode's pruning matters). */
function ringUvs(V: number, random: SeededRandom): Float32Array {
  const uvs = new Float32Array(2 * V);
  for (let j = 0; j < V; j++) {
    const a = 2 * Math.PI * random.uniform(),
      r = 0.4 + 0.05 * random.uniform();
    uvs[2 * j] = 0.5 + r * Math.cos(a);
    uvs[2 * j + 1] = 0.5 + r * Math.sin(a);
  }
  return uvs;
}

describe('UV-space convolutional decoder', () => {
  it('decodes in pure TS as tfjs does (random weights), computing only the texels the samples need', async () => {
    const tf = await trainingTf();
    const random = new SeededRandom(11);
    const shape = { base: 2, channels: [5, 4, 3, 4], outputs: 3 };
    const uvs = ringUvs(40, random);
    const decoder = randomUvDecoder(random, 3, shape, uvs);
    const workspace = new UvDecoderWorkspace(decoder);
    // The ring leaves texels out at the last block (16² = 256 pixels) and at the sampled image.
    expect(workspace.active[2].length).toBeLessThan(200);
    expect(workspace.active[3].length).toBeLessThan(workspace.active[2].length);

    const m = 6;
    const latents = Float32Array.from({ length: 3 * m }, () => 1.5 * random.normal());
    const reference = decodeWithTf(tf, decoder, latents, m, uvConvArchitecture(decoder.sampling, shape));
    const decode = (dec: typeof decoder, z: Float32Array, out: Float32Array) => decodeUv(dec, z, out, workspace);
    const { largest, spread } = differenceFromTf(decoder, decode, reference, latents, m, 3 * 40);
    expect(spread).toBeGreaterThan(0.1); // the outputs do depend on the net
    expect(largest).toBeLessThanOrEqual(1e-4);
    expect(() => decodeUv(decoder, [1, 2])).toThrow(/takes 3 latent values, got 2/);
  });

  it('samples bilinearly inside the image and keeps the first UV of a seam vertex', () => {
    // Vertex 1 is on a seam: triangle 0 gives it UV 1, triangle 1 UV 3.
    const model = {
      vertexCount: 4,
      triangles: Uint32Array.from([0, 1, 2, 1, 3, 2]),
      uvTriangles: Uint32Array.from([0, 1, 2, 3, 4, 2]),
      uvs: Float32Array.from([0, 0, 1, 0, 0, 1, 0.9, 0.9, 1, 1]),
    };
    expect(Array.from(vertexUvs(model, Uint32Array.from([1, 3])))).toEqual([1, 0, 1, 1]);
    expect(() => vertexUvs({ ...model, uvTriangles: new Uint32Array(0) }, Uint32Array.from([0]))).toThrow(/no UV/);

    // An image whose value is its column index gives each vertex its own x: linear in u, spanning 1 … R − 2.
    const R = 16;
    const uvs = ringUvs(50, new SeededRandom(3));
    const sampling = bilinearSampling(uvs, R);
    let minX = Infinity,
      maxX = -Infinity;
    const xs: number[] = [];
    for (let j = 0; j < 50; j++) {
      let x = 0,
        sum = 0;
      for (let q = 4 * j; q < 4 * j + 4; q++) {
        expect(sampling.texels[q]).toBeLessThan(R * R);
        x += sampling.weights[q] * (sampling.texels[q] % R);
        sum += sampling.weights[q];
      }
      expect(sum).toBeCloseTo(1, 6);
      xs.push(x);
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
    }
    for (let j = 0; j < 50; j++) {
      const u = (uvs[2 * j] - 0.05) / 0.9; // the ring spans about 0.05 … 0.95
      expect(Math.abs(xs[j] - (1 + u * (R - 3)))).toBeLessThan(0.5);
    }
    expect(maxX - minX).toBeGreaterThan(R - 5);
  });

  it('trains as an auto-decoder and predicts held-out samples from half their entries', async () => {
    const tf = await trainingTf();
    const random = new SeededRandom(5);
    const shape = { base: 2, channels: [6, 6, 4], outputs: 3 };
    const V = 30,
      d = 3 * V;
    const uvs = ringUvs(V, random);
    const teacher = randomUvDecoder(random, 2, shape, uvs);
    const ratio = heldOutErrorRatio(
      tf,
      uvConvArchitecture(teacher.sampling, shape),
      (z, out) => decodeUv(teacher, z, out),
      (decoder, z, out) => decodeUv(decoder, z, out),
      d,
      random,
    );
    // Measured: 0.19 of the mean's squared error; with the sampling's gradient zeroed this fails.
    expect(ratio).toBeLessThan(0.25);
  });
});

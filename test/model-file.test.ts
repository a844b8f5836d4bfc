import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { decodeModel, encodeModel, isCompactModel } from '../src/io/model-file.js';
import { expectSameModel } from './helpers/same-model.js';
import { loadWithThree } from './helpers/three-gltf.js';
import { tinyModel } from './helpers/tiny-model.js';

function gltfJson(bytes: Uint8Array) {
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLength)));
}

/** The largest |a - b| over two arrays of the same length. */
function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('native model file (.glb)', () => {
  it('round-trips every array exactly', async () => {
    const model = tinyModel({ side: 5, identity: 4, expression: 3, color: true });
    const bytes = await encodeModel(model);
    expectSameModel(model, decodeModel(bytes, 'tiny.glb'));
  });

  it('round-trips a model without UVs or colour', async () => {
    const model = { ...tinyModel(), uvs: new Float32Array(0), uvTriangles: new Uint32Array(0) };
    expectSameModel(model, decodeModel(await encodeModel(model), 'tiny.glb'));
  });

  it('is a glTF file whose morph targets are named after the components', async () => {
    const model = tinyModel({ identity: 2, expression: 2 });
    const bytes = await encodeModel(model);
    const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLength)));
    expect(json.asset.version).toBe('2.0');
    expect(json.meshes[0].extras.targetNames).toEqual(['pc0', 'pc1', 'shape0', 'shape1']);
    expect(json.meshes[0].primitives[0].targets).toHaveLength(4);
  });

  it('is in metres for glTF clients: the mesh node scales the millimetres by 0.001', async () => {
    const model = tinyModel({ side: 5, identity: 2, expression: 2 }); // 40 mm wide
    const bytes = await encodeModel(model);
    const json = gltfJson(bytes);
    expect(json.extras.morphable.formatVersion).toBe(2);
    expect(json.nodes[0].scale).toEqual([0.001, 0.001, 0.001]);
    const three = await loadWithThree(bytes);
    expect(three.size.x).toBeCloseTo(0.04, 6);
    expect(three.morphTargets).toEqual(['pc0', 'pc1', 'shape0', 'shape1']);
  });

  it('still reads format version 1 files (millimetres, no node scale)', async () => {
    const model = tinyModel({ identity: 2, expression: 2 });
    const bytes = Buffer.from(await encodeModel(model));
    const at = bytes.indexOf('"formatVersion":2');
    expect(at).toBeGreaterThan(0);
    bytes.write('"formatVersion":1', at);
    expectSameModel(model, decodeModel(bytes, 'v1.glb'));
    bytes.write('"formatVersion":3', at);
    expect(() => decodeModel(bytes, 'v3.glb')).toThrow('v3.glb: model format version 3, this morphable reads 1 and 2');
  });

  it('compact: int16 positions, components within half a step, meshopt-compressed, metres for three.js', async () => {
    const model = tinyModel({ side: 12, identity: 6, expression: 4, color: true });
    const full = await encodeModel(model);
    const bytes = await encodeModel(model, { compact: true });
    const json = gltfJson(bytes);
    expect(json.extensionsRequired).toEqual(
      expect.arrayContaining(['KHR_mesh_quantization', 'EXT_meshopt_compression']),
    );
    const step = json.extras.morphable.quantization.step;
    expect(step).toBeGreaterThan(0);
    expect(json.nodes[0].scale[0]).toBeCloseTo(step / 1000, 12);
    expect(bytes.length).toBeLessThan(full.length * 0.6);

    const decoded = decodeModel(bytes, 'compact.glb');
    // Everything but the positions and shape components comes back exactly.
    expectSameModel(
      {
        ...model,
        mean: decoded.mean,
        identity: { ...model.identity, basis: decoded.identity.basis },
        expression: { ...model.expression, basis: decoded.expression.basis },
      },
      decoded,
    );
    for (const [a, b] of [
      [model.mean, decoded.mean],
      [model.identity.basis, decoded.identity.basis],
      [model.expression.basis, decoded.expression.basis],
    ]) {
      const error = maxDifference(a, b);
      expect(error).toBeLessThanOrEqual(step / 2 + 1e-6);
      expect(error).toBeGreaterThan(0); // it is quantised
    }
    expect(isCompactModel(bytes)).toBe(true);
    expect(isCompactModel(full)).toBe(false);
    const three = await loadWithThree(bytes);
    expect(three.size.x).toBeCloseTo(0.11, 5); // 11 cells of 10 mm
    expect(three.morphTargets).toHaveLength(10);
  });

  it('rejects a compact file whose compressed data is damaged', async () => {
    const bytes = await encodeModel(tinyModel({ side: 8 }), { compact: true });
    const broken = bytes.slice();
    for (let i = bytes.length - 400; i < bytes.length - 40; i++) broken[i] ^= 0x5a;
    expect(() => decodeModel(broken, 'b.glb')).toThrow(/^b\.glb: corrupt model file/);
  });

  it('rejects truncated files at any length with a clear message', async () => {
    const bytes = await encodeModel(tinyModel());
    for (const length of [0, 10, 19, 40, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const decode = () => decodeModel(bytes.subarray(0, length), 'cut.glb');
      expect(decode).toThrow(InputError);
      expect(decode).toThrow(/^cut\.glb: /);
    }
  });

  it('rejects a non-glb and a glTF that is not a morphable model', async () => {
    expect(() => decodeModel(new TextEncoder().encode('this is not a model at all'), 'x.glb')).toThrow(
      'x.glb: not a morphable model file',
    );
    const { Document, WebIO } = await import('@gltf-transform/core');
    const doc = new Document();
    doc.createBuffer();
    const plain = await new WebIO().writeBinary(doc);
    expect(() => decodeModel(plain, 'plain.glb')).toThrow('plain.glb: a glTF file, but not a morphable model');
  });

  it('rejects corrupted contents without crashing', async () => {
    const bytes = await encodeModel(tinyModel());
    const broken = bytes.slice();
    broken[30] = 0x7b; // inside the JSON chunk
    expect(() => decodeModel(broken, 'b.glb')).toThrow(InputError);
  });
});

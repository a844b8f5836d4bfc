import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { decodeModel, encodeModel } from '../src/io/model-file.js';
import { expectSameModel } from './helpers/same-model.js';
import { tinyModel } from './helpers/tiny-model.js';

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

  it('rejects truncated files at any length with a clear message', async () => {
    const bytes = await encodeModel(tinyModel());
    for (const length of [0, 10, 19, 40, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const decode = () => decodeModel(bytes.subarray(0, length), 'cut.glb');
      expect(decode).toThrow(InputError);
      expect(decode).toThrow(/^cut\.glb: /);
    }
  });

  it('rejects a non-glb and a glTF that is not a morphable model', async () => {
    expect(() => decodeModel(new TextEncoder().encode('this is not a model at all'), 'x.glb')).toThrow('x.glb: not a morphable model file');
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

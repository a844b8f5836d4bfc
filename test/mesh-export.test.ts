import { describe, expect, it } from 'vitest';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import type { BufferGeometry, Mesh as ThreeMesh, Object3D } from 'three';
import { meshToGlb } from '../src/io/mesh-glb.js';
import { meshToObj, materialForTexture } from '../src/io/mesh-obj.js';
import { meshToPly } from '../src/io/mesh-ply.js';
import { parseObj } from '../src/io/obj-reader.js';
import { splitUvSeams } from '../src/io/mesh.js';
import { tinyModel } from './helpers/tiny-model.js';

const model = tinyModel({ side: 4 });
const mesh = { positions: model.mean, triangles: model.triangles, uvs: model.uvs, uvTriangles: model.uvTriangles };
const triangleCount = model.triangles.length / 3;

function firstGeometry(root: Object3D): BufferGeometry {
  let found: BufferGeometry | undefined;
  root.traverse((o) => {
    if (!found && (o as ThreeMesh).isMesh) found = (o as ThreeMesh).geometry;
  });
  return found!;
}

describe('mesh export', () => {
  it('OBJ loads in three.js OBJLoader and reads back through our parser', () => {
    const text = meshToObj(mesh);
    const geometry = firstGeometry(new OBJLoader().parse(text));
    expect(geometry.getAttribute('position').count).toBe(3 * triangleCount);
    expect(geometry.getAttribute('uv').count).toBe(3 * triangleCount);
    const back = parseObj(new TextEncoder().encode(text), 'x.obj');
    for (let i = 0; i < model.mean.length; i++) expect(back.positions[i]).toBeCloseTo(model.mean[i], 4);
    expect(back.triangles).toEqual(model.triangles);
  });

  it('OBJ with a texture names its material file', () => {
    const text = meshToObj({ ...mesh, texture: { png: new Uint8Array(1) } }, 'face.mtl');
    expect(text).toContain('mtllib face.mtl');
    expect(materialForTexture('face.png')).toContain('map_Kd face.png');
  });

  it('PLY with colours loads in three.js PLYLoader', () => {
    const colors = model.mean.map((_, i) => (i % 3) / 2);
    const ply = meshToPly({ ...mesh, colors });
    const geometry = new PLYLoader().parse(ply.buffer as ArrayBuffer);
    expect(geometry.getAttribute('position').count).toBe(model.vertexCount);
    expect(geometry.getIndex()!.count).toBe(model.triangles.length);
    expect(geometry.getAttribute('position').getX(5)).toBeCloseTo(model.mean[15], 5);
    // Linear in, sRGB bytes in the file, linear again out of three.js.
    expect(geometry.getAttribute('color').getY(2)).toBeCloseTo(colors[7], 2);
  });

  it('GLB loads in three.js GLTFLoader, in metres, with normals and UVs', async () => {
    const glb = await meshToGlb(mesh);
    const gltf = await new GLTFLoader().parseAsync(
      glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer,
      '',
    );
    const geometry = firstGeometry(gltf.scene);
    expect(geometry.getIndex()!.count).toBe(model.triangles.length);
    expect(geometry.getAttribute('normal')).toBeDefined();
    expect(geometry.getAttribute('uv')).toBeDefined();
    geometry.computeBoundingBox();
    expect(geometry.boundingBox!.max.x).toBeCloseTo(0.03, 5); // 30 mm
  });

  it('splits vertices only where one vertex has several UVs', () => {
    // Two triangles sharing edge 1-2; vertex 2 has a different UV in the second one.
    const split = splitUvSeams(
      Uint32Array.from([0, 1, 2, 1, 3, 2]),
      Uint32Array.from([0, 1, 2, 1, 3, 4]),
      new Float32Array(10),
    );
    expect(Array.from(split.source)).toEqual([0, 1, 2, 3, 2]);
    expect(Array.from(split.triangles)).toEqual([0, 1, 2, 1, 3, 4]);
  });
});

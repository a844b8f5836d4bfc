import { Document, WebIO } from '@gltf-transform/core';
import { vertexNormals } from '../model/normals.js';
import { pickRows, splitUvSeams, type Mesh } from './mesh.js';

/**
 * A glTF binary of one mesh: positions in metres (glTF's unit; morphable works in millimetres),
 * normals, colours, and UVs + an embedded PNG texture when present. Vertices are split at UV seams.
 */
export async function meshToGlb(mesh: Mesh, name = 'face'): Promise<Uint8Array> {
  let positions = mesh.positions;
  let triangles = mesh.triangles;
  let normals = mesh.normals ?? vertexNormals(positions, triangles);
  let colors = mesh.colors;
  let uvs: Float32Array | undefined;
  if (mesh.uvs && mesh.uvTriangles?.length) {
    const split = splitUvSeams(mesh.triangles, mesh.uvTriangles, mesh.uvs);
    positions = pickRows(positions, split.source, 3);
    normals = pickRows(normals, split.source, 3);
    if (colors) colors = pickRows(colors, split.source, 3);
    // glTF's v axis points down the image; OBJ's (and ours) points up.
    uvs = split.uvs.map((v, i) => (i % 2 ? 1 - v : v));
    triangles = split.triangles;
  }
  const doc = new Document();
  doc.getRoot().getAsset().generator = 'morphable';
  const buffer = doc.createBuffer();
  const accessor = (type: 'SCALAR' | 'VEC2' | 'VEC3', array: Float32Array | Uint32Array) =>
    doc.createAccessor().setType(type).setArray(array).setBuffer(buffer);
  const primitive = doc
    .createPrimitive()
    .setAttribute(
      'POSITION',
      accessor(
        'VEC3',
        positions.map((v) => v / 1000),
      ),
    )
    .setAttribute('NORMAL', accessor('VEC3', normals))
    .setIndices(accessor('SCALAR', triangles));
  if (colors) primitive.setAttribute('COLOR_0', accessor('VEC3', colors));
  const material = doc.createMaterial('face').setRoughnessFactor(0.8).setMetallicFactor(0);
  if (uvs) {
    primitive.setAttribute('TEXCOORD_0', accessor('VEC2', uvs));
    if (mesh.texture)
      material.setBaseColorTexture(doc.createTexture('albedo').setImage(mesh.texture.png).setMimeType('image/png'));
  }
  primitive.setMaterial(material);
  doc.createScene().addChild(doc.createNode(name).setMesh(doc.createMesh(name).addPrimitive(primitive)));
  return new WebIO().writeBinary(doc);
}

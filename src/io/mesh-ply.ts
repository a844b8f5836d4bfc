import { linearToSrgbByte } from '../model/color.js';
import type { Mesh } from './mesh.js';

/** Binary little-endian PLY with float positions, optional 8-bit sRGB vertex colours and uint32 triangles. */
export function meshToPly(mesh: Mesh): Uint8Array {
  const n = mesh.positions.length / 3;
  const t = mesh.triangles.length / 3;
  const colors = mesh.colors;
  const header = [
    'ply',
    'format binary_little_endian 1.0',
    'comment written by morphable',
    `element vertex ${n}`,
    'property float x',
    'property float y',
    'property float z',
    ...(colors ? ['property uchar red', 'property uchar green', 'property uchar blue'] : []),
    `element face ${t}`,
    'property list uchar uint vertex_indices',
    'end_header',
    '',
  ].join('\n');
  const headerBytes = new TextEncoder().encode(header);
  const vertexSize = 12 + (colors ? 3 : 0);
  const out = new Uint8Array(headerBytes.length + n * vertexSize + t * 13);
  out.set(headerBytes);
  const view = new DataView(out.buffer);
  let o = headerBytes.length;
  for (let i = 0; i < n; i++) {
    view.setFloat32(o, mesh.positions[3 * i], true);
    view.setFloat32(o + 4, mesh.positions[3 * i + 1], true);
    view.setFloat32(o + 8, mesh.positions[3 * i + 2], true);
    o += 12;
    if (colors) {
      for (let c = 0; c < 3; c++) out[o + c] = linearToSrgbByte(colors[3 * i + c]);
      o += 3;
    }
  }
  for (let i = 0; i < t; i++) {
    out[o] = 3;
    view.setUint32(o + 1, mesh.triangles[3 * i], true);
    view.setUint32(o + 5, mesh.triangles[3 * i + 1], true);
    view.setUint32(o + 9, mesh.triangles[3 * i + 2], true);
    o += 13;
  }
  return out;
}

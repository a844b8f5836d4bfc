import { linearToSrgb } from '../model/color.js';
import type { Mesh } from './mesh.js';

/**
 * Wavefront OBJ text. sRGB colours go on `v` lines (x y z r g b, read by MeshLab, Blender and
 * three.js); with a texture, faces carry UV indices and `materialFile` names the MTL.
 */
export function meshToObj(mesh: Mesh, materialFile?: string): string {
  const lines: string[] = ['# written by morphable'];
  if (materialFile && mesh.texture) lines.push(`mtllib ${materialFile}`, 'usemtl face');
  const p = mesh.positions;
  const c = mesh.colors;
  for (let i = 0; i < p.length; i += 3) {
    const xyz = `v ${fmt(p[i])} ${fmt(p[i + 1])} ${fmt(p[i + 2])}`;
    lines.push(
      c ? `${xyz} ${fmt(linearToSrgb(c[i]))} ${fmt(linearToSrgb(c[i + 1]))} ${fmt(linearToSrgb(c[i + 2]))}` : xyz,
    );
  }
  const withUv = !!(mesh.uvs && mesh.uvTriangles?.length);
  if (withUv)
    for (let i = 0; i < mesh.uvs!.length; i += 2) lines.push(`vt ${fmt(mesh.uvs![i])} ${fmt(mesh.uvs![i + 1])}`);
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3) {
    if (withUv) {
      const u = mesh.uvTriangles!;
      lines.push(`f ${t[i] + 1}/${u[i] + 1} ${t[i + 1] + 1}/${u[i + 1] + 1} ${t[i + 2] + 1}/${u[i + 2] + 1}`);
    } else {
      lines.push(`f ${t[i] + 1} ${t[i + 1] + 1} ${t[i + 2] + 1}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

export function materialForTexture(textureFile: string): string {
  return [
    '# written by morphable',
    'newmtl face',
    'Ka 1 1 1',
    'Kd 1 1 1',
    'Ks 0 0 0',
    'illum 1',
    `map_Kd ${textureFile}`,
    '',
  ].join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(5).replace(/0+$/, '');
}

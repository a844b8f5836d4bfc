import type { MorphableModel } from '../model/morphable-model.js';

/**
 * The face outline (iBUG points 1–17) is not a fixed set of vertices: as the head turns, the outline
 * seen in the photo is the silhouette of the cheek on the far side. For each vertex of the model's jaw
 * contour we collect a horizontal "line" of face vertices running inward from it (at the same height
 * in the mean face); under a given rotation, the line's silhouette vertex is its outermost one in the
 * image. Outline landmarks are then matched to the nearest silhouette vertex of their side (the
 * "landmark marching" idea of Zhu et al., CVPR 2015, with eos's nearest-contour-vertex matching).
 */
export interface ContourLines {
  /** For side s (0 right, 1 left) and line j: candidates are vertices[start[s*L+j] .. start[s*L+j+1]). */
  start: Int32Array;
  vertices: Int32Array;
  /** Lines per side. */
  linesPerSide: number;
  /** Midline vertices from the front of the chin to under it; the chin point (iBUG 9) is the lowest in the image. */
  chin: Int32Array;
}

/** iBUG outline points (0-based) of each side: the person's right side (image left) is points 0–7. */
export const OUTLINE_RIGHT = [0, 1, 2, 3, 4, 5, 6, 7];
export const OUTLINE_LEFT = [9, 10, 11, 12, 13, 14, 15, 16];

/** iBUG chin point (0-based). */
export const CHIN = 8;

export function buildContourLines(model: MorphableModel): ContourLines | undefined {
  const right = model.contours.right,
    left = model.contours.left;
  if (!right?.length || !left?.length || right.length !== left.length) return undefined;
  const mean = model.mean;
  const region = model.regions.face ?? Uint32Array.from({ length: model.vertexCount }, (_, i) => i);
  const linesPerSide = right.length;
  const start = new Int32Array(2 * linesPerSide + 1);
  const vertices: number[] = [];
  [right, left].forEach((contour, side) => {
    for (let j = 0; j < linesPerSide; j++) {
      start[side * linesPerSide + j] = vertices.length;
      const c = contour[j];
      const cx = mean[3 * c],
        cy = mean[3 * c + 1],
        cz = mean[3 * c + 2];
      // Half the height step to the neighbouring contour vertices, so lines tile the side.
      const up = contour[Math.max(0, j - 1)],
        down = contour[Math.min(linesPerSide - 1, j + 1)];
      const half = Math.max(1.5, Math.abs(mean[3 * up + 1] - mean[3 * down + 1]) / 4);
      vertices.push(c);
      for (let i = 0; i < region.length; i++) {
        const v = region[i];
        if (v === c) continue;
        const x = mean[3 * v],
          y = mean[3 * v + 1],
          z = mean[3 * v + 2];
        const sameSide = x * cx > 0 && Math.abs(x) >= 0.35 * Math.abs(cx) && Math.abs(x) <= Math.abs(cx) + 2;
        if (sameSide && Math.abs(y - cy) <= half && z >= cz - 5) vertices.push(v);
      }
    }
  });
  start[2 * linesPerSide] = vertices.length;
  const chin: number[] = [];
  const c = model.landmarks.ibug68?.vertices[CHIN] ?? -1;
  if (c >= 0) {
    const cx = mean[3 * c],
      cy = mean[3 * c + 1],
      cz = mean[3 * c + 2];
    for (let i = 0; i < region.length; i++) {
      const v = region[i];
      const x = mean[3 * v],
        y = mean[3 * v + 1],
        z = mean[3 * v + 2];
      if (Math.abs(x - cx) <= 3 && y <= cy + 5 && y >= cy - 40 && z >= cz - 40) chin.push(v);
    }
  }
  return { start, vertices: Int32Array.from(vertices), linesPerSide, chin: Int32Array.from(chin) };
}

/**
 * Silhouette vertex of every line for a rotation (row-major 3×3), judged on the mean face: the
 * candidate with the smallest camera x on the right side, the largest on the left. Writes
 * `out[s*L+j]`.
 */
export function silhouetteVertices(
  lines: ContourLines,
  mean: Float32Array,
  rotation: Float64Array,
  out: Int32Array,
): void {
  const r0 = rotation[0],
    r1 = rotation[1],
    r2 = rotation[2];
  const count = 2 * lines.linesPerSide;
  for (let line = 0; line < count; line++) {
    const sign = line < lines.linesPerSide ? -1 : 1;
    let best = -1,
      bestScore = -Infinity;
    for (let i = lines.start[line]; i < lines.start[line + 1]; i++) {
      const v = lines.vertices[i];
      const score = sign * (r0 * mean[3 * v] + r1 * mean[3 * v + 1] + r2 * mean[3 * v + 2]);
      if (score > bestScore) {
        bestScore = score;
        best = v;
      }
    }
    out[line] = best;
  }
}

/** The chin candidate lowest in the image for a rotation (smallest camera y), judged on the mean face; -1 if none. */
export function chinVertex(lines: ContourLines, mean: Float32Array, rotation: Float64Array): number {
  let best = -1,
    bestY = Infinity;
  for (let i = 0; i < lines.chin.length; i++) {
    const v = lines.chin[i];
    const y = rotation[3] * mean[3 * v] + rotation[4] * mean[3 * v + 1] + rotation[5] * mean[3 * v + 2];
    if (y < bestY) {
      bestY = y;
      best = v;
    }
  }
  return best;
}

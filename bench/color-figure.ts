/**
 * docs/color-components.png: the learned colour model (issue 18) on the mean face: the mean albedo, then
 * each leading component at −2σ and +2σ, one column per component, under a soft frontal light. The
 * renders are of the model only (no photo in them).
 *
 * Usage: npx tsx bench/color-figure.ts [model-with-colour.glb] [docs/color-components.png] [components]
 */
import sharp from 'sharp';
import { loadModel } from '../src/io/node/load-model.js';
import type { MorphableModel } from '../src/model/morphable-model.js';
import { submodel } from '../src/model/submesh.js';
import { renderPortrait } from '../src/render/portrait.js';
import { shDirectionalLight } from '../src/render/spherical-harmonics.js';

const [modelPath = 'training/ict-learned-color.glb', output = 'docs/color-components.png', count = '4'] =
  process.argv.slice(2);
const PANEL = 200;
const components = Number(count);

const full = await loadModel(modelPath);
if (!full.color) throw new Error(`${modelPath}: the model has no colour model`);
const face = submodel(full, full.regions.face ?? Uint32Array.from({ length: full.vertexCount }, (_, i) => i));
const color = face.color!;
const light = shDirectionalLight([0, 0.2, 0.98], [0.35, 0.35, 0.35], [0.75, 0.75, 0.75]);
const identity = new Float32Array(face.identity.count),
  expression = new Float32Array(face.expression.count);

/** The face with albedo mean + t·(σ-scaled component k), rendered frontal. */
function panel(k: number, t: number): Uint8Array {
  const d = color.mean.length;
  const mean = Float32Array.from(color.mean);
  if (k >= 0)
    for (let j = 0; j < d; j++) mean[j] = Math.min(1, Math.max(0, mean[j] + t * color.basis.basis[k * d + j]));
  const shown: MorphableModel = { ...face, color: { ...color, mean } };
  return renderPortrait(shown, identity, expression, light, { yaw: 0, pitch: 0, roll: 0, size: PANEL }).image.data;
}

// Row 1: −2σ, row 2: the mean, row 3: +2σ; one column per component.
const columns = Math.min(components, color.basis.count);
const width = PANEL * columns,
  height = PANEL * 3;
const grid = Buffer.alloc(3 * width * height);
for (let k = 0; k < columns; k++) {
  [panel(k, -2), panel(-1, 0), panel(k, 2)].forEach((pixels, row) => {
    for (let y = 0; y < PANEL; y++)
      grid.set(pixels.subarray(3 * y * PANEL, 3 * (y + 1) * PANEL), 3 * ((row * PANEL + y) * width + k * PANEL));
  });
}
await sharp(grid, { raw: { width, height, channels: 3 } })
  .png({ compressionLevel: 9 })
  .toFile(output);
console.log(`wrote ${output}: ${columns} components of ${modelPath} (rows: −2σ, mean, +2σ)`);

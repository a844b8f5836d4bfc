import { Command } from 'commander';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { InputError } from '../errors.js';
import { createCamera } from '../fit/camera.js';
import { linearToSrgb } from '../model/color.js';
import { rotationFromAngles } from '../fit/rotation.js';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import { encodePng } from '../io/node/image.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { sampleCoefficients } from '../model/sample.js';
import { createPhotometricImage, PhotometricRenderer } from '../render/photometric.js';
import { shDirectionalLight } from '../render/spherical-harmonics.js';
import { loadModel } from './model-commands.js';
import { defaultModelPath } from './paths.js';

interface RenderOptions {
  params?: string;
  seed?: number;
  yaw: number;
  pitch: number;
  roll: number;
  light: number[];
  size: number;
  output: string;
}

const SKIN: [number, number, number] = [0.62, 0.42, 0.33];

export function addRenderCommand(program: Command): void {
  program
    .command('render')
    .description('render a fitted face (--params fit.json), a random face (--seed) or the mean face from any viewpoint to a PNG')
    .argument('[model]', 'native model file (.glb)', defaultModelPath())
    .option('--params <fit.json>', 'identity and expression from a `morphable fit` result (its light too, unless --light is given)')
    .option('--seed <s>', 'a random face from the model (ignored with --params)', Number)
    .option('--yaw <deg>', 'turn the face to its left (+) or right (−)', Number, 0)
    .option('--pitch <deg>', 'look down (+) or up (−)', Number, 0)
    .option('--roll <deg>', 'tilt counter-clockwise (+)', Number, 0)
    .option('--light <x,y,z>', 'direction towards the light in camera space (+x right, +y up, +z to the viewer)', lightDirection)
    .option('--size <px>', 'image size', Number, 512)
    .requiredOption('-o, --output <file.png>', 'PNG to write')
    .action(async (modelPath: string, options: RenderOptions) => {
      if (extname(options.output).toLowerCase() !== '.png') throw new InputError(options.output, 'the output must be a .png file');
      if (!(options.size >= 16 && options.size <= 8192)) throw new InputError('--size', 'must be between 16 and 8192 pixels');
      for (const key of ['yaw', 'pitch', 'roll'] as const) if (!Number.isFinite(options[key])) throw new InputError(`--${key}`, 'not a number');
      const model = await loadModel(modelPath);
      const { identity, expression, sh } = await faceToRender(model, options);
      const png = await encodePng(renderFace(model, identity, expression, sh, options));
      await mkdir(dirname(options.output), { recursive: true });
      await writeFileAtomic(options.output, png);
      console.log(`wrote ${options.output}`);
    });
}

async function faceToRender(model: MorphableModel, options: RenderOptions) {
  let identity: Float32Array = new Float32Array(model.identity.count);
  let expression: Float32Array = new Float32Array(model.expression.count);
  let sh: ArrayLike<number> | undefined;
  if (options.params) {
    const text = await readFile(options.params, 'utf8').catch(() => { throw new InputError(options.params!, 'no such file'); });
    let json: { identity?: unknown; expression?: unknown; photometric?: { light?: unknown } };
    try {
      json = JSON.parse(text);
    } catch {
      throw new InputError(options.params, 'not valid JSON');
    }
    if (!Array.isArray(json.identity) || typeof json.expression !== 'object' || json.expression === null) {
      throw new InputError(options.params, 'not a `morphable fit` result (no identity list and expression weights)');
    }
    if (json.identity.length !== model.identity.count) throw new InputError(options.params, `has ${json.identity.length} identity coefficients, the model has ${model.identity.count}`);
    identity = Float32Array.from(json.identity as number[]);
    expression = Float32Array.from(model.expression.names, (name) => Number((json.expression as Record<string, number>)[name] ?? 0));
    const light = json.photometric?.light;
    if (Array.isArray(light) && light.length === 27 && !options.light) sh = light as number[];
  } else if (options.seed !== undefined) {
    ({ identity, expression } = sampleCoefficients(model, new SeededRandom(options.seed)));
  }
  return { identity, expression, sh: sh ?? shDirectionalLight(options.light ?? [-0.4, 0.5, 0.77], [0.75, 0.75, 0.75], [0.35, 0.35, 0.35]) };
}

/** The face centred and framed by a 30° camera, lit by `sh`, on a grey background. */
function renderFace(model: MorphableModel, identity: Float32Array, expression: Float32Array, sh: ArrayLike<number>, o: RenderOptions) {
  const positions = evaluateShape(model, identity, expression);
  let minY = Infinity, maxY = -Infinity, minX = Infinity, maxX = -Infinity, cz = 0;
  for (let i = 0; i < model.vertexCount; i++) {
    minX = Math.min(minX, positions[3 * i]); maxX = Math.max(maxX, positions[3 * i]);
    minY = Math.min(minY, positions[3 * i + 1]); maxY = Math.max(maxY, positions[3 * i + 1]);
    cz += positions[3 * i + 2] / model.vertexCount;
  }
  const size = o.size;
  const camera = createCamera(size, size, size / (2 * Math.tan((15 * Math.PI) / 180)));
  rotationFromAngles(o.yaw, o.pitch, o.roll, camera.rotation);
  const extent = 1.15 * Math.max(maxX - minX, maxY - minY);
  const centre = [(minX + maxX) / 2, (minY + maxY) / 2, cz];
  const r = camera.rotation;
  // Put the head's centre on the optical axis at the distance where it fills the frame.
  const distance = (camera.focal * extent) / size;
  for (let k = 0; k < 3; k++) camera.translation[k] = -(r[3 * k] * centre[0] + r[3 * k + 1] * centre[1] + r[3 * k + 2] * centre[2]);
  camera.translation[2] -= distance;
  const albedo = model.color ? model.color.mean : new Float32Array(3 * model.vertexCount).map((_, i) => SKIN[i % 3]);
  const renderer = new PhotometricRenderer(model.triangles, model.vertexCount, size, size);
  const image = createPhotometricImage(size, size);
  renderer.render(positions, camera, albedo, sh, image);
  const data = new Uint8Array(3 * size * size).fill(200);
  for (let p = 0; p < size * size; p++) {
    if (!image.mask[p]) continue;
    for (let c = 0; c < 3; c++) data[3 * p + c] = Math.round(255 * linearToSrgb(image.color[3 * p + c]));
  }
  return { width: size, height: size, data };
}

function lightDirection(value: string): number[] {
  const parts = value.split(',').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite) || Math.hypot(...parts) === 0) throw new InputError(`--light ${value}`, 'expected three numbers x,y,z, not all zero');
  return parts;
}

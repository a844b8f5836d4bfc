import type { Command } from 'commander';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { InputError } from '../errors.js';
import { checkWritableFolder, writeFileAtomic } from '../io/node/atomic-write.js';
import { encodePng } from '../io/node/image.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { sampleCoefficients } from '../model/sample.js';
import { renderPortrait } from '../render/portrait.js';
import { shDirectionalLight } from '../render/spherical-harmonics.js';
import { loadModelWithProgress } from './model-commands.js';
import { defaultModelPath } from '../io/node/model-paths.js';
import { intOption } from './parse.js';

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

export function addRenderCommand(program: Command): void {
  program
    .command('render')
    .description(
      'render a fitted face (--params fit.json), a random face (--seed) or the mean face from any viewpoint to a PNG',
    )
    .argument('[model]', 'native model file (.glb)', defaultModelPath())
    .option(
      '--params <fit.json>',
      'identity and expression from a `morphable fit` result (its light too, unless --light is given)',
    )
    .option('--seed <s>', 'a random face from the model (ignored with --params)', intOption('--seed'))
    .option('--yaw <deg>', 'turn the face to its left (+) or right (−)', Number, 0)
    .option('--pitch <deg>', 'look down (+) or up (−)', Number, 0)
    .option('--roll <deg>', 'tilt counter-clockwise (+)', Number, 0)
    .option(
      '--light <x,y,z>',
      'direction towards the light in camera space (+x right, +y up, +z to the viewer)',
      lightDirection,
    )
    .option('--size <px>', 'image size', Number, 512)
    .requiredOption('-o, --output <file.png>', 'PNG to write')
    .action(async (modelPath: string, options: RenderOptions) => {
      if (extname(options.output).toLowerCase() !== '.png')
        throw new InputError(options.output, 'the output must be a .png file');
      if (!(options.size >= 16 && options.size <= 8192))
        throw new InputError('--size', 'must be between 16 and 8192 pixels');
      for (const key of ['yaw', 'pitch', 'roll'] as const)
        if (!Number.isFinite(options[key])) throw new InputError(`--${key}`, 'not a number');
      await checkWritableFolder(dirname(options.output), options.output);
      const model = await loadModelWithProgress(modelPath);
      const { identity, expression, sh } = await faceToRender(model, options);
      const png = await encodePng(renderPortrait(model, identity, expression, sh, options).image);
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
    const text = await readFile(options.params, 'utf8').catch(() => {
      throw new InputError(options.params!, 'no such file');
    });
    let json: { identity?: unknown; expression?: unknown; photometric?: { light?: unknown } };
    try {
      json = JSON.parse(text);
    } catch {
      throw new InputError(options.params, 'not valid JSON');
    }
    if (!Array.isArray(json.identity) || typeof json.expression !== 'object' || json.expression === null) {
      throw new InputError(options.params, 'not a `morphable fit` result (no identity list and expression weights)');
    }
    if (json.identity.length !== model.identity.count)
      throw new InputError(
        options.params,
        `has ${json.identity.length} identity coefficients, the model has ${model.identity.count}`,
      );
    identity = Float32Array.from(json.identity as number[]);
    expression = Float32Array.from(model.expression.names, (name) =>
      Number((json.expression as Record<string, number>)[name] ?? 0),
    );
    const light = json.photometric?.light;
    if (Array.isArray(light) && light.length === 27 && !options.light) sh = light as number[];
  } else if (options.seed !== undefined) {
    ({ identity, expression } = sampleCoefficients(model, new SeededRandom(options.seed)));
  }
  return {
    identity,
    expression,
    sh: sh ?? shDirectionalLight(options.light ?? [-0.4, 0.5, 0.77], [0.75, 0.75, 0.75], [0.35, 0.35, 0.35]),
  };
}

function lightDirection(value: string): number[] {
  const parts = value.split(',').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite) || Math.hypot(...parts) === 0)
    throw new InputError(`--light ${value}`, 'expected three numbers x,y,z, not all zero');
  return parts;
}

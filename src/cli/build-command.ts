import { type Command, Option } from 'commander';
import { mkdir } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { InputError } from '../errors.js';
import { DEFAULT_VARIANCE_FRACTION } from '../model/pca.js';
import { encodeModel } from '../io/model-file.js';
import { writeFileAtomic } from '../io/node/atomic-write.js';
import {
  buildModelFromFolder,
  DEFAULT_BUILD_LICENCE,
  type BuildResult,
  type PcaSummary,
  type Units,
} from '../io/node/build-model.js';
import { Progress } from './progress.js';

const HELP = `
Input: a folder of registered meshes, .obj or .ply (ASCII or binary little-endian), all with the same
vertex count and the same triangles (vertex i is the same point of the face in every mesh). Put them in
correspondence first (e.g. by non-rigid registration to a template); this command does not register scans.
Vertex colours (OBJ "v x y z r g b" in 0..1, PLY red/green/blue as uchar or float) are sRGB: with colours
on every mesh a colour model is built too; colours on only some meshes are an error.
Texture images are not used: per-vertex colours only. The UVs of the first mesh are kept.
The model has identity (shape) and colour PCA components and no expressions.

Example:
  morphable model build scans/ -o my-model.glb --units m --landmarks ibug68-vertices.txt
`;

interface BuildCommandOptions {
  output: string;
  variance: number;
  maxComponents?: number;
  units: Units;
  landmarks?: string;
  name?: string;
  licence: string;
}

/**
 * Adds `build` to the `model` command group: `addBuildCommand(program.commands.find(c => c.name() === 'model')!)`,
 * or with the Command that `program.command('model')` returned.
 */
export function addBuildCommand(model: Command): void {
  model
    .command('build')
    .description(
      'build a morphable model from a folder of registered meshes (PCA of shape and vertex colour, Blanz & Vetter)',
    )
    .argument('<folder>', 'folder of .obj and .ply meshes that share one topology')
    .requiredOption('-o, --output <file>', 'native model file to write (.glb)')
    .option(
      '--variance <fraction>',
      'keep the fewest components that explain this fraction of the variance, in (0, 1]; 1 keeps all',
      fraction,
      DEFAULT_VARIANCE_FRACTION,
    )
    .option('--max-components <k>', 'keep at most k components (shape and colour each)', positiveInt)
    .addOption(
      new Option('--units <unit>', 'units of the mesh coordinates, converted to millimetres')
        .choices(['mm', 'cm', 'm'])
        .default('mm'),
    )
    .option('--landmarks <file>', 'text file of 68 vertex indices in iBUG order, one per line, -1 where missing')
    .option('--name <name>', 'model name (default: the folder name)')
    .option('--licence <text>', 'licence of the model data, stored in the model', DEFAULT_BUILD_LICENCE)
    .addHelpText('after', HELP)
    .action(async (folder: string, options: BuildCommandOptions) => {
      if (extname(options.output).toLowerCase() !== '.glb')
        throw new InputError(options.output, 'the native model file must end in .glb');
      const progress = new Progress('reading meshes');
      let result: BuildResult;
      try {
        result = await buildModelFromFolder(folder, {
          varianceFraction: options.variance,
          maxComponents: options.maxComponents,
          units: options.units,
          landmarksFile: options.landmarks,
          name: options.name,
          licence: options.licence,
          onProgress: (done, total) => progress.update((100 * done) / total),
        });
      } finally {
        progress.stop();
      }
      // Encoded in memory, then written to a temporary file renamed into place: an error leaves no partial model.
      const bytes = await encodeModel(result.model);
      await mkdir(dirname(options.output), { recursive: true });
      await writeFileAtomic(options.output, bytes);
      console.log(buildSummary(result, options.output));
    });
}

/** The lines printed after a build: samples, vertices, components kept and variance explained. */
export function buildSummary(result: BuildResult, output: string): string {
  const m = result.model;
  const lines = [
    `${m.name}: ${result.files.length} meshes, ${m.vertexCount} vertices, ${m.triangles.length / 3} `
      + `triangles → ${output}`,
    `  shape      ${pcaLine(m.identity.count, result.shape, 'mm')}`,
    `  colour     ${
      m.color && result.color
        ? pcaLine(m.color.basis.count, result.color, '')
        : 'none (the meshes have no vertex colours)'
    }`,
  ];
  const landmarks = m.landmarks.ibug68?.vertices;
  if (landmarks) lines.push(`  landmarks  ibug68 (68 points${countMissing(landmarks)})`);
  lines.push(`  licence    ${m.licence}`);
  return lines.join('\n');
}

function pcaLine(kept: number, summary: PcaSummary, unit: string): string {
  if (summary.variances.length === 0) return '0 components (the meshes do not differ)';
  const sigmas = Array.from(summary.variances.subarray(0, Math.min(kept, 5)), (v) => Math.sqrt(v).toPrecision(3));
  const more = kept > 5 ? ', …' : '';
  return (
    `${kept} of ${summary.variances.length} components, ${(100 * summary.explained).toFixed(1)}% of the variance`
    + (kept ? ` (σ ${sigmas.join(', ')}${more}${unit ? ` ${unit}` : ''})` : '')
  );
}

function countMissing(vertices: Int32Array): string {
  const missing = vertices.filter((v) => v < 0).length;
  return missing ? `, ${missing} missing` : '';
}

function fraction(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !(v > 0 && v <= 1))
    throw new InputError(`--variance ${value}`, 'must be a fraction in (0, 1], e.g. 0.98');
  return v;
}

function positiveInt(value: string): number {
  if (!/^\+?\d+$/.test(value) || Number(value) < 1)
    throw new InputError(`--max-components ${value}`, 'must be a whole number of at least 1');
  return Number(value);
}

import { type Command, Option } from 'commander';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../errors.js';
import { coveredVertexCount } from '../model/color-region.js';
import { evaluateShape } from '../model/evaluate.js';
import type { MorphableModel } from '../model/morphable-model.js';
import { SeededRandom } from '../model/random.js';
import { componentCoefficients, sampleCoefficients, type FaceCoefficients } from '../model/sample.js';
import { ICT_REGIONS, type IctRegion } from '../io/importers/ict-facekit.js';
import { meshFromModel, type Mesh } from '../io/mesh.js';
import { meshToGlb } from '../io/mesh-glb.js';
import { meshToObj } from '../io/mesh-obj.js';
import { meshToPly } from '../io/mesh-ply.js';
import { encodeModel, isCompactModel } from '../io/model-file.js';
import { checkWritableFolder, OutputBatch, writeFileAtomic } from '../io/node/atomic-write.js';
import { downloadFile } from '../io/node/download.js';
import { importModel } from '../io/node/import-model.js';
import { loadModel } from '../io/node/load-model.js';
import { createNodeLandmarker } from '../io/node/face-landmarker.js';
import { encodePng } from '../io/node/image.js';
import { calibrateLandmarks } from '../fit/landmark-calibration.js';
import { renderPreview } from '../render/preview.js';
import { defaultModelPath, fetchedModelPath, morphableHome, requireDefaultModel } from '../io/node/model-paths.js';
import { intOption, numberOption, positiveIntOption } from './parse.js';
import { Progress } from './progress.js';
import { ICT_FACEKIT_SOURCE } from './sources.js';
import { fetchColorModel, learnFetchedColorModel, withFetchedColorModel } from './fetch-color-model.js';
import { addColorLearningOptions, type ColorLearningCliOptions } from './learn-color-command.js';

const MESH_FORMATS = ['obj', 'ply', 'glb'] as const;
type MeshFormat = (typeof MESH_FORMATS)[number];

export function addModelCommands(program: Command): void {
  const model = program
    .command('model')
    .description('get, import, inspect and sample morphable models')
    .addHelpText(
      'after',
      `
Units: a native model file (.glb) is in metres for glTF clients (its mesh node scales the model's
millimetres by 0.001); sampled meshes are OBJ and PLY in millimetres, GLB in metres. With no model
fetched, commands use the compact ICT-FaceKit face + head model shipped in the package (MIT licence).`,
    );

  const fetch = model
    .command('fetch')
    .description(
      `download ICT-FaceKit (${ICT_FACEKIT_SOURCE.licence}), check it and import it as the default model `
        + `(${fetchedModelPath()}; without it the compact model shipped in the package is the default)`,
    )
    .option(
      '--url <url>',
      'where to download the archive from (http(s), file:// or a local path to a .tar.gz/.tar.xz)',
      ICT_FACEKIT_SOURCE.url,
    )
    .option('--no-verify', 'accept content that differs from the pinned ICT-FaceKit release')
    .addOption(regionOption())
    .option('-o, --output <file>', 'where to write the model', fetchedModelPath())
    .addOption(calibrateOption())
    .option(
      '--color-model <file|dir|none>',
      'colour model stored in the model as its colour basis: a file from `morphable model learn-color`, or an '
        + 'albedo folder from `morphable train albedo` to learn one from as learn-color does; "none": no colour '
        + 'model (MIT-only); default: models/color-model-300w.bin (learned from 300-W photos: research use only), '
        + 'carried over to the --region',
    );
  addColorLearningOptions(fetch, ' (--color-model DIR)')
    .addHelpText('after', FETCH_HELP)
    .action(async (options: FetchOptions) => {
      await checkWritableFolder(dirname(options.output), options.output);
      const chosen = await fetchColorModel(options.colorModel, options.region); // checked before the download
      let imported = await fetchModel(options.url, options.region, options.verify);
      if (options.calibrate) await calibrateWithProgress(imported);
      const colorModel = await learnFetchedColorModel(chosen, options.region, options); // an albedo folder's
      imported = withFetchedColorModel(imported, colorModel);
      await writeModel(imported, options.output);
      console.log(
        `${imported.name}: ${imported.vertexCount} vertices, ${imported.identity.count} identity and `
          + `${imported.expression.count} expression components → ${options.output}`,
      );
      console.log(colorModel.line);
      console.log(`licence: ${imported.licence}`);
    });

  model
    .command('import')
    .description('import a model from its original files into a native .glb model file')
    .argument('<source>', 'ICT-FaceKit folder or archive (.tar.xz/.tar.gz), eos Surrey model folder or sfm_shape_*.bin')
    .requiredOption('-o, --output <file>', 'native model file to write (.glb)')
    .addOption(regionOption())
    .addOption(calibrateOption())
    .option(
      '--compact',
      'int16 positions and components (within 0.003 mm on ICT) and meshopt compression: a fifth of the size',
    )
    .action(
      async (source: string, options: { output: string; region: IctRegion; calibrate: boolean; compact?: boolean }) => {
        if (extname(options.output).toLowerCase() !== '.glb')
          throw new InputError(options.output, 'the native model file must end in .glb');
        await checkWritableFolder(dirname(options.output), options.output);
        const imported = await importWithProgress(source, options.region);
        if (options.calibrate) await calibrateWithProgress(imported);
        await writeModel(imported, options.output, options.compact);
        console.log(
          `${imported.name}: ${imported.vertexCount} vertices, ${imported.identity.count} identity and `
            + `${imported.expression.count} expression components → ${options.output}`,
        );
      },
    );

  model
    .command('calibrate')
    .description(
      "calibrate a model's landmarks to the face detector (what fetch and import do by default) and write it back",
    )
    .argument('[model]', 'native model file (.glb)', fetchedModelPath())
    .action(async (path: string) => {
      if (extname(path).toLowerCase() !== '.glb')
        throw new InputError(path, 'calibrate rewrites a native model file (.glb): import the model first');
      const loaded = await loadModelWithProgress(path);
      await calibrateWithProgress(loaded);
      await writeModel(loaded, path, isCompactModel(await readFile(path)));
    });

  model
    .command('info')
    .description('describe a model: vertices, triangles, components, landmark sets, regions')
    .argument('[model]', 'native model file (.glb) or any importable source', defaultModelPath())
    .option('--json', 'print JSON')
    .action(async (path: string, options: { json?: boolean }) => {
      const loaded = await loadModelWithProgress(path);
      const info = describeModel(loaded);
      if (options.json) console.log(JSON.stringify(info, null, 2));
      else printInfo(info);
    });

  model
    .command('sample')
    .description('draw random faces from the model (or show one component) and write them as meshes')
    .argument('[model]', 'native model file (.glb) or any importable source', defaultModelPath())
    .option('-n, --count <n>', 'number of faces', positiveIntOption('--count'), 1)
    .option('--seed <s>', 'random seed (same seed, same faces)', intOption('--seed'), 0)
    .option('--out <dir>', 'output folder', 'samples')
    .addOption(
      new Option('--format <list>', 'mesh formats, comma-separated: obj, ply, glb')
        .argParser(meshFormats)
        .default(['obj'] as MeshFormat[], 'obj'),
    )
    .option(
      '--sigma <s>',
      'standard deviations: scale of the random draw, or the value of --component',
      numberOption('--sigma'),
      1,
    )
    .option('--component <k>', 'show component k alone (0-based) instead of random faces', intOption('--component'))
    .addOption(
      new Option('--basis <name>', 'basis of --component').choices(['identity', 'expression']).default('identity'),
    )
    .option('--expression', 'give random faces a random expression too')
    .option('--preview', 'also write a PNG rendering of each face')
    .action(async (path: string, options: SampleOptions) => {
      await checkWritableFolder(options.out, `--out ${options.out}`);
      const loaded = await loadModelWithProgress(path);
      await sample(loaded, options);
    });
}

interface FetchOptions extends ColorLearningCliOptions {
  url: string;
  verify: boolean;
  region: IctRegion;
  output: string;
  calibrate: boolean;
  colorModel?: string;
}

const FETCH_HELP = `
The fetched model carries a colour model (Blanz–Vetter's T: a PCA of face albedos) as its colour basis,
which \`fit\` then uses: by default the package's models/color-model-300w.bin, learned from 300-W photos
(research use only), over the face's vertices (the rest of the mesh takes the face's mean colour, without
variation). A colour model file made for one ICT-FaceKit region serves the others (each keeps the full
mesh's vertices in order). \`--color-model none\` leaves it out: ICT-FaceKit's data only, MIT licence.
\`--color-model DIR\` takes a folder written by \`morphable train albedo\` instead: its albedos are checked
to be of this model (or of another ICT-FaceKit region's) before the download, and the colour model is
learned from them after the import, as \`morphable model learn-color DIR\` does (--variance,
--max-components; minutes on a few hundred faces).
`;

interface SampleOptions {
  count: number;
  seed: number;
  out: string;
  format: MeshFormat[];
  sigma: number;
  component?: number;
  basis: 'identity' | 'expression';
  expression?: boolean;
  preview?: boolean;
}

async function sample(model: MorphableModel, options: SampleOptions): Promise<void> {
  const faces: { name: string; coefficients: FaceCoefficients }[] = [];
  if (options.component !== undefined) {
    const basis = model[options.basis];
    if (options.component < 0 || options.component >= basis.count) {
      throw new InputError(
        '--component',
        `${options.component} is out of range: the ${options.basis} basis has components 0..${basis.count - 1}`,
      );
    }
    const name = `${basis.names[options.component]}_${options.sigma >= 0 ? '+' : ''}${options.sigma}`;
    faces.push({ name, coefficients: componentCoefficients(model, options.basis, options.component, options.sigma) });
  } else {
    const random = new SeededRandom(options.seed);
    for (let i = 0; i < options.count; i++) {
      faces.push({
        name: `sample-${String(i).padStart(3, '0')}`,
        coefficients: sampleCoefficients(model, random, { sigma: options.sigma, expression: options.expression }),
      });
    }
  }
  const batch = new OutputBatch();
  const progress = new Progress('sampling', faces.length, faces.length < 5);
  try {
    const positions = new Float32Array(model.mean.length);
    for (const [i, face] of faces.entries()) {
      evaluateShape(model, face.coefficients.identity, face.coefficients.expression, positions);
      const mesh = meshFromModel(model, positions);
      const base = join(options.out, face.name);
      for (const format of options.format) await batch.add(`${base}.${format}`, await encodeMesh(mesh, format));
      await batch.add(`${base}.json`, `${JSON.stringify(coefficientsJson(model, face.coefficients), null, 1)}\n`);
      if (options.preview) {
        const size = 512;
        await batch.add(
          `${base}.png`,
          await encodePng({ width: size, height: size, data: renderPreview(positions, model.triangles, size, size) }),
        );
      }
      progress.update(i + 1);
    }
    await batch.commit();
  } catch (error) {
    await batch.abort();
    throw error;
  } finally {
    progress.stop();
  }
  console.log(
    `wrote ${faces.length} face${faces.length === 1 ? '' : 's'} `
      + `(${options.format.join(', ')}${options.preview ? ', png' : ''}) to ${options.out}`,
  );
}

async function encodeMesh(mesh: Mesh, format: MeshFormat): Promise<Uint8Array | string> {
  if (format === 'obj') return meshToObj(mesh);
  if (format === 'ply') return meshToPly(mesh);
  return meshToGlb(mesh);
}

function coefficientsJson(model: MorphableModel, c: FaceCoefficients) {
  const named = (names: string[], values: Float32Array) =>
    Object.fromEntries(names.map((n, k) => [n, round(values[k])]));
  return {
    model: model.name,
    units: 'mm',
    identity: Array.from(c.identity, round),
    expression: named(model.expression.names, c.expression),
  };
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * loadModel (io/node/load-model.ts) with the CLI's progress (importing a source other than a .glb
 * takes seconds) and its word on a default model that is not there.
 */
export async function loadModelWithProgress(path: string): Promise<MorphableModel> {
  await requireDefaultModel(path);
  let progress: Progress | undefined;
  try {
    return await loadModel(path, {
      onProgress: (f) => {
        progress ??= new Progress(`importing ${basename(path)}`);
        progress.update(100 * f);
      },
    });
  } finally {
    progress?.stop();
  }
}

/**
 * Downloads (http, https) or takes as it is (a local path or file:// URL: nothing is copied, so that
 * errors name the user's file) the ICT-FaceKit archive, and imports it. A download that does not
 * import is removed, and errors about it name the URL; a connection failure says how to go on offline.
 */
async function fetchModel(url: string, region: IctRegion, verify: boolean): Promise<MorphableModel> {
  const digest = verify ? ICT_FACEKIT_SOURCE.contentDigest : undefined;
  if (!/^https?:\/\//i.test(url)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:\/\//i.test(url))
      throw new InputError(`--url ${url}`, 'unsupported URL (expected http, https, file:// or a path)');
    return importWithProgress(/^file:/i.test(url) ? fileURLToPath(url) : url, region, digest);
  }
  const archive = join(morphableHome(), 'downloads', `ict-facekit${archiveExtension(url)}`);
  await mkdir(dirname(archive), { recursive: true });
  const download = new Progress('downloading');
  try {
    await downloadFile(url, archive, {
      onProgress: (received, total) => download.update(total ? (100 * received) / total : 0),
    });
  } catch (error) {
    if (error instanceof InputError && error.subject === url && OFFLINE.test(error.problem)) {
      throw new InputError(
        url,
        `${error.problem} (offline? get the archive another way and run \`morphable model fetch --url <file>\`)`,
      );
    }
    throw error;
  } finally {
    download.stop();
  }
  try {
    return await importWithProgress(archive, region, digest);
  } catch (error) {
    await rm(archive, { force: true }).catch(() => {});
    if (error instanceof InputError && error.subject.startsWith(archive))
      throw new InputError(url + error.subject.slice(archive.length), error.problem);
    throw error;
  }
}

/** Network failures that mean "no connection" rather than a broken server. */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|timed out/;

async function importWithProgress(source: string, region: IctRegion, expectedDigest?: string): Promise<MorphableModel> {
  const progress = new Progress(`importing ${basename(source)}`);
  try {
    return await importModel(source, { region, expectedDigest, onProgress: (f) => progress.update(100 * f) });
  } finally {
    progress.stop();
  }
}

function calibrateOption(): Option {
  return new Option(
    '--no-calibrate',
    'skip calibrating the landmark vertices to the landmarker (renders 40 faces and finds their landmarks, '
      + 'a few seconds)',
  );
}

/**
 * Renders faces of the model, finds their landmarks, and stores where the landmarker puts each one relative
 * to its vertex (fit/landmark-calibration.ts): without it fitted heads pitch down by about 10°.
 */
async function calibrateWithProgress(model: MorphableModel): Promise<void> {
  const landmarks = model.landmarks.ibug68;
  if (!landmarks) return;
  const progress = new Progress('calibrating landmarks', 40);
  const landmarker = await createNodeLandmarker();
  try {
    const result = await calibrateLandmarks(model, landmarker, {
      renders: 40,
      onProgress: (done) => progress.update(done),
    });
    progress.stop();
    if (result.used < 10) {
      process.stderr.write(
        `morphable: the landmarker found ${result.used ? `only ${result.used} of 40` : 'none of the'} `
          + `rendered faces of ${model.name}: landmarks left uncalibrated\n`,
      );
      return;
    }
    landmarks.offsets = result.offsets;
    console.log(
      `landmarks calibrated to the face detector on ${result.used} renders: mean offset `
        + `${result.meanOffset.toFixed(1)} mm`,
    );
  } finally {
    progress.stop();
    landmarker.dispose();
  }
}

export async function writeModel(model: MorphableModel, output: string, compact = false): Promise<void> {
  await mkdir(dirname(output), { recursive: true });
  await writeFileAtomic(output, await encodeModel(model, { compact }));
}

function describeModel(m: MorphableModel) {
  const basis = (b: MorphableModel['identity']) => ({ kind: b.kind, count: b.count, names: b.names });
  return {
    name: m.name,
    licence: m.licence,
    units: 'mm',
    vertices: m.vertexCount,
    triangles: m.triangles.length / 3,
    uvs: m.uvs.length / 2,
    identity: basis(m.identity),
    expression: basis(m.expression),
    color: m.color ? { ...basis(m.color.basis), coveredVertices: coveredVertexCount(m.color, m.vertexCount) } : null,
    landmarks: Object.fromEntries(
      Object.entries(m.landmarks).map(([k, v]) => [
        k,
        {
          points: v.vertices.length,
          missing: v.vertices.filter((x) => x < 0).length,
          calibrated: v.offsets !== undefined,
          vertices: Array.from(v.vertices),
        },
      ]),
    ),
    regions: Object.fromEntries(Object.entries(m.regions).map(([k, v]) => [k, v.length])),
    contours: Object.fromEntries(Object.entries(m.contours).map(([k, v]) => [k, v.length])),
  };
}

function printInfo(info: ReturnType<typeof describeModel>): void {
  const list = (names: string[]) =>
    names.length > 8 ? `${names.slice(0, 8).join(', ')}, … (${names.length})` : names.join(', ');
  const lines = [
    `${info.name}`,
    `  licence      ${info.licence}`,
    `  vertices     ${info.vertices} (mm)`,
    `  triangles    ${info.triangles}`,
    `  uvs          ${info.uvs || 'none'}`,
    `  identity     ${info.identity.count} ${info.identity.kind} components`,
    `  expression   ${info.expression.count} ${info.expression.kind}: ${list(info.expression.names)}`,
    `  colour       ${
      info.color
        ? `${info.color.count} ${info.color.kind} components over ${info.color.coveredVertices} of `
          + `${info.vertices} vertices`
        : 'none'
    }`,
    `  landmarks    ${
      Object.entries(info.landmarks)
        .map(
          ([k, v]) =>
            `${k} (${v.points} points${v.missing ? `, ${v.missing} missing` : ''}`
            + `${v.calibrated ? ', calibrated to the detector' : ''})`,
        )
        .join(', ') || 'none'
    }`,
    `  regions      ${
      Object.entries(info.regions)
        .map(([k, v]) => `${k} (${v})`)
        .join(', ') || 'none'
    }`,
    `  contours     ${
      Object.entries(info.contours)
        .map(([k, v]) => `${k} (${v})`)
        .join(', ') || 'none'
    }`,
  ];
  console.log(lines.join('\n'));
}

function regionOption(): Option {
  return new Option(
    '--region <part>',
    'ICT-FaceKit: keep the face only, face and head, or the full head with eyes, teeth and lashes',
  )
    .choices(ICT_REGIONS)
    .default('face-head');
}

function archiveExtension(url: string): string {
  return /\.tar\.xz$/i.test(url) ? '.tar.xz' : /\.tar$/i.test(url) ? '.tar' : '.tar.gz';
}

function meshFormats(value: string): MeshFormat[] {
  const formats = value.split(',').map((f) => f.trim().toLowerCase());
  for (const f of formats)
    if (!(MESH_FORMATS as readonly string[]).includes(f))
      throw new InputError(`--format ${value}`, `unknown mesh format "${f}" (use obj, ply or glb)`);
  return formats as MeshFormat[];
}

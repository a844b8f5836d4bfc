import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../errors.js';

/** Where morphable keeps downloads and the default model: $MORPHABLE_HOME, else the XDG cache. */
export function morphableHome(): string {
  return process.env.MORPHABLE_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'morphable');
}

/** Where `morphable model fetch` puts the full-precision ICT-FaceKit model. */
export function fetchedModelPath(): string {
  return join(morphableHome(), 'models', 'ict-facekit.glb');
}

/**
 * The compact ICT-FaceKit face + head model shipped in the package (models/, see its README): from
 * dist/src/io/node/ once built, from src/io/node/ when run from source (the web app's Vite config).
 */
export function embeddedModelPath(): string {
  const candidates = ['../../../../models/ict-facekit-face-head.glb', '../../../models/ict-facekit-face-head.glb'].map(
    (p) => fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** The model used when a command is given none: the fetched model if there is one, else the embedded one. */
export function defaultModelPath(): string {
  const fetched = fetchedModelPath();
  if (existsSync(fetched)) return fetched;
  const embedded = embeddedModelPath();
  return existsSync(embedded) ? embedded : fetched;
}

/** The default model path names no file yet: say how to get one (other paths fail in loadModel). */
export async function requireDefaultModel(path: string): Promise<void> {
  if ((path === defaultModelPath() || path === fetchedModelPath()) && !(await stat(path).catch(() => undefined))) {
    throw new InputError(
      path,
      'no default model yet: run `morphable model fetch` (downloads ICT-FaceKit, MIT licence) or pass a model file',
    );
  }
}

/**
 * A file shipped in the package's models/ folder, found from dist/src/io/node (built) or src/io/node (tsx,
 * tests): weights the project trained.
 */
export function shippedModelFile(name: string): string {
  const candidates = [`../../../../models/${name}`, `../../../models/${name}`].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** The landmark net weights shipped in the package (models/landmark-net-300w.bin). */
export function shippedLandmarkNetPath(): string {
  return shippedModelFile('landmark-net-300w.bin');
}

/** The one-pass 3DMM regressor shipped in the package (models/face-regressor-300w.bin), for the embedded model. */
export function shippedFaceRegressorPath(): string {
  return shippedModelFile('face-regressor-300w.bin');
}

/** The identity-from-embedding net shipped in the package (models/identity-from-embedding.bin). */
export function shippedIdentityNetPath(): string {
  return shippedModelFile('identity-from-embedding.bin');
}

/** The colour model learned from 300-W photos for the embedded model (models/color-model-300w.bin), if shipped. */
export function shippedColorModelPath(): string {
  return shippedModelFile('color-model-300w.bin');
}

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { decodeModel } from '../../src/io/model-file.js';
import type { MorphableModel } from '../../src/model/morphable-model.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where global-setup.ts has `morphable model import` write ICT-FaceKit for this run; '' without ../shared. */
    ictModelFile: string;
  }
}

/**
 * `morphable model import ../shared/models/ict-facekit.tar.xz --no-calibrate`, done once per `vitest run`
 * by global-setup.ts in the background: importing the 100-MB archive takes 12 s, and several files need the
 * model. Resolves to the .glb's path once it is written (atomically); a failed import throws its stderr.
 */
export async function ictModelFile(): Promise<string> {
  const file = inject('ictModelFile');
  if (!file) throw new Error('global-setup.ts imported no ICT-FaceKit model: ../shared/models is missing');
  const failed = `${file}.failed`;
  while (!existsSync(file)) {
    if (existsSync(failed)) throw new Error(`global setup: ${readFileSync(failed, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return file;
}

/**
 * The model `importModel(ICT_ARCHIVE)` gives (face and head, landmarks uncalibrated), read from the run's
 * shared import: a native model file reads back equal to the imported model (test/model-file.test.ts).
 */
export async function importIctModel(): Promise<MorphableModel> {
  const file = await ictModelFile();
  return decodeModel(await readFile(file), file);
}

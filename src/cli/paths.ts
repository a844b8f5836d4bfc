import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where morphable keeps downloads and the default model: $MORPHABLE_HOME, else the XDG cache. */
export function morphableHome(): string {
  return process.env.MORPHABLE_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'morphable');
}

/** The model used when a command is given none; `morphable model fetch` puts it there. */
export function defaultModelPath(): string {
  return join(morphableHome(), 'models', 'ict-facekit.glb');
}

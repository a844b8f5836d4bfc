import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared beside the repository: real models and photos, for integration tests only. */
export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const ICT_ARCHIVE = `${SHARED}models/ict-facekit.tar.xz`;
export const SFM_FOLDER = `${SHARED}models/sfm`;
export const hasShared = existsSync(ICT_ARCHIVE) && existsSync(SFM_FOLDER);

import type { MorphableModel } from '../../model/morphable-model.js';
import { importModel, type ImportOptions } from './import-model.js';

/**
 * Loads a model: a native .glb model file (recognised by its bytes), or any source `importModel`
 * reads (ICT-FaceKit folder or archive, eos Surrey model), imported on the fly (the face and head of
 * ICT-FaceKit unless `options.region` says otherwise). The one loader of the CLI and `morphable/node`.
 */
export function loadModel(path: string, options: ImportOptions = {}): Promise<MorphableModel> {
  return importModel(path, { region: 'face-head', ...options });
}

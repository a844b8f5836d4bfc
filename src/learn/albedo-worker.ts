/** A worker thread of writeAlbedoDataset (albedo-data.ts): loads the model once, then extracts faces. */
import { loadModel } from '../io/node/load-model.js';
import { serveTasks } from '../service/worker-pool.js';
import { type AlbedoTask, extractFace, type WorkerModelInfo, type AlbedoTaskResult } from './albedo-data.js';
import { AlbedoExtractor } from './albedo-extraction.js';

await serveTasks(
  async (data) => new AlbedoExtractor(await loadModel((data as { modelPath: string }).modelPath)),
  async (extractor, task: AlbedoTask | 'model'): Promise<AlbedoTaskResult | WorkerModelInfo> =>
    task === 'model'
      ? { name: extractor.model.name, vertexCount: extractor.model.vertexCount, vertexIds: extractor.vertices }
      : extractFace(extractor, task),
);

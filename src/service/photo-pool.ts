/**
 * Photos fitted on worker threads: a WorkerPool whose workers each hold a PhotoJobRunner (photo-worker.ts).
 * The cores are shared out: each worker's sharp decodes with cores / jobs threads, so that N workers do not
 * fight over the cores one photo's decoding would take.
 */
import { availableParallelism } from 'node:os';
import type { FitSettings, PhotoJob, PhotoJobResult } from './photo-job.js';
import { type RunOptions, WorkerPool } from './worker-pool.js';

export interface PhotoWorkerData {
  settings: FitSettings;
  detect: boolean;
  sharpThreads: number;
}

export class PhotoPool {
  private constructor(private readonly pool: WorkerPool<PhotoJob, PhotoJobResult>) {}

  /**
   * Starts `jobs` workers (default: the cores) and waits until each has loaded the model and nets; a bad
   * model or weights file is the InputError it would be in one process. `detect: false` when every job brings
   * its .pts landmarks.
   */
  static async start(settings: FitSettings, options: { jobs?: number; detect?: boolean } = {}): Promise<PhotoPool> {
    const jobs = options.jobs ?? availableParallelism();
    const data: PhotoWorkerData = {
      settings,
      detect: options.detect ?? true,
      sharpThreads: Math.max(1, Math.floor(availableParallelism() / jobs)),
    };
    return new PhotoPool(await WorkerPool.start(new URL('./photo-worker.js', import.meta.url), data, jobs));
  }

  get size(): number {
    return this.pool.size;
  }

  get running(): number {
    return this.pool.running;
  }

  get queued(): number {
    return this.pool.queued;
  }

  run(job: PhotoJob, options?: RunOptions): Promise<PhotoJobResult> {
    return this.pool.run(job, options);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

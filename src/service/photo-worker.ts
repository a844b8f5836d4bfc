/** A worker thread of PhotoPool: one PhotoJobRunner, one photo at a time. */
import sharp from 'sharp';
import { type PhotoJob, type PhotoJobResult, PhotoJobRunner } from './photo-job.js';
import type { PhotoWorkerData } from './photo-pool.js';
import { serveTasks } from './worker-pool.js';

await serveTasks<PhotoJob, PhotoJobResult, PhotoJobRunner>(
  async (data) => {
    const { settings, detect, sharpThreads } = data as PhotoWorkerData;
    sharp.concurrency(sharpThreads);
    return PhotoJobRunner.create(settings, { detect });
  },
  (runner, job) => runner.run(job),
);

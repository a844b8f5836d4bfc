import type { Command } from 'commander';
import { checkWritableFolder } from '../io/node/atomic-write.js';
import { ATTEMPTS, DEFAULT_QUEUE, KEEP_COMPLETED } from '../service/fit-queue-settings.js';
import type { OutputKind } from '../service/output-files.js';
import { listPhotos } from '../service/photo-list.js';
import { RESULTS_FILE } from '../service/results-log.js';
import {
  addFitSettingsOptions,
  type FitSettingsOptions,
  fitSettingsFrom,
  jobsOption,
  outputsOption,
} from './fit-options.js';
import { requireDefaultModel } from '../io/node/model-paths.js';
import { positiveNumberOption } from './parse.js';

// The queue itself (BullMQ, the Redis client) is imported by the actions: `--help` needs none of it.
const REDIS_HELP = 'the Redis server, redis://[user:password@]host[:port][/db]';

interface QueueOptions {
  redis: string;
  queue: string;
  json?: boolean;
}

interface WorkerOptions extends FitSettingsOptions, QueueOptions {
  out: string;
  jobs: number;
  lockSeconds: number;
  outputs: OutputKind[];
}

const SETUP_HELP = `
Redis holds the queue; every machine that submits or fits reaches it at --redis. A job carries the
photo's bytes (workers need no shared disk); its id is the SHA-256 of those bytes, so a photo submitted
twice is queued once (while its job is kept: a completed one ${KEEP_COMPLETED.age / 86400} days, without
the bytes). See README.md, "Many photos across machines (Redis queue)".`;

export function addQueueCommands(program: Command): void {
  const queue = program
    .command('queue')
    .description('a queue of photos in Redis, fitted by `morphable worker` processes on any machine');

  queue
    .command('submit')
    .description('add one job per photo to the queue (the same bytes twice: one job)')
    .argument('<photos...>', 'photos and folders of them (walked as `morphable fit` does)')
    .requiredOption('--redis <url>', REDIS_HELP)
    .option('--queue <name>', 'the queue name', DEFAULT_QUEUE)
    .addHelpText(
      'after',
      `${SETUP_HELP}

A photo's output name is the one \`morphable fit\` would give it (a folder's photos keep their path below
it): workers write NAME.* under their --out. Every path is checked before any job is added.`,
    )
    .action(async (inputs: string[], options: QueueOptions) => {
      const photos = await listPhotos(inputs);
      const { checkPhotoFiles, FitQueue } = await import('../service/fit-queue.js');
      await checkPhotoFiles(photos);
      const fitQueue = await FitQueue.open(options.redis, options.queue);
      try {
        const { added, already } = await fitQueue.submit(photos);
        console.log(`${added} photo(s) added to queue ${options.queue}, ${already} already queued (same content)`);
      } finally {
        await fitQueue.close();
      }
    });

  queue
    .command('status')
    .description('count the jobs waiting, running, delayed (to retry), completed and failed; list the failed')
    .requiredOption('--redis <url>', REDIS_HELP)
    .option('--queue <name>', 'the queue name', DEFAULT_QUEUE)
    .option('--json', 'print {counts, failed: [{id, name, attempts, error}]} as JSON')
    .action(async (options: QueueOptions) => {
      const { FitQueue } = await import('../service/fit-queue.js');
      const fitQueue = await FitQueue.open(options.redis, options.queue);
      try {
        const status = await fitQueue.status();
        if (options.json) console.log(JSON.stringify(status, null, 1));
        else {
          const c = status.counts;
          console.log(
            `${options.queue}: ${c.waiting} waiting, ${c.active} active, ${c.delayed} delayed, `
              + `${c.completed} completed, ${c.failed} failed`,
          );
          for (const f of status.failed) console.log(`failed after ${f.attempts} attempt(s): ${f.error}`);
        }
      } finally {
        await fitQueue.close();
      }
    });

  const worker = program
    .command('worker')
    .description("fit the queue's photos as they come (runs until stopped with Ctrl-C or SIGTERM)")
    .requiredOption('--redis <url>', REDIS_HELP)
    .requiredOption('--out <dir>', 'output folder on this machine')
    .option('--queue <name>', 'the queue name', DEFAULT_QUEUE)
    .addOption(jobsOption());
  addFitSettingsOptions(worker);
  worker
    .addOption(outputsOption())
    .option(
      '--lock-seconds <s>',
      "how long a job stays this worker's without a sign of life; a worker killed mid-job gives its job back "
        + 'after this (checked as often)',
      positiveNumberOption('--lock-seconds'),
      30,
    )
    .addHelpText(
      'after',
      `${SETUP_HELP}

Outputs are those of \`morphable fit\` (NAME.json, .obj, .glb, .png…, --outputs picks), written
atomically under --out, and --out/${RESULTS_FILE} gets the lines of each finished photo. One line per
job on stdout. A photo that is not an image, has no face, or whose every face is rejected fails at once
with its error (see \`queue status\`); other failures are tried ${ATTEMPTS} times with backoff (1 s, 2 s…).
A worker killed mid-job loses nothing: its job returns to the queue once its lock lapses
(--lock-seconds). Ctrl-C or SIGTERM: no new jobs, the running ones finish, exit 0; a second one stops at
once (the running jobs return to the queue).`,
    )
    .action(async (options: WorkerOptions) => {
      await checkWritableFolder(options.out, `--out ${options.out}`);
      await requireDefaultModel(options.model);
      const { FitWorker } = await import('../service/fit-queue.js');
      const fitWorker = await FitWorker.start({
        url: options.redis,
        queue: options.queue,
        out: options.out,
        settings: fitSettingsFrom(options),
        jobs: options.jobs,
        lockMs: options.lockSeconds * 1000,
        onDone: (_job, s) => {
          const fitted = s.faces.filter((f) => f.status === 'fitted').length;
          console.log(`${s.name}: ${fitted} face(s) fitted (${(s.ms / 1000).toFixed(1)} s)`);
        },
        onFailed: (_job, message, final) =>
          process.stderr.write(`morphable: ${message}${final ? '' : ' (will be tried again)'}\n`),
        onError: (error) => process.stderr.write(`morphable: worker: ${error.message}\n`),
      });
      console.log(`worker on queue ${options.queue}: ${options.jobs} job(s) at once, outputs in ${options.out}`);
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        const stop = () => {
          // A second signal: stop now, as a kill would (the running jobs return once their locks lapse).
          if (stopping) process.exit(130);
          stopping = true;
          process.stderr.write('morphable: worker stopping: finishing the running jobs\n');
          fitWorker.close().then(resolve, reject);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { buildFitServer, IMAGE_TYPES } from '../service/fit-server.js';
import { PhotoPool } from '../service/photo-pool.js';
import { addFitSettingsOptions, type FitSettingsOptions, fitSettingsFrom, jobsOption } from './fit-options.js';
import { requireDefaultModel } from '../io/node/model-paths.js';
import { intOption, positiveNumberOption } from './parse.js';

interface ServeOptions extends FitSettingsOptions {
  port: number;
  host: string;
  jobs: number;
  maxUpload: number;
  maxQueue?: number;
  timeout: number;
  log?: boolean;
}

export function addServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('an HTTP API that fits photos: POST /v1/fit with an image body answers JSON (and GLB)')
    .option('--port <n>', 'TCP port (0: a free one, printed)', portOption, 8080)
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .addOption(jobsOption('fits at once, each on its own worker thread'))
    .option(
      '--max-upload <MB>',
      'largest image body accepted, in MB (larger: 413)',
      positiveNumberOption('--max-upload'),
      20,
    )
    .option(
      '--max-queue <n>',
      'fits that may wait for a worker beyond the --jobs running (more at once: 503; default: --jobs)',
      nonNegativeIntOption('--max-queue'),
    )
    .option(
      '--timeout <s>',
      'a fit running longer is stopped, its worker replaced (504)',
      positiveNumberOption('--timeout'),
      60,
    )
    .option('--log', "log each request (Fastify's JSON log, on stdout)");
  addFitSettingsOptions(command);
  command
    .addHelpText(
      'after',
      `
Endpoints:
  POST /v1/fit     the photo as the body (Content-Type: ${IMAGE_TYPES.join(', ')}) → 200 JSON
                   {faces: [{report}], rejected: [{index, reason, quality}], ms}; report is what
                   \`morphable fit\` writes to NAME.json (pose, identity, expressions, landmarks, quality…).
                   ?glb=1 adds each face's mesh as base64 GLB (faces[i].glb); with
                   Accept: model/gltf-binary the answer is the first face's GLB itself.
  GET  /healthz    200 {ok, workers, running, queued, fitted, failed, uptimeS}; 503 while starting.

Limits and errors (JSON {error}): 413 the body is over --max-upload; 415 another Content-Type; 422 not an
image, no face, or every face rejected by --min-quality; 503 more fits at once than --jobs + --max-queue
(Retry-After: seconds, from the recent fit times); 504 a fit past --timeout (its worker is replaced); 500
a crashed worker (replaced; the server keeps serving). Prints "listening on http://HOST:PORT" once the
workers have loaded the model and nets; SIGINT or SIGTERM finish the requests in flight and exit.`,
    )
    .action(async (options: ServeOptions) => {
      await requireDefaultModel(options.model);
      const pool = await PhotoPool.start(fitSettingsFrom({ ...options, outputs: [] }), { jobs: options.jobs });
      const app = buildFitServer({
        pool,
        maxUploadBytes: Math.round(options.maxUpload * 1024 * 1024),
        maxQueue: options.maxQueue,
        timeoutMs: options.timeout * 1000,
        log: options.log,
      });
      try {
        await app.listen({ port: options.port, host: options.host });
      } catch (error) {
        await app.close();
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new InputError(`--port ${options.port}`, `already in use on ${options.host}`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
          throw new InputError(`--host ${options.host}`, 'not an address of this machine');
        if (code === 'EACCES') throw new InputError(`--port ${options.port}`, 'not allowed (a privileged port?)');
        throw error;
      }
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      console.log(`listening on http://${host}:${port}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await app.close(); // stops listening, lets the requests in flight finish, then closes the pool
    });
}

function portOption(value: string): number {
  const v = intOption('--port')(value);
  if (v < 0 || v > 65535) throw new InputError('--port', `${value} is not a port number (0-65535)`);
  return v;
}

function nonNegativeIntOption(option: string): (value: string) => number {
  return (value) => {
    const v = intOption(option)(value);
    if (v < 0) throw new InputError(option, `${value} is negative`);
    return v;
  };
}

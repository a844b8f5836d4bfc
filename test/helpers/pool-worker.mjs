// A WorkerPool worker for test/worker-pool.test.ts: answers tasks by their `kind`. It runs the built
// dist/ (the global setup builds it), as the pool's real workers do.
import { threadId, workerData } from 'node:worker_threads';
import { InputError } from '../../dist/src/errors.js';
import { serveTasks } from '../../dist/src/service/worker-pool.js';

await serveTasks(
  async (data) => {
    if (data.failStart) throw new InputError('model.glb', 'not a model file');
    return { started: Date.now() };
  },
  async (_state, task) => {
    if (task.kind === 'square') return { value: task.value * task.value, threadId };
    if (task.kind === 'bad-input') throw new InputError(task.file, 'not an image');
    if (task.kind === 'bug') throw new TypeError('x is undefined');
    if (task.kind === 'crash') process.exit(3);
    if (task.kind === 'spin') for (;;);
    throw new Error(`unknown task ${task.kind} (${workerData})`);
  },
);

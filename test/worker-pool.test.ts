import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { TaskTimeoutError, WorkerPool, WorkerStoppedError } from '../src/service/worker-pool.js';

const WORKER = new URL('./helpers/pool-worker.mjs', import.meta.url);

type Task = { kind: string; value?: number; file?: string };
type Result = { value: number; threadId: number };

describe('WorkerPool', () => {
  it('runs tasks on every worker and keeps serving after bad input, a bug, a crash and a timeout', async () => {
    const pool = await WorkerPool.start<Task, Result>(WORKER, {}, 2);
    try {
      const squares = await Promise.all([1, 2, 3, 4, 5, 6].map((value) => pool.run({ kind: 'square', value })));
      expect(squares.map((r) => r.value)).toEqual([1, 4, 9, 16, 25, 36]);
      expect(new Set(squares.map((r) => r.threadId)).size).toBe(2);

      const input = await pool.run({ kind: 'bad-input', file: 'x.jpg' }).catch((e: unknown) => e);
      expect(input).toBeInstanceOf(InputError);
      expect((input as InputError).message).toBe('x.jpg: not an image');

      const bug = await pool.run({ kind: 'bug' }).catch((e: unknown) => e);
      expect(bug).not.toBeInstanceOf(InputError);
      expect((bug as Error).message).toBe('x is undefined');

      // A crash fails its own task only; the others, queued behind it, run on the replacement worker.
      const [crash, ...after] = await Promise.allSettled([
        pool.run({ kind: 'crash' }),
        ...[7, 8, 9].map((value) => pool.run({ kind: 'square', value })),
      ]);
      expect(crash.status).toBe('rejected');
      expect((crash as PromiseRejectedResult).reason).toBeInstanceOf(WorkerStoppedError);
      expect((crash as PromiseRejectedResult).reason.message).toContain('exit code 3');
      expect(after.map((r) => (r as PromiseFulfilledResult<Result>).value.value)).toEqual([49, 64, 81]);

      const spin = await pool.run({ kind: 'spin' }, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(spin).toBeInstanceOf(TaskTimeoutError);
      expect((await pool.run({ kind: 'square', value: 10 })).value).toBe(100);
      // The pool is back to its size: two tasks at once land on two threads.
      const pair = await Promise.all([11, 12].map((value) => pool.run({ kind: 'square', value })));
      expect(pair.map((r) => r.value)).toEqual([121, 144]);
      expect(pool.running).toBe(0);
      expect(pool.queued).toBe(0);
    } finally {
      await pool.close();
    }
    await expect(pool.run({ kind: 'square', value: 1 })).rejects.toThrow('closed');
  });

  it("fails to start with a worker's setup error", async () => {
    const start = WorkerPool.start<Task, Result>(WORKER, { failStart: true }, 2);
    await expect(start).rejects.toBeInstanceOf(InputError);
    await expect(start).rejects.toThrow('model.glb: not a model file');
  });
});

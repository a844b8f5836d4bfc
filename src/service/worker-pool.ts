/**
 * A fixed set of worker_threads that run tasks one at a time each. tfjs's wasm backend and the fit are
 * single-threaded, so N photos at once need N threads. A task's bad input comes back as its InputError; a
 * worker that dies (a crash, out of memory, a task past its time limit) fails only the task it held and is
 * replaced. The queue of tasks not yet started lives here, as messages; callers bound it (`queued`).
 *
 * The worker side is `serveTasks(handler)`, with the pool's `workerData` as its own.
 */
import { parentPort, Worker, workerData as inWorkerData } from 'node:worker_threads';
import { InputError } from '../errors.js';

/** The worker running a task stopped before answering (crashed, ran out of memory, or was stopped). */
export class WorkerStoppedError extends Error {
  override name = 'WorkerStoppedError';
}

/** A task ran past its time limit; its worker was stopped and replaced. */
export class TaskTimeoutError extends Error {
  override name = 'TaskTimeoutError';
}

type SerializedError = { input: true; subject: string; problem: string } | { input: false; message: string };

type WorkerMessage<R> =
  | { type: 'ready' }
  | { type: 'start-failed'; error: SerializedError }
  | { type: 'done'; id: number; result: R }
  | { type: 'failed'; id: number; error: SerializedError };

interface Pending<T, R> {
  id: number;
  task: T;
  timeoutMs?: number;
  resolve(result: R): void;
  reject(error: Error): void;
}

interface Slot<T, R> {
  worker: Worker;
  running?: Pending<T, R>;
  timer?: NodeJS.Timeout;
}

export interface RunOptions {
  /** Stop the worker and fail the task after this long (ms). */
  timeoutMs?: number;
}

export class WorkerPool<T, R> {
  private readonly slots = new Set<Slot<T, R>>();
  private readonly queue: Pending<T, R>[] = [];
  private nextId = 0;
  private closed = false;
  /** Set when a replacement worker cannot start: every later task fails with it. */
  private broken?: Error;

  private constructor(
    private readonly script: URL,
    private readonly data: unknown,
    readonly size: number,
  ) {}

  /**
   * Starts `size` workers running `script` (which calls serveTasks) and waits until each is ready. A worker
   * that fails to start (a missing model file, say) stops them all; its error is thrown here.
   */
  static async start<T, R>(script: URL, data: unknown, size: number): Promise<WorkerPool<T, R>> {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`pool size must be a positive integer: ${size}`);
    const pool = new WorkerPool<T, R>(script, data, size);
    const started = await Promise.allSettled(Array.from({ length: size }, () => pool.spawn()));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await pool.close();
      throw (failed as PromiseRejectedResult).reason;
    }
    return pool;
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Tasks running now. */
  get running(): number {
    let n = 0;
    for (const slot of this.slots) if (slot.running) n++;
    return n;
  }

  /** Runs `task` on the next free worker. */
  run(task: T, options: RunOptions = {}): Promise<R> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, task, timeoutMs: options.timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; tasks not finished fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new Error('the worker pool is closed'));
    await Promise.all([...this.slots].map((slot) => slot.worker.terminate()));
    this.slots.clear();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.running) continue;
      const pending = this.queue.shift()!;
      slot.running = pending;
      if (pending.timeoutMs !== undefined) {
        slot.timer = setTimeout(() => {
          slot.running = undefined;
          this.slots.delete(slot); // no new task for it while it stops
          pending.reject(new TaskTimeoutError(`stopped after ${(pending.timeoutMs! / 1000).toFixed(0)} s`));
          void slot.worker.terminate();
        }, pending.timeoutMs);
      }
      slot.worker.postMessage({ id: pending.id, task: pending.task });
    }
  }

  /** A new worker, in the pool once it says it is ready. */
  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.script, { workerData: this.data });
      const slot: Slot<T, R> = { worker };
      let ready = false;
      let lastError: Error | undefined;
      worker.on('message', (message: WorkerMessage<R>) => {
        if (message.type === 'ready') {
          ready = true;
          if (this.closed) return void worker.terminate();
          this.slots.add(slot);
          resolve();
          this.dispatch();
        } else if (message.type === 'start-failed') {
          reject(deserializeError(message.error));
          void worker.terminate();
        } else {
          const pending = slot.running;
          if (!pending || pending.id !== message.id) return; // timed out meanwhile
          clearTimeout(slot.timer);
          slot.running = undefined;
          if (message.type === 'done') pending.resolve(message.result);
          else pending.reject(deserializeError(message.error));
          this.dispatch();
        }
      });
      worker.on('error', (error) => {
        lastError = error;
      });
      worker.on('exit', (code) => {
        clearTimeout(slot.timer);
        this.slots.delete(slot);
        if (!ready)
          return reject(lastError ?? new WorkerStoppedError(`a worker stopped while starting (exit code ${code})`));
        const pending = slot.running;
        slot.running = undefined;
        pending?.reject(
          new WorkerStoppedError(
            lastError ? `the worker crashed: ${lastError.message}` : `the worker stopped (exit code ${code})`,
          ),
        );
        if (this.closed) return;
        this.spawn().catch((error: Error) => {
          // Workers that started once no longer start (the model file went away, say): fail what waits.
          this.broken = error;
          for (const waiting of this.queue.splice(0)) waiting.reject(error);
        });
      });
    });
  }
}

/**
 * The worker side: `setup(workerData)` once (its InputError fails the pool's start), then `handler(task)` per
 * task; the handler's InputError goes back as one, anything else as an Error with its message.
 */
export async function serveTasks<T, R, S>(
  setup: (data: unknown) => Promise<S>,
  handler: (state: S, task: T) => Promise<R>,
): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('serveTasks runs inside a worker thread');
  let state: S;
  try {
    state = await setup(inWorkerData);
  } catch (error) {
    port.postMessage({ type: 'start-failed', error: serializeError(error) });
    return;
  }
  port.on('message', async ({ id, task }: { id: number; task: T }) => {
    try {
      port.postMessage({ type: 'done', id, result: await handler(state, task) });
    } catch (error) {
      port.postMessage({ type: 'failed', id, error: serializeError(error) });
    }
  });
  port.postMessage({ type: 'ready' });
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof InputError) return { input: true, subject: error.subject, problem: error.problem };
  return { input: false, message: error instanceof Error ? error.message : String(error) };
}

function deserializeError(error: SerializedError): Error {
  return error.input ? new InputError(error.subject, error.problem) : new Error(error.message);
}

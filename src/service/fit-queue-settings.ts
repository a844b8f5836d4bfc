/**
 * The fit queue's name and limits, on their own (no BullMQ, no Redis client): `morphable queue` and `worker`
 * show them in their help without loading the queue (fit-queue.ts).
 */

export const DEFAULT_QUEUE = 'morphable-fit';
/** Tries per job when the failure may pass (a crashed worker thread); bad input gets one. */
export const ATTEMPTS = 3;
/** Completed jobs (their bytes dropped: name and summary only) are kept this long, so resubmits dedupe. */
export const KEEP_COMPLETED = { age: 7 * 24 * 3600, count: 100_000 };
/** Failed jobs keep their photo (to look at, or submit again after deleting them): the last 1000. */
export const KEEP_FAILED = { count: 1000 };

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../errors.js';

export interface DownloadOptions {
  /** Expected SHA-256 of the content, in hex; on a mismatch nothing is written to `dest`. */
  sha256?: string;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Give up when no data arrives for this long (default 60 s). */
  timeoutMs?: number;
}

export interface DownloadResult {
  sha256: string;
  bytes: number;
}

/**
 * Fetches `url` (http, https, file:// or a plain path) into `dest`. The data goes to a temporary
 * file beside `dest`, renamed into place only once complete and verified, so `dest` is either
 * absent or whole. Failures are InputErrors naming the URL (or `dest` when it cannot be written).
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${dest}.part-${randomBytes(6).toString('hex')}`;
  const hash = createHash('sha256');
  let bytes = 0;
  let output: FileHandle | undefined;
  const sink = async (chunk: Uint8Array, total: number | undefined) => {
    if (!output) {
      await mkdir(dirname(dest), { recursive: true }).catch(writeError(dest));
      output = await open(part, 'wx').catch(writeError(dest));
    }
    await output.write(chunk).catch(writeError(dest));
    hash.update(chunk);
    bytes += chunk.length;
    options.onProgress?.(bytes, total);
  };
  try {
    if (/^https?:\/\//i.test(url)) {
      await fetchInto(url, options.timeoutMs ?? 60_000, sink);
    } else if (/^file:\/\//i.test(url) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
      await copyInto(url, sink);
    } else {
      throw new InputError(url, 'unsupported URL (expected http, https, file:// or a path)');
    }
    if (!output) await sink(new Uint8Array(0), 0); // an empty download is still a file
    await output!.close().catch(writeError(dest));
    output = undefined;
    const sha256 = hash.digest('hex');
    const expected = options.sha256?.toLowerCase();
    if (expected !== undefined && expected !== sha256) {
      throw new InputError(url, `checksum mismatch: expected ${expected}, got ${sha256}`);
    }
    await rename(part, dest).catch(writeError(dest));
    return { sha256, bytes };
  } catch (err) {
    await output?.close().catch(() => {});
    await rm(part, { force: true }).catch(() => {});
    throw err;
  }
}

type Sink = (chunk: Uint8Array, total: number | undefined) => Promise<void>;

async function fetchInto(url: string, timeoutMs: number, sink: Sink): Promise<void> {
  const controller = new AbortController();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  // The clock restarts with every chunk: a slow but steady download is fine, a silent one is not.
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, timeoutMs);
  };
  const fail = (err: unknown, what: string) =>
    stalled
      ? new InputError(url, `timed out: no data for ${timeoutMs / 1000} s`)
      : new InputError(url, `${what}: ${networkDetail(err)}`);
  arm();
  try {
    const response = await fetch(url, { signal: controller.signal }).catch((err: unknown) => {
      throw fail(err, 'cannot connect');
    });
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new InputError(url, `HTTP ${response.status} ${response.statusText}`.trim());
    }
    const length = response.headers.get('content-length');
    // With a content-encoding, fetch inflates the body and content-length no longer applies.
    const total = length !== null && !response.headers.has('content-encoding') ? Number(length) : undefined;
    if (!response.body) return;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read().catch((err: unknown) => {
          throw fail(err, 'connection lost');
        });
        if (done) return;
        arm();
        await sink(value, total);
      }
    } catch (err) {
      await reader.cancel().catch(() => {});
      throw err;
    }
  } finally {
    clearTimeout(timer);
  }
}

async function copyInto(url: string, sink: Sink): Promise<void> {
  const path = /^file:/i.test(url) ? fileURLToPath(url) : url;
  const readError = (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(url, 'no such file');
    if (code === 'EISDIR') throw new InputError(url, 'is a folder, not a file');
    throw new InputError(url, `cannot read: ${code ?? String(err)}`);
  };
  const { size } = await stat(path).catch(readError);
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      const { done, value } = await chunks.next().catch(readError);
      if (done) return;
      await sink(value, size);
    }
  } finally {
    input.destroy();
  }
}

function writeError(dest: string) {
  return (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(dest, `cannot write: ${code ?? String(err)}`);
  };
}

/** The most telling part of a fetch failure, e.g. "ECONNREFUSED" or "other side closed". */
function networkDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

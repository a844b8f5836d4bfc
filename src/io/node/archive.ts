import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Duplex, Transform, pipeline, type Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream, WritableStream as NodeWritableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
// xz-decompress is a CommonJS bundle: Node's ESM loader cannot see its named exports.
import xzDecompress from 'xz-decompress';
import { InputError } from '../../errors.js';

export interface ArchiveEntry {
  /** Path inside the archive, without a leading "./". */
  path: string;
  data: Uint8Array;
}

export interface ReadArchiveOptions {
  /** Which regular files to yield; the others are skipped without being buffered. */
  include?: (path: string) => boolean;
  /** Progress in bytes of the (compressed) file read so far. */
  onBytes?: (compressedBytesRead: number, totalBytes: number) => void;
}

type Format = 'tar' | 'gzip' | 'xz';

/**
 * Streams the regular files of a .tar, .tar.gz or .tar.xz archive (told apart by content, not by
 * name), one entry in memory at a time. Every failure is an InputError naming `file`.
 * Stop early with `break`: that closes the file (and frees the xz decoder, which is shared).
 */
export async function* readArchive(file: string, options: ReadArchiveOptions = {}): AsyncGenerator<ArchiveEntry> {
  const { format, size } = await sniff(file);
  // A throwing callback is the caller's bug: pass it through rather than blame the archive.
  let callbackError: { error: unknown } | undefined;
  const call = <T>(callback: () => T): T => {
    try {
      return callback();
    } catch (error) {
      callbackError ??= { error };
      throw error;
    }
  };
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length;
      try {
        call(() => options.onBytes?.(read, size));
      } catch (error) {
        return done(error as Error);
      }
      done(null, chunk);
    },
  });
  const stages: NodeJS.ReadWriteStream[] = [counter];
  if (format === 'gzip') stages.push(createGunzip());
  if (format === 'xz') stages.push(xzDecoder());
  // Errors of any stage reach the last one, where feed() sees them.
  const bytes = pipeline(
    [createReadStream(file, { highWaterMark: 1 << 20 }), ...stages],
    () => {},
  ) as unknown as Readable;
  const extract = tar.extract();
  const feeding = feed(bytes, extract);
  try {
    for await (const entry of extract) {
      const { type, size: entrySize } = entry.header;
      const path = entry.header.name.replace(/^(\.\/)+/, '');
      if ((type !== 'file' && type !== 'contiguous-file') || !call(() => options.include?.(path) ?? true)) {
        entry.resume();
        continue;
      }
      const data = new Uint8Array(entrySize);
      let offset = 0;
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        data.set(chunk, offset);
        offset += chunk.length;
      }
      yield { path, data };
    }
  } catch (err) {
    if (callbackError) throw callbackError.error;
    throw err instanceof InputError ? err : new InputError(file, describe(err, format));
  } finally {
    extract.destroy();
    bytes.destroy();
    await feeding;
  }
}

async function sniff(file: string): Promise<{ format: Format; size: number }> {
  const handle = await open(file, 'r').catch((err: unknown) => {
    throw new InputError(file, fsProblem(err));
  });
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new InputError(file, 'is a folder, not an archive');
    const head = new Uint8Array(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const starts = (magic: number[]) => bytesRead >= magic.length && magic.every((b, i) => head[i] === b);
    if (starts([0x1f, 0x8b])) return { format: 'gzip', size: info.size };
    if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return { format: 'xz', size: info.size };
    if (bytesRead >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') {
      return { format: 'tar', size: info.size };
    }
    throw new InputError(file, 'not a tar, tar.gz or tar.xz archive');
  } catch (err) {
    throw err instanceof InputError ? err : new InputError(file, fsProblem(err));
  } finally {
    await handle.close();
  }
}

function xzDecoder(): Duplex {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const decoded = new xzDecompress.XzReadableStream(readable);
  // The DOM and node:stream/web typings of the same web streams differ.
  return Duplex.fromWeb({
    readable: decoded as unknown as NodeReadableStream,
    writable: writable as unknown as NodeWritableStream,
  });
}

const END_OF_ARCHIVE = 1024;

/** Writes the uncompressed tar bytes into tar-stream, with backpressure, and never rejects. */
async function feed(bytes: Readable, extract: tar.Extract): Promise<void> {
  // A plain tar cut at an entry boundary parses cleanly; only its missing end marker (two zero
  // blocks) tells it apart from a complete one.
  let trailingZeros = 0;
  try {
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      const last = lastNonZero(chunk);
      trailingZeros = last < 0 ? trailingZeros + chunk.length : chunk.length - 1 - last;
      if (!extract.write(chunk)) await drained(extract);
      if (extract.destroyed) return;
    }
    if (trailingZeros < END_OF_ARCHIVE) throw new Error('tar: unexpected end of data (no end-of-archive marker)');
    extract.end(null);
  } catch (err) {
    extract.destroy(err as Error);
  }
}

function lastNonZero(chunk: Uint8Array): number {
  let i = chunk.length - 1;
  while (i >= 0 && chunk[i] === 0) i--;
  return i;
}

function drained(extract: tar.Extract): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      extract.off('drain', done);
      extract.off('close', done);
      resolve();
    };
    extract.on('drain', done);
    extract.on('close', done);
  });
}

function describe(err: unknown, format: Format): string {
  const e = err as NodeJS.ErrnoException;
  const message = String(e?.message ?? err);
  if (e?.syscall) return fsProblem(err);
  let detail: string;
  if (e?.code?.startsWith('Z_')) {
    detail = `gzip: ${message}`;
  } else if (format === 'xz' && /error code 8$/.test(message)) {
    detail = 'xz: unexpected end of data';
  } else if (format === 'xz' && /error code \d+$/.test(message)) {
    detail = `xz: corrupt data (${message.replace(/^.*(error code \d+)$/, '$1')})`;
  } else if (message.startsWith('tar: ')) {
    detail = message;
  } else {
    // tar-stream's own messages, e.g. "Invalid tar header. Maybe the tar is corrupted or ...".
    detail = `tar: ${message.split('.')[0].toLowerCase()}`;
  }
  return `truncated or corrupt archive: ${detail}`;
}

function fsProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a folder, not an archive';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return `cannot read: ${e?.code ?? String(e?.message ?? err)}`;
  }
}

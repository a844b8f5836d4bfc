import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { downloadFile } from '../src/io/node/download.js';

const body = new Uint8Array(200_000).map((_, i) => (i * 131) % 256);
const bodySha = createHash('sha256').update(body).digest('hex');

let server: Server;
let base: string;
let dir: string;
let n = 0;
let dest: string;

const routes: Record<string, (res: ServerResponse) => void> = {
  '/ok': (res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  },
  '/missing': (res) => {
    res.writeHead(404, 'Not Found');
    res.end('nothing here');
  },
  // Promises more than it sends, then hangs up.
  '/cut': (res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 50_000), () => setTimeout(() => res.socket?.destroy(), 20));
  },
  // Sends a little, then goes silent with the connection open.
  '/stall': (res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 1000));
  },
  '/silent': () => {},
  // Slow but steady: each gap is shorter than the timeout, the whole is longer.
  '/trickle': (res) => {
    res.writeHead(200);
    let sent = 0;
    const tick = () => {
      if (sent >= body.length) return res.end();
      res.write(body.subarray(sent, sent + 40_000));
      sent += 40_000;
      setTimeout(tick, 60);
    };
    tick();
  },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'morphable-download-'));
  server = createServer((req, res) => (routes[req.url ?? ''] ?? routes['/missing'])(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  dest = join(dir, `out-${++n}`, 'archive.tar.xz');
});

async function leftovers(): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => name.includes('.part-'));
}

async function failure(promise: Promise<unknown>): Promise<InputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect(existsSync(dest)).toBe(false);
  expect(await leftovers()).toEqual([]);
  return err as InputError;
}

describe('downloadFile over http', () => {
  it('downloads and verifies', async () => {
    const progress: Array<[number, number | undefined]> = [];
    const result = await downloadFile(`${base}/ok`, dest, {
      sha256: bodySha.toUpperCase(),
      onProgress: (r, t) => progress.push([r, t]),
    });
    expect(result).toEqual({ sha256: bodySha, bytes: body.length });
    expect((await readFile(dest)).equals(body)).toBe(true);
    expect(progress[progress.length - 1]).toEqual([body.length, body.length]);
    expect(await leftovers()).toEqual([]);
  });

  it('replaces an existing file only when complete', async () => {
    await downloadFile(`${base}/ok`, dest);
    await expect(downloadFile(`${base}/cut`, dest)).rejects.toBeInstanceOf(InputError);
    expect((await readFile(dest)).equals(body)).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it('rejects a checksum mismatch and leaves nothing', async () => {
    const err = await failure(downloadFile(`${base}/ok`, dest, { sha256: '0'.repeat(64) }));
    expect(err.problem).toBe(`checksum mismatch: expected ${'0'.repeat(64)}, got ${bodySha}`);
    expect(err.subject).toBe(`${base}/ok`);
  });

  it('reports an HTTP error', async () => {
    const err = await failure(downloadFile(`${base}/missing`, dest));
    expect(err.problem).toBe('HTTP 404 Not Found');
  });

  it('reports a connection lost mid-body', async () => {
    const err = await failure(downloadFile(`${base}/cut`, dest));
    expect(err.problem).toMatch(/^connection lost: /);
  });

  it('times out when data stops coming', async () => {
    const start = Date.now();
    const err = await failure(downloadFile(`${base}/stall`, dest, { timeoutMs: 200 }));
    expect(err.problem).toBe('timed out: no data for 0.2 s');
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('times out when the server never answers', async () => {
    const err = await failure(downloadFile(`${base}/silent`, dest, { timeoutMs: 200 }));
    expect(err.problem).toBe('timed out: no data for 0.2 s');
  });

  it('keeps going while data trickles in', async () => {
    const result = await downloadFile(`${base}/trickle`, dest, { timeoutMs: 300, sha256: bodySha });
    expect(result.bytes).toBe(body.length);
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x`;
    await new Promise((resolve) => closed.close(resolve));
    const err = await failure(downloadFile(url, dest));
    expect(err.problem).toMatch(/^cannot connect: /);
  });
});

describe('downloadFile from local files', () => {
  it('copies a file:// URL and a plain path with the same checks', async () => {
    const source = join(dir, 'source.bin');
    await writeFile(source, body);
    expect(await downloadFile(pathToFileURL(source).href, dest, { sha256: bodySha })).toEqual({
      sha256: bodySha,
      bytes: body.length,
    });
    expect((await readFile(dest)).equals(body)).toBe(true);

    const second = join(dir, 'copy', 'second.bin');
    expect((await downloadFile(source, second)).sha256).toBe(bodySha);

    dest = join(dir, 'mismatch', 'archive.tar.xz');
    const err = await failure(downloadFile(source, dest, { sha256: 'f'.repeat(64) }));
    expect(err.problem).toMatch(/^checksum mismatch/);
  });

  it('reports a missing file', async () => {
    const err = await failure(downloadFile(pathToFileURL(join(dir, 'nope')).href, dest));
    expect(err.problem).toBe('no such file');
  });

  it('rejects other URL schemes', async () => {
    const err = await failure(downloadFile('ftp://example.com/x.tar.xz', dest));
    expect(err.problem).toMatch(/^unsupported URL/);
  });
});

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'morphable-fetch-'));
const home = join(work, 'home');
const downloads = join(home, 'downloads');
const leftovers = () => (existsSync(downloads) ? readdirSync(downloads) : []);
const garbage = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': garbage.length });
    if (req.url !== '/slow.tar.gz') {
      res.end(garbage);
      return;
    }
    // Five parts 700 ms apart: a download that lasts about 3 s, long enough for progress lines.
    let part = 0;
    const timer = setInterval(() => {
      res.write(garbage.subarray(part * 60_000, (part + 1) * 60_000));
      if (++part === 5) {
        clearInterval(timer);
        res.end();
      }
    }, 700);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(work, { recursive: true, force: true });
});

/** The error line: the last line of stderr, after any progress lines. */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('morphable: '))).toHaveLength(1);
  return lines[lines.length - 1];
}

describe('model fetch --url', () => {
  it("names the user's file, not a cache copy, and copies nothing", async () => {
    const bad = join(work, 'bad.tar.gz');
    writeFileSync(bad, 'this is not an archive');
    for (const url of [bad, pathToFileURL(bad).href]) {
      const result = await runCli(['model', 'fetch', '--url', url, '-o', join(work, 'm.glb')], {
        MORPHABLE_HOME: home,
      });
      expect(result.code).toBe(2);
      expect(errorLine(result.stderr)).toMatch(
        new RegExp(`^morphable: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`),
      );
      expect(leftovers()).toEqual([]);
      expect(existsSync(join(work, 'm.glb'))).toBe(false);
    }
  });

  it('removes a download that does not import and names the URL, in one line', async () => {
    const url = `${base}/ict.tar.gz`;
    const result = await runCli(['model', 'fetch', '--url', url, '-o', join(work, 'm.glb')], { MORPHABLE_HOME: home });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(errorLine(result.stderr)).toMatch(new RegExp(`^morphable: ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(leftovers()).toEqual([]);
  });

  it('prints plain progress lines off a terminal when a download lasts', async () => {
    const result = await runCli(['model', 'fetch', '--url', `${base}/slow.tar.gz`, '-o', join(work, 'm.glb')], {
      MORPHABLE_HOME: home,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^downloading: \d+%\n/);
    expect(result.stderr).toContain('downloading: 100%\n');
    expect(leftovers()).toEqual([]);
  });

  it('says how to go on offline when it cannot connect', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await runCli(['model', 'fetch', '--url', `http://127.0.0.1:${port}/ict.tar.gz`], {
      MORPHABLE_HOME: home,
    });
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toMatch(/ECONNREFUSED.*offline\?.*--url <file>/);
    expect(leftovers()).toEqual([]);
  });
});

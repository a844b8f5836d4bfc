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
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': garbage.length });
    res.end(garbage);
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
  it('names the user\'s file, not a cache copy, and copies nothing', async () => {
    const bad = join(work, 'bad.tar.gz');
    writeFileSync(bad, 'this is not an archive');
    for (const url of [bad, pathToFileURL(bad).href]) {
      const result = await runCli(['model', 'fetch', '--url', url, '-o', join(work, 'm.glb')], { MORPHABLE_HOME: home });
      expect(result.code).toBe(2);
      expect(errorLine(result.stderr)).toMatch(new RegExp(`^morphable: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`));
      expect(leftovers()).toEqual([]);
      expect(existsSync(join(work, 'm.glb'))).toBe(false);
    }
  }, 60_000);

  it('removes a download that does not import, names the URL, and shows progress lines off a terminal', async () => {
    const url = `${base}/ict.tar.gz`;
    const result = await runCli(['model', 'fetch', '--url', url, '-o', join(work, 'm.glb')], { MORPHABLE_HOME: home });
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toMatch(new RegExp(`^morphable: ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(result.stderr).toContain('downloading: 0%\n');
    expect(result.stderr).toContain('downloading: 100%\n');
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it('says how to go on offline when it cannot connect', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await runCli(['model', 'fetch', '--url', `http://127.0.0.1:${port}/ict.tar.gz`], { MORPHABLE_HOME: home });
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toMatch(/ECONNREFUSED.*offline\?.*--url <file>/);
    expect(leftovers()).toEqual([]);
  }, 60_000);
});

#!/usr/bin/env node
// Fails when a source line is longer than 120 characters: the formatter wraps code at 120, but not long
// strings or comments. Checks the files `biome check` covers; prints file:line for each long line.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX = 120;
const root = fileURLToPath(new URL('..', import.meta.url));
const skip = new Set(['node_modules', 'dist', 'test-output']);
const extensions = /\.(ts|mts|js|mjs|css)$/;

function* files(dir, recurse) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recurse) yield* files(path, true);
    } else if (extensions.test(entry.name)) yield path;
  }
}

let long = 0;
const folders = ['src', 'test', 'bench', 'web', 'scripts'];
const paths = [...files(root, false), ...folders.flatMap((d) => [...files(join(root, d), true)])];
for (const path of paths) {
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const length = [...lines[i].replace(/\r$/, '')].length; // characters, not UTF-16 units (×, σ, λ are one)
    if (length > MAX) {
      console.log(`${relative(root, path)}:${i + 1}: ${length} characters (at most ${MAX})`);
      long++;
    }
  }
}
if (long) {
  console.log(`${long} line${long === 1 ? '' : 's'} over ${MAX} characters: wrap the string or comment by hand.`);
  process.exit(1);
}

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('the npm package', () => {
  it('ships the library, the CLI, the Node entry and the licence, not the bench or the tests', async () => {
    // The files of dist/ come from the build (`npm test` compiles first); scripts are skipped so that
    // `prepare` does not build again.
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        'npm',
        ['pack', '--dry-run', '--json', '--ignore-scripts'],
        { cwd: ROOT, timeout: 120_000 },
        (error, out) => (error ? reject(error) : resolve(out)),
      );
    });
    const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'package.json',
        'dist/src/index.js',
        'dist/src/node.js',
        'dist/src/node.d.ts',
        'dist/src/cli/main.js',
      ]),
    );
    expect(
      files.filter(
        (f) => f.startsWith('dist/bench') || f.startsWith('dist/test') || f.startsWith('src/') || f.startsWith('test/'),
      ),
    ).toEqual([]);
  }, 120_000);
});

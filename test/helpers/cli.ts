import { expect } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI (`npm test` compiles first) as a user would, asynchronously so that servers
 * in the test process keep answering.
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    // The child's limit sits under the longest test timeout (300 s: fetch + import + calibration).
    const options = { env: { ...process.env, ...env }, cwd, timeout: 280_000 };
    execFile(process.execPath, [MAIN, ...args], options, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A refused input: exit code 2 and one line `morphable: <subject>: <problem>` on stderr holding every
 * part. Plain progress lines ("importing x.tar.xz: 50%"), which work that lasts over 2 s prints off a
 * terminal before it fails, are not part of the message and are skipped.
 */
export function expectOneLineError(result: CliResult, ...parts: string[]): void {
  expect(result.code).toBe(2);
  const lines = result.stderr
    .trim()
    .split('\n')
    .filter((line) => !/^[^:]+: \d+%( \(.*\))?$/.test(line));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^morphable: /);
  for (const part of parts) expect(lines[0]).toContain(part);
}

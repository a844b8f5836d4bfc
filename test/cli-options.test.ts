import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

describe('option errors and help text', () => {
  it("names the option in a bad value's error", async () => {
    const cases: Array<[string[], string]> = [
      [['fit', 'x.jpg', '--max-faces', '-1'], '--max-faces: -1 is not a positive integer'],
      [['fit', 'x.jpg', '--focal', '0'], '--focal: 0 is not a positive number'],
      [['model', 'sample', '--count', '0'], '--count: 0 is not a positive integer'],
      [['model', 'sample', '--seed', '1.5'], '--seed: 1.5 is not an integer'],
      [['model', 'sample', '--sigma', 'x'], '--sigma: x is not a number'],
      [['render', '-o', 'x.png', '--seed', 'abc'], '--seed: abc is not an integer'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toBe(`morphable: ${message}\n`);
    }
  });

  it('shows plain defaults in help: no JSON arrays, no doubled parentheses', async () => {
    for (const args of [
      ['model', '--help'],
      ['model', 'sample', '--help'],
      ['model', 'fetch', '--help'],
      ['fit', '--help'],
      ['render', '--help'],
      ['serve', '--help'],
      ['worker', '--help'],
      ['queue', 'submit', '--help'],
      ['queue', 'status', '--help'],
    ]) {
      const result = await runCli(args);
      expect(result.code).toBe(0);
      const text = result.stdout.replace(/\s+/g, ' ');
      expect(text, args.join(' ')).not.toMatch(/\["|\(\(|\)\)/);
    }
    expect((await runCli(['model', 'sample', '--help'])).stdout).toContain('(default: obj)');
  });
});

import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The longest test files, longest first (two at a time on an idle 2-core machine: about 85 s down to 9 s).
 * They start first, so that the two workers end together instead of one of them running a long file alone
 * at the end. vitest orders files by their last durations only where it has them cached (not on a
 * clean clone, as in CI: there it starts the larger files first).
 */
const LONGEST_FIRST = [
  'test/web.test.ts',
  'test/cli-fit.test.ts',
  'test/cli-model.test.ts',
  'test/ict.test.ts',
  'test/identity-embedding.test.ts',
  'test/fit-color-model.test.ts',
  'test/photometric-fit.test.ts',
  'test/fit-queue.test.ts',
  'test/albedo-data.test.ts',
  'test/shipped-color-model.test.ts',
  'test/face-regressor-accuracy.test.ts',
  'test/cli-batch.test.ts',
  'test/fit-server.test.ts',
  'test/train-landmarks.test.ts',
  'test/landmark-net-accuracy.test.ts',
  'test/embedded-model.test.ts',
  'test/archive.test.ts',
];

class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.indexOf(relative(this.ctx.config.root, file.moduleId).split('\\').join('/'));
      return index < 0 ? LONGEST_FIRST.length : index;
    };
    const rest = await super.sort(files.filter((file) => rank(file) === LONGEST_FIRST.length));
    return [...files.filter((file) => rank(file) < LONGEST_FIRST.length).sort((a, b) => rank(a) - rank(b)), ...rest];
  }
}

// Timeouts that hold on a busy 2-core machine (real-data tests, CLI runs, Chromium): a test that
// needs more says so itself. The global setup builds dist/ first, so CLI tests never run stale code.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ['test/global-setup.ts'],
    // Two test files at a time even on 2 cores (vitest's default there is one): many tests wait on a
    // CLI child process or Chromium, so the suite takes about 200 s instead of 310 s.
    maxWorkers: 2,
    // Test files share their worker's module cache (each file still runs in a fresh module of its own): tfjs,
    // face-api, sharp, vite and the src modules load once per worker instead of once per file, a third of
    // the CPU of the files that use tfjs. A file that changes process-wide state (process.env, tfjs's
    // backend) puts it back in afterAll.
    isolate: false,
    sequence: { sequencer: LongestFirstSequencer },
  },
});

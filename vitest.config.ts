import { defineConfig } from 'vitest/config';

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
  },
});

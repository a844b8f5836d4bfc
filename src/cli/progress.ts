import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr for work that takes seconds; silent when stderr is not a terminal
 * (CI logs, pipes) so that output stays clean.
 */
export class Progress {
  private readonly bar?: cliProgress.SingleBar;

  constructor(label: string, total = 100, quiet = false) {
    if (quiet || !process.stderr.isTTY) return;
    this.bar = new cliProgress.SingleBar(
      { format: `${label.padEnd(24)} [{bar}] {percentage}% | {eta_formatted} left`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0);
  }

  update(value: number): void {
    this.bar?.update(value);
  }

  stop(): void {
    this.bar?.stop();
  }
}

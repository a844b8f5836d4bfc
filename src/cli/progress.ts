import cliProgress from 'cli-progress';

/** Off a terminal, work shorter than this prints no progress lines (nor does input refused at once). */
const PLAIN_AFTER_MS = 2000;

/**
 * Progress on stderr for work that takes seconds. On a terminal: a bar, and stage() shows what runs
 * now. Elsewhere (CI logs, pipes, `2> log`), once the work has lasted 2 s: a plain line as it passes
 * 25, 50, 75 and 100 % ("downloading: 52%"), so that a 50-s fetch is not silent. Stages: terminal only.
 * Counted work (`unit`, e.g. "photos") also shows the count, the rate and the time left.
 */
export class Progress {
  private readonly bar?: cliProgress.SingleBar;
  private readonly plain: boolean = false;
  private readonly tty: boolean;
  private readonly start = Date.now();
  private step = 0;
  private staged = false;

  constructor(
    private readonly label: string,
    private readonly total = 100,
    quiet = false,
    private readonly unit?: string,
  ) {
    this.tty = process.stderr.isTTY === true;
    if (quiet) return;
    if (!this.tty) {
      this.plain = true;
      return;
    }
    this.bar = new cliProgress.SingleBar(
      {
        format: unit
          ? `${label.padEnd(12)} [{bar}] {value}/{total} ${unit} | {rate}/s | {eta_formatted} left`
          : `${label.padEnd(24)} [{bar}] {percentage}% | {eta_formatted} left`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { rate: '–' });
  }

  update(value: number): void {
    const seconds = (Date.now() - this.start) / 1000;
    const rate = value / Math.max(seconds, 1e-3);
    if (this.plain && seconds * 1000 >= PLAIN_AFTER_MS) {
      const fraction = this.total > 0 ? Math.min(1, value / this.total) : 0;
      const step = Math.floor(4 * fraction);
      if (step > this.step) {
        this.step = step;
        const left = Math.round((this.total - value) / rate);
        const counted = this.unit ? ` (${value}/${this.total} ${this.unit}, ${rate.toFixed(2)}/s, ${left} s left)` : '';
        process.stderr.write(`${this.label}: ${Math.round(100 * fraction)}%${counted}\n`);
      }
    }
    this.bar?.update(value, { rate: rate.toFixed(2) });
  }

  /** On a terminal, one line saying what runs now (e.g. "fitting x.jpg: photometric fit"), rewritten in place. */
  stage(text: string): void {
    if (!this.tty || this.bar) return;
    process.stderr.write(`\r\x1b[K${this.label}: ${text}…`);
    this.staged = true;
  }

  stop(): void {
    this.bar?.stop();
    if (this.staged) process.stderr.write('\r\x1b[K');
    this.staged = false;
  }
}

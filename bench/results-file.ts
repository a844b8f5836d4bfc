/**
 * bench/RESULTS.md by sections ("## heading" to the next "## "): a bench run alone replaces its own section,
 * and `npm run bench` keeps the sections it did not run this time (those only run when asked).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

/** The section under `heading` in RESULTS.md (heading line included, no trailing blank lines), if any. */
export function readResultsSection(heading: string): string | undefined {
  if (!existsSync(RESULTS_FILE)) return undefined;
  const text = readFileSync(RESULTS_FILE, 'utf8');
  const from = text.indexOf(`${heading}\n`);
  if (from < 0) return undefined;
  const next = text.indexOf('\n## ', from + heading.length);
  return text.slice(from, next < 0 ? text.length : next).trimEnd();
}

/** Replaces the section under `heading` in RESULTS.md with `body`, or appends it. */
export function writeResultsSection(heading: string, body: string): void {
  const old = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : '# Benchmark results\n';
  const section = `${heading}\n\n${body.trim()}\n`;
  const from = old.indexOf(`${heading}\n`);
  const next = from < 0 ? -1 : old.indexOf('\n## ', from + heading.length);
  const updated =
    from < 0
      ? `${old.trimEnd()}\n\n${section}`
      : `${old.slice(0, from)}${section}${next < 0 ? '' : `\n${old.slice(next + 1)}`}`;
  writeFileSync(RESULTS_FILE, updated);
}

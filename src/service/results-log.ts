/**
 * `results.jsonl`: one JSON line per fitted or rejected face and one per failed photo, appended as each
 * photo finishes (one write per photo), so that a batch can be followed with `tail -f`, read with any
 * JSON-lines tool, and resumed: `--resume` skips the photos it already holds, except those that failed for a
 * reason that may pass (a crash, a time limit), which are tried again.
 */
import { appendFile, mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError } from '../errors.js';
import type { FaceFitReport } from '../fit/fit-result.js';
import type { PhotoJobResult } from './photo-job.js';

export type ResultLine =
  | { photo: string; name: string; status: 'fitted'; face: number; files: string[]; fit: FaceFitReport }
  | { photo: string; name: string; status: 'rejected'; face: number; reason: string; fit: FaceFitReport }
  /** `retry`: the failure may pass (a crash, a time limit); false for bad input (not an image, no face). */
  | { photo: string; name: string; status: 'failed'; error: string; retry: boolean };

export const RESULTS_FILE = 'results.jsonl';

/** The lines of one photo's result. */
export function resultLines(photo: string, name: string, result: PhotoJobResult): ResultLine[] {
  return result.faces.map((face) =>
    face.rejected
      ? { photo, name, status: 'rejected', face: face.index, reason: face.rejected, fit: face.report }
      : { photo, name, status: 'fitted', face: face.index, files: face.files, fit: face.report },
  );
}

export class ResultsLog {
  private created = false;

  /**
   * The log at `path`. Fresh, it is replaced when its first line is written (a run that fits nothing leaves
   * an earlier log alone); resumed, it is appended to.
   */
  constructor(
    readonly path: string,
    resume: boolean,
  ) {
    this.created = resume;
  }

  async append(lines: ResultLine[]): Promise<void> {
    const text = lines.map((line) => `${JSON.stringify(line)}\n`).join('');
    if (this.created) await appendFile(this.path, text);
    else {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(this.path, text);
    }
    this.created = true;
  }
}

/**
 * The output names of the photos an earlier run of the log at `path` finished (fitted, rejected, or failed
 * for good). A last line cut short by a killed run is dropped from the file; a missing log finishes nothing.
 */
export async function finishedPhotos(path: string): Promise<Set<string>> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw new InputError(path, `cannot read (${err.code ?? err.message})`);
  });
  const complete = text.lastIndexOf('\n') + 1;
  if (complete < text.length) await truncate(path, Buffer.byteLength(text.slice(0, complete)));
  const finished = new Set<string>();
  for (const [i, line] of text.slice(0, complete).split('\n').entries()) {
    if (!line) continue;
    let parsed: ResultLine;
    try {
      parsed = JSON.parse(line) as ResultLine;
    } catch {
      throw new InputError(path, `line ${i + 1} is not JSON: not a results log of \`morphable fit\``);
    }
    if (typeof parsed.name !== 'string') throw new InputError(path, `line ${i + 1} names no photo`);
    if (!(parsed.status === 'failed' && parsed.retry)) finished.add(parsed.name);
  }
  return finished;
}

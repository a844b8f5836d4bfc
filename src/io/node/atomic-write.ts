import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../../errors.js';

/**
 * Writes `path` so that it is never seen half-written: the data goes to a temporary file in the
 * same folder (a rename across file systems would not be atomic), which then replaces `path`.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = tempPath(path);
  try {
    await writeFile(temp, data, { flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw writeError(path, err);
  }
}

/**
 * The outputs of one command, written to temporary files as they come and put in place together
 * by commit(), so that a command failing halfway leaves none of them behind:
 *
 *     const batch = new OutputBatch();
 *     try { await batch.add(a, ...); await batch.add(b, ...); await batch.commit(); }
 *     catch (e) { await batch.abort(); throw e; }
 */
export class OutputBatch {
  private pending = new Map<string, string>(); // final path → temporary path
  private createdFolders: Array<{ leaf: string; top: string }> = [];

  /** Writes `data` aside for `path`, creating missing folders; adding a path again replaces it. */
  async add(path: string, data: Uint8Array | string): Promise<void> {
    const folder = dirname(path);
    const top = await mkdir(folder, { recursive: true }).catch((err: unknown) => {
      throw writeError(path, err);
    });
    if (top !== undefined) this.createdFolders.push({ leaf: resolve(folder), top: resolve(top) });
    const previous = this.pending.get(path);
    const temp = tempPath(path);
    this.pending.set(path, temp);
    if (previous) await rm(previous, { force: true }).catch(() => {});
    await writeFile(temp, data, { flag: 'wx' }).catch((err: unknown) => {
      throw writeError(path, err);
    });
  }

  /** Renames every output into place. */
  async commit(): Promise<void> {
    const pending = [...this.pending];
    this.pending.clear();
    this.createdFolders = [];
    for (const [i, [path, temp]] of pending.entries()) {
      try {
        await rename(temp, path);
      } catch (err) {
        await Promise.all(pending.slice(i).map(([, t]) => rm(t, { force: true }).catch(() => {})));
        throw writeError(path, err);
      }
    }
  }

  /** Removes the temporary files, and the folders add() created if they are left empty. */
  async abort(): Promise<void> {
    const temps = [...this.pending.values()];
    const folders = this.createdFolders.reverse();
    this.pending.clear();
    this.createdFolders = [];
    await Promise.all(temps.map((temp) => rm(temp, { force: true }).catch(() => {})));
    for (const { leaf, top } of folders) {
      // rmdir refuses a folder that is not empty, so whatever else lives there survives.
      for (let folder = leaf; ; folder = dirname(folder)) {
        if (!(await rmdir(folder).then(() => true, () => false)) || folder === top) break;
      }
    }
  }
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

function writeError(path: string, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such folder',
    ENOTDIR: 'a parent is not a folder',
    EISDIR: 'is a folder',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
  };
  return new InputError(path, `cannot write: ${(code && reasons[code]) ?? code ?? String(err)}`);
}

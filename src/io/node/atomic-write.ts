import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
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

  /**
   * Renames every output into place, then removes the files of `replaces` that the new set does not
   * hold (what an earlier run wrote under the same names), so that no stale output stays beside new ones.
   */
  async commit(replaces: Iterable<string> = []): Promise<void> {
    const pending = [...this.pending];
    const written = new Set(pending.map(([path]) => resolve(path)));
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
    for (const stale of replaces) {
      if (!written.has(resolve(stale)))
        await rm(stale, { force: true }).catch((err: unknown) => {
          throw writeError(stale, err);
        });
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
        if (
          !(await rmdir(folder).then(
            () => true,
            () => false,
          ))
          || folder === top
        )
          break;
      }
    }
  }
}

/**
 * Checks before any work that files can be written into `folder` (which need not exist yet): its
 * nearest existing ancestor must be a folder in which a file can be created (a probe file, removed at
 * once). Throws an InputError naming `subject` (e.g. "--out fits") otherwise. Creates nothing.
 */
export async function checkWritableFolder(folder: string, subject = folder): Promise<void> {
  const target = resolve(folder);
  let existing = target;
  for (;;) {
    const info = await stat(existing).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw new InputError(subject, `cannot write: ${reason(err)}`);
    });
    if (info) {
      if (!info.isDirectory())
        throw new InputError(
          subject,
          existing === target ? 'cannot write: not a folder' : `cannot write: ${existing} is a file, not a folder`,
        );
      break;
    }
    const parent = dirname(existing);
    if (parent === existing) throw new InputError(subject, 'cannot write: no such folder');
    existing = parent;
  }
  const probe = tempPath(join(existing, 'probe'));
  await writeFile(probe, '', { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(subject, `not writable (${reason(err)})`);
  });
  await rm(probe, { force: true });
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

const TEMP_NAME = /^\..+\.tmp-[0-9a-f]{12}$/;

/**
 * Removes the temporary files that writes killed halfway left in `folder` and its subfolders (a resumed
 * batch; nothing else may be writing there). Returns how many.
 */
export async function removeStaleTemporaries(folder: string): Promise<number> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  let removed = 0;
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) removed += await removeStaleTemporaries(path);
    else if (TEMP_NAME.test(entry.name)) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}

function writeError(path: string, err: unknown): InputError {
  return new InputError(path, `cannot write: ${reason(err)}`);
}

function reason(err: unknown): string {
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
  return (code && reasons[code]) ?? code ?? String(err);
}

import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, copyFileSync, linkSync, mkdirSync, openSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { StateFileError } from '../../src/errors.js';
import { migrate } from './migrations.js';

/** What to do with a state SQLite cannot read: the same advice wherever it is found damaged. */
const RESTORE_OR_REBUILD =
  'restore it from a backup, or move it aside and run `scimsync state rebuild <integration>` for each integration';
const MAKE_WRITABLE =
  'scimsync writes its state on every run: make the file and its folder writable by the user scimsync runs as (mode, owner, immutable attribute, read-only mount)';

/**
 * Opens the state at `path` ready for use: the file checked or created (openStateFile),
 * the connection set up, the schema brought up to date. A file that cannot be used as a
 * state is a StateFileError, and nothing is written.
 */
export function openStateDatabase(path: string): Database.Database {
  const db = openStateFile(path);
  try {
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw stateFileFailure(path, err);
  }
}

/**
 * Opens the SQLite state at `path` in WAL mode, checking first that it can be one.
 * No file there is a fresh start: the state is created 0600 (SQLite gives its -wal and
 * -shm the file's mode) in a folder created 0700. An empty, damaged, unreadable or
 * read-only file, or a folder that cannot be created, is a StateFileError saying what
 * to do, and nothing is written. Opening an existing state takes no write lock.
 */
export function openStateFile(path: string): Database.Database {
  if (path === ':memory:') return new Database(path);
  const found = statOf(path);
  if (found) checkExisting(path, found);
  else createStateFile(path);
  let db: Database.Database;
  try {
    // It exists now (checked or just created): one removed meanwhile is not silently made anew.
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    throw stateFileFailure(path, err);
  }
  try {
    // The first read of the file: a damaged or truncated header is found here.
    db.pragma('journal_mode = WAL');
  } catch (err) {
    db.close();
    throw stateFileFailure(path, err);
  }
  return db;
}

/**
 * The StateFileError for an error met while opening the state (SQLite's or the file
 * system's), or the error itself when the file is not what failed (a lock held too long).
 */
export function stateFileFailure(path: string, err: unknown): unknown {
  if (err instanceof StateFileError) return err;
  const code = codeOf(err);
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StateFileError(path, `not a usable scimsync state, it is damaged or truncated (${why}): ${RESTORE_OR_REBUILD}`);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || ['EACCES', 'EPERM', 'EROFS'].includes(code)) {
    return new StateFileError(path, `cannot be written (${why}): ${MAKE_WRITABLE}`);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) {
    return new StateFileError(path, `cannot be opened (${why}): check the file and its folder, or ${RESTORE_OR_REBUILD}`);
  }
  return err;
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    // ENOTDIR: a part of the path is a file; creating the folder says so.
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return undefined;
    throw new StateFileError(path, `cannot be read (${codeOf(err) || String(err)}): ${MAKE_WRITABLE}`);
  }
}

function checkExisting(path: string, found: Stats): void {
  if (found.isDirectory()) throw new StateFileError(path, 'is a folder, not a state file: set state.path to a file');
  if (!found.isFile()) throw new StateFileError(path, 'is not a regular file: set state.path to a file');
  // SQLite would take an empty file for a new state: one that replaced a real state would go unnoticed.
  if (found.size === 0) {
    throw new StateFileError(
      path,
      'the file is empty (0 bytes) and holds no state: restore it from a backup; or, to start afresh, delete it and run `scimsync state rebuild <integration>` to link the accounts the target already holds',
    );
  }
  // access(2), not a descriptor: closing one would drop the SQLite locks this process holds on the file.
  checkAccess(path, path, constants.R_OK | constants.W_OK, 'cannot be written');
  // SQLite writes the -wal and -shm beside the file.
  checkAccess(path, dirname(path), constants.W_OK | constants.X_OK, `cannot be used: its folder ${dirname(path)} is not writable`);
}

function checkAccess(path: string, target: string, mode: number, what: string): void {
  try {
    accessSync(target, mode);
  } catch (err) {
    throw new StateFileError(path, `${what} (${codeOf(err) || String(err)}): ${MAKE_WRITABLE}`);
  }
}

/**
 * Creates a new, empty WAL-mode state at `path`: built under another name and linked
 * in whole, so that `path` never shows a half-made (0-byte) file to another scimsync
 * opening it at the same moment, and one already put there is never replaced.
 */
function createStateFile(path: string): void {
  const folder = dirname(path);
  try {
    // Only the folders created here get 0700; an existing one keeps its mode.
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = codeOf(err);
    // EEXIST or ENOTDIR from a recursive mkdir: a file stands where a folder of the path should be.
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? `${code}: a part of that path is a file, not a folder` : code || String(err);
    throw new StateFileError(path, `cannot create its folder ${folder} (${why}): create it, or set state.path to a file in a folder scimsync can write`);
  }
  const fresh = join(folder, `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.new`);
  try {
    // 0600 from its creation, before SQLite opens it (no other user can hold it open), whatever the umask.
    closeSync(openSync(fresh, 'wx', 0o600));
    const db = new Database(fresh);
    try {
      db.pragma('journal_mode = WAL');
    } finally {
      db.close();
    }
    publish(fresh, path);
  } catch (err) {
    if (codeOf(err).startsWith('SQLITE_')) throw stateFileFailure(path, err);
    throw new StateFileError(
      path,
      `cannot be created in its folder ${folder} (${codeOf(err) || String(err)}): make the folder writable by the user scimsync runs as, or set state.path to a file in a folder it can write`,
    );
  } finally {
    for (const f of [fresh, `${fresh}-wal`, `${fresh}-shm`]) rmSync(f, { force: true });
  }
}

/** Puts the new state at `path` unless another process put one there first. */
function publish(fresh: string, path: string): void {
  try {
    linkSync(fresh, path);
    return;
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return;
    // A file system without hard links: an exclusive copy, which keeps the mode.
  }
  try {
    copyFileSync(fresh, path, constants.COPYFILE_EXCL);
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

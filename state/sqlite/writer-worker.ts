/**
 * The writer thread of a delivery (BackgroundWriter): its own connection to
 * the state, one transaction per batch, batches committed in the order posted.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { openStateDatabase } from './open.js';
import { reportCommitted, reportFailure, type WriterData, type WriterMessage } from './writer.js';
import { WriteApplier, type WriteCommand } from './writes.js';

const { path, shared } = workerData as WriterData;

// Background work: on Linux this thread (not the process) runs at a lower priority, so that
// its commits take idle CPU rather than preempting the HTTP loop. Elsewhere it runs as it is.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, 10);
} catch {
  // No /proc/thread-self, or not permitted: the same thread at the same priority.
}

let db: Database.Database | undefined;
let applier: WriteApplier | undefined;
try {
  db = openStateDatabase(path);
  // Checkpoints (copying the log into the database, with an fsync) every 10,000 pages, not
  // SQLite's 1,000: a delivery rewrites the same index pages often, and copies them far fewer times.
  db.pragma('wal_autocheckpoint = 10000');
  applier = new WriteApplier(db);
} catch (err) {
  // Told through shared memory: the main thread may be blocked waiting for a commit.
  reportFailure(shared, `the writer thread cannot open ${path}: ${err instanceof Error ? err.message : String(err)}`);
}

parentPort?.on('message', (message: WriterMessage) => {
  if ('close' in message) {
    // Everything posted is committed (the main thread synced first): close and end.
    db?.close();
    parentPort?.close();
    return;
  }
  if (!db || !applier) return;
  const run = applier;
  try {
    db.transaction(() => run.applyBatch(JSON.parse(message.writes) as WriteCommand[]))();
    reportCommitted(shared, message.seq);
  } catch (err) {
    // Nothing more is committed after a failed batch: the main thread sees the failure and ends the thread.
    applier = undefined;
    reportFailure(shared, err instanceof Error ? err.message : String(err));
  }
});

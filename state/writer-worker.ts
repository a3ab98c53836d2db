/**
 * The writer thread of a delivery (BackgroundWriter): its own connection to
 * the state, one transaction per batch, batches committed in the order posted.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { StateStore, type WriteCommand } from './store.js';
import { BackgroundWriter, type WriterShared } from './writer.js';

const { path, shared } = workerData as { path: string; shared: WriterShared };

// Background work: on Linux this thread (not the process) runs at a lower priority, so that
// its commits take idle CPU rather than preempting the HTTP loop. Elsewhere it runs as it is.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
  if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, 10);
} catch {
  // No /proc/thread-self, or not permitted: the same thread at the same priority.
}
let store: StateStore | undefined;
let failed = false;
try {
  store = StateStore.open(path);
  // Checkpoints (copying the log into the database, with an fsync) every 10,000 pages, not
  // SQLite's 1,000: a delivery rewrites the same index pages often, and copies them far fewer times.
  store.db.pragma('wal_autocheckpoint = 10000');
} catch (err) {
  // Told through shared memory: the main thread may be blocked waiting for a commit.
  failed = true;
  BackgroundWriter.fail(shared, `the writer thread cannot open ${path}: ${err instanceof Error ? err.message : String(err)}`);
}

parentPort?.on('message', (message: { seq: number; writes: string } | { close: true }) => {
  if ('close' in message) {
    // Everything posted is committed (the main thread synced first): close and end.
    store?.close();
    parentPort?.close();
    return;
  }
  const { seq, writes } = message;
  if (failed || !store) return;
  const db = store;
  try {
    db.db.transaction(() => db.applyBatch(JSON.parse(writes) as WriteCommand[]))();
    Atomics.store(shared.flags, 0, seq);
    Atomics.notify(shared.flags, 0);
  } catch (err) {
    failed = true;
    BackgroundWriter.fail(shared, err instanceof Error ? err.message : String(err));
  }
});

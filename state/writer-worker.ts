/**
 * The writer thread of a delivery (BackgroundWriter): its own connection to
 * the state, one transaction per batch, batches committed in the order posted.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StateStore, type WriteCommand } from './store.js';
import { BackgroundWriter, type WriterShared } from './writer.js';

const { path, shared } = workerData as { path: string; shared: WriterShared };
const store = StateStore.open(path);
let failed = false;

parentPort?.on('message', ({ seq, writes }: { seq: number; writes: string }) => {
  if (failed) return;
  try {
    store.db.transaction(() => {
      for (const w of JSON.parse(writes) as WriteCommand[]) store.applyWrite(w);
    })();
    Atomics.store(shared.flags, 0, seq);
    Atomics.notify(shared.flags, 0);
  } catch (err) {
    failed = true;
    BackgroundWriter.fail(shared, err instanceof Error ? err.message : String(err));
  }
});

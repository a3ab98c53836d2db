import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StateError } from '../src/errors.js';
import type { WriteCommand } from './store.js';

/** How long a commit on the writer thread may take before the state counts as broken. */
const SYNC_TIMEOUT_MS = 60_000;
const MESSAGE_BYTES = 4096;

/** What the writer thread shares with the main thread: progress, failure, and its message. */
export interface WriterShared {
  /** [0]: the last batch committed; [1]: 1 once a batch failed. */
  flags: Int32Array;
  /** The failure's message, UTF-8, NUL-padded. */
  message: Uint8Array;
}

/**
 * The main thread's side of the writer thread (state/writer-worker.ts): it
 * gathers writes into batches, posts a batch every few milliseconds, and can
 * wait until everything posted is committed (`sync`), without giving up the
 * thread's order: the worker commits batches in the order they were posted.
 */
export class BackgroundWriter {
  private batch: WriteCommand[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The number of the last batch posted (see numberFrom). */
  private posted = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly shared: WriterShared,
    private readonly commitMs: number,
  ) {}

  /**
   * A writer on the database at `path`, its thread booting; undefined where the
   * worker script is not built (TypeScript sources). `numberFrom` it before the
   * first write.
   */
  static start(path: string, commitMs: number): BackgroundWriter | undefined {
    const script = new URL('./writer-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) return undefined;
    const shared: WriterShared = {
      flags: new Int32Array(new SharedArrayBuffer(8)),
      message: new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES)),
    };
    const worker = new Worker(script, { workerData: { path, shared } });
    // A worker that dies outright (not a failed batch) is seen by sync's timeout or the flag below.
    worker.on('error', (err) => BackgroundWriter.fail(shared, err.message));
    worker.unref();
    return new BackgroundWriter(worker, shared, commitMs);
  }

  /**
   * Numbers this writer's batches from `after` + 1, before anything is posted:
   * a ticket from an earlier writer (all committed when it stopped) then counts
   * as committed here too.
   */
  numberFrom(after: number): void {
    if (this.posted > 0) throw new Error('a writer is numbered before its first batch');
    this.posted = after;
    Atomics.store(this.shared.flags, 0, after);
  }

  /** Records a failure where the main thread will see it, even while it waits. */
  static fail(shared: WriterShared, message: string): void {
    const bytes = new TextEncoder().encode(message.split('\n')[0]!.slice(0, 1000));
    shared.message.fill(0);
    shared.message.set(bytes.subarray(0, MESSAGE_BYTES));
    Atomics.store(shared.flags, 1, 1);
    Atomics.notify(shared.flags, 0);
  }

  push(w: WriteCommand): void {
    this.check();
    this.batch.push(w);
    this.timer ??= setTimeout(() => this.post(), this.commitMs).unref();
  }

  /** Posts the gathered writes as one batch (one transaction on the writer thread). */
  post(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    this.posted++;
    // One string for the batch: serialised once here, where cloning each write would cost more.
    this.worker.postMessage({ seq: this.posted, writes: JSON.stringify(this.batch) });
    this.batch = [];
  }

  /** The number of the last batch posted: `waitFor` it to know it committed. */
  get lastPosted(): number {
    return this.posted;
  }

  /** Posts what is gathered and blocks until every batch posted is committed. */
  sync(): void {
    this.post();
    this.waitFor(this.posted);
  }

  /** Blocks until batch `seq` is committed: at once, most of the time, since batches commit in a few milliseconds. */
  waitFor(seq: number): void {
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    for (;;) {
      this.check();
      const done = Atomics.load(this.shared.flags, 0);
      if (done >= seq) return;
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.shared.flags, 0, done, left) === 'timed-out') {
        this.check();
        throw new StateError(`the writer thread committed nothing for ${SYNC_TIMEOUT_MS / 1000} s`);
      }
    }
  }

  /**
   * Commits everything, then lets the thread close its connection and end on
   * its own: nothing is left to wait for once the sync returns. After a
   * failure the thread is ended at once.
   */
  stop(): void {
    try {
      this.sync();
    } catch (err) {
      this.terminate();
      throw err;
    }
    this.worker.postMessage({ close: true });
  }

  /** Ends the thread at once (after a sync, nothing is lost). */
  terminate(): void {
    void this.worker.terminate();
  }

  private check(): void {
    if (Atomics.load(this.shared.flags, 1) === 0) return;
    const text = new TextDecoder().decode(this.shared.message).replace(/\0+$/, '');
    throw new StateError(`writing the results failed: ${text}`);
  }
}

/**
 * The main thread's side of a delivery's writer thread (writer-worker.ts):
 * batches posted in order, progress and failure shared through memory.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StateError } from '../../src/errors.js';
import type { WriteCommand } from './writes.js';

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

/** What the writer thread is started with. */
export interface WriterData {
  path: string;
  shared: WriterShared;
}

/** A message to the writer thread: a batch to commit (JSON of WriteCommand[]), or the end. */
export type WriterMessage = { seq: number; writes: string } | { close: true };

/** Tells the main thread that batch `seq` is committed. */
export function reportCommitted(shared: WriterShared, seq: number): void {
  Atomics.store(shared.flags, 0, seq);
  Atomics.notify(shared.flags, 0);
}

/** Records a failure where the main thread will see it, even while it waits. */
export function reportFailure(shared: WriterShared, message: string): void {
  const bytes = new TextEncoder().encode(message.split('\n')[0]!.slice(0, 1000));
  shared.message.fill(0);
  shared.message.set(bytes.subarray(0, MESSAGE_BYTES));
  Atomics.store(shared.flags, 1, 1);
  Atomics.notify(shared.flags, 0);
}

/**
 * The writer thread's entry. Built, the script beside this one. From the TypeScript
 * sources (vitest, tsx), the worker script bundled once per process with esbuild (tsx's
 * own compiler) beside node_modules, so its packages resolve: a thread then starts as
 * fast as the built one. Without esbuild, a small module that registers tsx's loader in
 * the thread (on Node 20 a worker gets no loader hooks from `--import tsx`). Undefined
 * where neither can run.
 */
function workerEntry(): URL | undefined {
  if (!import.meta.url.endsWith('.ts')) {
    const built = new URL('./writer-worker.js', import.meta.url);
    return existsSync(fileURLToPath(built)) ? built : undefined;
  }
  return (sourceEntry ??= bundledWorker() ?? tsxBoot());
}

let sourceEntry: URL | undefined;

function bundledWorker(): URL | undefined {
  try {
    const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync(options: Record<string, unknown>): unknown };
    const outfile = fileURLToPath(new URL(`../../node_modules/.cache/scimsync/writer-worker-${process.pid}.mjs`, import.meta.url));
    esbuild.buildSync({
      entryPoints: [fileURLToPath(new URL('./writer-worker.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile,
      logLevel: 'silent',
    });
    return pathToFileURL(outfile);
  } catch {
    return undefined;
  }
}

function tsxBoot(): URL | undefined {
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    // tsx is a devDependency: without it the sources' writes stay on the main thread.
    return undefined;
  }
  const script = new URL('./writer-worker.ts', import.meta.url).href;
  const boot = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(script)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

/**
 * Gathers writes into batches, posts a batch every few milliseconds, and can
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
   * thread cannot run. `numberFrom` it before the first write.
   */
  static start(path: string, commitMs: number): BackgroundWriter | undefined {
    const entry = workerEntry();
    if (!entry) return undefined;
    const shared: WriterShared = {
      flags: new Int32Array(new SharedArrayBuffer(8)),
      message: new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES)),
    };
    const workerData: WriterData = { path, shared };
    const worker = new Worker(entry, { workerData });
    // A worker that dies outright (not a failed batch) is seen by sync's timeout or the flag below.
    worker.on('error', (err) => reportFailure(shared, err.message));
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
    const message: WriterMessage = { seq: this.posted, writes: JSON.stringify(this.batch) };
    this.worker.postMessage(message);
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
    const message: WriterMessage = { close: true };
    this.worker.postMessage(message);
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

/**
 * Where a delivery's writes go: into a short transaction on the main
 * connection, committed a few milliseconds later with the writes that follow
 * (group commit), or, while a delivery runs, to its writer thread.
 */
import type Database from 'better-sqlite3';
import type { InflightCommits } from './inflight.js';
import { BackgroundWriter } from './writer.js';
import { WriteApplier, type WriteCommand } from './writes.js';

/** How long writes gather before their commit: on the main thread, and on a delivery's writer thread (fewer, larger transactions). */
const GROUP_COMMIT_MS = 10;
const WRITER_COMMIT_MS = 25;

/**
 * Group commit either way: writes made within a few milliseconds share one
 * transaction, committed by a short timer (or at once by `flush`). What must be
 * durable before a request goes out — the in-flight record — is submitted as
 * urgent and its ticket awaited; a result lost to a crash before its commit
 * leaves that record behind, and the next cycle checks the target for it.
 */
export class GroupCommit implements InflightCommits {
  private readonly applier: WriteApplier;
  /** The transaction on the main connection that `submit` opened, not yet committed. */
  private groupOpen = false;
  /** An in-flight record was written here and is not committed yet. */
  private inflightPending = false;
  /** The writer thread of a delivery in progress (startBackground). */
  private writer: BackgroundWriter | undefined;
  /** A writer thread started ahead of a delivery (prepareBackground), booting while the cycle plans. */
  private spare: BackgroundWriter | undefined;
  /**
   * The last batch number of the writers that have stopped: a later writer
   * numbers on from it, so that a ticket handed out before (by a delivery of
   * another integration running beside) is never mistaken for a future batch.
   */
  private lastTicket = 0;
  /** How many `transaction` calls are running: their writes stay on this connection. */
  private depth = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.applier = new WriteApplier(db);
  }

  /** Runs writes on the main connection, outside any group commit (the SQLite store's applyBatch). */
  get direct(): WriteApplier {
    return this.applier;
  }

  submit(w: WriteCommand): void {
    if (this.writer && this.depth === 0) return this.writer.push(w);
    if (!this.db.inTransaction) {
      this.db.exec('BEGIN');
      this.groupOpen = true;
      setTimeout(() => this.flush(), GROUP_COMMIT_MS).unref();
    }
    this.applier.apply(w);
  }

  submitUrgent(w: WriteCommand): number {
    this.submit(w);
    // On the writer thread it is posted at once: the sooner it is committed, the less a request waits for it.
    if (this.writer && this.depth === 0) {
      this.writer.post();
      return this.writer.lastPosted;
    }
    this.inflightPending = true;
    return 0;
  }

  awaitTicket(ticket: number): void {
    if (this.writer) this.writer.waitFor(ticket);
    else if (this.inflightPending) this.flush();
  }

  /** Commits what has been written so far (on the writer thread too, waiting for it). */
  flush(): void {
    this.inflightPending = false;
    this.writer?.sync();
    if (this.groupOpen && this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
    this.groupOpen = false;
  }

  /**
   * Runs `run` as one transaction on the main connection, after committing what
   * came before: its writes, submitted ones included, commit together or not at all.
   */
  transaction<T>(run: () => T): T {
    if (this.depth === 0) this.flush();
    this.depth++;
    try {
      return this.db.transaction(run)();
    } finally {
      this.depth--;
    }
  }

  get inBackground(): boolean {
    return this.writer !== undefined;
  }

  /**
   * Hands the writes to a thread of their own, so that SQLite works beside the
   * HTTP loop instead of between its requests. False where the thread cannot run.
   */
  startBackground(): boolean {
    if (this.writer || this.path === ':memory:') return this.writer !== undefined;
    this.flush();
    const writer = this.spare ?? BackgroundWriter.start(this.path, WRITER_COMMIT_MS);
    this.spare = undefined;
    writer?.numberFrom(this.lastTicket);
    this.writer = writer;
    return writer !== undefined;
  }

  /** Starts the next delivery's writer thread now: it boots while the cycle reads its source and plans. */
  prepareBackground(): void {
    if (this.writer || this.spare || this.path === ':memory:') return;
    this.spare = BackgroundWriter.start(this.path, WRITER_COMMIT_MS);
  }

  /** Commits every write of the delivery: the writer thread's, then stops it; or, without one, this connection's. */
  stopBackground(): void {
    const writer = this.writer;
    if (!writer) return this.flush();
    this.writer = undefined;
    this.inflightPending = false;
    try {
      writer.stop();
    } finally {
      this.lastTicket = writer.lastPosted;
    }
  }

  /** Commits everything and ends the writer threads, before the connection closes. */
  shutdown(): void {
    try {
      this.flush();
    } finally {
      this.writer?.terminate();
      this.spare?.terminate();
      this.writer = undefined;
      this.spare = undefined;
    }
  }
}

/**
 * The writes a delivery makes, as plain data (WriteCommand), and how one
 * connection runs them: the main thread's between group commits, or the writer
 * thread's (writer-worker.ts) a batch per transaction.
 */
import type Database from 'better-sqlite3';
import { EscrowWriter, type EscrowWrite } from './escrow.js';
import { EventWriter, type EventWrite } from './events.js';
import { InflightWriter, type InflightWrite } from './inflight.js';
import { ObjectWriter, type ObjectWrite } from './objects.js';

/** A write of the kind a delivery makes: run here, or on the writer thread. JSON-serialisable. */
export type WriteCommand = ObjectWrite | EscrowWrite | InflightWrite | EventWrite;

/** Runs WriteCommands on one connection; the caller holds the transaction. */
export class WriteApplier {
  private readonly objects: ObjectWriter;
  private readonly escrow: EscrowWriter;
  private readonly inflight: InflightWriter;
  private readonly events: EventWriter;

  constructor(db: Database.Database) {
    this.objects = new ObjectWriter(db);
    this.escrow = new EscrowWriter(db);
    this.inflight = new InflightWriter(db);
    this.events = new EventWriter(db);
  }

  /** Runs one write. */
  apply(w: WriteCommand): void {
    switch (w.kind) {
      case 'user':
      case 'group':
      case 'memberships.drop':
        return this.objects.apply(w);
      case 'escrow':
      case 'escrow.clear':
        return this.escrow.apply(w);
      case 'inflight':
      case 'inflight.clear':
        return this.inflight.apply(w);
      case 'event':
        return this.events.apply(w);
      default: {
        const unknown: never = w;
        throw new Error(`unknown state write ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Runs a batch of writes. In-flight records cleared by the batch are deleted
   * together at its end, or before a record is put again: the same outcome as
   * one by one, in fewer statements.
   */
  applyBatch(writes: readonly WriteCommand[]): void {
    const clears = new Map<string, string[]>();
    const flushClears = () => {
      for (const [integration, keys] of clears) this.inflight.clearMany(integration, keys);
      clears.clear();
    };
    for (const w of writes) {
      if (w.kind === 'inflight.clear') {
        const keys = clears.get(w.integration);
        if (keys) keys.push(w.key);
        else clears.set(w.integration, [w.key]);
        continue;
      }
      if (w.kind === 'inflight' && clears.size > 0) flushClears();
      this.apply(w);
    }
    flushClears();
  }
}

/**
 * In-flight tickets: operations whose request may be on the wire, recorded
 * (durably) before the request goes out and cleared once its result is recorded.
 */
import type Database from 'better-sqlite3';
import type { InflightEntry, InflightOperation } from '../interface.js';

/** Operations recorded as in flight, as plain data. */
export interface InflightMarkWrite {
  kind: 'inflight';
  integration: string;
  cycleId: string;
  at: string;
  ops: InflightOperation[];
}

/** An in-flight record cleared, as plain data. */
export interface InflightClearWrite {
  kind: 'inflight.clear';
  integration: string;
  key: string;
}

export type InflightWrite = InflightMarkWrite | InflightClearWrite;

/** How in-flight records reach the database (GroupCommit). */
export interface InflightCommits {
  submit(w: InflightWrite): void;
  /** Submits a write that a request will wait for; returns the ticket to await. */
  submitUrgent(w: InflightWrite): number;
  /** Returns once the writes of `ticket` are committed. */
  awaitTicket(ticket: number): void;
}

interface InflightRow {
  op_key: string;
  kind: string;
  source_id: string;
  cycle_id: string;
  started_at: string;
}

/** Runs in-flight writes on one connection (the main one, or the writer thread's). */
export class InflightWriter {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      // A window of records in one statement, SQLite looping over the list.
      put: db.prepare(
        `INSERT OR REPLACE INTO inflight (integration, op_key, kind, source_id, cycle_id, started_at)
         SELECT @integration, value ->> 'key', value ->> 'kind', value ->> 'sourceId', @cycleId, @at FROM json_each(@ops)`,
      ),
      clear: db.prepare(`DELETE FROM inflight WHERE integration = ? AND op_key = ?`),
      clearMany: db.prepare(`DELETE FROM inflight WHERE integration = ? AND op_key IN (SELECT value FROM json_each(?))`),
    };
  }

  apply(w: InflightWrite): void {
    if (w.kind === 'inflight') this.stmts.put.run({ integration: w.integration, cycleId: w.cycleId, at: w.at, ops: JSON.stringify(w.ops) });
    else this.stmts.clear.run(w.integration, w.key);
  }

  /** Clears many records of an integration in one statement. */
  clearMany(integration: string, keys: readonly string[]): void {
    this.stmts.clearMany.run(integration, JSON.stringify(keys));
  }
}

/** The in-flight records of the state: reads here, writes through the group commit. */
export class SqliteInflight {
  private readonly stmts;

  constructor(
    db: Database.Database,
    private readonly commits: InflightCommits,
  ) {
    this.stmts = {
      load: db.prepare<[string], InflightRow>(`SELECT * FROM inflight WHERE integration = ?`),
      clearAll: db.prepare(`DELETE FROM inflight WHERE integration = ?`),
    };
  }

  markInflight(integration: string, ops: readonly InflightOperation[], cycleId: string, now: Date = new Date()): number {
    const copy = ops.map((op) => ({ key: op.key, kind: op.kind, sourceId: op.sourceId }));
    return this.commits.submitUrgent({ kind: 'inflight', integration, cycleId, at: now.toISOString(), ops: copy });
  }

  awaitInflight(ticket: number): void {
    this.commits.awaitTicket(ticket);
  }

  clearInflight(integration: string, key: string): void {
    this.commits.submit({ kind: 'inflight.clear', integration, key });
  }

  loadInflight(integration: string): InflightEntry[] {
    return this.stmts.load.all(integration).map((r) => ({
      key: r.op_key,
      kind: r.kind,
      sourceId: r.source_id,
      cycleId: r.cycle_id,
      startedAt: r.started_at,
    }));
  }

  /** Returns an integration's in-flight records and clears them (the caller runs it in a transaction). */
  takeAll(integration: string): InflightEntry[] {
    const entries = this.loadInflight(integration);
    this.stmts.clearAll.run(integration);
    return entries;
  }
}

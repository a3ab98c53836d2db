/**
 * Escrow: operations that failed, kept for retry at the next cycles, and the
 * give-up policy (an operation failing `maxCycles` cycles running, unchanged).
 */
import type Database from 'better-sqlite3';
import type { EscrowEntry, EscrowOperation, OperationFailure } from '../interface.js';

/** An escrow entry recorded, as plain data (the columns by name). */
export interface EscrowRecordWrite {
  kind: 'escrow';
  params: Record<string, string | number>;
}

/** An escrow entry forgotten, as plain data. */
export interface EscrowClearWrite {
  kind: 'escrow.clear';
  integration: string;
  key: string;
}

export type EscrowWrite = EscrowRecordWrite | EscrowClearWrite;

export interface EscrowRow {
  op_key: string;
  fingerprint: string;
  kind: string;
  source_id: string;
  cycles: number;
  attempts: number;
  last_error: string;
  first_failed_at: string;
  last_failed_at: string;
  given_up: number;
}

/**
 * The entry for a failure of `op`, given what was kept for it before: the same
 * operation (same fingerprint) failing again counts one more cycle, a changed
 * one starts again at 1, and either is given up at `maxCycles`.
 */
export function nextEscrowEntry(
  prior: EscrowEntry | undefined,
  op: EscrowOperation,
  failure: OperationFailure,
  maxCycles: number,
  now: Date,
): EscrowEntry {
  const same = prior !== undefined && prior.fingerprint === op.fingerprint;
  const cycles = same ? prior.cycles + 1 : 1;
  return {
    key: op.key,
    fingerprint: op.fingerprint,
    kind: op.kind,
    sourceId: op.sourceId,
    cycles,
    attempts: (same ? prior.attempts : 0) + failure.attempts,
    lastError: failure.error,
    firstFailedAt: same ? prior.firstFailedAt : now.toISOString(),
    lastFailedAt: now.toISOString(),
    givenUp: cycles >= maxCycles,
  };
}

export function escrowOf(r: EscrowRow): EscrowEntry {
  return {
    key: r.op_key,
    fingerprint: r.fingerprint,
    kind: r.kind,
    sourceId: r.source_id,
    cycles: r.cycles,
    attempts: r.attempts,
    lastError: r.last_error,
    firstFailedAt: r.first_failed_at,
    lastFailedAt: r.last_failed_at,
    givenUp: r.given_up === 1,
  };
}

/** Runs escrow writes on one connection (the main one, or the writer thread's). */
export class EscrowWriter {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      put: db.prepare(
        `INSERT INTO escrow (integration, op_key, fingerprint, kind, source_id, cycles, attempts, last_error, first_failed_at, last_failed_at, given_up)
         VALUES (@integration, @key, @fingerprint, @kind, @sourceId, @cycles, @attempts, @lastError, @firstFailedAt, @lastFailedAt, @givenUp)
         ON CONFLICT (integration, op_key) DO UPDATE SET fingerprint = excluded.fingerprint, kind = excluded.kind,
           source_id = excluded.source_id, cycles = excluded.cycles, attempts = excluded.attempts, last_error = excluded.last_error,
           first_failed_at = excluded.first_failed_at, last_failed_at = excluded.last_failed_at, given_up = excluded.given_up`,
      ),
      clear: db.prepare(`DELETE FROM escrow WHERE integration = ? AND op_key = ?`),
    };
  }

  apply(w: EscrowWrite): void {
    if (w.kind === 'escrow') this.stmts.put.run(w.params);
    else this.stmts.clear.run(w.integration, w.key);
  }
}

/** The escrow of the state: reads here, writes handed to `submit` (group commit). */
export class SqliteEscrow {
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    private readonly submit: (w: EscrowWrite) => void,
  ) {
    this.stmts = {
      load: db.prepare<[string], EscrowRow>(`SELECT * FROM escrow WHERE integration = ? ORDER BY op_key`),
      get: db.prepare<[string, string], EscrowRow>(`SELECT * FROM escrow WHERE integration = ? AND op_key = ?`),
      clear: db.prepare(`DELETE FROM escrow WHERE integration = ? AND op_key = ?`),
    };
  }

  loadEscrow(integration: string): EscrowEntry[] {
    return this.stmts.load.all(integration).map(escrowOf);
  }

  recordFailure(integration: string, op: EscrowOperation, failure: OperationFailure, maxCycles: number, now: Date = new Date()): EscrowEntry {
    const row = this.stmts.get.get(integration, op.key);
    const entry = nextEscrowEntry(row && escrowOf(row), op, failure, maxCycles, now);
    this.submit({ kind: 'escrow', params: { integration, ...entry, givenUp: entry.givenUp ? 1 : 0 } });
    return entry;
  }

  clearEscrow(integration: string, key: string): void {
    this.submit({ kind: 'escrow.clear', integration, key });
  }

  pruneEscrow(integration: string, plannedKeys: ReadonlySet<string>): void {
    this.db.transaction(() => {
      for (const e of this.stmts.load.all(integration)) {
        if (!plannedKeys.has(e.op_key)) this.stmts.clear.run(integration, e.op_key);
      }
    })();
  }
}

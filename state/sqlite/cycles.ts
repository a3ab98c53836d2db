/** Cycles: when each started and ended, how, and with what counts. */
import type Database from 'better-sqlite3';
import type { RecordedCounts, CycleOutcome, CycleRecord } from '../interface.js';

interface CycleRow {
  id: string;
  integration: string;
  started_at: string;
  ended_at: string | null;
  outcome: string | null;
  counts: string | null;
}

export class SqliteCycles {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      start: db.prepare(`INSERT INTO cycles (id, integration, started_at, dry_run) VALUES (?, ?, ?, ?)`),
      finish: db.prepare(`UPDATE cycles SET ended_at = ?, outcome = ?, counts = ? WHERE id = ?`),
      interruptOthers: db.prepare(`UPDATE cycles SET outcome = 'interrupted' WHERE integration = ? AND ended_at IS NULL AND id != ?`),
      recent: db.prepare<[string, number], CycleRow>(
        `SELECT id, integration, started_at, ended_at, outcome, counts FROM cycles
         WHERE integration = ? AND dry_run = 0 ORDER BY started_at DESC, rowid DESC LIMIT ?`,
      ),
    };
  }

  startCycle(id: string, integration: string, dryRun: boolean, now: Date = new Date()): void {
    this.stmts.start.run(id, integration, now.toISOString(), dryRun ? 1 : 0);
  }

  finishCycle(id: string, outcome: CycleOutcome, counts: RecordedCounts, now: Date = new Date()): void {
    this.stmts.finish.run(now.toISOString(), outcome, JSON.stringify(counts), id);
  }

  /** Marks the integration's other unfinished cycles interrupted (a crash ended them). */
  interruptOthers(integration: string, currentCycleId: string): void {
    this.stmts.interruptOthers.run(integration, currentCycleId);
  }

  lastCycle(integration: string): CycleRecord | undefined {
    return this.recentCycles(integration, 1)[0];
  }

  recentCycles(integration: string, limit: number): CycleRecord[] {
    return this.stmts.recent.all(integration, limit).map(cycleOf);
  }
}

function cycleOf(r: CycleRow): CycleRecord {
  return {
    id: r.id,
    integration: r.integration,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    outcome: r.outcome,
    counts: r.counts ? (JSON.parse(r.counts) as Record<string, number>) : {},
  };
}

import type Database from 'better-sqlite3';
import type { CycleRecord } from '../../state/store.js';
import type { EventRecord, EventResult, EventType } from '../events/types.js';

/** The filters of a page of events, newest first (the console's logs). */
export interface EventsPageQuery {
  integration?: string;
  type?: string;
  result?: EventResult;
  since?: string;
  until?: string;
  cycle?: string;
  /** Only ids below this one (the keyset cursor). */
  after?: number;
  /** The user's source and target ids. */
  userIds?: readonly string[];
  limit: number;
}

/**
 * What the console reads that the StateStore interface does not offer yet: the
 * newest events by keyset (with the cycle filter), one event by id, the recent
 * cycles, a lease's expiry, a running cycle's events. SQL on the SQLite state
 * here; the StateStore is to take these over, and this goes.
 */
export interface ConsoleStateQueries {
  recentCycles(integration: string, limit: number): CycleRecord[];
  /** Newest first: ids below `after`, at most `limit`; `userIds` match the source or the target id. */
  eventsPage(q: EventsPageQuery): EventRecord[];
  event(id: number): EventRecord | undefined;
  leaseExpiresAt(integration: string): number | undefined;
  /** The events a cycle wrote so far, its failures, and the last one that did not succeed. */
  cycleEvents(cycle: { id: string; startedAt: string }): { done: number; failed: number; lastProblem: string | undefined };
}

interface EventRow {
  id: number;
  time: string;
  integration: string;
  cycle_id: string | null;
  type: EventType;
  result: EventResult;
  source_id: string | null;
  target_id: string | null;
  summary: string;
  detail: string;
}

const itemOf = (r: EventRow): EventRecord => ({
  id: r.id,
  time: r.time,
  integration: r.integration,
  cycleId: r.cycle_id,
  type: r.type,
  result: r.result,
  sourceId: r.source_id,
  targetId: r.target_id,
  summary: r.summary,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
});

export function sqliteConsoleQueries(db: Database.Database): ConsoleStateQueries {
  return {
    recentCycles: (integration, limit) =>
      db
        .prepare<[string, number], { id: string; integration: string; started_at: string; ended_at: string | null; outcome: string | null; counts: string | null }>(
          `SELECT * FROM cycles WHERE integration = ? AND dry_run = 0 ORDER BY started_at DESC, rowid DESC LIMIT ?`,
        )
        .all(integration, limit)
        .map((r) => ({ id: r.id, integration: r.integration, startedAt: r.started_at, endedAt: r.ended_at, outcome: r.outcome, counts: r.counts ? (JSON.parse(r.counts) as Record<string, number>) : {} })),
    eventsPage: (q) => {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: q.limit };
      const add = (clause: string, key: string, value: string | number | undefined) => {
        if (value === undefined || value === '') return;
        where.push(clause);
        params[key] = value;
      };
      // One user has few events: with a user, its ids drive the query, and `+` keeps the planner off the other columns' indexes.
      const by = q.userIds ? '+' : '';
      add(`${by}integration = @integration`, 'integration', q.integration);
      add(`${by}type = @type`, 'type', q.type);
      add(`${by}result = @result`, 'result', q.result);
      add(`${by}time >= @since`, 'since', q.since);
      add(`${by}time <= @until`, 'until', q.until);
      add(`${by}cycle_id = @cycle`, 'cycle', q.cycle);
      add('id < @after', 'after', q.after);
      if (q.userIds) add('(source_id IN (SELECT value FROM json_each(@ids)) OR target_id IN (SELECT value FROM json_each(@ids)))', 'ids', JSON.stringify(q.userIds));
      const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
      return db.prepare<Record<string, string | number>, EventRow>(sql).all(params).map(itemOf);
    },
    event: (id) => {
      const r = db.prepare<[number], EventRow>('SELECT * FROM events WHERE id = ?').get(id);
      return r ? itemOf(r) : undefined;
    },
    leaseExpiresAt: (integration) => db.prepare<[string], number>('SELECT expires_at FROM leases WHERE integration = ?').pluck().get(integration),
    // Bounded by time (an index) before the cycle id is compared.
    cycleEvents: (cycle) => {
      const r = db
        .prepare<[string, string], { done: number; failed: number | null }>(`SELECT COUNT(*) AS done, SUM(result = 'failure') AS failed FROM events WHERE time >= ? AND cycle_id = ?`)
        .get(cycle.startedAt, cycle.id);
      const lastProblem = db
        .prepare<[string, string], string>(`SELECT summary FROM events WHERE time >= ? AND cycle_id = ? AND result != 'success' ORDER BY id DESC LIMIT 1`)
        .pluck()
        .get(cycle.startedAt, cycle.id);
      return { done: r?.done ?? 0, failed: r?.failed ?? 0, lastProblem };
    },
  };
}

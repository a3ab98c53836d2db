/** The audit events: written with a delivery's other writes, read by `scimsync events`, `status` and the console. */
import type Database from 'better-sqlite3';
import type { EventRecord, EventResult, EventType, NewEvent } from '../../src/events/types.js';
import type { CycleEvents, EventQuery, EventsPageQuery } from '../interface.js';

/** The columns of an event but its detail, in insert order. */
export type EventParams = [string, string, string | null, string, string, string | null, string | null, string];

/** An event recorded, as plain data: its detail serialised once, where the write runs. */
export interface EventWrite {
  kind: 'event';
  params: EventParams;
  detail: unknown;
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

/** Runs event writes on one connection (the main one, or the writer thread's). */
export class EventWriter {
  private readonly insert;

  constructor(db: Database.Database) {
    this.insert = db.prepare<[...EventParams, string]>(
      `INSERT INTO events (time, integration, cycle_id, type, result, source_id, target_id, summary, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  apply(w: EventWrite): void {
    this.insert.run(...w.params, JSON.stringify(w.detail));
  }
}

/** The events of the state: queries here, inserts handed to `submit` (group commit). */
export class SqliteEvents {
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    private readonly submit: (w: EventWrite) => void,
  ) {
    this.stmts = {
      prune: db.prepare(`DELETE FROM events WHERE time < ?`),
      byId: db.prepare<[number], EventRow>('SELECT * FROM events WHERE id = ?'),
      // Bounded by time (an index) before the cycle id is compared.
      cycleCounts: db.prepare<[string, string], { done: number; failed: number | null }>(
        `SELECT COUNT(*) AS done, SUM(result = 'failure') AS failed FROM events WHERE time >= ? AND cycle_id = ?`,
      ),
      cycleProblem: db
        .prepare<[string, string], string>(`SELECT summary FROM events WHERE time >= ? AND cycle_id = ? AND result != 'success' ORDER BY id DESC LIMIT 1`)
        .pluck(),
    };
  }

  insertEvent(e: NewEvent): void {
    // The detail goes as it is: serialised once, where the write runs.
    this.submit({
      kind: 'event',
      params: [e.time, e.integration, e.cycleId ?? null, e.type, e.result, e.sourceId ?? null, e.targetId ?? null, e.summary],
      detail: e.detail ?? {},
    });
  }

  pruneEvents(before: string): number {
    return this.stmts.prune.run(before).changes;
  }

  queryEvents(q: EventQuery): EventRecord[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    const add = (clause: string, key: string, value: string | number | undefined) => {
      if (value === undefined || value === '') return;
      where.push(clause);
      params[key] = value;
    };
    add('integration = @integration', 'integration', q.integration);
    add('type = @type', 'type', q.type);
    add('result = @result', 'result', q.result);
    add(
      `(source_id = @user OR target_id = @user OR source_id IN (SELECT o.source_id FROM objects o WHERE o.kind = 'user'
         AND o.integration = events.integration AND lower(json_extract(o.attrs, '$.userName')) = lower(@user)))`,
      'user',
      q.user,
    );
    add('time >= @since', 'since', q.since);
    add('time <= @until', 'until', q.until);
    add('id > @afterId', 'afterId', q.afterId);
    // With a limit, the newest events, still listed oldest first.
    const filtered = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const sql = q.limit ? `SELECT * FROM (${filtered} ORDER BY id DESC LIMIT ${Math.floor(q.limit)}) ORDER BY id` : `${filtered} ORDER BY id`;
    return this.db.prepare<Record<string, string | number>, EventRow>(sql).all(params).map(eventOf);
  }

  eventsPage(q: EventsPageQuery): EventRecord[] {
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
    return this.db.prepare<Record<string, string | number>, EventRow>(sql).all(params).map(eventOf);
  }

  getEvent(id: number): EventRecord | undefined {
    const r = this.stmts.byId.get(id);
    return r ? eventOf(r) : undefined;
  }

  cycleEvents(cycle: { id: string; startedAt: string }): CycleEvents {
    const r = this.stmts.cycleCounts.get(cycle.startedAt, cycle.id);
    const lastProblem = this.stmts.cycleProblem.get(cycle.startedAt, cycle.id);
    return { done: r?.done ?? 0, failed: r?.failed ?? 0, lastProblem };
  }
}

function eventOf(r: EventRow): EventRecord {
  return {
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
  };
}

/**
 * How a listing of events is read from the event log (migration 9): which index
 * drives it, and the SQL. Listings run by (time, id); each index yields that
 * order after its equality column, so a listing streams without a sort, except
 * for one user's events (few, sorted after the lookup).
 */
import type Database from 'better-sqlite3';
import type { EventRecord, EventResult, EventType } from '../../src/events/types.js';
import type { EventQuery } from '../interface.js';

export const RESULT_CODES: Readonly<Record<EventResult, number>> = { success: 0, failure: 1, skipped: 2 };
const RESULTS: readonly EventResult[] = ['success', 'failure', 'skipped'];

/**
 * An event as read, in raw mode (an array, not an object per row: a listing of
 * thousands of events builds one object each, not two): codes joined back to
 * their names, the detail as JSON text. In the order of EVENT_COLUMNS.
 */
type EventRow = [
  id: number,
  time: number,
  integration: string,
  cycleId: string | null,
  type: EventType,
  result: number,
  sourceId: string | null,
  targetId: string | null,
  summary: string,
  detail: string,
];

/** The columns of an EventRow, from `event_log l`. */
export const EVENT_COLUMNS = `l.id, l.time, i.name AS integration, c.cycle_id, t.name AS type, l.result, s.source_id, s.target_id, l.summary, json(l.detail) AS detail`;
export const EVENT_JOINS = `LEFT JOIN event_integrations i ON i.id = l.integration LEFT JOIN event_cycles c ON c.id = l.cycle
  LEFT JOIN event_types t ON t.id = l.type LEFT JOIN event_subjects s ON s.id = l.subject`;

/** The record of a row: one object per event, its fields in the order `events --json` prints them. */
function eventOf(r: EventRow): EventRecord {
  return {
    id: r[0],
    time: new Date(r[1]).toISOString(),
    integration: r[2],
    cycleId: r[3],
    type: r[4],
    result: RESULTS[r[5]]!,
    sourceId: r[6] || null,
    targetId: r[7] || null,
    summary: r[8],
    detail: JSON.parse(r[9]) as Record<string, unknown>,
  };
}

/** A statement that selects EVENT_COLUMNS, read as EventRecords. */
export interface EventStatement<P> {
  get(params: P): EventRecord | undefined;
  all(params: P): EventRecord[];
  iterate(params: P): IterableIterator<EventRecord>;
}

/** Prepares `sql`, whose columns are EVENT_COLUMNS (or `*` over them), to read EventRecords. */
export function eventStatement<P extends unknown[] | Record<string, unknown>>(db: Database.Database, sql: string): EventStatement<P> {
  const stmt = db.prepare(sql).raw();
  const bind = (params: P): unknown[] => (Array.isArray(params) ? params : [params]);
  return {
    get(params) {
      const r = stmt.get(...bind(params)) as EventRow | undefined;
      return r ? eventOf(r) : undefined;
    },
    all(params) {
      return (stmt.all(...bind(params)) as EventRow[]).map(eventOf);
    },
    *iterate(params) {
      for (const r of stmt.iterate(...bind(params)) as IterableIterator<EventRow>) yield eventOf(r);
    },
  };
}

/** ISO time to the log's milliseconds; undefined when it is not a date. */
export function timeOf(iso: string): number | undefined {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** Codes of the names a query filters by; undefined where the log has none (nothing can match). */
export interface CodeLookup {
  integration(name: string): number | undefined;
  cycle(id: string): number | undefined;
  type(name: string): number | undefined;
}

/** A statement to run and its parameters. */
export interface PlannedQuery {
  sql: string;
  params: Record<string, string | number>;
}

/** Index entries counted at most when two equality filters compete to drive a listing. */
const PROBE_CAP = 20_000;

/** The user filter: subjects written with that source id, target id or name, and every subject of the same source id. */
const USER_SUBJECTS = `WITH matched AS MATERIALIZED (
    SELECT id, source_id, integration FROM event_subjects WHERE source_id = @user
    UNION SELECT id, source_id, integration FROM event_subjects WHERE target_id = @user
    UNION SELECT id, source_id, integration FROM event_subjects WHERE name = @user COLLATE NOCASE
  )
  SELECT id FROM matched
  UNION SELECT id FROM event_subjects WHERE (source_id, integration) IN (SELECT source_id, integration FROM matched WHERE source_id != '')`;

/** Subjects of any of a user's ids (source or target), as the console resolves them. */
const IDS_SUBJECTS = `SELECT id FROM event_subjects WHERE source_id IN (SELECT value FROM json_each(@ids))
  UNION SELECT id FROM event_subjects WHERE target_id IN (SELECT value FROM json_each(@ids))`;

/** The query's SQL, or undefined when a name it filters by is unknown to the log (no event matches). */
export function planEventQuery(db: Database.Database, codes: CodeLookup, q: EventQuery & { userIds?: readonly string[] }): PlannedQuery | undefined {
  const params: Record<string, string | number> = {};
  const eq: { column: string; index: string; value: number }[] = [];
  const filters: string[] = [];
  const code = (value: string | undefined, lookup: (v: string) => number | undefined): number | null | undefined =>
    value === undefined || value === '' ? undefined : (lookup(value) ?? null);

  const integration = code(q.integration, (v) => codes.integration(v));
  const type = code(q.type, (v) => codes.type(v));
  const cycle = code(q.cycle, (v) => codes.cycle(v));
  if (integration === null || type === null || cycle === null) return undefined;
  if (integration !== undefined) eq.push({ column: 'integration', index: 'event_log_by_integration', value: integration });
  if (type !== undefined) eq.push({ column: 'type', index: 'event_log_by_type', value: type });
  if (q.result !== undefined) eq.push({ column: 'result', index: 'event_log_by_result', value: RESULT_CODES[q.result] });

  let lo = q.since ? timeOf(q.since) : undefined;
  let hi = q.until ? timeOf(q.until) : undefined;
  const byId = q.afterId !== undefined;
  const descending = !byId && q.order === 'newest';
  if (q.after !== undefined && !byId) {
    const at = db.prepare<[number], number>('SELECT time FROM event_log WHERE id = ?').pluck().get(q.after);
    // A cursor no longer in the log was pruned, and everything older with it: oldest first, all that remains follows it.
    if (at === undefined && descending) return undefined;
    if (at !== undefined) {
      params.cursorTime = at;
      params.cursorId = q.after;
      if (descending) hi = hi === undefined ? at : Math.min(hi, at);
      else lo = lo === undefined ? at : Math.max(lo, at);
      filters.push(descending ? '(l.time < @cursorTime OR l.id < @cursorId)' : '(l.time > @cursorTime OR l.id > @cursorId)');
    }
  }
  const timeRange: string[] = [];
  if (lo !== undefined) {
    timeRange.push('l.time >= @lo');
    params.lo = lo;
  }
  if (hi !== undefined) {
    timeRange.push('l.time <= @hi');
    params.hi = hi;
  }
  if (q.throughId !== undefined) {
    filters.push('l.id <= @throughId');
    params.throughId = q.throughId;
  }

  // What drives the listing: a user's subjects, else a cycle, else the most selective equality, else time.
  let source: string;
  const where: string[] = [];
  const user = q.user ?? '';
  if (byId) {
    source = 'event_log l NOT INDEXED';
    where.push('l.id > @afterId');
    params.afterId = q.afterId!;
  } else if (user !== '' || q.userIds) {
    source = 'event_log l INDEXED BY event_log_by_subject';
  } else if (cycle !== undefined) {
    source = 'event_log l INDEXED BY event_log_by_cycle';
  } else if (eq.length > 0) {
    const driver = eq.length === 1 ? eq[0]! : mostSelective(db, eq, timeRange, params);
    source = `event_log l INDEXED BY ${driver.index}`;
  } else {
    source = 'event_log l INDEXED BY event_log_by_time';
  }
  if (user !== '') {
    where.push(`l.subject IN (${USER_SUBJECTS})`);
    params.user = user;
  } else if (q.userIds) {
    where.push(`l.subject IN (${IDS_SUBJECTS})`);
    params.ids = JSON.stringify(q.userIds);
  }
  if (cycle !== undefined) {
    where.push('l.cycle = @cycle');
    params.cycle = cycle;
  }
  for (const f of eq) {
    where.push(`l.${f.column} = @${f.column}`);
    params[f.column] = f.value;
  }
  where.push(...timeRange, ...filters);

  const dir = descending ? 'DESC' : '';
  const order = byId ? 'l.id' : `l.time ${dir}, l.id ${dir}`;
  const base = `SELECT ${EVENT_COLUMNS} FROM ${source} ${EVENT_JOINS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  const limit = q.limit === undefined ? undefined : Math.max(0, Math.floor(q.limit));
  if (limit === undefined) return { sql: `${base} ORDER BY ${order}`, params };
  params.limit = limit;
  // Oldest first with a limit and no cursor: the newest `limit`, turned back to oldest first.
  if (!byId && !descending && q.after === undefined) {
    return { sql: `SELECT * FROM (${base} ORDER BY l.time DESC, l.id DESC LIMIT @limit) ORDER BY time, id`, params };
  }
  return { sql: `${base} ORDER BY ${order} LIMIT @limit`, params };
}

/** Of several equality filters, the one with the fewest events in the time range (counted up to PROBE_CAP). */
function mostSelective<T extends { column: string; index: string; value: number }>(
  db: Database.Database,
  candidates: readonly T[],
  timeRange: readonly string[],
  params: Record<string, string | number>,
): T {
  let best = candidates[0]!;
  let fewest = Infinity;
  for (const c of candidates) {
    const range = timeRange.length ? ` AND ${timeRange.join(' AND ')}` : '';
    const probe = { value: c.value, cap: PROBE_CAP, ...pick(params, ['lo', 'hi']) };
    const n = db
      .prepare<Record<string, number | string>, number>(
        `SELECT count(*) FROM (SELECT 1 FROM event_log l INDEXED BY ${c.index} WHERE l.${c.column} = @value${range} LIMIT @cap)`,
      )
      .pluck()
      .get(probe)!;
    if (n < fewest) {
      fewest = n;
      best = c;
    }
  }
  return best;
}

function pick(params: Record<string, string | number>, keys: readonly string[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k of keys) if (params[k] !== undefined) out[k] = params[k];
  return out;
}

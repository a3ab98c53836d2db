/**
 * The audit events: written with a delivery's other writes, read by `scimsync events`,
 * `status`, the console and the forwarders. The layout (migration 9) and how a listing
 * is read are in event-query.ts.
 */
import type Database from 'better-sqlite3';
import { StateError } from '../../src/errors.js';
import type { EventRecord, NewEvent } from '../../src/events/types.js';
import type {
  CycleEvents,
  EventQuery,
  EventsPageQuery,
  EventSubject,
  NotifyMemoryStore,
  PrunedEvents,
  PruneEvents,
  SinkPositionStore,
} from '../interface.js';
import { EVENT_COLUMNS, EVENT_JOINS, eventStatement, planEventQuery, RESULT_CODES, timeOf, type CodeLookup } from './event-query.js';

/** An event recorded, as plain data (it may cross to the writer thread): codes resolved, names and detail as written. */
export interface EventWrite {
  kind: 'event';
  /** Milliseconds since the epoch. */
  time: number;
  integration: string;
  cycleId: string | null;
  type: number;
  result: number;
  sourceId: string | null;
  targetId: string | null;
  summary: string;
  /** The userName or displayName at the time; null: read from the object of `objectKind` when written. */
  subject: string | null;
  objectKind: 'user' | 'group' | null;
  detail: unknown;
}

/** Events deleted at most in one transaction of retention, unless told otherwise. */
export const DEFAULT_PRUNE_BATCH = 500;

/** Runs event writes on one connection (the main one, or the writer thread's). */
export class EventWriter {
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      // First, and a write (that writes nothing when the name is there): the transaction takes the
      // write lock before it reads, so another connection's commit cannot leave it a stale snapshot.
      addIntegration: db.prepare<[string]>('INSERT OR IGNORE INTO event_integrations (name) VALUES (?)'),
      integration: db.prepare<[string], number>('SELECT id FROM event_integrations WHERE name = ?').pluck(),
      cycle: db.prepare<[string], number>('SELECT id FROM event_cycles WHERE cycle_id = ?').pluck(),
      addCycle: db.prepare<[string], number>('INSERT INTO event_cycles (cycle_id) VALUES (?) RETURNING id').pluck(),
      userName: db
        .prepare<[string, string], unknown>(`SELECT json_extract(attrs, '$.userName') FROM objects WHERE integration = ? AND kind = 'user' AND source_id = ?`)
        .pluck(),
      groupName: db
        .prepare<[string, string], unknown>(`SELECT json_extract(attrs, '$.displayName') FROM objects WHERE integration = ? AND kind = 'group' AND source_id = ?`)
        .pluck(),
      subject: db
        .prepare<[string, number, string, string], number>('SELECT id FROM event_subjects WHERE source_id = ? AND integration = ? AND target_id = ? AND name = ?')
        .pluck(),
      addSubject: db
        .prepare<[number, string, string, string], number>('INSERT INTO event_subjects (integration, source_id, target_id, name) VALUES (?, ?, ?, ?) RETURNING id')
        .pluck(),
      insert: db.prepare<[number, number, number | null, number, number, number | null, string, string]>(
        `INSERT INTO event_log (time, integration, cycle, type, result, subject, summary, detail) VALUES (?, ?, ?, ?, ?, ?, ?, jsonb(?))`,
      ),
    };
  }

  // No cache of ids across events: one rolled back with its transaction would point later events at another row.
  apply(w: EventWrite): void {
    const s = this.stmts;
    s.addIntegration.run(w.integration);
    const integration = s.integration.get(w.integration)!;
    const cycle = w.cycleId === null ? null : (s.cycle.get(w.cycleId) ?? s.addCycle.get(w.cycleId)!);
    let subject: number | null = null;
    if (w.sourceId !== null || w.targetId !== null || w.subject) {
      const name = w.subject ?? this.nameOf(w) ?? '';
      const source = w.sourceId ?? '';
      const target = w.targetId ?? '';
      subject = s.subject.get(source, integration, target, name) ?? s.addSubject.get(integration, source, target, name)!;
    }
    s.insert.run(w.time, integration, cycle, w.type, w.result, subject, w.summary, JSON.stringify(w.detail ?? {}));
  }

  /** The name last pushed for the event's object: written just before its event, in the same batch. */
  private nameOf(w: EventWrite): string | undefined {
    if (w.sourceId === null || w.objectKind === null) return undefined;
    const name = (w.objectKind === 'user' ? this.stmts.userName : this.stmts.groupName).get(w.integration, w.sourceId);
    return typeof name === 'string' ? name : undefined;
  }
}

/** The events of the state: queries here, inserts handed to `submit` (group commit). */
export class SqliteEvents {
  private readonly stmts;
  /** Event type codes: fixed by the migrations, read once. */
  private readonly typeCodes: ReadonlyMap<string, number>;
  private readonly codes: CodeLookup;
  readonly sinkPositions: SinkPositionStore;
  readonly notifyMemory: NotifyMemoryStore;

  constructor(
    private readonly db: Database.Database,
    private readonly submit: (w: EventWrite) => void,
  ) {
    const select = `SELECT ${EVENT_COLUMNS} FROM event_log l ${EVENT_JOINS}`;
    this.stmts = {
      byId: eventStatement<[number]>(db, `${select} WHERE l.id = ?`),
      after: eventStatement<[number, number]>(db, `${select} WHERE l.id > ? ORDER BY l.id LIMIT ?`),
      lastId: db.prepare<[], number | null>('SELECT max(id) FROM event_log').pluck(),
      integration: db.prepare<[string], number>('SELECT id FROM event_integrations WHERE name = ?').pluck(),
      cycle: db.prepare<[string], number>('SELECT id FROM event_cycles WHERE cycle_id = ?').pluck(),
      cycleCounts: db.prepare<[string, number], { done: number; failed: number | null }>(
        `SELECT COUNT(*) AS done, SUM(result = ${RESULT_CODES.failure}) AS failed FROM event_log INDEXED BY event_log_by_cycle
         WHERE cycle = (SELECT id FROM event_cycles WHERE cycle_id = ?) AND time >= ?`,
      ),
      cycleProblem: db
        .prepare<[string, number], string>(
          `SELECT summary FROM event_log INDEXED BY event_log_by_cycle WHERE cycle = (SELECT id FROM event_cycles WHERE cycle_id = ?) AND time >= ?
           AND result != ${RESULT_CODES.success} ORDER BY time DESC, id DESC LIMIT 1`,
        )
        .pluck(),
      pruneOld: db.prepare<[number, number]>(
        `DELETE FROM event_log WHERE id IN (SELECT id FROM event_log INDEXED BY event_log_by_time WHERE time < ? ORDER BY time LIMIT ?)`,
      ),
      anyOld: db.prepare<[number], number>('SELECT 1 FROM event_log INDEXED BY event_log_by_time WHERE time < ? LIMIT 1').pluck(),
      pruneFirst: db.prepare<[number, number]>(`DELETE FROM event_log WHERE id IN (SELECT id FROM event_log WHERE id <= ? ORDER BY id LIMIT ?)`),
      anyFirst: db.prepare<[number], number>('SELECT 1 FROM event_log WHERE id <= ? LIMIT 1').pluck(),
      getPosition: db.prepare<[string], number>('SELECT position FROM forward_positions WHERE sink = ?').pluck(),
      setPosition: db.prepare<[string, number, string]>(
        `INSERT INTO forward_positions (sink, position, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (sink) DO UPDATE SET position = max(position, excluded.position), updated_at = excluded.updated_at`,
      ),
      getMemory: db.prepare<[string], string>('SELECT value FROM notify_memory WHERE key = ?').pluck(),
      setMemory: db.prepare<[string, string, string]>(
        `INSERT INTO notify_memory (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      ),
    };
    this.typeCodes = new Map(db.prepare<[], { id: number; name: string }>('SELECT id, name FROM event_types').all().map((r) => [r.name, r.id]));
    this.codes = {
      integration: (name) => this.stmts.integration.get(name),
      cycle: (id) => this.stmts.cycle.get(id),
      type: (name) => this.typeCodes.get(name),
    };
    const s = this.stmts;
    this.sinkPositions = {
      get: (sink) => s.getPosition.get(sink) ?? 0,
      set: (sink, id) => void s.setPosition.run(sink, id, new Date().toISOString()),
    };
    this.notifyMemory = {
      last: (key) => s.getMemory.get(key),
      remember: (key, value) => void s.setMemory.run(key, value, new Date().toISOString()),
    };
  }

  insertEvent(e: NewEvent & EventSubject): void {
    // Checked here, where the caller sees the error, not on the writer thread.
    const time = timeOf(e.time);
    if (time === undefined) throw new StateError(`[scimsync] [integration ${e.integration}] event ${e.type}: time ${JSON.stringify(e.time)} is not an ISO date`);
    const type = this.typeCodes.get(e.type);
    if (type === undefined) throw new StateError(`[scimsync] [integration ${e.integration}] event type ${e.type} is unknown to this state's schema`);
    const kind = e.type.startsWith('user_') ? 'user' : e.type.startsWith('group_') ? 'group' : null;
    // The detail goes as it is: serialised once, where the write runs.
    this.submit({
      kind: 'event',
      time,
      integration: e.integration,
      cycleId: e.cycleId ?? null,
      type,
      result: RESULT_CODES[e.result],
      sourceId: e.sourceId ?? null,
      targetId: e.targetId ?? null,
      summary: e.summary,
      subject: e.subject ?? null,
      objectKind: kind,
      detail: e.detail ?? {},
    });
  }

  *iterateEvents(q: EventQuery & { userIds?: readonly string[] }): IterableIterator<EventRecord> {
    const planned = planEventQuery(this.db, this.codes, q);
    if (!planned) return;
    yield* eventStatement<Record<string, string | number>>(this.db, planned.sql).iterate(planned.params);
  }

  queryEvents(q: EventQuery): EventRecord[] {
    return [...this.iterateEvents(q)];
  }

  eventsPage(q: EventsPageQuery): EventRecord[] {
    const { type, limit, ...rest } = q;
    // A type the catalogue does not know matches nothing (the console passes what a user typed).
    if (type !== undefined && type !== '' && !this.typeCodes.has(type)) return [];
    const query: EventQuery & { userIds?: readonly string[] } = { ...rest, order: 'newest', limit };
    if (type) query.type = type as NonNullable<EventQuery['type']>;
    return [...this.iterateEvents(query)];
  }

  eventsAfter(id: number, limit: number): EventRecord[] {
    return this.stmts.after.all([id, limit]);
  }

  lastEventId(): number {
    return this.stmts.lastId.get() ?? 0;
  }

  getEvent(id: number): EventRecord | undefined {
    return this.stmts.byId.get([id]);
  }

  cycleEvents(cycle: { id: string; startedAt: string }): CycleEvents {
    const since = timeOf(cycle.startedAt) ?? 0;
    const r = this.stmts.cycleCounts.get(cycle.id, since);
    const lastProblem = this.stmts.cycleProblem.get(cycle.id, since);
    return { done: r?.done ?? 0, failed: r?.failed ?? 0, lastProblem };
  }

  /** One bounded batch of retention: events older than `before` first, then the oldest written past `maxRows`. */
  pruneBatch(o: PruneEvents): PrunedEvents {
    const batch = Math.max(1, Math.floor(o.batch ?? DEFAULT_PRUNE_BATCH));
    const before = o.before === undefined ? undefined : timeOf(o.before);
    if (o.before !== undefined && before === undefined) throw new StateError(`[scimsync] event retention: ${JSON.stringify(o.before)} is not an ISO date`);
    return this.db.transaction((): PrunedEvents => {
      let deleted = 0;
      let more = false;
      if (before !== undefined) {
        deleted += this.stmts.pruneOld.run(before, batch).changes;
        more = deleted === batch && this.stmts.anyOld.get(before) !== undefined;
      }
      if (o.maxRows !== undefined && deleted < batch) {
        // Ids are never reused: the newest maxRows writes are the ids above this one, whatever was deleted before.
        const cutoff = this.lastEventId() - Math.max(0, Math.floor(o.maxRows));
        deleted += this.stmts.pruneFirst.run(cutoff, batch - deleted).changes;
        more ||= this.stmts.anyFirst.get(cutoff) !== undefined;
      } else if (o.maxRows !== undefined) {
        more = true;
      }
      return { deleted, more };
    })();
  }

  /** The older form: every event older than `before`, batch after batch. */
  pruneAllBefore(before: string): number {
    let total = 0;
    for (;;) {
      const r = this.pruneBatch({ before, batch: 5000 });
      total += r.deleted;
      if (!r.more) return total;
    }
  }
}

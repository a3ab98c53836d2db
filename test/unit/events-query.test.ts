import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_RESULTS, EVENT_TYPES, type EventResult, type EventType } from '../../src/events/types.js';
import type { EventQuery } from '../../state/index.js';
import { planEventQuery, type CodeLookup } from '../../state/sqlite/event-query.js';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import { migrate } from '../../state/sqlite/migrations.js';
import { openStateFile } from '../../state/sqlite/open.js';

const dbPath = () => join(mkdtempSync(join(tmpdir(), 'scimsync-events-')), 'state.db');

/** A small PRNG, so that every run checks the same log and queries. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** An event as the checks below know it: what was written, and the name it was written with. */
interface Written {
  id: number;
  time: number;
  integration: string;
  cycle: string | null;
  type: EventType;
  result: EventResult;
  source: string | null;
  target: string | null;
  name: string;
}

const INTEGRATIONS = ['app', 'gong', 'okta'];
const T0 = Date.parse('2026-03-01T00:00:00.000Z');

/**
 * A log of 1,500 events over three integrations: times mostly rising but some written late or on the
 * same millisecond, users renamed and relinked halfway, groups, events about nobody. Half the events
 * carry their userName, the others get it from the object saved before them.
 */
function seed(store: SqliteStateStore): Written[] {
  const rnd = random(19);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const written: Omit<Written, 'id'>[] = [];
  store.transaction(() => {
    for (let k = 0; k < 1500; k++) {
      const integration = pick(INTEGRATIONS);
      const type = pick(EVENT_TYPES);
      const late = rnd() < 0.05;
      const time = late ? T0 + Math.floor(rnd() * k) * 1000 : T0 + k * 1000 - (k % 3 === 0 ? 1000 : 0);
      const u = Math.floor(rnd() * 40);
      const half = k >= 750;
      let source: string | null = null;
      let target: string | null = null;
      let name = '';
      if (type.startsWith('user_')) {
        source = `u${u}`;
        target = rnd() < 0.1 ? null : `t-${integration}-${u}${half && u % 5 === 0 ? '-relinked' : ''}`;
        name = half && u % 4 === 0 ? `Renamed${u}@Example.com` : `user${u}@example.com`;
        if (rnd() < 0.5) {
          store.saveUser(integration, { sourceId: source, targetId: target, status: 'active', attrs: { userName: name } });
        }
      } else if (type.startsWith('group_')) {
        source = `g${u % 6}`;
        target = `tg-${u % 6}`;
        name = `Group ${u % 6}`;
      }
      const carries = type.startsWith('group_') || rnd() < 0.5;
      if (!carries && source) store.saveUser(integration, { sourceId: source, targetId: target, status: 'active', attrs: { userName: name } });
      if (type.startsWith('group_') && !carries) store.saveGroup(integration, { sourceId: source!, targetId: target, status: 'active', displayName: name });
      const cycle = rnd() < 0.1 ? null : `cycle-${Math.floor(k / 100)}`;
      const result = pick(EVENT_RESULTS);
      store.insertEvent({
        time: new Date(time).toISOString(),
        integration,
        cycleId: cycle,
        type,
        result,
        sourceId: source,
        targetId: target,
        summary: `${type} ${source ?? ''}`,
        detail: { k },
        ...(carries && source ? { subject: name } : {}),
      });
      written.push({ time, integration, cycle, type, result, source, target, name });
    }
  });
  const ids = store.eventsAfter(0, 10_000).map((e) => e.id);
  expect(ids).toHaveLength(written.length);
  return written.map((w, i) => ({ ...w, id: ids[i]! }));
}

/** What a listing must hold, worked out from what was written. */
function expected(log: readonly Written[], q: EventQuery): number[] {
  const lower = (s: string) => s.toLowerCase();
  const u = q.user ?? '';
  const hit = (w: Written) => w.source === u || w.target === u || (w.name !== '' && lower(w.name) === lower(u));
  const sources = new Set(log.filter((w) => w.source && hit(w)).map((w) => `${w.integration}\0${w.source}`));
  const since = q.since ? Date.parse(q.since) : -Infinity;
  const until = q.until ? Date.parse(q.until) : Infinity;
  let rows = log.filter(
    (w) =>
      (!q.integration || w.integration === q.integration) &&
      (!q.type || w.type === q.type) &&
      (!q.result || w.result === q.result) &&
      (!q.cycle || w.cycle === q.cycle) &&
      w.time >= since &&
      w.time <= until &&
      (!u || ((w.source !== null || w.target !== null) && (hit(w) || (w.source !== null && sources.has(`${w.integration}\0${w.source}`))))),
  );
  const before = (a: Written, b: Written) => a.time - b.time || a.id - b.id;
  rows.sort(before);
  const newest = q.order === 'newest';
  if (newest) rows.reverse();
  if (q.after !== undefined) {
    const cursor = log.find((w) => w.id === q.after);
    if (!cursor) rows = newest ? [] : rows;
    else rows = rows.filter((w) => (newest ? before(w, cursor) < 0 : before(w, cursor) > 0));
  }
  if (q.limit !== undefined) rows = !newest && q.after === undefined ? rows.slice(-q.limit) : rows.slice(0, q.limit);
  return rows.map((w) => w.id);
}

describe('the event log', () => {
  let store: SqliteStateStore;
  let log: Written[];
  beforeAll(() => {
    store = SqliteStateStore.open(dbPath());
    log = seed(store);
  });

  it('gives back every event as written, with the userName or displayName it was written with', () => {
    const all = store.queryEvents({});
    const byId = new Map(log.map((w) => [w.id, w]));
    for (const e of all) {
      const w = byId.get(e.id)!;
      expect([e.time, e.integration, e.cycleId, e.type, e.result, e.sourceId, e.targetId]).toEqual([
        new Date(w.time).toISOString(),
        w.integration,
        w.cycle,
        w.type,
        w.result,
        w.source,
        w.target,
      ]);
    }
    const names = store.db.prepare<[], { id: number; subject: string | null }>('SELECT id, subject FROM events').all();
    for (const r of names) expect(r.subject ?? '').toBe(byId.get(r.id)!.name);
  });

  it('answers every filter and combination, in order, with keyset pages and limits', () => {
    const rnd = random(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const users = ['u3', 'U3', 't-gong-5', 't-app-5-relinked', 'user8@EXAMPLE.com', 'renamed8@example.com', 'Group 2', 'g1', 'nobody'];
    for (let n = 0; n < 400; n++) {
      const q: EventQuery = {};
      if (rnd() < 0.3) q.integration = pick([...INTEGRATIONS, 'none']);
      if (rnd() < 0.3) q.type = pick(EVENT_TYPES);
      if (rnd() < 0.3) q.result = pick(EVENT_RESULTS);
      if (rnd() < 0.3) q.user = pick(users);
      if (rnd() < 0.3) q.since = new Date(T0 + Math.floor(rnd() * 1500) * 1000).toISOString();
      if (rnd() < 0.3) q.until = new Date(T0 + Math.floor(rnd() * 1500) * 1000).toISOString();
      if (rnd() < 0.2) q.cycle = `cycle-${Math.floor(rnd() * 16)}`;
      if (rnd() < 0.3) q.after = rnd() < 0.1 ? 0 : pick(log).id;
      if (rnd() < 0.3) q.limit = 1 + Math.floor(rnd() * 30);
      if (rnd() < 0.3) q.order = 'newest';
      expect(store.queryEvents(q).map((e) => e.id), JSON.stringify(q)).toEqual(expected(log, q));
    }
  });

  it('pages a filter with --after and --limit without a gap or a repeat, either way', () => {
    for (const filter of [{}, { user: 'u7' }, { type: 'user_update_provision' as const }, { integration: 'gong', result: 'failure' as const }]) {
      for (const order of ['oldest', 'newest'] as const) {
        const whole = store.queryEvents({ ...filter, order }).map((e) => e.id);
        const paged: number[] = [];
        let after = order === 'oldest' ? 0 : undefined;
        for (;;) {
          const page = store.queryEvents({ ...filter, order, limit: 7, ...(after === undefined ? {} : { after }) });
          paged.push(...page.map((e) => e.id));
          if (page.length < 7) break;
          after = page.at(-1)!.id;
        }
        expect(paged).toEqual(whole);
      }
    }
  });

  it('finds a user by any name it had and any target id, in any case', () => {
    const ids = (q: EventQuery) => store.queryEvents(q).map((e) => e.id);
    // A user renamed halfway, with events under both names.
    const renamed = log.find((w) => w.integration === 'app' && w.name.startsWith('Renamed') && log.some((o) => o.integration === 'app' && o.source === w.source && o.name.startsWith('user')))!;
    const u = renamed.source!.slice(1);
    const all = ids({ user: `u${u}`, integration: 'app' });
    expect(all).toEqual(log.filter((w) => w.integration === 'app' && w.source === `u${u}`).map((w) => w.id));
    expect(ids({ user: `USER${u}@example.com`, integration: 'app' })).toEqual(all);
    expect(ids({ user: `renamed${u}@EXAMPLE.COM`, integration: 'app' })).toEqual(all);
    expect(ids({ user: 't-app-5-relinked' })).toEqual(ids({ user: 'u5', integration: 'app' }));
  });

  it('streams: a reader that stops early leaves the connection free', () => {
    const it = store.iterateEvents({});
    expect(it.next().done).toBe(false);
    it.return?.();
    expect(store.queryEvents({ limit: 1 })).toHaveLength(1);
  });

  it('answers every combination of filters from an index, and sorts only a user’s events or a limit’s page', () => {
    const codes: CodeLookup = { integration: () => 1, cycle: () => 1, type: () => 5 };
    const filters: EventQuery = { integration: 'app', type: 'user_create_provision', result: 'failure', user: 'ada', since: '2026-01-01T00:00:00Z', until: '2026-02-01T00:00:00Z', cycle: 'c1', after: log[5]!.id, limit: 20 };
    const keys = Object.keys(filters) as (keyof EventQuery)[];
    for (let mask = 0; mask < 1 << keys.length; mask++) {
      for (const order of ['oldest', 'newest'] as const) {
        const q: EventQuery = { order };
        keys.forEach((k, i) => mask & (1 << i) && Object.assign(q, { [k]: filters[k] }));
        const planned = planEventQuery(store.db, codes, q)!;
        const plan = store.db.prepare<Record<string, string | number>, { detail: string }>(`EXPLAIN QUERY PLAN ${planned.sql}`).all(planned.params).map((r) => r.detail);
        const unfiltered = mask === 0 || keys.every((k, i) => !(mask & (1 << i)) || k === 'limit');
        for (const line of plan) {
          if (/^SCAN (l|event_subjects|s2)\b/.test(line)) expect(unfiltered && line === 'SCAN l USING INDEX event_log_by_time', `${JSON.stringify(q)}: ${line}`).toBe(true);
        }
        const sorts = plan.some((l) => l.startsWith('USE TEMP B-TREE FOR ORDER BY'));
        expect(sorts, `${JSON.stringify(q)}: ${plan.join(' | ')}`).toBe(Boolean(q.user) || (q.limit !== undefined && q.after === undefined && order === 'oldest'));
      }
    }
  });

  it('lets the most selective of two equality filters drive the listing', () => {
    const s = SqliteStateStore.open(dbPath());
    s.transaction(() => {
      for (let k = 0; k < 300; k++) {
        const type = k % 50 === 0 ? 'user_deprovision' : 'user_update_provision';
        const result = k % 60 === 1 ? 'failure' : 'success';
        s.insertEvent({ time: new Date(T0 + k).toISOString(), integration: 'app', type, result, sourceId: `u${k}`, summary: 's' });
      }
    });
    const codes: CodeLookup = { integration: () => 1, cycle: () => undefined, type: (t) => (t === 'user_deprovision' ? 7 : 6) };
    const driver = (q: EventQuery) => {
      const p = planEventQuery(s.db, codes, q)!;
      return s.db.prepare<Record<string, string | number>, { detail: string }>(`EXPLAIN QUERY PLAN ${p.sql}`).all(p.params)[0]!.detail;
    };
    expect(driver({ type: 'user_deprovision', result: 'success' })).toMatch(/event_log_by_type/);
    expect(driver({ type: 'user_update_provision', result: 'failure' })).toMatch(/event_log_by_result/);
    s.close();
  });
});

describe('event retention', () => {
  const fill = (store: SqliteStateStore, n: number) =>
    store.transaction(() => {
      for (let k = 0; k < n; k++) store.insertEvent({ time: new Date(T0 + k * 60_000).toISOString(), integration: 'app', type: 'user_update_provision', result: 'success', sourceId: `u${k}`, summary: `e${k}` });
    });

  it('prunes in bounded batches, and says while more are due', () => {
    const store = SqliteStateStore.open(dbPath());
    fill(store, 20);
    const before = new Date(T0 + 12 * 60_000).toISOString();
    const batches: { deleted: number; more: boolean }[] = [];
    for (let r = store.pruneEvents({ before, batch: 5 }); ; r = store.pruneEvents({ before, batch: 5 })) {
      batches.push(r);
      if (!r.more) break;
    }
    expect(batches).toEqual([
      { deleted: 5, more: true },
      { deleted: 5, more: true },
      { deleted: 2, more: false },
    ]);
    expect(store.queryEvents({}).map((e) => e.summary)).toEqual(Array.from({ length: 8 }, (_, k) => `e${k + 12}`));
    expect(store.pruneEvents({ maxRows: 3, batch: 4 })).toEqual({ deleted: 4, more: true });
    expect(store.pruneEvents({ maxRows: 3, batch: 4 })).toEqual({ deleted: 1, more: false });
    expect(store.queryEvents({}).map((e) => e.summary)).toEqual(['e17', 'e18', 'e19']);
    expect(store.pruneEvents(new Date(T0 + 19 * 60_000).toISOString())).toBe(2);
    store.close();
  });

  it('never gives an id twice, even after every event was pruned', () => {
    const store = SqliteStateStore.open(dbPath());
    fill(store, 5);
    expect(store.pruneEvents({ maxRows: 0, batch: 100 })).toEqual({ deleted: 5, more: false });
    expect(store.lastEventId()).toBe(0);
    fill(store, 1);
    expect(store.queryEvents({})[0]!.id).toBe(6);
    store.close();
  });
});

describe('the event log’s migration and its view for SQL written before it', () => {
  it('moves events of the earlier table, names from the objects, ids and unknown values kept', () => {
    const path = dbPath();
    const db: Database.Database = openStateFile(path);
    migrate(db, { upTo: 8 });
    db.prepare(`INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, 'x', 'x')`).run('app', 'user', 'u1', 't1', '{"userName":"Ada@Example.com"}');
    db.prepare(`INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, 'x', 'x')`).run('app', 'group', 'g1', 'tg1', '{"displayName":"Sales"}');
    const insert = db.prepare(`INSERT INTO events (id, time, integration, cycle_id, type, result, source_id, target_id, summary, detail) VALUES (?, ?, 'app', ?, ?, ?, ?, ?, ?, ?)`);
    insert.run(3, '2026-03-01T10:00:00.123Z', 'c1', 'user_create_provision', 'success', 'u1', 't1', 'created', '{"attempts":1}');
    insert.run(4, '2026-03-01T10:00:01.000Z', 'c1', 'group_update_provision', 'failure', 'g1', 'tg1', 'members', '{"status":500}');
    insert.run(5, '2026-03-01T10:00:02.000Z', null, 'idm_integration_update', 'skipped', null, null, 'config', 'not json');
    insert.run(6, '2026-03-01T10:00:03.000Z', 'c2', 'user_renamed_provision', 'success', 'u1', null, 'a type of a later scimsync', '{}');
    insert.run(9, '2026-03-01T10:00:04.000Z', 'c2', 'user_update_provision', 'success', 'u1', 't1', 'deleted before the migration', '{}');
    db.prepare('DELETE FROM events WHERE id = 9').run();
    db.close();
    const store = SqliteStateStore.open(path);
    expect(store.queryEvents({}).map((e) => [e.id, e.time, e.cycleId, e.type, e.result, e.sourceId, e.targetId, e.detail])).toEqual([
      [3, '2026-03-01T10:00:00.123Z', 'c1', 'user_create_provision', 'success', 'u1', 't1', { attempts: 1 }],
      [4, '2026-03-01T10:00:01.000Z', 'c1', 'group_update_provision', 'failure', 'g1', 'tg1', { status: 500 }],
      [5, '2026-03-01T10:00:02.000Z', null, 'idm_integration_update', 'skipped', null, null, { text: 'not json' }],
      [6, '2026-03-01T10:00:03.000Z', 'c2', 'user_renamed_provision', 'success', 'u1', null, {}],
    ]);
    expect(store.queryEvents({ user: 'ada@example.com' }).map((e) => e.id)).toEqual([3, 6]);
    expect(store.queryEvents({ user: 'SALES' }).map((e) => e.id)).toEqual([4]);
    // The deleted event 9 keeps its id taken.
    store.insertEvent({ time: '2026-03-01T10:00:05.000Z', integration: 'app', type: 'user_update_provision', result: 'success', sourceId: 'u1', summary: 'after' });
    store.flush();
    expect(store.lastEventId()).toBe(10);
    store.close();
  });

  it('reads and writes the view `events` as the earlier table, and knows every event type', () => {
    const store = SqliteStateStore.open(dbPath());
    for (const type of EVENT_TYPES) store.insertEvent({ time: '2026-03-01T10:00:00.000Z', integration: 'app', type, result: 'success', summary: type });
    store.db
      .prepare(`INSERT INTO events (time, integration, cycle_id, type, result, source_id, target_id, summary, detail) VALUES (?, 'raw', 'c9', 'user_deprovision', 'failure', 'u9', 't9', 'by SQL', '{"a":1}')`)
      .run('2026-03-01T11:00:00.500Z');
    store.flush();
    expect(store.queryEvents({}).map((e) => e.type)).toEqual([...EVENT_TYPES, 'user_deprovision']);
    const raw = store.db.prepare('SELECT * FROM events WHERE integration = ?').get('raw');
    expect(raw).toEqual({ id: EVENT_TYPES.length + 1, time: '2026-03-01T11:00:00.500Z', integration: 'raw', cycle_id: 'c9', type: 'user_deprovision', result: 'failure', source_id: 'u9', target_id: 't9', summary: 'by SQL', detail: '{"a":1}', subject: null });
    expect(store.queryEvents({ user: 't9' }).map((e) => e.summary)).toEqual(['by SQL']);
    store.close();
  });
});

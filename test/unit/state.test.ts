import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { attrsDigest, membersDigest, NO_MEMBERS, withMember, withoutMember } from '../../src/core/digest.js';
import { planCycle } from '../../src/core/plan-users.js';
import { type DesiredUser } from '../../src/core/records.js';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import { migrations } from '../../state/sqlite/migrations.js';
import type { StateStore } from '../../state/index.js';

const dbPath = () => join(mkdtempSync(join(tmpdir(), 'scimsync-state-')), 'state.db');

describe('digests', () => {
  it('tell attribute sets apart by path, value, type and order', () => {
    const base = { userName: 'ada@example.com', title: 'Engineer', 'name.givenName': 'Ada' };
    expect(attrsDigest({ ...base })).toBe(attrsDigest(base));
    const variants = [
      { ...base, title: 'Engineer ' },
      { ...base, title: 'Manager' },
      { userName: 'ada@example.com', title: 'Engineer' },
      { ...base, 'name.familyName': 'Lovelace' },
      { ...base, costCenter: 7 },
      { ...base, costCenter: '7' },
      { ...base, manager: { userRef: 'u1' } },
      { ...base, manager: 'u1' },
      { 'name.givenName': 'Ada', userName: 'ada@example.com', title: 'Engineer' },
      { userName: 'ada@example.comEngineer', title: '', 'name.givenName': 'Ada' },
    ];
    const digests = new Set([attrsDigest(base), ...variants.map(attrsDigest)]);
    expect(digests.size).toBe(variants.length + 1);
    for (const d of digests) expect(Number.isSafeInteger(d) && d >= 0).toBe(true);
  });

  it('give a member set the same digest in any order, and follow one member in or out', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `u${i}`);
    const d = membersDigest(ids);
    expect(membersDigest([...ids].reverse())).toBe(d);
    expect(membersDigest([])).toBe(NO_MEMBERS);
    expect(withoutMember(d, 'u7')).toBe(membersDigest(ids.filter((id) => id !== 'u7')));
    expect(withMember(withoutMember(d, 'u7'), 'u7')).toBe(d);
    expect(withoutMember(withMember(d, 'x'), 'x')).toBe(d);
    expect(membersDigest(['u1', 'u2'])).not.toBe(membersDigest(['u1', 'u3']));
    expect(membersDigest(['u1'])).not.toBe(membersDigest(['u1', 'u1', 'u1']));
  });
});

describe('state store', () => {
  it('reads users without their attributes, and an unchanged user costs no operation', () => {
    const store = SqliteStateStore.open(dbPath());
    const attrs = { userName: 'ada@example.com', title: 'Engineer' };
    store.saveUser('app', { sourceId: 'u1', targetId: 't1', status: 'active', attrs });
    store.saveUser('app', { sourceId: 'u2', targetId: 't2', status: 'active', attrs: { userName: 'alan@example.com' } });
    store.flush();
    const state = store.loadUsers('app');
    expect(state.map((s) => s.digest)).toEqual([attrsDigest(attrs), attrsDigest({ userName: 'alan@example.com' })]);
    const desired: DesiredUser[] = [
      { sourceId: 'u1', attrs: { ...attrs }, active: true },
      { sourceId: 'u2', attrs: { userName: 'alan@example.com', title: 'Analyst' }, active: true },
    ];
    const plan = planCycle({ desired: desired, state: state, options: { deprovision: 'deactivate' } });
    expect(plan.operations).toEqual([
      expect.objectContaining({ kind: 'user.update', sourceId: 'u2', changes: { set: { title: 'Analyst' }, remove: [] } }),
    ]);
    // Attributes are still there for whoever looks.
    expect(state[0]!.attrs).toEqual(attrs);
    store.close();
  });

  it('keeps each group’s member digest equal to its members through every kind of change', () => {
    const store = SqliteStateStore.open(dbPath());
    const group = { sourceId: 'g1', targetId: 'tg1', status: 'active' as const, displayName: 'Sales' };
    const check = () => {
      store.flush();
      const [g] = store.loadGroups('app');
      expect(g!.membersDigest).toBe(membersDigest(g!.members));
      return [...g!.members].sort();
    };
    store.saveGroup('app', group);
    expect(check()).toEqual([]);
    store.saveGroup('app', group, { members: ['u1', 'u2', 'u3'] });
    expect(check()).toEqual(['u1', 'u2', 'u3']);
    // Adding a member already there and removing one that is not change nothing.
    store.saveGroup('app', group, { add: ['u3', 'u4'], remove: ['u1', 'u9'] });
    expect(check()).toEqual(['u2', 'u3', 'u4']);
    store.dropMemberships('app', 'u3');
    expect(check()).toEqual(['u2', 'u4']);
    store.saveGroup('app', { ...group, displayName: 'Sales EMEA' });
    expect(check()).toEqual(['u2', 'u4']);
    store.saveGroup('app', group, { members: ['u5'] });
    expect(check()).toEqual(['u5']);
    store.close();
  });

  it('opens an up-to-date state while another connection is writing, without waiting for its lock', () => {
    const path = dbPath();
    const writing = SqliteStateStore.open(path);
    writing.db.exec('BEGIN IMMEDIATE');
    writing.saveUser('app', { sourceId: 'u1', targetId: 't1', status: 'active', attrs: { userName: 'u1@example.com' } });
    const started = Date.now();
    const reader = SqliteStateStore.open(path);
    // The busy timeout is 5 s: opening must not have queued for the write lock.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(reader.loadUsers('app')).toHaveLength(0);
    writing.db.exec('COMMIT');
    expect(reader.loadUsers('app')).toHaveLength(1);
    reader.close();
    writing.close();
  });

  it('applies a batch of writes as one by one would, in-flight clears gathered', () => {
    const store = SqliteStateStore.open(dbPath());
    const put = (keys: string[]) => ({ kind: 'inflight' as const, integration: 'app', cycleId: 'c1', at: '2026-01-01T00:00:00.000Z', ops: keys.map((k) => ({ key: k, kind: 'user.create', sourceId: k })) });
    const clear = (key: string, integration = 'app') => ({ kind: 'inflight.clear' as const, integration, key });
    store.transaction(() => store.applyBatch([put(['a', 'b', 'c']), { ...put(['a']), integration: 'other' }]));
    // b cleared; a cleared then recorded again in the same batch; c and the other integration's a untouched.
    store.transaction(() => store.applyBatch([clear('b'), clear('a'), put(['a']), clear('zz'), clear('x', 'other')]));
    expect(store.loadInflight('app').map((e) => e.key).sort()).toEqual(['a', 'c']);
    expect(store.loadInflight('other').map((e) => e.key)).toEqual(['a']);
    store.close();
  });

  it('adds the digests to state written before they existed', () => {
    const path = dbPath();
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const m of migrations.filter((m) => m.version <= 6)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, '2026-01-01T00:00:00Z');
    }
    const attrs = { userName: 'ada@example.com', title: 'Engineer' };
    const insert = old.prepare(`INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at) VALUES ('app', ?, ?, ?, 'active', ?, 'x', 'x')`);
    insert.run('user', 'u1', 't1', JSON.stringify(attrs));
    insert.run('group', 'g1', 'tg1', JSON.stringify({ displayName: 'Sales' }));
    insert.run('group', 'g2', 'tg2', JSON.stringify({ displayName: 'Empty' }));
    for (const u of ['u1', 'u2']) old.prepare(`INSERT INTO group_members VALUES ('app', 'g1', ?)`).run(u);
    old.close();

    const store = SqliteStateStore.open(path);
    expect(store.loadUsers('app')[0]!.digest).toBe(attrsDigest(attrs));
    const groups = store.loadGroups('app');
    expect(groups.map((g) => [g.sourceId, g.membersDigest])).toEqual([
      ['g1', membersDigest(['u1', 'u2'])],
      ['g2', NO_MEMBERS],
    ]);
    store.close();
  });
});

describe('the writer thread of a delivery', () => {
  // Run from these TypeScript sources as from the build: the thread loads them through tsx.
  const user = (id: string) => ({ sourceId: id, targetId: `t-${id}`, status: 'active' as const, attrs: { userName: `${id}@example.com` } });

  it('commits in-flight records before their ticket returns, and everything by the time it stops', async () => {
    const path = dbPath();
    const store = SqliteStateStore.open(path);
    const other = new Database(path, { readonly: true });
    const count = (table: string) => (other.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number);
    expect(store.startBackgroundWrites()).toBe(true);
    expect(store.writesInBackground).toBe(true);
    const ticket = store.markInflight('app', [{ key: 'user:u1', kind: 'user.create', sourceId: 'u1' }], 'c1');
    store.awaitInflight(ticket);
    expect(count('inflight')).toBe(1);
    for (let i = 0; i < 500; i++) store.saveUser('app', user(`u${i}`));
    store.insertEvent({ time: new Date().toISOString(), integration: 'app', cycleId: 'c1', type: 'user_create_provision', result: 'success', sourceId: 'u1', summary: 'created', detail: {} });
    store.clearInflight('app', 'user:u1');
    await store.stopBackgroundWrites();
    expect(store.writesInBackground).toBe(false);
    expect([count('objects'), count('events'), count('inflight')]).toEqual([500, 1, 0]);
    // The main connection reads what the thread wrote, digests included.
    expect(store.loadUsers('app').find((s) => s.sourceId === 'u7')?.digest).toBe(attrsDigest(user('u7').attrs));
    other.close();
    store.close();
  });

  /** A ticket of a writer that has stopped returns at once from the new writer, whose own tickets come after it. */
  const expectEarlierTicketHonoured = (store: StateStore, early: number) => {
    const started = Date.now();
    store.awaitInflight(early);
    expect(Date.now() - started).toBeLessThan(1000);
    const later = store.markInflight('app', [{ key: 'user:u2', kind: 'user.create', sourceId: 'u2' }], 'c2');
    expect(later).toBeGreaterThan(early);
    store.awaitInflight(later);
    expect(store.loadInflight('app').map((e) => e.key).sort()).toEqual(['user:u1', 'user:u2']);
  };

  it('honours a ticket from an earlier writer, as when two integrations deliver side by side', async () => {
    const store = SqliteStateStore.open(dbPath());
    store.startBackgroundWrites();
    const early = store.markInflight('app', [{ key: 'user:u1', kind: 'user.create', sourceId: 'u1' }], 'c1');
    await store.stopBackgroundWrites();
    store.startBackgroundWrites();
    // Committed when the first writer stopped: returns at once, instead of waiting for the new writer's batches.
    expectEarlierTicketHonoured(store, early);
    await store.stopBackgroundWrites();
    store.close();
  });

  it('uses a writer started ahead of the delivery, numbered on from the writers before it', async () => {
    const store = SqliteStateStore.open(dbPath());
    store.startBackgroundWrites();
    const early = store.markInflight('app', [{ key: 'user:u1', kind: 'user.create', sourceId: 'u1' }], 'c1');
    // Booting while the first delivery still runs, as the next cycle's would in the daemon.
    store.prepareBackgroundWrites();
    await store.stopBackgroundWrites();
    store.saveUser('app', user('u0'));
    expect(store.startBackgroundWrites()).toBe(true);
    expectEarlierTicketHonoured(store, early);
    store.saveUser('app', user('u3'));
    await store.stopBackgroundWrites();
    // Written on the main thread before the prepared writer took over, and on it after.
    expect(store.loadUsers('app').map((u) => u.sourceId).sort()).toEqual(['u0', 'u3']);
    store.close();
  });

  it('turns a write the database refuses into a one-line state error for the cycle', async () => {
    const store = SqliteStateStore.open(dbPath());
    store.startBackgroundWrites();
    // The schema only knows active, inactive and deleted.
    store.saveUser('app', { ...user('u1'), status: 'gone' as 'active' });
    let error: unknown;
    try {
      await store.stopBackgroundWrites();
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ name: 'StateError', exitCode: 1 });
    expect((error as Error).message).toMatch(/^\[scimsync\] state: writing the results failed: CHECK constraint failed/);
    expect((error as Error).message).not.toContain('\n');
    store.close();
  });
});

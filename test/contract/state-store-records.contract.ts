/** The StateStore contract, part two: integrations, leases, held plans, cycles, events, inspection and purge. */
import { describe, expect, it } from 'vitest';
import type { StateStore } from '../../state/index.js';
import { event, failure, group, op, user, type Fresh } from './state-store-fixtures.js';

export function testStateRecords(fresh: Fresh): void {
  describe('integrations', () => {
    it('keep their fingerprints, and the state its one fingerprint key', () => {
      const { store, another } = fresh();
      expect(store.getIntegration('app')).toBeUndefined();
      store.putIntegration({ name: 'zeta', configHash: 'c0', authHash: 'a0' });
      store.putIntegration({ name: 'app', configHash: 'c1', authHash: 'a1' });
      store.putIntegration({ name: 'app', configHash: 'c2', authHash: 'a1' });
      expect(store.getIntegration('app')).toEqual({ name: 'app', configHash: 'c2', authHash: 'a1' });
      expect(store.knownIntegrations()).toEqual(['app', 'zeta']);
      const key = store.fingerprintKey();
      expect(key).toHaveLength(32);
      store.close();
      expect(another().fingerprintKey().equals(key)).toBe(true);
      expect(fresh().store.fingerprintKey().equals(key)).toBe(false);
    });

    it('keep the users of the last good snapshot', () => {
      const { store } = fresh();
      store.putIntegration({ name: 'app', configHash: 'c', authHash: 'a' });
      expect(store.lastSourceUsers('app')).toBeUndefined();
      store.setLastSourceUsers('app', 120);
      expect(store.lastSourceUsers('app')).toBe(120);
    });

    it('quarantine with a back-off level that a lift resets, unless told to keep it', () => {
      const { store } = fresh();
      store.putIntegration({ name: 'app', configHash: 'c', authHash: 'a' });
      expect(store.getQuarantine('app')).toBeUndefined();
      expect(store.quarantineLevel('app')).toBe(0);
      store.setQuarantine('app', { until: '2026-03-01T11:00:00.000Z', level: 2, reason: 'HTTP 401' });
      expect(store.getQuarantine('app')).toEqual({ until: '2026-03-01T11:00:00.000Z', level: 2, reason: 'HTTP 401' });
      store.setQuarantine('app', undefined, { keepLevel: true });
      expect(store.getQuarantine('app')).toBeUndefined();
      expect(store.quarantineLevel('app')).toBe(2);
      store.setQuarantine('app', { until: '2026-03-01T12:00:00.000Z', level: 3, reason: 'HTTP 403' });
      store.setQuarantine('app', undefined, { keepLevel: true });
      expect(store.quarantineLevel('app')).toBe(3);
      store.setQuarantine('app', undefined);
      expect(store.quarantineLevel('app')).toBe(0);
    });
  });

  describe('leases', () => {
    const ttl = 60_000;
    const now = Date.parse('2026-03-01T10:00:00.000Z');

    it('go to one owner at a time across connections, renew, expire and are released by their owner only', () => {
      const { store: a, another } = fresh();
      const b = another();
      expect(a.takeLease('app', 'owner-a', ttl, now)).toBe(true);
      expect(b.takeLease('app', 'owner-b', ttl, now + 1)).toBe(false);
      expect(b.leaseHolder('app')).toBe('owner-a');
      expect(b.leaseExpiresAt('app')).toBe(now + ttl);
      expect(b.leaseExpiresAt('none')).toBeUndefined();
      expect(b.takeLease('other', 'owner-b', ttl, now)).toBe(true);
      // Renewed by its owner: still held past the first expiry.
      expect(a.takeLease('app', 'owner-a', ttl, now + 30_000)).toBe(true);
      expect(b.takeLease('app', 'owner-b', ttl, now + ttl + 1)).toBe(false);
      // Expired: the next asker takes it.
      expect(b.takeLease('app', 'owner-b', ttl, now + 30_000 + ttl + 1)).toBe(true);
      expect(a.takeLease('app', 'owner-a', ttl, now + 30_000 + ttl + 2)).toBe(false);
      a.releaseLease('app', 'owner-a');
      a.flush();
      expect(a.leaseHolder('app')).toBe('owner-b');
      b.releaseLease('app', 'owner-b');
      b.flush();
      expect(a.leaseHolder('app')).toBeUndefined();
      expect(a.takeLease('app', 'owner-a', ttl, now + 30_000 + ttl + 3)).toBe(true);
    });

    it('are durable as soon as taken, even with other writes not yet flushed', () => {
      const { store: a, another } = fresh();
      const b = another();
      a.saveUser('app', user('u1'));
      expect(a.takeLease('app', 'owner-a', ttl, now)).toBe(true);
      expect(b.leaseHolder('app')).toBe('owner-a');
      expect(b.takeLease('app', 'owner-b', ttl, now)).toBe(false);
    });
  });

  describe('held plans', () => {
    const plan = (ids: string[]) => ({ reason: 'too many deletes', managed: 10, objects: ids.map((id) => ({ kind: 'user', sourceId: id, userName: `${id}@example.com` })) });

    it('keep their approval when held again with the same deprovisions, and lose it when they differ', () => {
      const { store } = fresh();
      expect(store.getHeldPlan('app')).toBeUndefined();
      expect(store.setApproval('app', '2026-03-01T10:00:00.000Z')).toBe(false);
      const held = store.holdPlan('app', plan(['u1', 'u2']), new Date('2026-03-01T09:00:00.000Z'));
      expect(held).toEqual({ ...plan(['u1', 'u2']), heldAt: '2026-03-01T09:00:00.000Z', approvedAt: null });
      expect(store.getHeldPlan('app')).toEqual(held);
      expect(store.setApproval('app', '2026-03-01T10:00:00.000Z')).toBe(true);
      expect(store.holdPlan('app', plan(['u2', 'u1'])).approvedAt).toBe('2026-03-01T10:00:00.000Z');
      expect(store.getHeldPlan('app')?.approvedAt).toBe('2026-03-01T10:00:00.000Z');
      expect(store.holdPlan('app', plan(['u1', 'u3'])).approvedAt).toBeNull();
      store.setApproval('app', '2026-03-01T11:00:00.000Z');
      expect(store.setApproval('app', null)).toBe(true);
      expect(store.getHeldPlan('app')?.approvedAt).toBeNull();
      store.clearHeldPlan('app');
      expect(store.getHeldPlan('app')).toBeUndefined();
    });
  });

  describe('cycles', () => {
    it('record start, end, outcome and counts; the last one is the latest that was not a dry run', () => {
      const { store } = fresh();
      expect(store.lastCycle('app')).toBeUndefined();
      store.startCycle('c1', 'app', false, new Date('2026-03-01T10:00:00.000Z'));
      expect(store.lastCycle('app')).toMatchObject({ id: 'c1', endedAt: null, outcome: null, counts: {} });
      store.finishCycle('c1', 'partial', { created: 3, failed: 1 }, new Date('2026-03-01T10:05:00.000Z'));
      store.startCycle('c2', 'app', true, new Date('2026-03-01T11:00:00.000Z'));
      store.finishCycle('c2', 'success', {}, new Date('2026-03-01T11:00:01.000Z'));
      expect(store.lastCycle('app')).toEqual({
        id: 'c1',
        integration: 'app',
        startedAt: '2026-03-01T10:00:00.000Z',
        endedAt: '2026-03-01T10:05:00.000Z',
        outcome: 'partial',
        counts: { created: 3, failed: 1 },
      });
      expect(store.lastCycle('other')).toBeUndefined();
      store.startCycle('c3', 'app', false, new Date('2026-03-01T12:00:00.000Z'));
      store.startCycle('c4', 'app', false, new Date('2026-03-01T13:00:00.000Z'));
      expect(store.recentCycles('app', 2).map((c) => c.id)).toEqual(['c4', 'c3']);
      expect(store.recentCycles('app', 10).map((c) => c.id)).toEqual(['c4', 'c3', 'c1']);
      expect(store.recentCycles('other', 10)).toEqual([]);
    });
  });

  describe('events', () => {
    it('are queried by integration, type, result, user, time and position, oldest first', () => {
      const { store } = fresh();
      store.saveUser('app', { ...user('u2'), attrs: { userName: 'Ada@Example.com' } });
      store.insertEvent(event({ time: '2026-03-01T10:00:00.000Z' }));
      store.insertEvent(event({ time: '2026-03-01T10:01:00.000Z', type: 'user_update_provision', result: 'failure', sourceId: 'u2', targetId: 't-u2', detail: { status: 500 } }));
      store.insertEvent(event({ time: '2026-03-01T10:02:00.000Z', integration: 'other', sourceId: 'u2', targetId: null }));
      store.insertEvent(event({ time: '2026-03-01T10:03:00.000Z', type: 'user_deprovision', sourceId: 'u3', targetId: 't-u3', cycleId: null }));
      store.flush();
      const all = store.queryEvents({});
      expect(all.map((e) => e.time)).toEqual(['2026-03-01T10:00:00.000Z', '2026-03-01T10:01:00.000Z', '2026-03-01T10:02:00.000Z', '2026-03-01T10:03:00.000Z']);
      expect(all[1]).toMatchObject({ integration: 'app', cycleId: 'c1', type: 'user_update_provision', result: 'failure', sourceId: 'u2', targetId: 't-u2', summary: 'created', detail: { status: 500 } });
      expect(all[3]).toMatchObject({ cycleId: null, detail: { status: 201 } });
      const times = (q: Parameters<StateStore['queryEvents']>[0]) => store.queryEvents(q).map((e) => e.time.slice(11, 16));
      expect(times({ integration: 'app' })).toEqual(['10:00', '10:01', '10:03']);
      expect(times({ type: 'user_deprovision' })).toEqual(['10:03']);
      expect(times({ result: 'failure' })).toEqual(['10:01']);
      // By source id, target id, or the userName last pushed in any case.
      expect(times({ user: 'u3' })).toEqual(['10:03']);
      expect(times({ user: 't-u1' })).toEqual(['10:00']);
      expect(times({ user: 'ada@EXAMPLE.com' })).toEqual(['10:01']);
      expect(times({ since: '2026-03-01T10:01:00.000Z', until: '2026-03-01T10:02:00.000Z' })).toEqual(['10:01', '10:02']);
      expect(times({ afterId: all[1]!.id })).toEqual(['10:02', '10:03']);
      // A limit keeps the newest, still oldest first.
      expect(times({ limit: 2 })).toEqual(['10:02', '10:03']);
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));
    });

    it('are paged newest first by keyset, by cycle and by a user’s ids, and read one by id', () => {
      const { store } = fresh();
      store.insertEvent(event({ time: '2026-03-01T10:00:00.000Z', cycleId: 'c1', sourceId: 'u1', targetId: 't-u1' }));
      store.insertEvent(event({ time: '2026-03-01T10:01:00.000Z', cycleId: 'c1', sourceId: 'u2', targetId: 't-u2', result: 'failure', summary: 'HTTP 500' }));
      store.insertEvent(event({ time: '2026-03-01T10:02:00.000Z', cycleId: 'c2', sourceId: 'u1', targetId: 't-u1' }));
      store.insertEvent(event({ time: '2026-03-01T10:03:00.000Z', cycleId: 'c2', sourceId: null, targetId: 't-u1', integration: 'other' }));
      store.flush();
      const minutes = (page: { time: string }[]) => page.map((e) => e.time.slice(14, 16));
      const first = store.eventsPage({ limit: 2 });
      expect(minutes(first)).toEqual(['03', '02']);
      expect(minutes(store.eventsPage({ limit: 2, after: first[1]!.id }))).toEqual(['01', '00']);
      expect(minutes(store.eventsPage({ limit: 10, cycle: 'c1' }))).toEqual(['01', '00']);
      expect(minutes(store.eventsPage({ limit: 10, userIds: ['u1', 't-u1'], integration: 'app' }))).toEqual(['02', '00']);
      expect(minutes(store.eventsPage({ limit: 10, userIds: ['t-u1'] }))).toEqual(['03', '02', '00']);
      expect(minutes(store.eventsPage({ limit: 10, result: 'failure', since: '2026-03-01T10:01:00.000Z', until: '2026-03-01T10:02:00.000Z' }))).toEqual(['01']);
      expect(store.getEvent(first[0]!.id)).toEqual(first[0]);
      expect(store.getEvent(first[0]!.id + 1000)).toBeUndefined();
      expect(store.cycleEvents({ id: 'c1', startedAt: '2026-03-01T09:59:00.000Z' })).toEqual({ done: 2, failed: 1, lastProblem: 'HTTP 500' });
      expect(store.cycleEvents({ id: 'c2', startedAt: '2026-03-01T10:02:00.000Z' })).toEqual({ done: 2, failed: 0, lastProblem: undefined });
      expect(store.cycleEvents({ id: 'c9', startedAt: '2026-03-01T09:00:00.000Z' })).toEqual({ done: 0, failed: 0, lastProblem: undefined });
    });

    it('older than a time are pruned', () => {
      const { store } = fresh();
      for (const minute of ['00', '01', '02']) store.insertEvent(event({ time: `2026-03-01T10:${minute}:00.000Z` }));
      store.flush();
      expect(store.pruneEvents('2026-03-01T10:02:00.000Z')).toBe(2);
      expect(store.queryEvents({}).map((e) => e.time)).toEqual(['2026-03-01T10:02:00.000Z']);
    });

    it('are pruned a bounded batch at a time, by age and by count, saying while more are due', () => {
      const { store } = fresh();
      for (let m = 0; m < 6; m++) store.insertEvent(event({ time: `2026-03-01T10:0${m}:00.000Z`, summary: `m${m}` }));
      store.flush();
      expect(store.pruneEvents({ before: '2026-03-01T10:03:00.000Z', batch: 2 })).toEqual({ deleted: 2, more: true });
      expect(store.pruneEvents({ before: '2026-03-01T10:03:00.000Z', batch: 2 })).toEqual({ deleted: 1, more: false });
      expect(store.pruneEvents({ maxRows: 2, batch: 10 })).toEqual({ deleted: 1, more: false });
      expect(store.queryEvents({}).map((e) => e.summary)).toEqual(['m4', 'm5']);
    });

    it('are read after an id for forwarding, and found by the name they were written with', () => {
      const { store, another } = fresh();
      expect(store.lastEventId()).toBe(0);
      store.insertEvent({ ...event({ time: '2026-03-01T10:05:00.000Z', sourceId: 'u1', targetId: 't-u1' }), subject: 'Ada@Example.com' });
      store.insertEvent(event({ time: '2026-03-01T10:00:00.000Z', sourceId: 'u2', targetId: 't-u2', cycleId: 'c2' }));
      store.insertEvent(event({ time: '2026-03-01T10:01:00.000Z', sourceId: 'u1', targetId: 't-u1', cycleId: 'c2' }));
      store.flush();
      const byId = store.eventsAfter(0, 10);
      expect(byId.map((e) => e.sourceId)).toEqual(['u1', 'u2', 'u1']);
      expect(store.eventsAfter(byId[0]!.id, 1).map((e) => e.id)).toEqual([byId[1]!.id]);
      expect(store.lastEventId()).toBe(byId[2]!.id);
      // Listings run by time; the name an event was written with finds the user's other events too.
      expect(store.queryEvents({ user: 'ada@example.com' }).map((e) => e.id)).toEqual([byId[2]!.id, byId[0]!.id]);
      expect([...store.iterateEvents({ cycle: 'c2' })].map((e) => e.id)).toEqual([byId[1]!.id, byId[2]!.id]);
      expect(store.eventsPage({ limit: 5, user: 'ADA@example.com' }).map((e) => e.id)).toEqual([byId[0]!.id, byId[2]!.id]);
      store.close();
      expect(another().eventsAfter(byId[1]!.id, 10).map((e) => e.id)).toEqual([byId[2]!.id]);
    });

    it('keep each forward sink’s position, which only moves on, and what notifications last told', () => {
      const { store, another } = fresh();
      expect(store.sinkPositions.get('siem')).toBe(0);
      store.sinkPositions.set('siem', 40);
      store.sinkPositions.set('siem', 12);
      store.sinkPositions.set('syslog', 7);
      expect(store.notifyMemory.last('app:quarantine')).toBeUndefined();
      store.notifyMemory.remember('app:quarantine', 'entered');
      store.notifyMemory.remember('app:quarantine', 'lifted');
      store.close();
      const again = another();
      expect([again.sinkPositions.get('siem'), again.sinkPositions.get('syslog')]).toEqual([40, 7]);
      expect(again.notifyMemory.last('app:quarantine')).toBe('lifted');
    });

    it('keep what was learned about each target, with its time, until the integration is purged', () => {
      const { store, another } = fresh();
      expect(store.targetFacts.get('app', 'schemas')).toBeUndefined();
      store.targetFacts.put('app', 'schemas', '{"v":1}', new Date('2026-03-01T10:00:00.000Z'));
      store.targetFacts.put('app', 'schemas', '{"v":2}', new Date('2026-03-02T10:00:00.000Z'));
      store.targetFacts.put('app', 'rate', '12.5');
      store.targetFacts.put('other', 'rate', '3');
      store.close();
      const again = another();
      expect(again.targetFacts.get('app', 'schemas')).toEqual({ value: '{"v":2}', learnedAt: '2026-03-02T10:00:00.000Z' });
      again.targetFacts.forget('app', 'rate');
      expect(again.targetFacts.get('app', 'rate')).toBeUndefined();
      again.purgeIntegration('app');
      expect(again.targetFacts.get('app', 'schemas')).toBeUndefined();
      expect(again.targetFacts.get('other', 'rate')?.value).toBe('3');
    });
  });

  describe('inspection', () => {
    it('finds objects by source id, target id, userName or displayName in any case, with memberships and escrow', () => {
      const { store } = fresh();
      store.saveUser('app', { ...user('u1'), attrs: { userName: 'Ada@Example.com', displayName: 'Ada Lovelace' } });
      store.saveUser('app', user('u2'));
      store.saveUser('other', { ...user('u1'), attrs: { userName: 'ada@example.com' } });
      store.saveGroup('app', group('g1', 'Sales'), { members: ['u2', 'u1'] });
      store.recordFailure('app', op('user:u1'), failure(), 5);
      store.flush();
      const found = store.findObjects('app', 'ada@example.COM');
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ integration: 'app', kind: 'user', sourceId: 'u1', targetId: 't-u1', status: 'active', groups: ['g1'] });
      expect(found[0]!.escrow.map((e) => e.key)).toEqual(['user:u1']);
      expect(store.findObjects(undefined, 'ada@example.com').map((o) => o.integration)).toEqual(['app', 'other']);
      expect(store.findObjects('app', 'ada lovelace').map((o) => o.sourceId)).toEqual(['u1']);
      expect(store.findObjects('app', 't-u2').map((o) => o.sourceId)).toEqual(['u2']);
      expect(store.findObjects('app', 'sales')).toMatchObject([{ kind: 'group', sourceId: 'g1', members: ['u1', 'u2'], escrow: [] }]);
      expect(store.findObjects('app', 'nobody')).toEqual([]);
      expect(store.sourceIdsByUserName('app', 'ADA@example.com')).toEqual(['u1']);
      expect(store.sourceIdsByUserName(undefined, 'ada@example.com')).toHaveLength(2);
    });

    it('counts linked objects by kind and status', () => {
      const { store } = fresh();
      store.saveUser('app', user('u1'));
      store.saveUser('app', { ...user('u2'), status: 'inactive' });
      store.saveUser('app', { ...user('u3'), targetId: null, status: 'deleted' });
      store.saveGroup('app', group('g1'));
      store.flush();
      expect(store.objectCounts('app')).toEqual({ user: { active: 1, inactive: 1 }, group: { active: 1 } });
      expect(store.objectCounts('other')).toEqual({});
    });
  });

  describe('purge', () => {
    const fill = (store: StateStore) => {
      store.putIntegration({ name: 'app', configHash: 'c', authHash: 'a' });
      store.saveUser('app', user('u1'));
      store.saveUser('app', user('u2'));
      store.saveGroup('app', group('g1'), { members: ['u1'] });
      store.recordFailure('app', op('user:u1'), failure(), 5);
      store.awaitInflight(store.markInflight('app', [op('user:u2')], 'c1'));
      store.holdPlan('app', { reason: 'r', managed: 2, objects: [] });
      store.takeLease('app', 'owner-a', 60_000);
      store.insertEvent(event());
      store.saveUser('other', user('u1'));
      store.flush();
    };

    it('of the objects forgets what a rebuild starts without, and keeps the integration, its escrow and its events', () => {
      const { store } = fresh();
      fill(store);
      store.purgeObjects('app');
      expect([store.loadUsers('app'), store.loadGroups('app'), store.loadInflight('app')]).toEqual([[], [], []]);
      // What the target refused is still owed after a rebuild.
      expect(store.loadEscrow('app').map((e) => e.key)).toEqual(['user:u1']);
      expect(store.membershipCount('app')).toBe(0);
      expect(store.getHeldPlan('app')).toBeUndefined();
      expect(store.getIntegration('app')).toBeDefined();
      expect(store.queryEvents({ integration: 'app' })).toHaveLength(1);
      expect(store.loadUsers('other')).toHaveLength(1);
    });

    it('of an integration drops everything but its events, and says how many objects went', () => {
      const { store } = fresh();
      fill(store);
      expect(store.purgeIntegration('app')).toEqual({ objects: 3 });
      expect(store.getIntegration('app')).toBeUndefined();
      expect(store.knownIntegrations()).toEqual([]);
      expect(store.leaseHolder('app')).toBeUndefined();
      expect([store.loadUsers('app'), store.loadEscrow('app'), store.loadInflight('app')]).toEqual([[], [], []]);
      expect(store.queryEvents({ integration: 'app' })).toHaveLength(1);
      expect(store.loadUsers('other')).toHaveLength(1);
    });
  });
}

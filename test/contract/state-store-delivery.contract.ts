/** The StateStore contract, part one: the writes a delivery makes, and their commits. */
import { describe, expect, it } from 'vitest';
import { attrsDigest, membersDigest } from '../../src/core/digest.js';
import { event, failure, group, op, user, type Fresh } from './state-store-fixtures.js';

export function testDeliveryWrites(fresh: Fresh): void {
  describe('users and groups', () => {
    it('round-trip users with the digest of their attributes, and keep them across a reopen', () => {
      const { store, another } = fresh();
      store.saveUser('app', user('u1', { title: 'Engineer' }));
      store.saveUser('app', user('u2'));
      store.saveUser('other', user('u1'));
      store.saveUser('app', { ...user('u2'), status: 'inactive', attrs: { userName: 'u2@example.com', title: 'Analyst' } });
      store.close();
      const again = another();
      const users = again.loadUsers('app').sort((a, b) => a.sourceId.localeCompare(b.sourceId));
      expect(users.map((u) => [u.sourceId, u.targetId, u.status])).toEqual([
        ['u1', 't-u1', 'active'],
        ['u2', 't-u2', 'inactive'],
      ]);
      expect(users[0]!.digest).toBe(attrsDigest({ userName: 'u1@example.com', title: 'Engineer' }));
      expect(users[1]!.digest).toBe(attrsDigest({ userName: 'u2@example.com', title: 'Analyst' }));
      expect(users[1]!.attrs).toEqual({ userName: 'u2@example.com', title: 'Analyst' });
      expect(again.loadUsers('other')).toHaveLength(1);
      expect(again.loadUserNames('app').find((n) => n.sourceId === 'u1')?.names[0]).toBe('u1@example.com');
    });

    it('keep a group’s members and their digest through replace, add, remove and dropped memberships', () => {
      const { store } = fresh();
      const members = () => {
        store.flush();
        const g = store.loadGroups('app').find((x) => x.sourceId === 'g1')!;
        expect(g.membersDigest).toBe(membersDigest(g.members));
        return [...g.members].sort();
      };
      store.saveGroup('app', group('g1', 'Sales'));
      expect(members()).toEqual([]);
      store.saveGroup('app', group('g1', 'Sales'), { members: ['u1', 'u2', 'u3'] });
      expect(members()).toEqual(['u1', 'u2', 'u3']);
      store.saveGroup('app', group('g1', 'Sales'), { add: ['u3', 'u4'], remove: ['u1', 'u9'] });
      expect(members()).toEqual(['u2', 'u3', 'u4']);
      store.saveGroup('app', group('g2'), { members: ['u3'] });
      store.dropMemberships('app', 'u3');
      expect(members()).toEqual(['u2', 'u4']);
      store.saveGroup('app', group('g1', 'Sales EMEA'));
      expect(members()).toEqual(['u2', 'u4']);
      expect(store.loadGroups('app').map((g) => [g.sourceId, g.displayName, g.targetId]).sort()).toEqual([
        ['g1', 'Sales EMEA', 'tg-g1'],
        ['g2', 'Group g2', 'tg-g2'],
      ]);
      expect(store.membershipCount('app')).toBe(2);
      expect(store.membershipCount('other')).toBe(0);
    });

    it('record a group with the member lists as they were when saved', () => {
      const { store } = fresh();
      const add = ['u1'];
      store.saveGroup('app', group('g1'), { add });
      add.push('u2');
      store.flush();
      expect([...store.loadGroups('app')[0]!.members]).toEqual(['u1']);
    });
  });

  describe('escrow', () => {
    it('counts the cycles an unchanged operation fails, gives it up at maxCycles, and starts a changed one again', () => {
      const { store } = fresh();
      const t1 = new Date('2026-03-01T10:00:00.000Z');
      const first = store.recordFailure('app', op('user:u1'), failure('HTTP 500', 3), 3, t1);
      expect(first).toMatchObject({ key: 'user:u1', cycles: 1, attempts: 3, givenUp: false, firstFailedAt: t1.toISOString() });
      store.recordFailure('app', op('user:u1'), failure('HTTP 502', 2), 3, new Date('2026-03-01T11:00:00.000Z'));
      const third = store.recordFailure('app', op('user:u1'), failure('HTTP 503', 1), 3, new Date('2026-03-01T12:00:00.000Z'));
      expect(third).toMatchObject({ cycles: 3, attempts: 6, lastError: 'HTTP 503', givenUp: true, firstFailedAt: t1.toISOString() });
      store.flush();
      expect(store.loadEscrow('app')).toEqual([third]);
      const changed = store.recordFailure('app', op('user:u1', 'f2'), failure('HTTP 400', 1), 3, new Date('2026-03-02T10:00:00.000Z'));
      expect(changed).toMatchObject({ fingerprint: 'f2', cycles: 1, attempts: 1, givenUp: false, firstFailedAt: '2026-03-02T10:00:00.000Z' });
    });

    it('forgets an operation that succeeded, and prunes those no longer planned', () => {
      const { store } = fresh();
      for (const key of ['user:u1', 'user:u2', 'user:u3']) store.recordFailure('app', op(key), failure(), 5);
      store.recordFailure('other', op('user:u1'), failure(), 5);
      store.clearEscrow('app', 'user:u2');
      store.flush();
      expect(store.loadEscrow('app').map((e) => e.key)).toEqual(['user:u1', 'user:u3']);
      store.pruneEscrow('app', new Set(['user:u3', 'user:u9']));
      store.flush();
      expect(store.loadEscrow('app').map((e) => e.key)).toEqual(['user:u3']);
      expect(store.loadEscrow('other').map((e) => e.key)).toEqual(['user:u1']);
    });
  });

  describe('in-flight records', () => {
    it('are durable once their ticket is awaited, and cleared one by one', () => {
      const { store, another } = fresh();
      const ticket = store.markInflight('app', [op('user:u1'), op('user:u2')], 'c1', new Date('2026-03-01T10:00:00.000Z'));
      store.awaitInflight(ticket);
      const other = another();
      expect(other.loadInflight('app').sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'user:u1', kind: 'user.create', sourceId: 'u1', cycleId: 'c1', startedAt: '2026-03-01T10:00:00.000Z' },
        { key: 'user:u2', kind: 'user.create', sourceId: 'u2', cycleId: 'c1', startedAt: '2026-03-01T10:00:00.000Z' },
      ]);
      store.clearInflight('app', 'user:u1');
      store.flush();
      expect(other.loadInflight('app').map((e) => e.key)).toEqual(['user:u2']);
    });

    it('left by an interrupted cycle are taken once, and the cycles left open are marked interrupted', () => {
      const { store } = fresh();
      store.startCycle('c1', 'app', false, new Date('2026-03-01T10:00:00.000Z'));
      store.awaitInflight(store.markInflight('app', [op('user:u1')], 'c1'));
      store.awaitInflight(store.markInflight('other', [op('user:u7')], 'c0'));
      store.startCycle('c2', 'app', false, new Date('2026-03-01T11:00:00.000Z'));
      expect(store.takeInterrupted('app', 'c2').map((e) => [e.key, e.cycleId])).toEqual([['user:u1', 'c1']]);
      expect(store.takeInterrupted('app', 'c2')).toEqual([]);
      expect(store.loadInflight('other')).toHaveLength(1);
      // The current cycle is not marked.
      expect(store.lastCycle('app')).toMatchObject({ id: 'c2', outcome: null });
      // A cycle left open, started after the current one (a clock set back): marked.
      store.startCycle('c4', 'late', false, new Date('2026-03-01T12:00:00.000Z'));
      store.startCycle('c3', 'late', false, new Date('2026-03-01T11:00:00.000Z'));
      store.takeInterrupted('late', 'c3');
      expect(store.lastCycle('late')).toMatchObject({ id: 'c4', endedAt: null, outcome: 'interrupted' });
    });
  });

  describe('commits', () => {
    it('make a transaction’s writes durable together when it returns, or none of them', () => {
      const { store, another } = fresh();
      const other = another();
      store.saveUser('app', user('u0'));
      store.transaction(() => {
        store.saveUser('app', user('u1'));
        store.putIntegration({ name: 'app', configHash: 'c', authHash: 'a' });
      });
      expect(other.loadUsers('app').map((u) => u.sourceId).sort()).toEqual(['u0', 'u1']);
      expect(other.getIntegration('app')).toBeDefined();
      expect(() =>
        store.transaction(() => {
          store.saveUser('app', user('u2'));
          store.saveGroup('app', group('g1'), { members: ['u1'] });
          throw new Error('stopped halfway');
        }),
      ).toThrow('stopped halfway');
      store.flush();
      expect(other.loadUsers('app')).toHaveLength(2);
      expect(other.loadGroups('app')).toEqual([]);
    });

    it('keep what was written before a close', () => {
      const { store, another } = fresh();
      store.saveUser('app', user('u1'));
      store.insertEvent(event());
      store.close();
      const again = another();
      expect(again.loadUsers('app')).toHaveLength(1);
      expect(again.queryEvents({})).toHaveLength(1);
    });

    it('hand a delivery’s writes to the background and commit every one of them by the time it stops', async () => {
      const { store, another } = fresh();
      const other = another();
      store.prepareBackgroundWrites();
      const background = store.startBackgroundWrites();
      expect(store.writesInBackground).toBe(background);
      const ticket = store.markInflight('app', [op('user:u1')], 'c1');
      store.awaitInflight(ticket);
      // Durable before the request goes out, whoever writes it.
      expect(other.loadInflight('app').map((e) => e.key)).toEqual(['user:u1']);
      for (let i = 0; i < 300; i++) store.saveUser('app', user(`u${i}`));
      store.saveGroup('app', group('g1'), { members: ['u1', 'u2'] });
      store.dropMemberships('app', 'u2');
      store.recordFailure('app', op('user:u7'), failure(), 5);
      store.insertEvent(event());
      store.clearInflight('app', 'user:u1');
      await store.stopBackgroundWrites();
      expect(store.writesInBackground).toBe(false);
      expect(other.loadUsers('app')).toHaveLength(300);
      expect(other.loadUsers('app').find((u) => u.sourceId === 'u7')?.digest).toBe(attrsDigest(user('u7').attrs));
      expect([...other.loadGroups('app')[0]!.members]).toEqual(['u1']);
      expect(other.loadEscrow('app').map((e) => e.key)).toEqual(['user:u7']);
      expect(other.queryEvents({})).toHaveLength(1);
      expect(other.loadInflight('app')).toEqual([]);
      // After the delivery, writes go on as before.
      store.saveUser('app', user('after'));
      store.flush();
      expect(other.loadUsers('app')).toHaveLength(301);
    });
  });
}

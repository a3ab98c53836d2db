import { describe, expect, it } from 'vitest';
import type { StoredResource } from '../support/devtarget/server.js';
import { checkInvariants, EXIT_MARGIN_MS, type CycleFacts, type InvariantName, type RunResult, type TargetView } from './invariants.js';
import type { ChaosUser } from './source.js';
import type { StateView } from './state.js';

/**
 * Every invariant can fail: from a cycle that keeps them all, one change that a
 * real defect makes, and `checkInvariants` names that invariant.
 */
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const person = (id: string, n: number, extra: Partial<ChaosUser> = {}): ChaosUser => ({
  id,
  userName: `user${n}@example.com`,
  givenName: `Given${n}`,
  familyName: `Family${n}`,
  email: `user${n}@example.com`,
  title: 'Engineer',
  active: true,
  ...extra,
});

const account = (u: ChaosUser, targetId: string, extra: Record<string, unknown> = {}): StoredResource => ({
  id: targetId,
  externalId: u.id,
  userName: u.userName,
  name: { givenName: u.givenName, familyName: u.familyName },
  emails: [{ value: u.email, type: 'work' }],
  title: u.title,
  active: u.active,
  ...extra,
});

const ada = person('E1', 1);
const bob = person('E2', 2, { managerId: 'E1' });
const admin: StoredResource = { id: 'p1', userName: 'admin@example.com', active: true };

function facts(): CycleFacts {
  const target: TargetView = {
    users: [account(ada, 't1'), account(bob, 't2', { [ENTERPRISE]: { manager: { value: 't1' } } }), admin],
    groups: [{ id: 'g1', displayName: 'Sales', members: [{ value: 't1' }, { value: 't2' }] }],
  };
  const state: StateView = {
    links: [
      { kind: 'user', sourceId: 'E1', targetId: 't1', status: 'active' },
      { kind: 'user', sourceId: 'E2', targetId: 't2', status: 'active' },
      { kind: 'group', sourceId: 'G1', targetId: 'g1', status: 'active' },
    ],
    eventIds: [1, 2, 3],
  };
  const run: RunResult = { code: 0, signal: null, durationMs: 1200, stdout: '[integration chaos] success: created 2, adopted 0, updated 0, deactivated 0, reactivated 0, deleted 0, failed 0, held 0 in 1.2s\n', stderr: '', timedOut: false };
  return {
    phase: 'clean',
    target,
    before: structuredClone(target),
    state,
    desired: { users: [ada, bob], groups: [{ id: 'G1', displayName: 'Sales', members: ['E1', 'E2'] }], goneUsers: [], goneGroups: [] },
    doubt: new Set(),
    protectedAccounts: [structuredClone(admin)],
    run,
    boundMs: 60_000,
    graceMs: 3000,
    forwarded: [1, 2, 3],
  };
}

describe('links-name-their-account after a run the harness stopped', () => {
  const mixUp = (f: CycleFacts) => {
    // E1's link names the account that now carries E2's externalId (an adoption applied, not yet committed).
    f.target.users[0] = { ...f.target.users[0]!, externalId: 'E2' };
    f.target.users.splice(1, 1);
    f.state.links.splice(1, 1);
  };
  const linkViolations = (f: CycleFacts) => checkInvariants(f).filter((v) => v.invariant === 'links-name-their-account');

  it('waits for the next cycle when the users concerned have a write in flight', () => {
    const f = facts();
    mixUp(f);
    f.phase = 'chaos';
    f.run = { ...f.run, code: null, signal: 'SIGKILL', sent: { signal: 'SIGKILL', atMs: 500 } };
    f.state.inflight = ['E2'];
    expect(linkViolations(f)).toEqual([]);
  });

  it('fires when nothing is in flight, or when the run ended by itself', () => {
    const killed = facts();
    mixUp(killed);
    killed.run = { ...killed.run, code: null, signal: 'SIGKILL', sent: { signal: 'SIGKILL', atMs: 500 } };
    killed.state.inflight = [];
    expect(linkViolations(killed)).toHaveLength(1);
    const ended = facts();
    mixUp(ended);
    ended.state.inflight = ['E2'];
    expect(linkViolations(ended)).toHaveLength(1);
  });
});

const broken = (f: CycleFacts) => [...new Set(checkInvariants(f).map((v) => v.invariant))].sort();

/** One way a defect breaks each invariant, applied to a cycle that keeps them all. */
const breakers: Record<InvariantName, { defect: string; apply: (f: CycleFacts) => void; also?: InvariantName[] }> = {
  'one-link-per-account': {
    defect: 'a rehire adopts the leaver’s account and both stay linked',
    apply: (f) => f.state.links.push({ kind: 'user', sourceId: 'E3', targetId: 't1', status: 'inactive' }),
    also: ['links-name-their-account'],
  },
  'links-name-their-account': {
    defect: 'mislabelled bulkIds link each user to the other’s account',
    apply: (f) => {
      f.state.links[0]!.targetId = 't2';
      f.state.links[1]!.targetId = 't1';
    },
  },
  'one-account-per-user': {
    defect: 'a blind re-POST after a lost answer creates a second account',
    apply: (f) => f.target.users.push(account(ada, 't9', { userName: 'user1-dup@example.com' })),
    also: ['converged', 'exit-agrees'],
  },
  converged: {
    defect: 'a group holds a `bulkId:b10` value after a Bulk that resolved one reference',
    apply: (f) => {
      f.target.groups[0]!.members = [{ value: 't1' }, { value: 'bulkId:b10' }];
      f.run.code = 1;
      f.run.stdout = f.run.stdout.replace('success', 'partial').replace('failed 0', 'failed 1');
    },
  },
  'protected-untouched': {
    defect: 'the app’s admin account was adopted and deactivated',
    apply: (f) => (f.target.users[2] = { ...admin, active: false }),
  },
  bounded: {
    defect: 'a Retry-After of 1000000000 seconds: the cycle never ends',
    apply: (f) => {
      f.run = { ...f.run, code: null, signal: 'SIGKILL', durationMs: 60_000, timedOut: true };
    },
  },
  'exit-agrees': {
    defect: '/Bulk answered 501, the members never arrived, the cycle says success',
    apply: (f) => {
      f.phase = 'chaos';
      f.target.groups[0]!.members = [];
    },
  },
  'forwarded-in-order': {
    defect: 'an event never reaches the sink',
    apply: (f) => (f.forwarded = [1, 3]),
  },
  'no-deprovision-in-doubt': {
    defect: 'a user whose row was spoiled for a cycle is deactivated',
    apply: (f) => {
      f.phase = 'chaos';
      f.doubt = new Set(['E2']);
      f.target.users[1] = { ...f.target.users[1]!, active: false };
    },
  },
};

describe('the invariants', () => {
  it('a cycle that keeps every invariant breaks none', () => {
    expect(checkInvariants(facts())).toEqual([]);
  });

  it.each(Object.entries(breakers))('%s fires: %s', (name, { apply, also }) => {
    const f = facts();
    apply(f);
    expect(broken(f)).toEqual([name, ...(also ?? [])].sort());
  });

  it('bounded: SIGTERM must end the run within the grace', () => {
    const f = facts();
    f.phase = 'chaos';
    f.run = { ...f.run, code: 1, durationMs: 1000 + f.graceMs + EXIT_MARGIN_MS + 1, sent: { signal: 'SIGTERM', atMs: 1000 } };
    expect(broken(f)).toEqual(['bounded']);
    f.run.durationMs = 1000 + f.graceMs;
    expect(broken(f)).toEqual([]);
  });

  it('exit-agrees: exit 0 with a summary that says failures', () => {
    const f = facts();
    f.run.stdout = f.run.stdout.replace('failed 0', 'failed 2');
    expect(broken(f)).toEqual(['exit-agrees']);
  });

  it('converged: an active account for a user who left, a group still there, a wrong manager', () => {
    const f = facts();
    f.desired = { ...f.desired, users: [ada], groups: [], goneUsers: ['E2'], goneGroups: ['Sales'] };
    f.run.code = 1;
    f.run.stdout = f.run.stdout.replace('success', 'partial');
    const messages = checkInvariants(f).map((v) => v.message);
    expect(messages).toEqual(['E2 left the source, its account t2 is active', 'group Sales left the source and is still in the target']);
    const g = facts();
    g.target.users[1]![ENTERPRISE] = { manager: { value: 't2' } };
    expect(checkInvariants(g).map((v) => v.message)).toContain("E2's account t2: manager t2 (not t1, the account of E1)");
  });

  it('converged: of two active users with one userName, one holds the account and the other is held; neither or both is a finding', () => {
    // E1 left and E3 was hired with E1's userName, adopting its account; then E1 came back.
    const held = (): CycleFacts => {
      const f = facts();
      const carol = person('E3', 1);
      const dan = person('E2', 2);
      f.desired.users = [ada, dan, carol];
      f.desired.groups[0]!.members.push('E3');
      f.target.users[0] = account(carol, 't1');
      f.target.users[1] = account(dan, 't2');
      f.target.groups[0]!.members = [{ value: 't1' }, { value: 't2' }];
      f.state.links[0] = { kind: 'user', sourceId: 'E3', targetId: 't1', status: 'active' };
      f.run.code = 1;
      f.run.stdout = f.run.stdout.replace('success', 'partial').replace('held 0', 'held 1');
      return f;
    };
    expect(checkInvariants(held())).toEqual([]);
    const neither = held();
    neither.target.users.splice(0, 1);
    neither.target.groups[0]!.members = [{ value: 't2' }];
    neither.state.links.splice(0, 1);
    expect(checkInvariants(neither).map((v) => v.message)).toEqual(
      expect.arrayContaining(['E1 (user1@example.com) has 0 accounts', 'E3 (user1@example.com) has 0 accounts', 'group Sales lacks (no account for E1), (no account for E3)']),
    );
    const both = held();
    both.target.users.push(account(ada, 't9', { userName: 'User1@example.com' }));
    both.target.groups[0]!.members = [{ value: 't1' }, { value: 't2' }, { value: 't9' }];
    expect(checkInvariants(both).map((v) => v.message)).toEqual(['user1@example.com is the userName of E1 and E3, all active in the source: 2 of them hold an account, not one']);
  });

  it('forwarded-in-order: a re-send is allowed, an event before an earlier one is not', () => {
    const f = facts();
    f.forwarded = [1, 2, 1, 2, 3];
    expect(broken(f)).toEqual([]);
    f.forwarded = [2, 1, 3];
    expect(broken(f)).toEqual(['forwarded-in-order']);
  });

  it('a run killed by the harness is not held to its exit code or to the sink', () => {
    const f = facts();
    f.phase = 'chaos';
    f.run = { ...f.run, code: null, signal: 'SIGKILL', sent: { signal: 'SIGKILL', atMs: 500 } };
    f.target.groups[0]!.members = [];
    f.forwarded = [];
    expect(broken(f)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { GroupBehaviour } from '../../connectors/profiles/profile.js';
import { packRequests, planGroups } from '../../src/core/plan-groups.js';
import { scopeSnapshot } from '../../src/core/scope.js';
import { type StateGroup } from '../../src/core/records.js';
import { planCycle } from '../../src/core/plan-users.js';
import { type DesiredUser, type StateUser } from '../../src/core/records.js';
import { type GroupChange } from '../../src/core/operations.js';

const rfc: GroupBehaviour = { membersPerRequest: 100, multipleOperations: true, memberRemoval: 'path', createWithMembers: true, inactiveMembers: 'keep', readsMembers: true };
const ids = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
const user = (id: string, active = true): DesiredUser => ({ sourceId: id, attrs: { userName: `${id}@x` }, active });
const linked = (id: string, status: StateUser['status'] = 'active'): StateUser => ({ sourceId: id, targetId: `t-${id}`, status, attrs: { userName: `${id}@x` } });
const options = { behaviour: rfc, membersPerRequest: 100, groupDeprovision: 'delete' as const, userDeprovision: 'deactivate' as const };

function inputs(memberIds: string[], state: StateGroup[] = [], extra: Partial<{ creating: string[]; inactive: string[] }> = {}) {
  const inactive = new Set(extra.inactive ?? []);
  return {
    desired: [{ sourceId: 'g1', displayName: 'Sales', members: memberIds }],
    state,
    desiredUsers: new Map(memberIds.map((id) => [id, user(id, !inactive.has(id))])),
    stateUsers: new Map(memberIds.filter((id) => !(extra.creating ?? []).includes(id)).map((id) => [id, linked(id)])),
    creating: new Set(extra.creating ?? []),
  };
}

describe('planGroups', () => {
  it('creates a 20,000-member group with its first 100 members in the POST, then 199 batches of 100', () => {
    const members = ids(20_000);
    const plan = planGroups(inputs(members), options);
    expect(plan.operations).toHaveLength(200);
    const [create, ...rest] = plan.operations;
    expect(create).toMatchObject({ kind: 'group.create', members: members.slice(0, 100) });
    expect(rest.every((op) => op.kind === 'group.members.add' && op.add.length === 100)).toBe(true);
    expect(rest.flatMap((op) => (op as GroupChange).add)).toEqual(members.slice(100));
    // Each batch waits for the one before it.
    expect(rest[0]!.dependsOn).toEqual(['group:g1']);
    expect(rest[1]!.dependsOn).toEqual([rest[0]!.key]);
  });

  it('sends a 3-member change to a large group as one request', () => {
    const members = ids(20_000);
    const state: StateGroup = { sourceId: 'g1', targetId: 'tg1', status: 'active', displayName: 'Sales', members: new Set(members) };
    const next = [...members.filter((m) => m !== 'u00010' && m !== 'u00020'), 'x1'];
    const input = inputs(next, [state]);
    (input.stateUsers as Map<string, StateUser>).set('u00010', linked('u00010'));
    const plan = planGroups(input, options);
    expect(plan.operations).toEqual([
      expect.objectContaining({ kind: 'group.update', targetId: 'tg1', add: ['x1'], remove: ['u00010', 'u00020'] }),
    ]);
  });

  it('plans nothing for a group whose members and name are unchanged', () => {
    const members = ids(5);
    const state: StateGroup = { sourceId: 'g1', targetId: 'tg1', status: 'active', displayName: 'Sales', members: new Set(members) };
    expect(planGroups(inputs(members, [state]), options).operations).toEqual([]);
  });

  it('adds a member created in the same cycle after its create, and leaves out users that will not exist', () => {
    const input = inputs(['a', 'b', 'c'], [], { creating: ['b'], inactive: ['c'] });
    (input.stateUsers as Map<string, StateUser>).delete('c'); // inactive from the start: never created
    const [create] = planGroups(input, options).operations;
    expect(create).toMatchObject({ kind: 'group.create', members: ['a', 'b'], dependsOn: ['user:b'] });
  });

  it('keeps deactivated members by default and removes them when the profile says so', () => {
    const state: StateGroup = { sourceId: 'g1', targetId: 'tg1', status: 'active', displayName: 'Sales', members: new Set(['a', 'b']) };
    expect(planGroups(inputs(['a', 'b'], [state], { inactive: ['b'] }), options).operations).toEqual([]);
    const removing = planGroups(inputs(['a', 'b'], [state], { inactive: ['b'] }), { ...options, behaviour: { ...rfc, inactiveMembers: 'remove' } });
    expect(removing.operations).toEqual([expect.objectContaining({ kind: 'group.members.remove', remove: ['b'] })]);
    const deleting = planGroups(inputs(['a', 'b'], [state], { inactive: ['b'] }), { ...options, userDeprovision: 'delete' });
    expect(deleting.removalsByUser.get('b')).toEqual(['group:g1#1']);
  });

  it('deletes groups that left the source, unless groups.deprovision is none', () => {
    const state: StateGroup = { sourceId: 'g9', targetId: 'tg9', status: 'active', displayName: 'Old', members: new Set() };
    const input = { ...inputs([]), desired: [], state: [state] };
    expect(planGroups(input, options).deletions).toEqual([expect.objectContaining({ kind: 'group.delete', targetId: 'tg9' })]);
    expect(planGroups(input, { ...options, groupDeprovision: 'none' }).deletions).toEqual([]);
  });

  it('orders a user delete after the batch that takes the user out of its group', () => {
    const state: StateGroup = { sourceId: 'g1', targetId: 'tg1', status: 'active', displayName: 'Sales', members: new Set(['a', 'b']) };
    const plan = planCycle({ desired: [user('a')], state: [linked('a'), linked('b')], options: { deprovision: 'delete' }, groups: {
      desired: [{ sourceId: 'g1', displayName: 'Sales', members: ['a'] }],
      state: [state],
      options: { ...options, userDeprovision: 'delete' },
    } });
    expect(plan.operations.map((o) => o.kind)).toEqual(['group.members.remove', 'user.delete']);
    expect(plan.operations[1]!.dependsOn).toEqual([plan.operations[0]!.key]);
  });
});

describe('packRequests', () => {
  const change = { displayName: 'New', add: ['a1', 'a2', 'a3'], remove: ['r1', 'r2'], all: ['a1', 'a2', 'a3', 'k'] };
  it('packs a rename, removals and additions into requests of at most n members', () => {
    expect(packRequests(change, rfc, 3)).toEqual([
      { displayName: 'New', add: ['a1'], remove: ['r1', 'r2'] },
      { add: ['a2', 'a3'], remove: [] },
    ]);
  });
  it('sends one operation a request where the target takes no more', () => {
    const single = packRequests(change, { ...rfc, multipleOperations: false }, 100);
    expect(single).toEqual([
      { displayName: 'New', add: [], remove: [] },
      { add: [], remove: ['r1'] },
      { add: [], remove: ['r2'] },
      { add: ['a1', 'a2', 'a3'], remove: [] },
    ]);
    expect(packRequests(change, { ...rfc, multipleOperations: false, memberRemoval: 'value-array' }, 100)).toHaveLength(3);
  });
  it('replaces the whole list in the replace dialect', () => {
    expect(packRequests(change, { ...rfc, memberRemoval: 'replace' }, 2)).toEqual([
      { displayName: 'New', add: change.add, remove: change.remove, replaceMembers: change.all },
    ]);
  });
});

describe('scopeSnapshot', () => {
  const users = ['a', 'b', 'c', 'd'].map((id) => ({ id, attributes: { userName: id }, active: true }));
  const groups = [
    { id: 'g1', displayName: 'Sales', members: ['a', 'g2'] },
    { id: 'g2', displayName: 'Sales EMEA', members: ['b', 'g1'] }, // a cycle
    { id: 'g3', displayName: 'Support', members: ['c'] },
  ];
  it('flattens nested groups and cuts cycles', () => {
    const s = scopeSnapshot(users, groups, { nested: 'flatten' });
    expect(s.groups.map((g) => [g.displayName, g.members])).toEqual([
      ['Sales', ['a', 'b']],
      ['Sales EMEA', ['a', 'b']],
      ['Support', ['c']],
    ]);
    expect(s.users).toHaveLength(4);
  });
  it('ignores nesting when asked', () => {
    const s = scopeSnapshot(users, groups, { nested: 'ignore' });
    expect(s.groups[0]!.members).toEqual(['a']);
  });
  it('keeps only members of the scoped groups, names matched without case, and reports unknown names', () => {
    const s = scopeSnapshot(users, groups, { nested: 'flatten', groups: ['sales', 'Nope'] });
    expect(s.users.map((u) => u.id)).toEqual(['a', 'b']);
    expect(s.groups.map((g) => g.displayName)).toEqual(['Sales']);
    expect(s.problems).toEqual([{ location: 'scope.groups', message: 'no source group is named "Nope"' }]);
  });
});

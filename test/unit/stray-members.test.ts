import { describe, expect, it } from 'vitest';
import { protectRule } from '../../src/core/matching.js';
import type { Operation } from '../../src/core/operations.js';
import { strayMembers, strayRemovals, type MemberContext } from '../../src/core/stray-members.js';

const sales = { sourceId: 'g1', targetId: 't-g1', displayName: 'Sales' };
const ctx = (policy: MemberContext['policy']): MemberContext => ({
  managed: new Set(['t-ada', 't-gone']),
  users: new Map([
    ['t-ada', { id: 't-ada', userName: 'ada@example.com' }],
    ['t-hand', { id: 't-hand', userName: 'hand@example.com' }],
    ['t-root', { id: 't-root', userName: 'root@example.com' }],
  ]),
  groups: new Map([['t-ops', { id: 't-ops', displayName: 'Ops' }]]),
  protect: protectRule(['root@*']),
  policy,
});

describe('members that are not managed accounts', () => {
  it('tells dangling values (a vanished managed account included) from foreign accounts and groups, each once', () => {
    const found = strayMembers(sales, ['t-ada', 'bulkId:b10', 'bulkId:b10', 't-gone', 't-hand', 't-ops', 't-root'], ctx('keep'));
    expect(found.map((s) => [s.value, s.kind, s.name, s.onApply, s.keptBecause])).toEqual([
      ['bulkId:b10', 'dangling', null, 'remove', undefined],
      ['t-gone', 'dangling', null, 'remove', undefined],
      ['t-hand', 'foreign', 'hand@example.com', 'keep', 'policy'],
      ['t-ops', 'foreign', 'Ops', 'keep', 'policy'],
      ['t-root', 'foreign', 'root@example.com', 'keep', 'protected'],
    ]);
    const removed = strayMembers(sales, ['t-hand', 't-root'], ctx('remove'));
    expect(removed.map((s) => [s.value, s.onApply])).toEqual([
      ['t-hand', 'remove'],
      ['t-root', 'keep'],
    ]);
  });

  it('takes them out after the plan’s own changes to the group, never from a group the plan creates or deletes', () => {
    const strays = [
      ...strayMembers(sales, ['bulkId:b10', 't-hand'], ctx('keep')),
      ...strayMembers({ sourceId: 'g2', targetId: 't-g2', displayName: 'Gone' }, ['bulkId:b11'], ctx('keep')),
      ...strayMembers({ sourceId: 'g3', targetId: 't-g3', displayName: 'Kept' }, ['t-hand'], ctx('keep')),
    ];
    const planned: Operation[] = [
      { kind: 'group.members.add', key: 'group:g1#1', sourceId: 'g1', displayName: 'Sales', targetId: 't-g1', add: ['u1'], remove: [], dependsOn: [] },
      { kind: 'user.update', key: 'user:g1', sourceId: 'g1', targetId: 't-u', changes: { set: {}, remove: [] }, dependsOn: [] },
      { kind: 'group.delete', key: 'group:g2', sourceId: 'g2', displayName: 'Gone', targetId: 't-g2', dependsOn: [] },
    ];
    expect(strayRemovals(strays, planned, { memberRemoval: 'path', membersPerRequest: 100 })).toEqual([
      {
        kind: 'group.members.remove',
        key: 'group:g1#strays1',
        sourceId: 'g1',
        displayName: 'Sales',
        targetId: 't-g1',
        add: [],
        remove: [],
        strays: { remove: ['bulkId:b10'], keep: ['t-hand'] },
        dependsOn: ['group:g1#1'],
      },
    ]);
  });

  it('carries at most membersPerRequest values a request, one after the other; a replace carries them all at once', () => {
    const values = Array.from({ length: 5 }, (_, i) => `bulkId:b${i}`);
    const strays = strayMembers(sales, values, ctx('keep'));
    const batches = strayRemovals(strays, [], { memberRemoval: 'value-array', membersPerRequest: 2 });
    expect(batches.map((op) => [op.key, op.strays?.remove, op.dependsOn])).toEqual([
      ['group:g1#strays1', ['bulkId:b0', 'bulkId:b1'], []],
      ['group:g1#strays2', ['bulkId:b2', 'bulkId:b3'], ['group:g1#strays1']],
      ['group:g1#strays3', ['bulkId:b4'], ['group:g1#strays2']],
    ]);
    expect(strayRemovals(strays, [], { memberRemoval: 'replace', membersPerRequest: 2 }).map((op) => op.strays?.remove)).toEqual([values]);
  });
});

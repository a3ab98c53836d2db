import { describe, expect, it } from 'vitest';
import { planCycle, type PlanOptions } from '../../src/core/plan-users.js';
import { type DesiredUser, type StateUser } from '../../src/core/records.js';
import { parseTargetSchema } from '../../src/core/target-schema.js';

const MANAGER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager';
const want = (id: string, attrs: Record<string, string> = {}, active = true): DesiredUser => ({
  sourceId: id,
  active,
  attrs: { userName: `${id}@x`, externalId: id, ...attrs },
});
const had = (id: string, attrs: Record<string, string> = {}, status: StateUser['status'] = 'active'): StateUser => ({
  sourceId: id,
  targetId: `t-${id}`,
  status,
  attrs: { userName: `${id}@x`, externalId: id, ...attrs },
});
const deactivate = { deprovision: 'deactivate' } as const;

describe('planCycle', () => {
  it('creates new users and does nothing for unchanged ones', () => {
    const plan = planCycle({ desired: [want('a'), want('b', { title: 'T' })], state: [had('b', { title: 'T' })], options: deactivate });
    expect(plan.operations.map((o) => [o.kind, o.sourceId])).toEqual([['user.create', 'a']]);
  });

  it('updates only the changed attributes and removes cleared ones', () => {
    const plan = planCycle({ desired: [want('a', { title: 'New', displayName: 'A' })], state: [had('a', { title: 'Old', displayName: 'A', phone: '1' })], options: deactivate });
    expect(plan.operations).toEqual([
      { kind: 'user.update', key: 'user:a', sourceId: 'a', targetId: 't-a', dependsOn: [], changes: { set: { title: 'New' }, remove: ['phone'] } },
    ]);
  });

  it('deactivates users who left the source or became inactive, and reactivates returning ones', () => {
    const plan = planCycle({ desired: [want('inactive', {}, false), want('back')], state: [had('inactive'), had('gone'), had('back', {}, 'inactive'), had('already', {}, 'inactive')], options: deactivate });
    expect(plan.operations.map((o) => [o.kind, o.sourceId, 'reason' in o ? o.reason : ''])).toEqual([
      ['user.reactivate', 'back', ''],
      ['user.deactivate', 'inactive', 'inactive'],
      ['user.deactivate', 'gone', 'removed'],
    ]);
    expect(plan.deprovisions).toBe(2);
  });

  it('deletes with deprovision.action delete, and leaves accounts alone with none', () => {
    const del = planCycle({ desired: [], state: [had('gone'), had('off', {}, 'inactive')], options: { deprovision: 'delete' } });
    expect(del.operations.map((o) => [o.kind, o.sourceId])).toEqual([['user.delete', 'gone'], ['user.delete', 'off']]);
    expect(planCycle({ desired: [], state: [had('gone')], options: { deprovision: 'none' } }).operations).toEqual([]);
  });

  it('does not create a user who is inactive at the source', () => {
    expect(planCycle({ desired: [want('a', {}, false)], state: [], options: deactivate }).operations).toEqual([]);
  });

  it('re-creates a user whose target account was unlinked', () => {
    const plan = planCycle({ desired: [want('a')], state: [{ ...had('a'), targetId: null, status: 'deleted' }], options: deactivate });
    expect(plan.operations.map((o) => o.kind)).toEqual(['user.create']);
  });

  it('creates managers before their reports, and cuts reporting cycles', () => {
    const users: DesiredUser[] = [
      { ...want('c'), attrs: { ...want('c').attrs, [MANAGER]: { userRef: 'b' } } },
      { ...want('b'), attrs: { ...want('b').attrs, [MANAGER]: { userRef: 'a' } } },
      want('a'),
      { ...want('x'), attrs: { ...want('x').attrs, [MANAGER]: { userRef: 'y' } } },
      { ...want('y'), attrs: { ...want('y').attrs, [MANAGER]: { userRef: 'x' } } },
    ];
    const ops = planCycle({ desired: users, state: [], options: deactivate }).operations;
    expect(ops.map((o) => [o.sourceId, o.dependsOn])).toEqual([
      ['a', []],
      ['b', ['user:a']],
      ['c', ['user:b']],
      ['y', []],
      ['x', ['user:y']],
    ]);
  });

  it("makes a leaver's deprovision wait for the create of a new user with the same matching value (a rehire), whatever the case", () => {
    for (const deprovision of ['deactivate', 'delete'] as const) {
      const options = { deprovision, matching: ['userName'] };
      const rehire = want('E200', { userName: 'Rehire@X' });
      const ops = planCycle({ desired: [rehire, want('other')], state: [had('E100', { userName: 'rehire@x' }), had('gone'), had('off')], options: options }).operations;
      const byKey = new Map(ops.map((o) => [o.key, o]));
      expect(byKey.get('user:E100')?.dependsOn).toEqual(['user:E200']);
      expect(byKey.get('user:gone')?.dependsOn).toEqual([]);
      // The create comes first in the plan, as the delivery needs of what an operation waits for.
      expect(ops.findIndex((o) => o.key === 'user:E200')).toBeLessThan(ops.findIndex((o) => o.key === 'user:E100'));
      // Without the matching attributes, nothing is known to wait for.
      expect(planCycle({ desired: [rehire], state: [had('E100', { userName: 'rehire@x' })], options: { deprovision } }).operations.find((o) => o.key === 'user:E100')?.dependsOn).toEqual([]);
    }
  });

  it("reports what the target's schema forbids writing instead of dropping it: readOnly values on create, immutable changes", () => {
    const schema = parseTargetSchema({
      schemas: { Resources: [{ id: 'urn:ietf:params:scim:schemas:core:2.0:User', attributes: [{ name: 'userName', mutability: 'immutable' }, { name: 'title', mutability: 'readOnly' }] }] },
    });
    const plan = planCycle({ desired: [want('a', { userName: 'renamed@x' }), want('b', { title: 'T' })], state: [had('a')], options: { deprovision: 'deactivate', schema } });
    expect(plan.operations.map((o) => [o.kind, o.sourceId])).toEqual([['user.create', 'b']]);
    expect(plan.unwritable).toEqual([
      { sourceId: 'a', path: 'userName', on: 'update', mutability: 'immutable', wanted: 'renamed@x' },
      { sourceId: 'b', path: 'title', on: 'create', mutability: 'readOnly', wanted: 'T' },
    ]);
  });

  it('is deterministic', () => {
    const desired = [want('b'), want('a', { title: 'x' }), want('c', {}, false)];
    const state = [had('a'), had('c'), had('d')];
    expect(planCycle({ desired: desired, state: state, options: deactivate })).toEqual(planCycle({ desired: desired, state: state, options: deactivate }));
  });

  describe('renames of matching values', () => {
    const userName = { deprovision: 'deactivate', matching: ['userName'] } as const;
    // The one call of the planner in this block.
    const renames = (desired: DesiredUser[], state: StateUser[], options: PlanOptions) => planCycle({ desired, state, options });
    const steps = (ops: ReturnType<typeof renames>['operations']) =>
      ops.map((o) => [o.key, o.kind === 'user.update' ? o.changes.set.userName : undefined, o.dependsOn]);

    it('a rename into a name another account gives up waits for that account', () => {
      const plan = renames([want('a', { userName: 'b@x' }), want('b', { userName: 'new@x' })], [had('a'), had('b')], userName);
      expect(steps(plan.operations)).toEqual([
        ['user:b', 'new@x', []],
        ['user:a', 'b@x', ['user:b']],
      ]);
    });

    it('a swap goes through a temporary name derived from the source id, the same in every plan', () => {
      const plan = renames([want('a', { userName: 'b@x' }), want('b', { userName: 'a@x' })], [had('a'), had('b')], userName);
      expect(steps(plan.operations)).toEqual([
        ['user:a#vacate', expect.stringMatching(/^a\+scimsync-[0-9a-f]{8}@x$/), []],
        ['user:b', 'a@x', ['user:a#vacate']],
        ['user:a', 'b@x', ['user:b']],
      ]);
      expect(plan.operations[0]).toMatchObject({ kind: 'user.update', targetId: 't-a', makesRoomFor: ['b'] });
      const again = renames([want('a', { userName: 'b@x' }), want('b', { userName: 'a@x' })], [had('a'), had('b')], userName);
      expect(again.operations).toEqual(plan.operations);
    });

    it('after a cycle stopped at the temporary name, the plan finishes the swap without another one', () => {
      const plan = renames(
        [want('a', { userName: 'b@x' }), want('b', { userName: 'a@x' })],
        [had('a', { userName: 'a+scimsync-0a1b2c3d@x' }), had('b')],
        userName,
      );
      expect(steps(plan.operations)).toEqual([
        ['user:b', 'a@x', []],
        ['user:a', 'b@x', ['user:b']],
      ]);
    });

    it('a swap of userNames and emails (matched by both) moves both aside; a name that is no email keeps its form', () => {
      const email = 'emails[type eq "work"].value';
      const plan = renames(
        [want('a', { userName: 'bob', [email]: 'b@x' }), want('b', { userName: 'ann', [email]: 'a@x' })],
        [had('a', { userName: 'ann', [email]: 'a@x' }), had('b', { userName: 'bob', [email]: 'b@x' })],
        { deprovision: 'deactivate', matching: ['userName', 'emails'] },
      );
      const vacate = plan.operations[0]!;
      expect(vacate.key).toBe('user:a#vacate');
      expect(vacate.kind === 'user.update' && vacate.changes.set).toEqual({
        userName: expect.stringMatching(/^ann-scimsync-[0-9a-f]{8}$/),
        [email]: expect.stringMatching(/^a\+scimsync-[0-9a-f]{8}@x$/),
      });
      expect(plan.operations.map((o) => o.key)).toEqual(['user:a#vacate', 'user:b', 'user:a']);
    });
  });
});


import { describe, expect, it } from 'vitest';
import type { DevTarget, StoredResource } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'reconcile-members-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

interface Stray {
  displayName: string;
  value: string;
  kind: 'dangling' | 'foreign';
  name: string | null;
  onApply: 'remove' | 'keep';
  keptBecause?: 'policy' | 'protected';
}

interface ReportJson {
  groupDrift: unknown[];
  strayMembers: Stray[];
}

const userOf = (sourceId: string) => [...target.users.values()].find((u) => u.externalId === sourceId)!;
const groupNamed = (name: string) => [...target.groups.values()].find((g) => g.displayName === name)!;
const memberValues = (name: string) => ((groupNamed(name).members ?? []) as { value: string }[]).map((m) => m.value).sort();

/** Accounts an admin made in the app by hand. */
function handMade(userName: string): StoredResource {
  return target.seedUser({ userName, name: { givenName: 'Hand', familyName: 'Made' }, emails: [{ type: 'work', value: userName }] });
}

/**
 * Sales (u00001, u00002) and Support (u00003) pushed, then, in the target: two garbage values
 * such as a Bulk server that resolves one reference per operation leaves, and a hand-added account, in Sales.
 */
async function garbageInSales(config: { integrationYaml?: string; targetYaml?: string } = {}): Promise<{ hand: StoredResource }> {
  ws.writeConfig(config);
  const d = makeDirectory(4);
  d.groups = [
    { id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002'] },
    { id: 'g2', displayName: 'Support', members: ['u00003'] },
  ];
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(0);
  const hand = handMade('hand@example.com');
  const sales = groupNamed('Sales');
  sales.members = [...(sales.members as { value: string }[]), { value: 'bulkId:b10' }, { value: 'bulkId:b11' }, { value: hand.id }];
  target.requests.length = 0;
  return { hand };
}

async function report(): Promise<ReportJson> {
  const res = await ws.run(['reconcile', '--json']);
  expect(res.code).toBe(0);
  return JSON.parse(res.out[0]!) as ReportJson;
}

const managedSales = () => [userOf('u00001').id, userOf('u00002').id];

describe('reconcile: member values that are not managed accounts', () => {
  it('reports garbage values as dangling and a hand-added account as foreign; --apply removes the garbage and keeps the account (keep, the default)', async () => {
    const { hand } = await garbageInSales();

    const found = await report();
    expect(target.writes()).toEqual([]);
    expect(found.groupDrift).toEqual([]);
    expect(found.strayMembers).toEqual([
      expect.objectContaining({ displayName: 'Sales', value: 'bulkId:b10', kind: 'dangling', name: null, onApply: 'remove' }),
      expect.objectContaining({ displayName: 'Sales', value: 'bulkId:b11', kind: 'dangling', name: null, onApply: 'remove' }),
      expect.objectContaining({ displayName: 'Sales', value: hand.id, kind: 'foreign', name: 'hand@example.com', onApply: 'keep', keptBecause: 'policy' }),
    ]);
    const table = (await ws.run(['reconcile'])).out.join('\n');
    expect(table).toMatch(/members not managed: 2 dangling values \(naming no account\), 1 foreign member \(not managed by scimsync\)/);
    expect(table).toMatch(/Sales +bulkId:b10 +dangling +- +remove/);
    expect(table).toMatch(new RegExp(`Sales +${hand.id} +foreign +hand@example\\.com +keep \\(groups\\.foreignMembers\\)`));
    expect(table).toContain('reconcile --apply restores');

    const applied = await ws.run(['reconcile', '--apply']);
    expect(applied.code).toBe(0);
    expect(applied.out.join('\n')).toMatch(/members \+0 -2/);
    expect(memberValues('Sales')).toEqual([...managedSales(), hand.id].sort());
    expect(memberValues('Support')).toEqual([userOf('u00003').id]);
    expect(target.users.get(hand.id)).toEqual(hand);

    // Nothing left to take out: the kept account is still told, --apply has nothing to do.
    const again = await report();
    expect(again.strayMembers.filter((s) => s.kind === 'dangling')).toEqual([]);
    expect(again.strayMembers).toEqual([expect.objectContaining({ value: hand.id, kind: 'foreign', onApply: 'keep' })]);
    const text = (await ws.run(['reconcile'])).out.join('\n');
    expect(text).toMatch(/members not managed: 0 dangling values \(naming no account\), 1 foreign member/);
    expect(text).not.toContain('reconcile --apply restores');
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.writes()).toEqual([]);
  });

  it.each([
    { dialect: 'path', removal: (v: string) => ({ op: 'remove', path: `members[value eq "${v}"]` }) },
    { dialect: 'value-array', removal: (v: string) => ({ op: 'remove', path: 'members', value: [{ value: v }] }) },
  ])('with groups.foreignMembers: remove, --apply takes both kinds out in the $dialect dialect, a second reconcile reports 0', async ({ dialect, removal }) => {
    const { hand } = await garbageInSales({ integrationYaml: 'groups: { foreignMembers: remove }', targetYaml: `options: { memberRemoval: ${dialect} }` });
    expect((await report()).strayMembers.map((s) => [s.kind, s.onApply])).toEqual([
      ['dangling', 'remove'],
      ['dangling', 'remove'],
      ['foreign', 'remove'],
    ]);

    const applied = await ws.run(['reconcile', '--apply']);
    expect(applied.code).toBe(0);
    expect(memberValues('Sales')).toEqual(managedSales().sort());
    expect(target.users.has(hand.id)).toBe(true); // out of the group, not out of the app
    const patches = target.writes().filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([`/scim/v2/Groups/${groupNamed('Sales').id}`]);
    const sent = (patches[0]!.body as { Operations: unknown[] }).Operations;
    const values = ['bulkId:b10', 'bulkId:b11', hand.id];
    expect(sent).toEqual(dialect === 'path' ? values.map(removal) : [{ op: 'remove', path: 'members', value: values.map((value) => ({ value })) }]);

    expect((await report()).strayMembers).toEqual([]);
  });

  it('in the replace dialect, --apply sends the managed members and the kept foreign account as the whole list', async () => {
    const { hand } = await garbageInSales({ targetYaml: 'options: { memberRemoval: replace }' });
    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    expect(memberValues('Sales')).toEqual([...managedSales(), hand.id].sort());
    const patches = target.writes().filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    const [op] = (patches[0]!.body as { Operations: { op: string; path: string; value: { value: string }[] }[] }).Operations;
    expect(op!.op).toBe('replace');
    expect(op!.value.map((m) => m.value).sort()).toEqual([...managedSales(), hand.id].sort());
    expect((await report()).strayMembers.map((s) => s.kind)).toEqual(['foreign']);
  });

  it('never takes a protected account out of a group, even with groups.foreignMembers: remove', async () => {
    const { hand } = await garbageInSales({ integrationYaml: 'groups: { foreignMembers: remove }\nprotect: ["admin@*"]' });
    const admin = handMade('admin@example.com');
    const sales = groupNamed('Sales');
    sales.members = [...(sales.members as { value: string }[]), { value: admin.id }];

    const found = await report();
    expect(found.strayMembers.find((s) => s.value === admin.id)).toMatchObject({ kind: 'foreign', name: 'admin@example.com', onApply: 'keep', keptBecause: 'protected' });
    expect((await ws.run(['reconcile'])).out.join('\n')).toMatch(/admin@example\.com +keep \(protected\)/);

    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    expect(memberValues('Sales')).toEqual([...managedSales(), admin.id].sort());
    expect(memberValues('Sales')).not.toContain(hand.id);
  });

  it('takes 38 garbage values out of each of 4 groups, membersPerRequest at a time, and a second reconcile finds none', async () => {
    ws.writeConfig({ integrationYaml: 'groups: { membersPerRequest: 10 }', targetYaml: 'options: { memberRemoval: value-array }' });
    const d = makeDirectory(8);
    d.groups = ['A', 'B', 'C', 'D'].map((name, i) => ({ id: `g${i}`, displayName: name, members: d.users.slice(i * 2, i * 2 + 2).map((u) => u.id) }));
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const pushed = new Map(['A', 'B', 'C', 'D'].map((name) => [name, memberValues(name)]));
    for (const name of pushed.keys()) {
      const g = groupNamed(name);
      g.members = [...(g.members as { value: string }[]), ...Array.from({ length: 38 }, (_, i) => ({ value: `bulkId:b${i}` }))];
    }
    const found = await report();
    expect(found.strayMembers.filter((s) => s.kind === 'dangling')).toHaveLength(4 * 38);
    expect((await ws.run(['reconcile'])).out.join('\n')).toContain('members not managed: 152 dangling values');

    target.requests.length = 0;
    const applied = await ws.run(['reconcile', '--apply']);
    expect(applied.code).toBe(0);
    expect(applied.out.join('\n')).toMatch(/members \+0 -152/);
    for (const [name, members] of pushed) expect(memberValues(name)).toEqual(members);
    const patches = target.writes().filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(4 * 4);
    for (const p of patches) expect(((p.body as { Operations: { value: unknown[] }[] }).Operations[0]!.value).length).toBeLessThanOrEqual(10);

    expect((await report()).strayMembers).toEqual([]);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.writes()).toEqual([]);
  });

  it('counts the value of a managed account that vanished from the target as dangling', async () => {
    await garbageInSales();
    const gone = userOf('u00002');
    target.users.delete(gone.id);
    const found = await report();
    expect(found.strayMembers.filter((s) => s.kind === 'dangling').map((s) => s.value).sort()).toEqual([gone.id, 'bulkId:b10', 'bulkId:b11'].sort());

    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    // The user is created again and put back; the old id is gone from the group.
    expect(memberValues('Sales')).not.toContain(gone.id);
    expect(memberValues('Sales')).toContain(userOf('u00002').id);
    expect((await report()).strayMembers.filter((s) => s.kind === 'dangling')).toEqual([]);
  });
});


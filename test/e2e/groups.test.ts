import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { type DevTarget, type StoredResource } from '../support/devtarget/server.js';
import { openStateStore } from '../../state/index.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'groups-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

/** Group display name -> sorted member source ids (externalId), as the target holds them; duplicates kept. */
function targetGroups(): Map<string, string[]> {
  const bySourceId = new Map([...target.users.values()].map((u) => [u.id, String(u.externalId)]));
  const out = new Map<string, string[]>();
  for (const g of target.groups.values()) {
    const members = ((g.members ?? []) as { value: string }[]).map((m) => bySourceId.get(m.value) ?? `?${m.value}`);
    out.set(String(g.displayName), members.sort());
  }
  return out;
}

/** What the source says, for the users that exist and are active in the target. */
function expectGroupsEqualSource(d: Directory): void {
  const expected = new Map<string, string[]>();
  for (const g of d.groups ?? []) expected.set(g.displayName, [...g.members].sort());
  expect(targetGroups()).toEqual(expected);
}

function groupRequests(): { method: string; path: string }[] {
  return target.requests.filter((r) => r.path.includes('/Groups'));
}

function small(): Directory {
  const d = makeDirectory(12);
  d.groups = [
    { id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002', 'u00003'] },
    { id: 'g2', displayName: 'Engineering', members: ['u00004', 'u00005', 'u00006', 'u00007'] },
    { id: 'g3', displayName: 'Support', members: ['u00008'] },
  ];
  return d;
}

describe('groups against the local SCIM target', () => {
  it('creates groups with exact members, follows renames, moves and removals, then sends nothing', async () => {
    const d = small();
    ws.writeDirectory(d);
    const first = await ws.run(['sync']);
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    expectGroupsEqualSource(d);
    // Each group is pushed in one POST carrying its members.
    expect(groupRequests().filter((r) => r.method === 'POST')).toHaveLength(3);
    expect(groupRequests().filter((r) => r.method === 'PATCH')).toHaveLength(0);

    // Rename Sales, move u00003 from Sales to Engineering, remove u00005 from the source,
    // delete Support, add a new group.
    d.groups![0] = { id: 'g1', displayName: 'Revenue', members: ['u00001', 'u00002'] };
    d.groups![1]!.members = ['u00003', 'u00004', 'u00006', 'u00007'];
    d.users = d.users.filter((u) => u.id !== 'u00005');
    d.groups = d.groups!.filter((g) => g.id !== 'g3');
    d.groups.push({ id: 'g4', displayName: 'Finance', members: ['u00009', 'u00010'] });
    ws.writeDirectory(d);
    target.requests.length = 0;
    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    expectGroupsEqualSource(d);
    expect(second.out.join('\n')).toMatch(/groups created 1, adopted 0, updated 2, deleted 1, members \+3 -2/);
    // Rename plus removal in Revenue, removal plus addition in Engineering: one PATCH each.
    expect(groupRequests().filter((r) => r.method === 'PATCH')).toHaveLength(2);
    // The removed user is deactivated, and is in no group.
    const gone = [...target.users.values()].find((u) => u.externalId === 'u00005')!;
    expect(gone.active).toBe(false);

    const events = await ws.run(['events', '--type', 'group_update_provision', '--json']);
    const summaries = events.out.map((l) => (JSON.parse(l) as { summary: string }).summary);
    expect(summaries).toContain('group Revenue: renamed from Sales; 0 members added, 1 removed');
    expect(summaries).toContain('group Engineering: 1 members added, 1 removed');
    const deleted = await ws.run(['events', '--type', 'group_delete_provision', '--json']);
    expect(deleted.out).toHaveLength(1);

    target.requests.length = 0;
    const third = await ws.run(['sync']);
    expect(third.code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('adopts a group that already exists in the target without adding a member twice', async () => {
    const d = small();
    ws.writeDirectory({ users: d.users, groups: [] });
    expect((await ws.run(['sync'])).code).toBe(0);
    // An admin created "Sales" by hand with one of the members already in it.
    const u1 = [...target.users.values()].find((u) => u.externalId === 'u00001')!;
    const id = 'pre-existing-sales';
    target.groups.set(id, { id, schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Sales', members: [{ value: u1.id }] } as StoredResource);

    ws.writeDirectory(d);
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    expect(run.out.join('\n')).toMatch(/groups created 2, adopted 1/);
    expect(target.groups.get(id)).toBeDefined();
    expectGroupsEqualSource(d); // u00001 once, not twice
  });

  it('keeps the other batches when one member batch fails, and finishes on the next cycle', async () => {
    const d = makeDirectory(250);
    d.groups = [{ id: 'g1', displayName: 'Everyone', members: d.users.map((u) => u.id) }];
    ws.writeConfig({ integrationYaml: 'groups: { membersPerRequest: 50 }' });
    ws.writeDirectory(d);
    // One member batch is refused with a 400 (not retried); the others go through.
    target.inject({ method: 'PATCH', path: /\/Groups\//, body: /"op":"add"/, status: 400, times: 1, scimType: 'invalidValue', detail: 'member batch refused' });
    const first = await ws.run(['sync']);
    const patches = groupRequests().filter((r) => r.method === 'PATCH').length;
    expect(first.code).toBe(1);
    expect(patches).toBe(4); // POST carries 50, then 4 batches of 50; one of them refused
    expect(targetGroups().get('Everyone')).toHaveLength(200);
    const failures = await ws.run(['events', '--type', 'group_update_provision', '--result', 'failure', '--json']);
    expect(failures.out).toHaveLength(1);
    expect(JSON.parse(failures.out[0]!).detail).toMatchObject({ status: 400, scimType: 'invalidValue', scimDetail: 'member batch refused' });

    target.requests.length = 0;
    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    expect(groupRequests().filter((r) => r.method !== 'GET')).toHaveLength(1);
    expectGroupsEqualSource(d);
  });

  it('adds a member whose create failed on a later cycle, without failing the group', async () => {
    const d = small();
    ws.writeDirectory(d);
    target.inject({ method: 'POST', path: /\/Users$/, body: /user2@example\.com/, status: 400, times: 1, detail: 'refused' });
    const first = await ws.run(['sync']);
    expect(first.code).toBe(1);
    expect(targetGroups().get('Sales')).toEqual(['u00001', 'u00003']);
    const groupFailures = await ws.run(['events', '--type', 'group_create_provision', '--result', 'failure']);
    expect(groupFailures.out.join('\n')).not.toMatch(/Sales/);

    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    expectGroupsEqualSource(d);
  });

  it('scopes by group: only members of the scoped groups, and those groups, are provisioned', async () => {
    const d = small();
    ws.writeConfig({ integrationYaml: 'scope: { groups: [Sales] }' });
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect([...target.users.values()].map((u) => u.externalId).sort()).toEqual(['u00001', 'u00002', 'u00003']);
    expect([...targetGroups().keys()]).toEqual(['Sales']);

    // u00003 leaves Sales: out of scope, so deprovisioned (deactivated) and out of the group.
    d.groups![0]!.members = ['u00001', 'u00002'];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const u3 = [...target.users.values()].find((u) => u.externalId === 'u00003')!;
    expect(u3.active).toBe(false);
    expect(targetGroups().get('Sales')).toEqual(['u00001', 'u00002']);
  });

  it('flattens nested groups, or ignores the nesting', async () => {
    const d = small();
    d.groups!.push({ id: 'g5', displayName: 'All staff', members: ['g1', 'g2', 'u00011'] });
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(targetGroups().get('All staff')).toEqual(['u00001', 'u00002', 'u00003', 'u00004', 'u00005', 'u00006', 'u00007', 'u00011']);

    const other = workspace(target.url, TOKEN);
    other.writeConfig({ integrationYaml: 'groups: { nested: ignore, deprovision: delete }' });
    other.writeDirectory(d);
    target.users.clear();
    target.groups.clear();
    expect((await other.run(['sync'])).code).toBe(0);
    expect(targetGroups().get('All staff')).toEqual(['u00011']);
  });

  it('keeps deactivated users in their groups by default, and a reactivated one is not added twice', async () => {
    const d = small();
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users.find((u) => u.id === 'u00002')!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(targetGroups().get('Sales')).toEqual(['u00001', 'u00002', 'u00003']);
    d.users.find((u) => u.id === 'u00002')!.active = true;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expectGroupsEqualSource(d);
  });

  it('restores memberships on reactivation where deactivated users leave their groups', async () => {
    const d = small();
    // The profile option: deactivated users are taken out of their groups until reactivated.
    ws.writeConfig({ targetYaml: 'options: { inactiveMembers: remove }' });
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users.find((u) => u.id === 'u00002')!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(targetGroups().get('Sales')).toEqual(['u00001', 'u00003']);
    d.users.find((u) => u.id === 'u00002')!.active = true;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(targetGroups().get('Sales')).toEqual(['u00001', 'u00002', 'u00003']);
  });

  for (const [dialect, multi] of [['path', false], ['value-array', true], ['value-array', false], ['replace', true], ['replace', false]] as const) {
    it(`removes members in the ${dialect} dialect${multi ? '' : ', one operation a request'}`, async () => {
      const d = small();
      ws.writeConfig({ targetYaml: `options: { memberRemoval: ${dialect}, multipleOperations: ${multi} }` });
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      d.groups![0] = { id: 'g1', displayName: 'Sales EMEA', members: ['u00003', 'u00004'] };
      ws.writeDirectory(d);
      target.requests.length = 0;
      const run = await ws.run(['sync']);
      expect(run.err).toEqual([]);
      expect(run.code).toBe(0);
      expectGroupsEqualSource(d);
      const patches = target.requests.filter((r) => r.method === 'PATCH').length;
      // rename, remove u00001 and u00002, add u00004
      const expected = { path: 4, 'value-array': multi ? 1 : 3, replace: multi ? 1 : 2 }[dialect];
      expect(patches).toBe(expected);
      target.requests.length = 0;
      await ws.run(['sync']);
      expect(target.requests).toEqual([]);
    });
  }

  it('relinks a group deleted in the target on the next cycle', async () => {
    const d = small();
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const sales = [...target.groups.values()].find((g) => g.displayName === 'Sales')!;
    target.groups.delete(sales.id);
    d.groups![0]!.members = ['u00001', 'u00002', 'u00003', 'u00004'];
    ws.writeDirectory(d);
    const second = await ws.run(['sync']);
    expect(second.code).toBe(1);
    const third = await ws.run(['sync']);
    expect(third.code).toBe(0);
    expectGroupsEqualSource(d);
  });
});

describe('request counts for a large group', () => {
  it('pushes a 20,000-member group in 200 writes, and a 3-member change in 1 request', async () => {
    const d = makeDirectory(20_000);
    for (const u of d.users) delete u.managerId;
    d.groups = [{ id: 'big', displayName: 'Everyone', members: d.users.map((u) => u.id) }];
    ws.writeDirectory({ users: d.users, groups: [] });
    // The users exist already (pushed by earlier cycles): seed the target and the state as those cycles left them.
    const { generic } = await import('../../connectors/profiles/generic.js');
    const { UserMapper } = await import('../../src/core/map.js');
    const { userBody } = await import('../../src/scim/bodies.js');
    const mapper = new UserMapper(generic.mappings, undefined, generic.rules);
    const mapped: { id: string; attrs: Record<string, import("../../src/core/attributes.js").AttrValue> }[] = [];
    for (const u of d.users) {
      const { id, active, ...attributes } = u;
      mapped.push({ id, attrs: (await mapper.map({ id, attributes, active: active !== false })).attrs });
    }
    const store = openStateStore(join(ws.dir, 'state.db'));
    store.transaction(() => {
      for (const { id, attrs } of mapped) {
        const { body, sent } = userBody(attrs, { active: true, resolve: () => undefined });
        const seeded = target.seedUser(body);
        store.saveUser('app', { sourceId: id, targetId: seeded.id, status: 'active', attrs: sent });
      }
    });
    store.close();

    ws.writeDirectory(d);
    target.requests.length = 0;
    const first = await ws.run(['sync']);
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    const writes = target.writes();
    expect(writes.filter((r) => r.method === 'POST' && r.path.endsWith('/Groups'))).toHaveLength(1);
    expect(writes.filter((r) => r.method === 'PATCH')).toHaveLength(199);
    expect(writes.length).toBeLessThanOrEqual(200);
    // The lookup by displayName; the target's schema (/Schemas, /ResourceTypes, /ServiceProviderConfig) is read once a day.
    expect(target.requests.filter((r) => r.method === 'GET' && !/\/(Schemas|ResourceTypes|ServiceProviderConfig)$/.test(r.path))).toHaveLength(1);
    const members = targetGroups().get('Everyone')!;
    expect(members).toHaveLength(20_000);
    expect(new Set(members).size).toBe(20_000);

    // Two leave the group, one of them rejoins as another joins: 3 member changes.
    const group = d.groups[0]!;
    group.members = group.members.filter((m) => m !== 'u00010' && m !== 'u00020');
    d.users.push({ id: 'x1', userName: 'x1@example.com', givenName: 'X', familyName: 'One', email: 'x1@example.com', active: true });
    ws.writeDirectory(d);
    await ws.run(['sync']); // creates x1 (not a member yet)
    group.members.push('x1');
    ws.writeDirectory(d);
    target.requests.length = 0;
    const change = await ws.run(['sync']);
    expect(change.code).toBe(0);
    expect(target.requests).toHaveLength(1);
    expect(target.requests[0]!.method).toBe('PATCH');
    expect(targetGroups().get('Everyone')).toHaveLength(19_999);
  }, 300_000);
});

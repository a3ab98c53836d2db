import { describe, expect, it } from 'vitest';
import { type BulkOptions, type DevTarget } from '../support/devtarget/server.js';
import { withState } from '../support/state.js';
import { groupsInSource, groupsInTarget, useTargetPerTest } from '../support/target.js';
import { makeDirectory, type Directory } from '../support/harness.js';

/** Targets that advertise Bulk and get it wrong: references, answers, refusals, small payloads. */

const TOKEN = 'bulk-faults-token';
const targetPerTest = useTargetPerTest(TOKEN);
/** A target whose /Bulk takes up to 1000 operations unless `bulk` says otherwise. */
const bulkTarget = (bulk: BulkOptions, targetYaml?: string) => targetPerTest({ target: { bulk: { maxOperations: 1000, ...bulk } }, ...(targetYaml ? { targetYaml } : {}) });

/** `n` users (no managers) and groups of every `step`-th user from an offset. */
function directory(n: number, groups: number): Directory {
  const d = makeDirectory(n);
  for (const u of d.users) delete u.managerId;
  d.groups = Array.from({ length: groups }, (_, g) => ({
    id: `g${g}`,
    displayName: `Team ${g}`,
    members: d.users.filter((_, i) => i % groups === g || i % 7 === g).map((u) => u.id),
  }));
  return d;
}

const bulkRequests = (t: DevTarget) => t.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Bulk'));

describe('a target that resolves only the last bulkId reference of each operation', () => {
  it('ends the first sync with every group equal to the source, events that say so, and a no-op cycle that sends nothing', async () => {
    const { t, ws } = await bulkTarget({ references: 'last' });
    const d = directory(200, 5);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
    const sent = bulkRequests(t).flatMap((r) => (r.body as { Operations: { data?: unknown }[] }).Operations);
    // No operation leans on the target resolving more than one reference.
    expect(sent.every((o) => (JSON.stringify(o).match(/"bulkId:/g) ?? []).length <= 1)).toBe(true);
    withState(ws, (store) => {
      const events = store.queryEvents({ type: 'group_create_provision' });
      expect(events.map((e) => `${e.result} ${e.summary}`).sort()).toEqual(d.groups!.map((g) => `success created group ${g.displayName} with ${g.members.length} members`).sort());
    });
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(t.requests).toEqual([]);
  });

  it('reads back a group it named members of by reference, fixes it in the same cycle, and names none by reference from then on', async () => {
    // A group with one new member: named by reference, which this target stores as it is.
    const { t, ws } = await bulkTarget({ references: 'none' });
    const d = directory(6, 0);
    d.groups = [{ id: 'g1', displayName: 'Solo', members: ['u00003'] }];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(groupsInTarget(t)).toEqual({ Solo: ['u00003'] });
    withState(ws, (store) => {
      expect(store.targetFacts.get('app', 'bulk.references')).toBeDefined();
      const quirk = store.queryEvents({ type: 'idm_integration_update' });
      expect(quirk.map((e) => e.summary)).toEqual([expect.stringMatching(/bulkId/)]);
    });
    // The next cycle's new group waits for its new member's id.
    d.users.push({ ...makeDirectory(7).users[6]!, managerId: undefined });
    delete d.users[6]!.managerId;
    d.groups!.push({ id: 'g2', displayName: 'Later', members: ['u00006'] });
    ws.writeDirectory(d);
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(JSON.stringify(t.writes())).not.toMatch(/"bulkId:/);
    expect(groupsInTarget(t)).toEqual({ Solo: ['u00003'], Later: ['u00006'] });
  });
});

describe('a target that answers each POST of a Bulk request with another POST’s bulkId', () => {
  it('links every source user to its own account, with its groups, and the next cycle changes the right people', async () => {
    const { t, ws } = await bulkTarget({ mislabelAnswers: true });
    const d = directory(8, 2);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    withState(ws, (store) => {
      // The mix-up is told, and each create was looked up before anything else, as after a lost answer.
      expect(store.queryEvents({ type: 'idm_integration_update' }).map((e) => e.summary)).toEqual([expect.stringMatching(/answers operation \d+ \(POST \/Users, bulkId b\d+\) with another resource/)]);
      const created = store.queryEvents({ type: 'user_create_provision' });
      expect(created.every((e) => e.result === 'success' && /the account was found in the target and linked/.test(e.summary))).toBe(true);
    });
    const accountOf = new Map([...t.users.values()].map((u) => [String(u.externalId), u.id]));
    expect(accountOf.size).toBe(8);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
    withState(ws, (store) => {
      for (const u of store.loadUsers('app')) expect(u.targetId).toBe(accountOf.get(u.sourceId));
    });
    d.users[2]!.title = 'CTO';
    d.users[5]!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const byExternalId = new Map([...t.users.values()].map((u) => [String(u.externalId), u]));
    expect([...byExternalId.values()].filter((u) => u.title === 'CTO').map((u) => u.externalId)).toEqual(['u00002']);
    expect([...byExternalId.values()].filter((u) => u.active === false).map((u) => u.externalId)).toEqual(['u00005']);
  });
});

describe('a group whose members got their accounts late in the cycle that creates it', () => {
  it('says so with a failure and exit 1 when they cannot be added, and the next cycle adds them', async () => {
    // Every create of the first Bulk request is looked up again (a mixed-up answer): the group's members come late.
    const { t, ws } = await bulkTarget({ mislabelAnswers: true });
    const d = directory(4, 0);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: d.users.map((u) => u.id) }];
    ws.writeDirectory(d);
    t.inject({ method: 'PATCH', path: /\/Groups\//, status: 400, detail: 'refused by policy', times: 1 });
    expect((await ws.run(['sync'])).code).toBe(1);
    withState(ws, (store) => {
      expect(store.queryEvents({ type: 'group_create_provision' })).toMatchObject([
        { result: 'failure', summary: expect.stringMatching(/^created group Sales with \d+ members, but adding those whose account came later failed: .*400/) },
      ]);
    });
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
  });
});

describe('a /Bulk that refuses while /ServiceProviderConfig says bulk.supported', () => {
  for (const status of [501, 404, 403] as const) {
    it(`HTTP ${status}: single requests in the same cycle, every group with all its members, exit 0, no quarantine, and no /Bulk next cycle`, async () => {
      const { t, ws } = await bulkTarget({ refuseWith: status });
      const d = directory(20, 3);
      ws.writeDirectory(d);
      const first = await ws.run(['sync']);
      expect(first.code).toBe(0);
      expect(groupsInTarget(t)).toEqual(groupsInSource(d));
      withState(ws, (store) => {
        expect(store.getQuarantine('app')).toBeUndefined();
        expect(store.targetFacts.get('app', 'bulk.refused')).toBeDefined();
      });
      d.users[1]!.title = 'CTO';
      d.groups![0]!.members.push('u00019');
      ws.writeDirectory(d);
      t.requests.length = 0;
      expect((await ws.run(['sync'])).code).toBe(0);
      expect(bulkRequests(t)).toEqual([]);
      expect(groupsInTarget(t)).toEqual(groupsInSource(d));
    });
  }
});

describe('a target that declares a small maxPayloadSize', () => {
  it('creates each group with all its members in the cycle that creates them', async () => {
    const { t, ws } = await bulkTarget({ maxPayloadSize: 1200 });
    const d = directory(60, 4);
    ws.writeDirectory(d);
    // A target slow to answer: many small Bulk requests wait their turn while the groups are created.
    t.inject({ method: 'POST', path: /\/Bulk$/, stallMs: 150 });
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(bulkRequests(t).length).toBeGreaterThan(3);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
    withState(ws, (store) => {
      const events = store.queryEvents({ type: 'group_create_provision' });
      expect(events.map((e) => `${e.result} ${e.summary}`).sort()).toEqual(d.groups!.map((g) => `success created group ${g.displayName} with ${g.members.length} members`).sort());
    });
  });
});

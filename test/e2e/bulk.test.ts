import { describe, expect, it } from 'vitest';
import { type DevTarget, type DevTargetOptions, type RecordedRequest } from '../support/devtarget/server.js';
import { withState } from '../support/state.js';
import { useTargetPerTest } from '../support/target.js';
import { makeDirectory, type Directory } from '../support/harness.js';

const TOKEN = 'bulk-token';
const targetPerTest = useTargetPerTest(TOKEN);
/** A target whose /Bulk takes up to 50 operations, unless `options` says otherwise. */
const bulkTarget = (options: Partial<DevTargetOptions> = {}) => targetPerTest({ target: { bulk: { maxOperations: 50 }, ...options } });

function directory(n: number): Directory {
  const d = makeDirectory(n);
  for (const u of d.users) delete u.managerId;
  return d;
}

interface SentOperation {
  method: string;
  path: string;
  bulkId?: string;
  data?: { members?: { value: string }[]; userName?: string };
}
const bulkRequests = (t: DevTarget) => t.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Bulk'));
const operationsOf = (r: RecordedRequest) => (r.body as { Operations: SentOperation[] }).Operations;
/** Writes sent as requests of their own (not in a Bulk request). */
const singleWrites = (t: DevTarget) => t.writes().filter((r) => !r.path.endsWith('/Bulk'));

describe('SCIM Bulk (RFC 7644 §3.7) where /ServiceProviderConfig says bulk.supported', () => {
  it('names one new member by bulkId in the same Bulk request (then reads the group back), and creates a group of more new members in the next one with their ids', async () => {
    const { t, ws } = await bulkTarget();
    const d = directory(8);
    d.groups = [
      { id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002', 'u00005'] },
      { id: 'g2', displayName: 'Solo', members: ['u00003'] },
    ];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);

    expect(singleWrites(t)).toEqual([]);
    const bulks = bulkRequests(t);
    expect(bulks).toHaveLength(2);
    const [first, second] = bulks.map(operationsOf) as [SentOperation[], SentOperation[]];
    expect(first.map((o) => `${o.method} ${o.path}`)).toEqual([...Array(8).fill('POST /Users'), 'POST /Groups']);
    const bulkIdOf = new Map(first.filter((o) => o.data?.userName).map((o) => [o.data!.userName!, o.bulkId!]));
    // No operation names more than one user by reference: targets that resolve only one would store the others as they are.
    expect(first[8]!.data!.members).toEqual([{ value: `bulkId:${bulkIdOf.get('user3@example.com')!}` }]);
    const idOf = new Map([...t.users.values()].map((u) => [String(u.externalId), u.id]));
    expect(second.map((o) => `${o.method} ${o.path}`)).toEqual(['POST /Groups']);
    expect(second[0]!.data!.members).toEqual(['u00001', 'u00002', 'u00005'].map((u) => ({ value: idOf.get(u)! })));
    // The group that named a member by reference is read back once.
    const solo = [...t.groups.values()].find((g) => g.displayName === 'Solo')!;
    expect(t.requests.filter((r) => r.method === 'GET' && r.path.includes(`/Groups/${solo.id}`))).toHaveLength(1);
    // In the target each group holds the accounts created for its users.
    const membersOf = (name: string) => (([...t.groups.values()].find((g) => g.displayName === name)!.members ?? []) as { value: string }[]).map((m) => m.value).sort();
    expect(membersOf('Sales')).toEqual(['u00001', 'u00002', 'u00005'].map((u) => idOf.get(u)!).sort());
    expect(membersOf('Solo')).toEqual([idOf.get('u00003')!]);
    // Each operation was recorded as its single request would have been.
    withState(ws, (store) => {
      const created = store.queryEvents({ type: 'user_create_provision' }).filter((e) => e.result === 'success');
      expect(created.map((e) => e.summary).sort()).toEqual(d.users.map((u) => `created ${u.userName}`).sort());
      expect(store.queryEvents({ type: 'group_create_provision' }).map((e) => `${e.result} ${e.summary}`).sort()).toEqual([
        'success created group Sales with 3 members',
        'success created group Solo with 1 members',
      ]);
      expect(store.queryEvents({ type: 'idm_integration_update' })).toEqual([]);
    });
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(t.writes()).toEqual([]);
  });

  it('keeps a failed operation of a Bulk request in escrow and records the others', async () => {
    const { t, ws } = await bulkTarget();
    const d = directory(6);
    ws.writeDirectory(d);
    t.inject({ method: 'POST', path: /\/Users$/, body: /user3@example\.com/, status: 400, scimType: 'invalidValue', detail: 'refused by policy', times: 1 });
    const first = await ws.run(['sync']);
    expect(first.code).toBe(1);

    expect(bulkRequests(t)).toHaveLength(1);
    expect(singleWrites(t)).toEqual([]);
    expect([...t.users.values()].map((u) => u.userName).sort()).toEqual(['user0', 'user1', 'user2', 'user4', 'user5'].map((u) => `${u}@example.com`));
    withState(ws, (store) => {
      expect(store.loadEscrow('app').map((e) => e.key)).toEqual(['user:u00003']);
      const failed = store.queryEvents({ type: 'user_create_provision', result: 'failure' });
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ sourceId: 'u00003', detail: { status: 400, scimType: 'invalidValue', scimDetail: 'refused by policy' } });
      expect(store.queryEvents({ type: 'user_create_provision', result: 'success' })).toHaveLength(5);
      expect(store.loadUsers('app').filter((u) => u.targetId !== null).map((u) => u.sourceId).sort()).toEqual(['u00000', 'u00001', 'u00002', 'u00004', 'u00005']);
    });

    // The next cycle sends the escrowed create, and only it.
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(t.writes()).toHaveLength(1);
    expect([...t.users.values()]).toHaveLength(6);
    withState(ws, (store) => expect(store.loadEscrow('app')).toEqual([]));
  });

  it('sends deactivations, updates and membership changes in Bulk requests', async () => {
    const { t, ws } = await bulkTarget();
    const d = directory(6);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00000', 'u00001'] }];
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users[2]!.title = 'CTO';
    d.users[3]!.active = false;
    d.users[4]!.title = 'Staff';
    d.groups[0]!.members = ['u00000', 'u00004'];
    ws.writeDirectory(d);
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(singleWrites(t)).toEqual([]);
    expect(bulkRequests(t).flatMap(operationsOf).map((o) => o.method)).toEqual(expect.arrayContaining(['PATCH', 'PATCH', 'PATCH']));
    const byId = new Map([...t.users.values()].map((u) => [String(u.externalId), u]));
    expect(byId.get('u00002')!.title).toBe('CTO');
    expect(byId.get('u00003')!.active).toBe(false);
    const members = ([...t.groups.values()][0]!.members as { value: string }[]).map((m) => m.value).sort();
    expect(members).toEqual([byId.get('u00000')!.id, byId.get('u00004')!.id].sort());
  });

  describe('falls back to single requests for the rest of the cycle when a Bulk request is answered badly', () => {
    const badAnswers = {
      '502 after applying it': { afterApply: { status: 502 } },
      'a BulkResponse that leaves operations out': {
        afterApply: { status: 200, contentType: 'application/scim+json', body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkResponse'], Operations: [] }) },
      },
      'a proxy page': { afterApply: { html: true } },
    } as const;
    for (const [what, fault] of Object.entries(badAnswers)) {
      it(`${what}: an event says so, and no create is duplicated`, async () => {
        // Without unique userNames, a create sent twice makes two accounts.
        const { t, ws } = await bulkTarget({ uniqueUserNames: false, bulk: { maxOperations: 4 } });
        const d = directory(10);
        ws.writeDirectory(d);
        t.inject({ method: 'POST', path: /\/Bulk$/, times: 1, ...fault });
        const run = await ws.run(['sync']);
        expect(run.err.join('\n')).not.toMatch(/unexpected error|\n\s+at /);
        // The requests already on their way when the bad answer came are answered as usual; none is sent after it.
        expect(bulkRequests(t).length).toBeLessThanOrEqual(Math.ceil(10 / 4));
        const perUserName = new Map<string, number>();
        for (const u of t.users.values()) perUserName.set(String(u.userName), (perUserName.get(String(u.userName)) ?? 0) + 1);
        expect([...perUserName.values()].every((n) => n === 1)).toBe(true);
        expect(perUserName.size).toBe(10);
        withState(ws, (store) => {
          const fallback = store.queryEvents({ type: 'idm_integration_update' });
          expect(fallback).toHaveLength(1);
          expect(fallback[0]).toMatchObject({ result: 'failure', summary: expect.stringMatching(/answered a Bulk request badly .*single requests for the rest of this cycle/), detail: { bulk: 'fallback' } });
          expect(store.loadUsers('app').filter((u) => u.targetId !== null)).toHaveLength(10);
        });
        // The next cycle asks again, and sends nothing: everything is in place.
        t.requests.length = 0;
        expect((await ws.run(['sync'])).code).toBe(0);
        expect(t.writes()).toEqual([]);
      });
    }
  });

  it('creates 10,000 users in at most 10 + 10,000 / maxOperations requests (counted at the target)', async () => {
    const maxOperations = 500;
    const { t, ws } = await bulkTarget({ bulk: { maxOperations, maxPayloadSize: 4 * 1024 * 1024 } });
    ws.writeDirectory(directory(10_000));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(t.users.size).toBe(10_000);
    expect(t.requests.length).toBeLessThanOrEqual(10 + 10_000 / maxOperations);
    expect(bulkRequests(t).every((r) => operationsOf(r).length <= maxOperations)).toBe(true);
  }, 120_000);
});

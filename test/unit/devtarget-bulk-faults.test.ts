import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type BulkOptions, type DevTarget } from '../support/devtarget/server.js';

const TOKEN = 'devtarget-token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
const started: DevTarget[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

async function start(bulk: BulkOptions): Promise<DevTarget> {
  const target = await startDevTarget({ token: TOKEN, bulk });
  started.push(target);
  return target;
}

const bulk = (target: DevTarget, Operations: unknown[]) =>
  fetch(`${target.url}/Bulk`, { method: 'POST', headers, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations }) });

/** Three new users and a new group naming all three by reference, as RFC 7644 §3.7.2 shows. */
const groupWithNewMembers = [
  { method: 'POST', path: '/Users', bulkId: 'b1', data: { schemas: [USER], userName: 'ada' } },
  { method: 'POST', path: '/Users', bulkId: 'b2', data: { schemas: [USER], userName: 'bob' } },
  { method: 'POST', path: '/Users', bulkId: 'b3', data: { schemas: [USER], userName: 'cyd' } },
  { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP], displayName: 'Sales', members: [{ value: 'bulkId:b1' }, { value: 'bulkId:b2' }, { value: 'bulkId:b3' }] } },
];

interface Answer {
  bulkId: string;
  status: string;
  location: string;
  response?: { userName?: string; displayName?: string; id: string };
}

describe('Bulk faults of the devtarget', () => {
  it("references: 'last' resolves only an operation's last reference, stores the others literally, and answers 201 to all", async () => {
    const target = await start({ references: 'last' });
    const res = await bulk(target, groupWithNewMembers);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { Operations: Answer[] };
    expect(answer.Operations.map((o) => `${o.bulkId} ${o.status}`)).toEqual(['b1 201', 'b2 201', 'b3 201', 'g1 201']);
    const cyd = [...target.users.values()].find((u) => u.userName === 'cyd')!;
    const members = ([...target.groups.values()][0]!.members as { value: string }[]).map((m) => m.value);
    expect(members).toEqual(['bulkId:b1', 'bulkId:b2', cyd.id]);
  });

  it('mislabelAnswers applies everything, but answers each POST with the next POST’s bulkId, its own location and resource', async () => {
    const target = await start({ mislabelAnswers: true });
    const answer = (await (await bulk(target, groupWithNewMembers)).json()) as { Operations: Answer[] };
    const byName = new Map([...target.users.values()].map((u) => [u.userName, u.id]));
    expect(answer.Operations.map((o) => [o.bulkId, o.response?.userName ?? o.response?.displayName])).toEqual([
      ['b2', 'ada'],
      ['b3', 'bob'],
      ['g1', 'cyd'],
      ['b1', 'Sales'],
    ]);
    expect(answer.Operations[0]!.location).toBe(`/scim/v2/Users/${byName.get('ada')}`);
    // The request itself was applied correctly.
    const members = ([...target.groups.values()][0]!.members as { value: string }[]).map((m) => m.value).sort();
    expect(members).toEqual([...byName.values()].sort());
  });

  it.each([403, 404, 501] as const)('refuseWith %i: /Bulk alone answers it; /ServiceProviderConfig says bulk.supported; the token works elsewhere', async (status) => {
    const target = await start({ refuseWith: status });
    expect((await bulk(target, groupWithNewMembers)).status).toBe(status);
    expect(target.users.size).toBe(0);
    const spc = (await (await fetch(`${target.url}/ServiceProviderConfig`, { headers })).json()) as { bulk: { supported: boolean } };
    expect(spc.bulk.supported).toBe(true);
    expect((await fetch(`${target.url}/Users`, { headers })).status).toBe(200);
    expect((await fetch(`${target.url}/Users`, { method: 'POST', headers, body: JSON.stringify({ schemas: [USER], userName: 'ada' }) })).status).toBe(201);
  });

  it('a small maxPayloadSize is declared, and a larger request answered 413 with nothing applied', async () => {
    const target = await start({ maxPayloadSize: 300 });
    const spc = (await (await fetch(`${target.url}/ServiceProviderConfig`, { headers })).json()) as { bulk: { maxPayloadSize: number } };
    expect(spc.bulk.maxPayloadSize).toBe(300);
    expect((await bulk(target, groupWithNewMembers)).status).toBe(413);
    expect(target.users.size).toBe(0);
    expect((await bulk(target, groupWithNewMembers.slice(0, 1))).status).toBe(200);
    expect(target.users.size).toBe(1);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget, type Fault } from '../support/devtarget/server.js';
import { workspace, type DirectoryUser, type Workspace } from '../support/harness.js';

const TOKEN = 'renames-token';

let target: DevTarget | undefined;
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

const person = (id: string, userName: string): DirectoryUser => ({ id, userName, givenName: 'Ren', familyName: id, email: userName, active: true });

/** Four users synced to a target that refuses a userName another account holds (409). */
async function start(profile?: 'strongdm' | 'bulk'): Promise<{ t: DevTarget; ws: Workspace; accounts: Map<string, string> }> {
  const t = (target = await startDevTarget(
    profile === 'strongdm'
      ? { token: TOKEN, profile, basePath: '/provisioning/generic/v2' }
      : { token: TOKEN, strict: true, ...(profile === 'bulk' ? { bulk: { maxOperations: 50 } } : {}) },
  ));
  const ws = workspace(t.url, TOKEN);
  ws.writeConfig(profile === 'strongdm' ? { targetYaml: `profile: ${profile}` } : {});
  ws.writeDirectory({ users: ['a', 'b', 'c', 'd'].map((n) => person(n.toUpperCase(), `${n}@example.com`)) });
  expect((await ws.run(['sync'])).code).toBe(0);
  return { t, ws, accounts: new Map([...t.users.values()].map((u) => [String(u.externalId), u.id])) };
}

/** The source's userNames now: `names` maps a source id to its new local part; the others keep theirs. */
function rename(ws: Workspace, names: Record<string, string>): void {
  ws.writeDirectory({ users: ['A', 'B', 'C', 'D'].map((id) => person(id, `${names[id] ?? id.toLowerCase()}@example.com`)) });
}

async function eventsOf(ws: Workspace, user: string): Promise<{ type: string; result: string; summary: string }[]> {
  const res = await ws.run(['events', '--user', user, '--json']);
  return res.out.map((l) => JSON.parse(l) as { type: string; result: string; summary: string });
}

/** Each account holds its user's new name, in one cycle, with no 409 on the way; the next cycle sends nothing. */
async function expectConverged(t: DevTarget, ws: Workspace, accounts: Map<string, string>, names: Record<string, string>): Promise<void> {
  for (const id of ['A', 'B', 'C', 'D']) {
    expect(t.users.get(accounts.get(id)!)?.userName, `${id}'s account`).toBe(`${names[id] ?? id.toLowerCase()}@example.com`);
  }
  expect(t.users.size).toBe(4);
  expect(t.requests.filter((r) => r.status === 409)).toEqual([]);
  t.requests.length = 0;
  const again = await ws.run(['sync']);
  expect(again.code).toBe(0);
  expect(t.requests.filter((r) => r.method !== 'GET')).toEqual([]);
}

describe('users whose userNames are renamed into each other', () => {
  it('a swap: one account moves to a temporary name of its own domain, then both take their new names', async () => {
    const { t, ws, accounts } = await start();
    const swap = { A: 'b', B: 'a' };
    rename(ws, swap);
    t.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.out.join('\n')).toMatch(/updated 3, .*failed 0/);
    const patches = t.writes().filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(3);
    expect(JSON.stringify(patches[0]!.body)).toMatch(/"value":"a\+scimsync-[0-9a-f]{8}@example\.com"/);
    await expectConverged(t, ws, accounts, swap);
    // The truth, in the audit log: A's temporary name, then its final one.
    const a = (await eventsOf(ws, 'A')).filter((e) => e.type === 'user_update_provision');
    expect(a.map((e) => e.result)).toEqual(['success', 'success']);
    expect(a[0]!.summary).toMatch(/^updated a\+scimsync-[0-9a-f]{8}@example\.com \(userName\): a temporary name, until B has taken its old one$/);
    expect(a[1]!.summary).toMatch(/^updated b@example\.com \(userName, /);
  });

  it('a swap on strongDM, whose emails are unique too: the temporary step moves both aside', async () => {
    const { t, ws, accounts } = await start('strongdm');
    const swap = { A: 'b', B: 'a' };
    rename(ws, swap);
    t.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    for (const [id, name] of [['A', 'b'], ['B', 'a']] as const) {
      expect((t.users.get(accounts.get(id)!)?.emails as { value: string }[]).map((e) => e.value)).toEqual([`${name}@example.com`]);
    }
    await expectConverged(t, ws, accounts, swap);
  });

  it('a swap in Bulk requests converges too', async () => {
    const { t, ws, accounts } = await start('bulk');
    const swap = { A: 'b', B: 'a' };
    // C and D change too, so that there is enough to send for Bulk.
    rename(ws, { ...swap, C: 'c2', D: 'd2' });
    t.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    expect(t.requests.some((r) => r.method === 'POST' && r.path.endsWith('/Bulk'))).toBe(true);
    await expectConverged(t, ws, accounts, { ...swap, C: 'c2', D: 'd2' });
  });

  it('a rotation of three: A takes b, B takes c, C takes a', async () => {
    const { t, ws, accounts } = await start();
    const rotation = { A: 'b', B: 'c', C: 'a' };
    rename(ws, rotation);
    t.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    expect(t.writes().filter((r) => r.method === 'PATCH')).toHaveLength(4);
    await expectConverged(t, ws, accounts, rotation);
  });

  it('a swap stopped after the temporary name: the state holds it, and the next cycle finishes the swap', async () => {
    const { t, ws, accounts } = await start();
    const swap = { A: 'b', B: 'a' };
    rename(ws, swap);
    // A's final rename is refused once (a 400 is not retried): the cycle ends with A under its temporary name.
    t.inject({ method: 'PATCH', path: /\/Users\//, body: /"value":"b@example\.com"/, status: 400, times: 1 });
    const first = await ws.run(['sync']);
    expect(first.code).not.toBe(0);
    expect(t.users.get(accounts.get('A')!)?.userName).toMatch(/^a\+scimsync-[0-9a-f]{8}@example\.com$/);
    expect(t.users.get(accounts.get('B')!)?.userName).toBe('a@example.com');
    t.requests.length = 0;
    const second = await ws.run(['sync']);
    expect(second.err).toEqual([]);
    expect(second.code).toBe(0);
    // One PATCH: A's final name; no temporary step again.
    expect(t.writes().map((r) => [r.method, JSON.stringify(r.body)])).toEqual([['PATCH', expect.stringContaining('"value":"b@example.com"')]]);
    await expectConverged(t, ws, accounts, swap);
  });

  for (const lost of [
    { step: 'the temporary rename', body: /scimsync-/ },
    { step: 'the final rename', body: /"value":"b@example\.com"/ },
  ]) {
    it(`a swap where the answer to ${lost.step} is lost: the rename is sent again and the swap completes`, async () => {
      const { t, ws, accounts } = await start();
      const swap = { A: 'b', B: 'a' };
      rename(ws, swap);
      const fault: Fault = { method: 'PATCH', path: /\/Users\//, body: lost.body, times: 1, reset: 'after' };
      t.inject(fault);
      t.requests.length = 0;
      const run = await ws.run(['sync']);
      expect(run.err).toEqual([]);
      expect(run.code).toBe(0);
      // The lost answer cost one request more, nothing else.
      expect(t.writes().filter((r) => r.method === 'PATCH' && r.status === 0)).toHaveLength(1);
      await expectConverged(t, ws, accounts, swap);
    });
  }
});

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, requireBuild } from '../support/cli.js';
import { openStateStore } from '../../state/index.js';
import { startDevTarget, type DevTarget, type DevTargetOptions } from '../support/devtarget/server.js';
import { configHead, workspace, type Directory, type DirectoryUser, type Workspace } from '../support/harness.js';

const TOKEN = 'rehire-token';
const REHIRE = 'rehire@example.com';

let target: DevTarget | undefined;
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

async function start(policy: 'deactivate' | 'delete', options: Partial<DevTargetOptions> = {}): Promise<{ t: DevTarget; ws: Workspace }> {
  const t = (target = await startDevTarget({ token: TOKEN, strict: true, ...options }));
  const ws = workspace(t.url, TOKEN);
  ws.writeConfig({ integrationYaml: `deprovision: { action: ${policy} }` });
  return { t, ws };
}

const person = (id: string, userName: string, extra: Partial<DirectoryUser> = {}): DirectoryUser => ({
  id,
  userName,
  givenName: 'Rosa',
  familyName: 'Hire',
  email: userName,
  active: true,
  ...extra,
});

/** E100, with colleagues that stay, so that a cycle is more than the rehire (Bulk requests, the account index). */
function before(): Directory {
  return { users: [person('E100', REHIRE), person('C1', 'c1@example.com'), person('C2', 'c2@example.com'), person('C3', 'c3@example.com')] };
}

/** E100 gone (or inactive), E200 arrived with the same userName, and three other new hires. */
function after(e100: 'removed' | 'inactive'): Directory {
  const users = [person('E200', REHIRE), ...before().users.slice(1)];
  for (const n of [1, 2, 3]) users.push(person(`N${n}`, `n${n}@example.com`));
  if (e100 === 'inactive') users.push(person('E100', REHIRE, { active: false }));
  return { users };
}

interface Link {
  sourceId: string;
  targetId: string | null;
  status: string;
}

function links(ws: Workspace): Map<string, Link> {
  const store = openStateStore(join(ws.dir, 'state.db'));
  try {
    return new Map(store.loadUsers('app').map((u) => [u.sourceId, { sourceId: u.sourceId, targetId: u.targetId, status: u.status }]));
  } finally {
    store.close();
  }
}

function accountOf(t: DevTarget, userName: string) {
  const found = [...t.users.values()].filter((u) => String(u.userName).toLowerCase() === userName);
  expect(found, `accounts named ${userName}`).toHaveLength(1);
  return found[0]!;
}

async function eventsOf(ws: Workspace, user: string): Promise<{ type: string; result: string; summary: string }[]> {
  const res = await ws.run(['events', '--user', user, '--json']);
  return res.out.map((l) => JSON.parse(l) as { type: string; result: string; summary: string });
}

/** What must hold after the cycle that saw the rehire: one account, E200's, active; E100 linked to nothing; nothing left to send. */
async function expectTheRehireOwnsTheAccount(t: DevTarget, ws: Workspace, accountId: string): Promise<void> {
  const account = accountOf(t, REHIRE);
  expect(account.id).toBe(accountId);
  expect(account.active).toBe(true);
  expect(account.externalId).toBe('E200');
  const state = links(ws);
  expect(state.get('E200')).toMatchObject({ targetId: accountId, status: 'active' });
  expect(state.get('E100')?.targetId).toBeNull();
  // One account, one source user.
  expect([...state.values()].filter((l) => l.targetId === accountId)).toHaveLength(1);
  // Nothing left to repair: the next cycle sends nothing.
  t.requests.length = 0;
  const again = await ws.run(['sync']);
  expect(again.code).toBe(0);
  expect(t.writes()).toEqual([]);
  expect(accountOf(t, REHIRE).active).toBe(true);
}

/**
 * E100 synced under `policy`; an admin then renames its account in the app to the rehire's name, and E200
 * (the rehire) takes E100's place in the source, its lookup slow so that E100's departure lands first.
 */
async function renamedInTheApp(policy: 'deactivate' | 'delete'): Promise<{ t: DevTarget; ws: Workspace; accountId: string }> {
  const { t, ws } = await start(policy);
  ws.writeDirectory({ users: [person('E100', 'old@example.com'), ...before().users.slice(1)] });
  expect((await ws.run(['sync'])).code).toBe(0);
  const accountId = accountOf(t, 'old@example.com').id;
  t.editUser(accountId, { userName: REHIRE });
  t.inject({ method: 'GET', path: /\/Users\?filter=userName/, stallMs: 800, times: 1 });
  ws.writeDirectory({ users: [person('E200', REHIRE), ...before().users.slice(1)] });
  return { t, ws, accountId };
}

describe('a rehire under a new id with the same userName, in the cycle where the leaver goes', () => {
  for (const policy of ['deactivate', 'delete'] as const) {
    for (const transport of ['single requests', 'Bulk requests'] as const) {
      it(`deprovision ${policy}, ${transport}: E200 adopts the account, E100's ${policy} is skipped and its link released`, async () => {
        const { t, ws } = await start(policy, transport === 'Bulk requests' ? { bulk: { maxOperations: 50 } } : {});
        ws.writeDirectory(before());
        expect((await ws.run(['sync'])).code).toBe(0);
        const accountId = accountOf(t, REHIRE).id;

        ws.writeDirectory(after('removed'));
        t.requests.length = 0;
        const run = await ws.run(['sync']);
        expect(run.err).toEqual([]);
        expect(run.code).toBe(0);
        expect(run.out.join('\n')).toMatch(/created 3, adopted 1, .*deactivated 0, reactivated 0, deleted 0, failed 0/);
        if (transport === 'Bulk requests') expect(t.requests.some((r) => r.method === 'POST' && r.path.endsWith('/Bulk'))).toBe(true);
        // The account was never deactivated or deleted, not even for a moment.
        expect(JSON.stringify(t.writes())).not.toMatch(/"value":false/);
        expect(t.writes().filter((r) => r.method === 'DELETE')).toEqual([]);

        const e100 = await eventsOf(ws, 'E100');
        expect(e100.at(-1)).toMatchObject({
          type: policy === 'delete' ? 'user_delete_provision' : 'user_deprovision',
          result: 'skipped',
          summary: expect.stringMatching(new RegExp(`not ${policy}d: E200 adopted its account in this cycle; the account is E200's now, and E100's link to it is released`)),
        });
        const e200 = await eventsOf(ws, 'E200');
        expect(e200.at(-1)).toMatchObject({ type: 'user_create_provision', result: 'success', summary: expect.stringMatching(/adopted existing account rehire@example.com, which was E100's \(E100 left the source\)/) });
        await expectTheRehireOwnsTheAccount(t, ws, accountId);
      });
    }
  }

  it("E100's group memberships become E200's: the account stays in the group once, and nothing is sent for them", async () => {
    const { t, ws } = await start('deactivate');
    ws.writeDirectory({ ...before(), groups: [{ id: 'g1', displayName: 'Sales', members: ['E100', 'C1'] }] });
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    ws.writeDirectory({ ...after('removed'), groups: [{ id: 'g1', displayName: 'Sales', members: ['E200', 'C1'] }] });
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(t.writes().filter((r) => r.path.includes('/Groups'))).toEqual([]);
    const group = [...t.groups.values()][0]!;
    expect((group.members as { value: string }[]).filter((m) => m.value === accountId)).toHaveLength(1);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
    const shown = JSON.parse((await ws.run(['state', 'show', 'E200', '--json'])).out[0]!) as { groups: string[] };
    expect(shown.groups).toEqual(['g1']);
  });

  it("E100's membership of a group E200 is not in goes with the account, in the same cycle (the group's change sent after the adoption)", async () => {
    const { t, ws } = await start('deactivate');
    // One request at a time, users first: Sales' change starts only once E200 has adopted the account.
    ws.writeConfig({
      raw: [
        ...configHead(ws, { targetUrl: t.url }),
        '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 1 }',
        '      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 }',
        '    deprovision: { action: deactivate }',
        '',
      ].join('\n'),
    });
    ws.writeDirectory({ ...before(), groups: [{ id: 'g1', displayName: 'Sales', members: ['E100', 'C1'] }] });
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    ws.writeDirectory({ ...after('removed'), groups: [{ id: 'g1', displayName: 'Sales', members: ['C1'] }] });
    expect((await ws.run(['sync'])).code).toBe(0);
    const group = [...t.groups.values()][0]!;
    expect((group.members as { value: string }[]).map((m) => m.value)).not.toContain(accountId);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
    const shown = JSON.parse((await ws.run(['state', 'show', 'E200', '--json'])).out[0]!) as { groups: string[] };
    expect(shown.groups).toEqual([]);
  });

  it('E100 still in the source but inactive: the same, and E100 becoming active again does not take the account back', async () => {
    const { t, ws } = await start('deactivate');
    ws.writeDirectory(before());
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;

    ws.writeDirectory(after('inactive'));
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    const e200 = await eventsOf(ws, 'E200');
    expect(e200.at(-1)?.summary).toMatch(/which was E100's \(E100 is inactive at the source\)/);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);

    // Two active source users with one userName: the account stays E200's, E100 is held and said why.
    const d = after('removed');
    d.users.push(person('E100', REHIRE));
    ws.writeDirectory(d);
    t.requests.length = 0;
    const clash = await ws.run(['sync']);
    expect(clash.code).toBe(1);
    expect(t.writes()).toEqual([]);
    expect(links(ws).get('E100')?.targetId).toBeNull();
    expect(links(ws).get('E200')).toMatchObject({ targetId: accountId, status: 'active' });
    const e100 = await eventsOf(ws, 'E100');
    expect(e100.at(-1)).toMatchObject({
      type: 'user_lookup_provision',
      result: 'failure',
      summary: expect.stringMatching(/matches the account rehire@example.com of E200, who is active at the source: not adopted/),
    });
  });
});

describe('the adoption of the leaver’s account whose answer is lost', () => {
  it('applied, the connection reset at every attempt: the account is read back, E200 owns it, E100 is released and not deactivated', async () => {
    const { t, ws } = await start('deactivate');
    ws.writeDirectory(before());
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    // Every attempt of E200's adoption lands, and its answer never arrives.
    t.inject({ method: 'PATCH', path: new RegExp(`/Users/${accountId}$`), body: /E200/, reset: 'after', times: 3 });
    ws.writeDirectory(after('removed'));
    const run = await ws.run(['sync']);
    expect(run.out.join('\n')).toMatch(/adopted 1, .*deactivated 0, .*failed 0/);
    expect(run.code).toBe(0);
    expect(JSON.stringify(t.writes())).not.toMatch(/"value":false/);
    const e200 = (await ws.run(['events', '--user', 'E200', '--json'])).out.map((l) => JSON.parse(l) as { summary: string; detail: Record<string, unknown> });
    expect(e200.at(-1)).toMatchObject({ summary: expect.stringMatching(/adopted existing account rehire@example.com, which was E100's/), detail: { readBack: true, releasedFrom: 'E100' } });
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
  });

  it('not applied (a 503 at every attempt): E200 is kept for retry, E100 keeps its account and is deactivated', async () => {
    const { t, ws } = await start('deactivate');
    ws.writeDirectory(before());
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    t.inject({ method: 'PATCH', path: new RegExp(`/Users/${accountId}$`), body: /E200/, status: 503, times: 3 });
    ws.writeDirectory(after('removed'));
    expect((await ws.run(['sync'])).code).toBe(1);
    expect(accountOf(t, REHIRE)).toMatchObject({ id: accountId, externalId: 'E100', active: false });
    expect(links(ws).get('E100')).toMatchObject({ targetId: accountId, status: 'inactive' });
    // The next cycle adopts it for E200.
    expect((await ws.run(['sync'])).code).toBe(0);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
  });
});

describe('the leaver deprovisioned before the rehire is looked up', () => {
  it('in an earlier cycle: the adoption reactivates the account and releases the leaver, who then stays out of it', async () => {
    const { t, ws } = await start('deactivate');
    ws.writeDirectory(before());
    expect((await ws.run(['sync'])).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    const d = before();
    d.users[0]!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(accountOf(t, REHIRE).active).toBe(false);

    ws.writeDirectory(after('inactive'));
    expect((await ws.run(['sync'])).code).toBe(0);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
    // E100 active again at the source would reactivate E200's account if it were still linked.
    const back = after('removed');
    back.users.push(person('E100', REHIRE));
    ws.writeDirectory(back);
    expect((await ws.run(['sync'])).code).toBe(1);
    expect(accountOf(t, REHIRE)).toMatchObject({ id: accountId, active: true, externalId: 'E200' });
  });

  it('in the same cycle (the account was renamed in the app, so nothing tells the plan): the adoption reactivates it', async () => {
    const { t, ws, accountId } = await renamedInTheApp('deactivate');
    t.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    const patches = t.writes().filter((r) => r.path.endsWith(accountId));
    // The deactivation went first, the adoption after it, and the adoption set active=true.
    expect(JSON.stringify(patches[0]!.body)).toMatch(/"path":"active","value":false/);
    expect(JSON.stringify(patches.at(-1)!.body)).toMatch(/"path":"active","value":true/);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
  });

  it('in the same cycle with deprovision delete: the account is gone, and the rehire gets a new one, linked to E200 alone', async () => {
    const { t, ws, accountId } = await renamedInTheApp('delete');
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    expect(t.users.has(accountId)).toBe(false);
    const account = accountOf(t, REHIRE);
    expect(account).toMatchObject({ active: true, externalId: 'E200' });
    expect(links(ws).get('E200')).toMatchObject({ targetId: account.id, status: 'active' });
    expect(links(ws).get('E100')?.targetId).toBeNull();
  });
});

describe('the built scimsync command', () => {
  requireBuild();
  const exec = promisify(execFile);

  it('exits 0 with the rehire owning the active account, and the next run sends nothing', async () => {
    const { t, ws } = await start('deactivate');
    const sync = async () => {
      try {
        const { stdout } = await exec(process.execPath, [BIN, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN } });
        return { code: 0, stdout };
      } catch (e) {
        const err = e as { code: number; stdout: string };
        return { code: err.code, stdout: err.stdout };
      }
    };
    ws.writeDirectory(before());
    expect((await sync()).code).toBe(0);
    const accountId = accountOf(t, REHIRE).id;
    ws.writeDirectory(after('removed'));
    const run = await sync();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/adopted 1, updated 0, deactivated 0/);
    await expectTheRehireOwnsTheAccount(t, ws, accountId);
  });
});

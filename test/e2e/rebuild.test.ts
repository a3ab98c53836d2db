import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { deleteState, driftOf } from '../support/reconcile.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'rebuild-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const userOf = (sourceId: string) => [...target.users.values()].find((u) => u.externalId === sourceId);

describe('every managed attribute is seen, not only those the source fills', () => {
  it('a value set by hand where the source has none is drift: reconcile reports it and --apply removes it', async () => {
    const d = makeDirectory(4);
    delete d.users[2]!.title;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(userOf('u00002')!.title).toBeUndefined();

    userOf('u00002')!.title = 'Set by hand';
    target.requests.length = 0;
    expect(await driftOf(ws)).toEqual([expect.objectContaining({ sourceId: 'u00002', path: 'title', pushed: null, actual: 'Set by hand' })]);
    expect(target.writes()).toEqual([]);

    const applied = await ws.run(['reconcile', '--apply']);
    expect(applied.code).toBe(0);
    expect(userOf('u00002')!.title).toBeUndefined();
    expect(await driftOf(ws)).toEqual([]);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('after state rebuild, the next sync removes a value set by hand where the source has none', async () => {
    const d = makeDirectory(4);
    delete d.users[2]!.title;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    userOf('u00002')!.title = 'Set by hand';
    deleteState(ws);

    target.requests.length = 0;
    expect((await ws.run(['state', 'rebuild', 'app'])).code).toBe(0);
    expect(target.writes()).toEqual([]);
    target.requests.length = 0;
    const next = await ws.run(['sync']);
    expect(next.code).toBe(0);
    expect(target.writes()).toHaveLength(1);
    expect(userOf('u00002')!.title).toBeUndefined();
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('keepOnEmpty: a value set by hand where the source has none is left alone', async () => {
    ws.writeConfig({ integrationYaml: 'mappings:\n  user:\n    title: { from: title, keepOnEmpty: true }' });
    const d = makeDirectory(3);
    delete d.users[1]!.title;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    userOf('u00001')!.title = 'Kept';
    expect(await driftOf(ws)).toEqual([]);
    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    expect(userOf('u00001')!.title).toBe('Kept');
  });

  it('reconcile --adopt records every managed value of the adopted account: the next sync removes what the source does not have', async () => {
    const d = makeDirectory(3);
    const late = d.users.pop()!;
    delete late.title;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const existing = target.seedUser({
      userName: late.userName,
      externalId: late.id,
      displayName: `${late.givenName} ${late.familyName}`,
      name: { givenName: late.givenName, familyName: late.familyName, formatted: `${late.givenName} ${late.familyName}` },
      emails: [{ type: 'work', value: late.email }],
      title: 'Not in the source',
    });
    d.users.push(late);
    ws.writeDirectory(d);
    expect((await ws.run(['reconcile', '--adopt'])).code).toBe(0);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.writes()).toHaveLength(1);
    expect(target.users.get(existing.id)!.title).toBeUndefined();
  });
});

describe('state rebuild keeps what is pending', () => {
  it('a removal the target refused (kept in escrow) survives state rebuild and is retried', async () => {
    ws.writeConfig({ integrationYaml: 'deprovision: { action: delete }\nsafety: { minSourceRatio: 0.5 }' });
    const d = makeDirectory(5);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const leaver = d.users.pop()!;
    ws.writeDirectory(d);
    const account = userOf(leaver.id)!;
    target.inject({ method: 'DELETE', path: new RegExp(`/Users/${account.id}$`), status: 400, detail: 'this account cannot be deleted now' });
    const refused = await ws.run(['sync']);
    expect(refused.code).toBe(1);
    expect(userOf(leaver.id)).toBeDefined();

    const rebuilt = await ws.run(['state', 'rebuild', 'app', '--json']);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.out[0]!)).toMatchObject({ users: 5, kept: 1, escrow: 1 });
    const status = await ws.run(['state', 'show', leaver.id]);
    expect(status.out.join('\n')).toContain(`target id: ${account.id}`);

    target.clearFaults();
    target.requests.length = 0;
    const retried = await ws.run(['sync']);
    expect(retried.code).toBe(0);
    expect(retried.out.join('\n')).toMatch(/deleted 1/);
    expect(target.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /scim/v2/Users/${account.id}`]);
    expect(userOf(leaver.id)).toBeUndefined();
  });

  it('names the source users who are inactive and have no account: they will not be created', async () => {
    const d = makeDirectory(4);
    d.users[3]!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(userOf('u00003')).toBeUndefined();
    deleteState(ws);
    const rebuilt = await ws.run(['state', 'rebuild', 'app', '--json']);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.out[0]!)).toMatchObject({ users: 3, unmatched: 0, inactiveUnmatched: ['u00003'] });
  });
});

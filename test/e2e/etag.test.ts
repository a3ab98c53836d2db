import { afterEach, describe, expect, it } from 'vitest';
import { openStateStore } from '../../state/index.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace } from '../support/harness.js';

const TOKEN = 'etag-token';
let target: DevTarget | undefined;
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

const byExternalId = (t: DevTarget) => new Map([...t.users.values()].map((u) => [String(u.externalId), u]));

describe('updates by PUT against a target that keeps versions (RFC 7644 §3.14)', () => {
  it('sends If-Match; an edit made in the app between the read and the PUT gets a 412, a re-read, and is kept', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true, etags: true });
    const t = target;
    const ws = workspace(t.url, TOKEN);
    ws.writeConfig({ targetYaml: 'options: { updateVerb: put }' });
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const id = byExternalId(t).get('u00000')!.id;

    d.users[0]!.title = 'CTO';
    ws.writeDirectory(d);
    // An admin edits the account in the app after scimsync read it, before its PUT lands.
    t.inject({ method: 'PUT', path: new RegExp(`/Users/${id}$`), times: 1, beforeServe: () => t.editUser(id, { nickName: 'set by an admin meanwhile' }) });
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);

    expect(t.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'PUT 412', 'GET 200', 'PUT 200']);
    const after = t.users.get(id)!;
    expect(after.title).toBe('CTO');
    expect(after.nickName).toBe('set by an admin meanwhile'); // not overwritten by the copy read before the edit
    const store = openStateStore(`${ws.dir}/state.db`);
    try {
      const [event] = store.queryEvents({ type: 'user_update_provision' }).filter((e) => e.sourceId === 'u00000' && e.result === 'success');
      expect(event).toMatchObject({ summary: expect.stringMatching(/^updated user0@example\.com/), detail: { conflicts: 1 } });
    } finally {
      store.close();
    }
    t.requests.length = 0;
    await ws.run(['sync']);
    expect(t.requests).toEqual([]);
  });

  it('re-plans against what the account holds now: a value scimsync manages, changed meanwhile, is set again', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true, etags: true });
    const t = target;
    const ws = workspace(t.url, TOKEN);
    ws.writeConfig({ targetYaml: 'options: { updateVerb: put }' });
    const d = makeDirectory(2);
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const id = byExternalId(t).get('u00001')!.id;
    d.users[1]!.title = 'Staff Engineer';
    ws.writeDirectory(d);
    // Meanwhile the family name (which the source owns) is changed in the app.
    t.inject({ method: 'PUT', path: new RegExp(`/Users/${id}$`), times: 1, beforeServe: () => t.editUser(id, { name: { givenName: 'Given1', familyName: 'Changed' }, nickName: 'kept' }) });
    expect((await ws.run(['sync'])).code).toBe(0);
    const after = t.users.get(id)!;
    expect(after).toMatchObject({ title: 'Staff Engineer', nickName: 'kept', name: { familyName: 'Family1' } });
    const puts = t.requests.filter((r) => r.method === 'PUT').map((r) => r.status);
    expect(puts).toEqual([412, 200]);
  });

  it('carries the version in a Bulk operation: a stale one fails that operation alone with 412, which is re-read and sent again', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true, etags: true, bulk: { maxOperations: 10 } });
    const t = target;
    const ws = workspace(t.url, TOKEN);
    ws.writeConfig({ targetYaml: 'options: { updateVerb: put }' });
    const d = makeDirectory(4);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const id = byExternalId(t).get('u00000')!.id;
    for (const u of d.users.slice(0, 3)) u.title = 'Director';
    ws.writeDirectory(d);
    t.inject({ method: 'POST', path: /\/Bulk$/, times: 1, beforeServe: () => t.editUser(id, { nickName: 'set by an admin meanwhile' }) });
    t.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    const puts = t.requests.filter((r) => r.path.endsWith('/Bulk')).flatMap((r) => (r.body as { Operations: { method: string; version?: string }[] }).Operations);
    expect(puts.every((o) => o.method === 'PUT' && o.version !== undefined)).toBe(true);
    expect(puts.length).toBeGreaterThan(3); // the stale one, sent again
    expect(t.users.get(id)).toMatchObject({ title: 'Director', nickName: 'set by an admin meanwhile' });
    expect(d.users.slice(0, 3).map((u) => byExternalId(t).get(u.id)!.title)).toEqual(['Director', 'Director', 'Director']);
  });

  it('sends no If-Match to a target that keeps no versions', async () => {
    target = await startDevTarget({ token: TOKEN, strict: true });
    const ws = workspace(target.url, TOKEN);
    ws.writeConfig({ targetYaml: 'options: { updateVerb: put }' });
    const d = makeDirectory(1);
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users[0]!.title = 'CTO';
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect([...target.users.values()][0]!.title).toBe('CTO');
  });
});

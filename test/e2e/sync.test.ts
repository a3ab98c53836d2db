import { describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { type DevTarget, type StoredResource } from '../support/devtarget/server.js';
import { makeDirectory, type Directory, type DirectoryUser, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'e2e-token';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

function byExternalId(): Map<string, StoredResource> {
  return new Map([...target.users.values()].map((u) => [String(u.externalId), u]));
}

/** The target holds exactly the source's active users, with their values, and the inactive ones disabled. */
function expectTargetEqualsSource(d: Directory): void {
  const users = byExternalId();
  const idOf = (sourceId: string) => users.get(sourceId)?.id;
  for (const u of d.users) {
    const t = users.get(u.id);
    if (u.active === false && !t) continue; // never created because inactive from the start
    expect(t, `user ${u.id} in target`).toBeDefined();
    const r = t!;
    expect(r.userName).toBe(u.userName);
    expect(r.active).toBe(u.active !== false);
    expect((r.name as Record<string, unknown>).givenName).toBe(u.givenName);
    expect((r.name as Record<string, unknown>).familyName).toBe(u.familyName);
    expect((r.emails as { type: string; value: string }[]).find((e) => e.type === 'work')?.value).toBe(u.email);
    expect(r.title).toBe(u.title);
    const phone = (r.phoneNumbers as { type: string; value: string }[] | undefined)?.find((p) => p.type === 'work')?.value;
    expect(phone).toBe(u.phone);
    const manager = (r[ENTERPRISE] as { manager?: { value?: string } } | undefined)?.manager?.value;
    const managerInSource = u.managerId !== undefined && d.users.some((m) => m.id === u.managerId);
    expect(manager).toBe(managerInSource ? idOf(u.managerId!) : undefined);
  }
}

describe('scimsync sync against a strict SCIM target', () => {
  it('creates a 300-user directory, converges after changes, then sends nothing', async () => {
    const d = makeDirectory(300);
    ws.writeDirectory(d);

    const first = await ws.run(['sync']);
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.out.join('\n')).toMatch(/created 300,/);
    expect(target.users.size).toBe(300);
    expectTargetEqualsSource(d);

    // Edits, deactivations, removals and additions.
    const users = d.users;
    users[1]!.title = 'Staff Engineer';
    users[2]!.familyName = 'Renamed';
    users[3]!.phone = undefined; // cleared at the source: removed in the target
    users[4]!.active = false;
    users[5]!.email = 'user5@corp.example.com';
    users[12]!.managerId = 'u00020';
    const removed = users.splice(200, 5);
    users.push(
      { id: 'new1', userName: 'new1@example.com', givenName: 'New', familyName: 'One', email: 'new1@example.com', title: 'Intern', managerId: 'u00000', active: true },
      { id: 'new2', userName: 'new2@example.com', givenName: 'New', familyName: 'Two', email: 'new2@example.com', title: 'Intern', active: true },
    );
    ws.writeDirectory(d);
    target.requests.length = 0;

    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    // updated: the five edits, and five reports of the removed u00200, whose manager is now left empty
    expect(second.out.join('\n')).toMatch(/created 2, adopted 0, updated 10, deactivated 6, reactivated 0/);
    expectTargetEqualsSource(d);
    const all = byExternalId();
    for (const r of removed) expect(all.get(r.id)?.active).toBe(false);
    // A cleared source value is removed in the target, not left stale.
    expect(all.get('u00003')?.phoneNumbers ?? []).toEqual([]);
    // Only what changed was sent: 2 creates + 10 updates + 6 deactivations.
    expect(target.writes().length).toBe(18);

    // Reactivation.
    users[4]!.active = true;
    ws.writeDirectory(d);
    const third = await ws.run(['sync']);
    expect(third.out.join('\n')).toMatch(/reactivated 1/);
    expect(byExternalId().get('u00004')?.active).toBe(true);

    target.requests.length = 0;
    const idle = await ws.run(['sync']);
    expect(idle.code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('adopts a user pre-created in the target with a different case instead of duplicating it', async () => {
    const pre = target.seedUser({
      userName: 'ADA@Example.com',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ type: 'work', value: 'ada@example.com', primary: true }],
      active: false,
    });
    const d: Directory = {
      users: [{ id: 'ada', userName: 'ada@example.com', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', title: 'Countess' }],
    };
    ws.writeDirectory(d);
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    expect(res.out.join('\n')).toMatch(/created 0, adopted 1/);
    expect(target.users.size).toBe(1);
    const ada = target.users.get(pre.id)!;
    // userName is not caseExact (RFC 7643 §4.1.1): the target already holds this name, and keeps its spelling.
    expect(ada.userName).toBe('ADA@Example.com');
    expect(ada.externalId).toBe('ada');
    expect(ada.title).toBe('Countess');
    expect(ada.active).toBe(true);

    target.requests.length = 0;
    await ws.run(['sync']);
    expect(target.requests).toEqual([]);
  });

  it('removes, when it adopts an account, a managed value the source leaves empty, and keeps what no mapping writes', async () => {
    const pre = target.seedUser({
      userName: 'grace@example.com',
      name: { givenName: 'Grace', familyName: 'Hopper' },
      emails: [{ type: 'work', value: 'grace@example.com', primary: true }],
      title: 'Set by hand',
      nickName: 'Amazing Grace',
      active: true,
    });
    ws.writeDirectory({ users: [{ id: 'grace', userName: 'grace@example.com', givenName: 'Grace', familyName: 'Hopper', email: 'grace@example.com' }] });
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    expect(res.out.join('\n')).toMatch(/created 0, adopted 1/);
    const grace = target.users.get(pre.id)!;
    expect(grace.title).toBeUndefined();
    expect(grace.nickName).toBe('Amazing Grace');
    target.requests.length = 0;
    await ws.run(['sync']);
    expect(target.requests).toEqual([]);
  });

  it('re-creates a user whose account was deleted in the target (404 on the stored id)', async () => {
    const d = makeDirectory(3);
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const gone = byExternalId().get('u00001')!;
    target.users.delete(gone.id);
    d.users[1]!.title = 'Changed';
    ws.writeDirectory(d);
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    const back = byExternalId().get('u00001');
    expect(back).toBeDefined();
    expect(back!.id).not.toBe(gone.id);
    expect(back!.title).toBe('Changed');
  });

  it('aborts with exit 3 and changes nothing when the plan deprovisions past safety.maxDeletes', async () => {
    const d = makeDirectory(20);
    ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 3 }' });
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = JSON.stringify([...target.users.values()]);
    d.users.splice(0, 4);
    ws.writeDirectory(d);
    target.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(3);
    expect(res.err.join('\n')).toMatch(/would deprovision 4 users, more than safety\.maxDeletes \(3\)/);
    expect(target.requests).toEqual([]);
    expect(JSON.stringify([...target.users.values()])).toBe(before);
    const events = await ws.run(['events', '--type', 'user_deprovision', '--result', 'skipped', '--json']);
    expect(events.out.map((l) => JSON.parse(l) as { summary: string })[0]?.summary).toMatch(/maxDeletes/);
  });

  it('never deprovisions on an empty source', async () => {
    ws.writeDirectory(makeDirectory(5));
    await ws.run(['sync']);
    ws.writeDirectory({ users: [] });
    target.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(3);
    expect(target.requests).toEqual([]);
  });

  it('deletes instead of deactivating when deprovision.action is delete', async () => {
    const d = makeDirectory(4);
    ws.writeConfig({ integrationYaml: 'deprovision: { action: delete }\nsafety: { minSourceRatio: 0.5 }' }); // one of four leaving is 75%
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users.pop();
    ws.writeDirectory(d);
    const res = await ws.run(['sync']);
    expect(res.out.join('\n')).toMatch(/deleted 1/);
    expect(target.users.size).toBe(3);
  });

  it('dry run and plan send no write and change no state', async () => {
    ws.writeDirectory(makeDirectory(5));
    const dry = await ws.run(['sync', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out.join('\n')).toMatch(/dry run: 5 operations would be sent/);
    const plan = await ws.run(['plan', '--json']);
    const ops = plan.out.map((l) => JSON.parse(l) as { kind: string });
    expect(ops.map((o) => o.kind)).toEqual(Array(5).fill('user.create'));
    expect(target.requests).toEqual([]);
  });

  it('reports bad source rows as skipped events and provisions the rest', async () => {
    const d = makeDirectory(3);
    d.users.push({ id: 'u00000', userName: 'dup@example.com' }, { id: 'x', userName: '' } as DirectoryUser);
    ws.writeDirectory(d);
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    expect(target.users.size).toBe(2); // u00000 is a duplicate id: both rows skipped
    const skipped = await ws.run(['events', '--result', 'skipped', '--json']);
    const summaries = skipped.out.map((l) => (JSON.parse(l) as { summary: string }).summary).join('\n');
    expect(summaries).toMatch(/directory\.json users\[0\]: duplicate id "u00000"/);
    expect(summaries).toMatch(/directory\.json users\[4\]: missing userName/);
  });
});

describe('clear one-line errors', () => {
  it('an unknown config key names the key path and exits 2', async () => {
    ws.writeDirectory(makeDirectory(1));
    const text = readFileSync(ws.configPath, 'utf8').replace('    target:', '    tagret: {}\n    target:');
    writeFileSync(ws.configPath, text);
    const res = await ws.run(['sync']);
    expect(res.code).toBe(2);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toMatch(/integrations\[0\]\.tagret: unknown key/);
  });

  it('a missing secret names the variable and exits 2', async () => {
    ws.writeDirectory(makeDirectory(1));
    writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace('TEST_TOKEN', 'NOT_SET_TOKEN'));
    const res = await ws.run(['sync']);
    expect(res.code).toBe(2);
    expect(res.err[0]).toMatch(/integrations\[0\]\.target\.auth\.token: environment variable NOT_SET_TOKEN is not set/);
  });

  it('a truncated source file gives the file and position, exit 2, and sends nothing', async () => {
    ws.writeDirectory(makeDirectory(3));
    const text = readFileSync(ws.sourcePath, 'utf8');
    writeFileSync(ws.sourcePath, text.slice(0, text.length - 40));
    const res = await ws.run(['sync']);
    expect(res.code).toBe(2);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toMatch(/directory\.json:1:\d+: malformed JSON/);
    expect(target.requests).toEqual([]);
  });

  it('an unreachable target is one line and exit 1, without trying every user', async () => {
    ws.writeConfig({ targetUrl: 'http://127.0.0.1:9/scim/v2' });
    ws.writeDirectory(makeDirectory(50));
    const res = await ws.run(['sync']);
    expect(res.code).toBe(1);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toMatch(/\[integration app\] target: the target is unreachable \(ECONNREFUSED\)/);
  });

  it('a wrong token stops the cycle at the first 401', async () => {
    ws.writeDirectory(makeDirectory(50));
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    target.requests.length = 0;
    writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace('"${TEST_TOKEN}"', 'wrong'));
    const d = makeDirectory(50);
    for (const u of d.users) u.title = 'Changed';
    ws.writeDirectory(d);
    const bad = await ws.run(['sync']);
    expect(bad.code).toBe(1);
    expect(bad.err[0]).toMatch(/refused our credentials \(HTTP 401\)/);
    expect(target.requests.length).toBeLessThanOrEqual(16); // at most the requests already in flight
  });

  it('plan --user explains one user; sync --user sends only that user', async () => {
    const d = makeDirectory(5);
    ws.writeDirectory(d);
    const plan = await ws.run(['plan', '--user', 'u00002']);
    expect(plan.code).toBe(0);
    const text = plan.out.join('\n');
    expect(text).toMatch(/source attributes:\n {2}userName: "user2@example.com"/);
    expect(text).toMatch(/"manager": \{\n\s+"value": "<target id of u00000>"/);
    expect(text).toMatch(/user.create\s+u00002/);
    expect(text).not.toMatch(/u00003/);

    const one = await ws.run(['sync', '--user', 'u00002']);
    expect(one.code).toBe(0);
    expect([...target.users.values()].map((u) => u.externalId)).toEqual(['u00002']);
    const unknown = await ws.run(['plan', '--user', 'nobody']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toEqual([expect.stringMatching(/--user nobody: no user with this id/)]);
  });

  it('never modifies or deprovisions a protected account', async () => {
    const d = makeDirectory(5);
    d.users[0]!.userName = 'admin@example.com';
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    ws.writeConfig({ integrationYaml: 'protect: ["admin@*", "break-glass*"]' });
    d.users[1]!.title = 'Changed';
    d.users[0]!.title = 'Changed too';
    const withoutAdmin = { users: d.users.filter((u) => u.userName !== 'admin@example.com'), groups: [] };
    ws.writeDirectory(withoutAdmin);
    const run = await ws.run(['sync']);
    expect(run.code).toBe(0);
    expect(run.out.join('\n')).toMatch(/updated 1, deactivated 0/);
    const admin = [...target.users.values()].find((u) => u.userName === 'admin@example.com')!;
    expect(admin.active).toBe(true);
    expect(admin.title).not.toBe('Changed too');
  });
});


import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'reconcile-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

/** What the target says of itself (/Schemas, /ResourceTypes, /ServiceProviderConfig): read once a day, not per user. */
const isDiscovery = (r: { path: string }) => /\/(Schemas|ResourceTypes|ServiceProviderConfig)$/.test(r.path);

const activeCount = () => [...target.users.values()].filter((u) => u.active === true).length;

describe('held mass deprovisions', () => {
  it('holds a removal past maxDeletePercent, shows it, applies it once approved, and holds again past what was approved', async () => {
    ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 1000, maxDeletePercent: 10 }' });
    const d = makeDirectory(40);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(activeCount()).toBe(40);

    // 8 of 40 (20%) leave: more than 10%.
    const leavers = d.users.splice(0, 8);
    ws.writeDirectory(d);
    target.requests.length = 0;
    const held = await ws.run(['sync']);
    expect(held.code).toBe(3);
    expect(held.err.join('\n')).toMatch(/would deprovision 8 users, 20% of 40 managed, more than safety\.maxDeletePercent \(10%\)/);
    expect(target.requests).toEqual([]);
    expect(activeCount()).toBe(40);

    const status = await ws.run(['status']);
    expect(status.out.join('\n')).toMatch(/mass deprovision held .*: 8 users .*HELD: approve with scimsync approve app/);
    expect(status.out.join('\n')).toContain(leavers[0]!.id);
    const plan = await ws.run(['plan']);
    expect(plan.code).toBe(3);
    expect(plan.out.join('\n')).toMatch(/HELD: the plan would deprovision 8 users/);
    expect(plan.out.filter((l) => l.startsWith('user.deactivate'))).toHaveLength(8);

    // Approve, then withdraw: still held.
    expect((await ws.run(['approve', 'app'])).code).toBe(0);
    expect((await ws.run(['status'])).out.join('\n')).toMatch(/APPROVED/);
    expect((await ws.run(['discard', 'app'])).code).toBe(0);
    expect((await ws.run(['sync'])).code).toBe(3);
    expect(activeCount()).toBe(40);

    // Approve again: the next cycle applies it.
    const ok = await ws.run(['approve', 'app']);
    expect(ok.out[0]).toMatch(/approved: the next cycle deprovisions up to these 8 users/);
    const applied = await ws.run(['sync']);
    expect(applied.code).toBe(0);
    expect(applied.out.join('\n')).toMatch(/deactivated 8/);
    expect(activeCount()).toBe(32);
    for (const u of leavers) expect([...target.users.values()].find((r) => r.externalId === u.id)?.active).toBe(false);
    expect((await ws.run(['status'])).out.join('\n')).not.toMatch(/mass deprovision held/);

    // The approval was good once: the next large removal is held again.
    d.users.splice(0, 5);
    ws.writeDirectory(d);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(3);
    expect(target.requests).toEqual([]);
    expect(activeCount()).toBe(32);
  });

  it('does not apply an approval to a plan that deprovisions more than was approved', async () => {
    ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 3 }' });
    const d = makeDirectory(30);
    ws.writeDirectory(d);
    await ws.run(['sync']);
    d.users.splice(0, 5);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(3);
    expect((await ws.run(['approve', 'app'])).code).toBe(0);
    // One more leaves before the next cycle: 6 > the 5 approved.
    d.users.splice(0, 1);
    ws.writeDirectory(d);
    target.requests.length = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(3);
    expect(target.requests).toEqual([]);
    expect((await ws.run(['status'])).out.join('\n')).toMatch(/held .*: 6 users .*HELD/);
  });

  it('refuses to approve when nothing is held', async () => {
    ws.writeDirectory(makeDirectory(3));
    await ws.run(['sync']);
    const res = await ws.run(['approve', 'app']);
    expect(res.code).toBe(2);
    expect(res.err).toEqual(['[scimsync] approve app: no cycle is held for approval']);
  });
});

describe('first run against an app that already has accounts', () => {
  it('matches 500 existing accounts from one paginated read: no duplicate, far fewer requests than a lookup per user', async () => {
    const d = makeDirectory(520);
    // The app already holds the first 500 (some userNames in another case, 20 with an outdated title).
    for (const [i, u] of d.users.slice(0, 500).entries()) {
      const full = `${u.givenName} ${u.familyName}`;
      target.seedUser({
        userName: i % 50 === 0 ? u.userName.toUpperCase() : u.userName,
        externalId: u.id,
        displayName: full,
        name: { givenName: u.givenName, familyName: u.familyName, formatted: full },
        emails: [{ type: 'work', value: u.email, primary: true }],
        title: i % 25 === 0 ? 'Outdated' : u.title,
      });
    }
    ws.writeDirectory({ users: d.users.map(({ managerId: _m, phone: _p, ...u }) => u) });
    const run = await ws.run(['sync']);
    expect(run.err).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.out.join('\n')).toMatch(/created 20, adopted 500/);
    expect(target.users.size).toBe(520);
    const names = [...target.users.values()].map((u) => String(u.userName).toLowerCase());
    expect(new Set(names).size).toBe(520);

    const gets = target.requests.filter((r) => r.method === 'GET' && !isDiscovery(r));
    expect(gets.some((r) => r.path.includes('filter='))).toBe(false);
    // How many there are (count=1), then 5 full pages of 100, and the empty one that ends the read.
    expect(gets[0]!.path).toMatch(/\/Users\?startIndex=1&count=1$/);
    expect(gets.length).toBe(7);
    expect(target.requests.filter((r) => r.method === 'POST')).toHaveLength(20);
    expect(target.requests.filter((r) => r.method === 'PATCH')).toHaveLength(20); // the outdated titles
    expect(target.requests.length).toBeLessThan(520 / 5);

    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('looks up each new user instead when the target is far larger than the number of new users', async () => {
    for (let i = 0; i < 1000; i++) target.seedUser({ userName: `other${i}@example.com`, name: { givenName: 'O', familyName: 'T' }, emails: [{ type: 'work', value: `other${i}@example.com` }] });
    ws.writeDirectory({ users: makeDirectory(4).users });
    expect((await ws.run(['sync'])).code).toBe(0);
    const gets = target.requests.filter((r) => r.method === 'GET' && !isDiscovery(r));
    expect(gets.filter((r) => r.path.includes('filter='))).toHaveLength(4);
    expect(gets.filter((r) => !r.path.includes('filter='))).toHaveLength(1); // the first page, whose totalResults says no
  });
});

const userOf = (sourceId: string) => [...target.users.values()].find((u) => u.externalId === sourceId);
const groupNamed = (name: string) => [...target.groups.values()].find((g) => g.displayName === name);
const memberIds = (name: string) => ((groupNamed(name)?.members ?? []) as { value: string }[]).map((m) => m.value).sort();

interface ReportJson {
  requests: number;
  drift: { sourceId: string; path: string; pushed: string | null; actual: string | null }[];
  vanished: { sourceId: string }[];
  unmanaged: { userName: string; match: string | null }[];
  groupDrift: { displayName: string; missing: string[]; extra: string[] }[];
}

describe('scimsync reconcile', () => {
  it('reports what was changed by hand in the target, fixes it on --apply, and leaves unmanaged accounts alone', async () => {
    const d = makeDirectory(12);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002', 'u00003'] }];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const stray = target.seedUser({ userName: 'stray@example.com', name: { givenName: 'S', familyName: 'T' }, emails: [{ type: 'work', value: 'stray@example.com' }] });

    // Edits made in the app by hand.
    userOf('u00003')!.title = 'Hand edited';
    userOf('u00005')!.active = false;
    const gone = userOf('u00004')!;
    target.users.delete(gone.id);
    const sales = groupNamed('Sales')!;
    const u1 = userOf('u00001')!.id;
    sales.members = (sales.members as { value: string }[]).filter((m) => m.value !== u1);
    target.requests.length = 0;

    const res = await ws.run(['reconcile', '--json']);
    expect(res.code).toBe(0);
    expect(target.writes()).toEqual([]);
    const report = JSON.parse(res.out[0]!) as ReportJson;
    expect(report.drift).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ sourceId: 'u00003', path: 'title', pushed: 'Engineer', actual: 'Hand edited' }),
        expect.objectContaining({ sourceId: 'u00005', path: 'active', pushed: 'true', actual: 'false' }),
      ]),
    );
    expect(report.drift).toHaveLength(2);
    expect(report.vanished.map((v) => v.sourceId)).toEqual(['u00004']);
    expect(report.unmanaged).toEqual([expect.objectContaining({ userName: 'stray@example.com', match: null })]);
    expect(report.groupDrift).toEqual([{ displayName: 'Sales', targetId: sales.id, sourceId: 'g1', missing: ['u00001'], extra: [] }]);

    const table = await ws.run(['reconcile']);
    expect(table.out.join('\n')).toMatch(/u00003 +user3@example\.com +title +Engineer +Hand edited/);

    const applied = await ws.run(['reconcile', '--apply']);
    expect(applied.code).toBe(0);
    expect(applied.out.join('\n')).toMatch(/success: created 1, adopted 0, updated 1, deactivated 0, reactivated 1/);
    expect(userOf('u00003')!.title).toBe('Engineer');
    expect(userOf('u00005')!.active).toBe(true);
    const back = userOf('u00004')!;
    expect(back.id).not.toBe(gone.id);
    expect(back.userName).toBe('user4@example.com');
    expect(memberIds('Sales')).toEqual([userOf('u00001')!.id, userOf('u00002')!.id, userOf('u00003')!.id].sort());
    expect(target.users.get(stray.id)).toEqual(stray);

    const after = JSON.parse((await ws.run(['reconcile', '--json'])).out[0]!) as ReportJson;
    expect([after.drift, after.vanished, after.groupDrift]).toEqual([[], [], []]);
    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests).toEqual([]);
  });

  it('--adopt links an unmanaged account that matches a source user, and the next cycle only updates it', async () => {
    const d = makeDirectory(6);
    const late = d.users.pop()!;
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const existing = target.seedUser({
      userName: late.userName,
      name: { givenName: late.givenName, familyName: late.familyName },
      emails: [{ type: 'work', value: late.email }],
      title: 'Old title',
    });
    d.users.push(late);
    ws.writeDirectory(d);
    const report = JSON.parse((await ws.run(['reconcile', '--json'])).out[0]!) as ReportJson;
    expect(report.unmanaged).toEqual([expect.objectContaining({ userName: late.userName, match: late.id })]);

    target.requests.length = 0;
    expect((await ws.run(['reconcile', '--adopt'])).code).toBe(0);
    expect(target.writes()).toEqual([]);
    const shown = await ws.run(['state', 'show', late.userName]);
    expect(shown.out.join('\n')).toContain(`target id: ${existing.id}`);

    target.requests.length = 0;
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.requests.filter((r) => r.method !== 'PATCH')).toEqual([]);
    expect(target.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(target.users.get(existing.id)!.title).toBe(late.title);
    expect(target.users.size).toBe(6);
  });
});

describe('scimsync state rebuild and show', () => {
  it('rebuilds a deleted state database with reads only, after which a cycle sends nothing', async () => {
    const d = makeDirectory(150);
    d.groups = [
      { id: 'g1', displayName: 'Engineering', members: d.users.slice(0, 100).map((u) => u.id) },
      { id: 'g2', displayName: 'Managers', members: d.users.filter((u) => u.title === 'Manager').map((u) => u.id) },
      { id: 'g3', displayName: 'Empty', members: [] },
    ];
    d.users[7]!.active = false;
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    d.users[7]!.active = false;
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = await ws.run(['state', 'show', 'user42@example.com', '--json']);
    const { rmSync } = await import('node:fs');
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(`${ws.dir}/${f}`, { force: true });

    target.requests.length = 0;
    const rebuilt = await ws.run(['state', 'rebuild', 'app']);
    expect(rebuilt.err).toEqual([]);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.out[0]).toMatch(/state rebuilt from \d+ reads, no writes: 149 users linked \(0 inactive\), 3 groups with \d+ memberships/);
    expect(target.writes()).toEqual([]);

    target.requests.length = 0;
    const next = await ws.run(['sync']);
    expect(next.code).toBe(0);
    expect(target.requests).toEqual([]);

    const after = JSON.parse((await ws.run(['state', 'show', 'user42@example.com', '--json'])).out[0]!) as Record<string, unknown>;
    const was = JSON.parse(before.out[0]!) as Record<string, unknown>;
    for (const k of ['sourceId', 'targetId', 'status', 'attrs', 'groups']) expect(after[k], k).toEqual(was[k]);
  });

  it('state show names a user or group, and says so in one line when there is none', async () => {
    const d = makeDirectory(3);
    d.groups = [{ id: 'g1', displayName: 'Ops', members: ['u00001'] }];
    ws.writeDirectory(d);
    await ws.run(['sync']);
    const group = await ws.run(['state', 'show', 'ops']);
    expect(group.out.join('\n')).toMatch(/group g1[\s\S]*members \(1\): u00001/);
    const user = await ws.run(['state', 'show', 'u00001']);
    expect(user.out.join('\n')).toMatch(/user u00001[\s\S]*userName: "user1@example.com"[\s\S]*groups \(1\): g1/);
    const none = await ws.run(['state', 'show', 'nobody']);
    expect(none.code).toBe(2);
    expect(none.err).toEqual(['[scimsync] state show nobody: no user or group with this source id, target id, userName or displayName']);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../../src/devtarget/server.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'reconcile-token';

let target: DevTarget;
let ws: Workspace;

beforeAll(async () => {
  target = await startDevTarget({ token: TOKEN, strict: true });
});
afterAll(async () => {
  await target.stop();
});
beforeEach(() => {
  target.users.clear();
  target.groups.clear();
  target.requests.length = 0;
  ws = workspace(target.url, TOKEN);
  ws.writeConfig();
});

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

    const gets = target.requests.filter((r) => r.method === 'GET');
    expect(gets.some((r) => r.path.includes('filter='))).toBe(false);
    expect(gets.length).toBeLessThanOrEqual(7); // 5 full pages of 100, and the empty one that ends the read
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
    const gets = target.requests.filter((r) => r.method === 'GET');
    expect(gets.filter((r) => r.path.includes('filter='))).toHaveLength(4);
    expect(gets.filter((r) => !r.path.includes('filter='))).toHaveLength(1); // the first page, whose totalResults says no
  });
});

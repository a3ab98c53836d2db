import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget, type DevTargetOptions } from '../support/devtarget/server.js';
import { workspace, type Directory, type Workspace } from '../support/harness.js';

const TOKEN = 'lookup-token';

let target: DevTarget | undefined;

afterEach(async () => {
  await target?.stop();
  target = undefined;
});

async function start(options: Partial<DevTargetOptions>, integrationYaml?: string): Promise<{ target: DevTarget; ws: Workspace }> {
  target = await startDevTarget({ token: TOKEN, strict: true, ...options });
  const ws = workspace(target.url, TOKEN);
  ws.writeConfig(integrationYaml ? { integrationYaml } : {});
  return { target, ws };
}

const person = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `p${i}`,
  userName: `person${i}@example.com`,
  givenName: `Given${i}`,
  familyName: `Family${i}`,
  email: `person${i}@example.com`,
  active: true,
  ...extra,
});

const admin = {
  userName: 'admin@example.com',
  externalId: 'the-admin',
  name: { givenName: 'Ada', familyName: 'Admin' },
  emails: [{ type: 'work', value: 'admin@example.com', primary: true }],
};

describe('a lookup answer is checked before anything is adopted', () => {
  it('against a target that answers every filter with the same account, links nobody to it and changes nothing in it', async () => {
    const { target: t, ws } = await start({ filters: 'first' }, 'protect: ["admin@*"]');
    const seeded = t.seedUser(admin);
    const d: Directory = { users: [person(1), person(2), person(3)] };
    ws.writeDirectory(d);

    const run = await ws.run(['sync']);
    expect(run.code).toBe(1);
    // The account is untouched: same userName and externalId, no PATCH or PUT sent to it.
    const after = t.users.get(seeded.id)!;
    expect(after.userName).toBe('admin@example.com');
    expect(after.externalId).toBe('the-admin');
    expect(t.requests.filter((r) => r.method === 'PATCH' || r.method === 'PUT' || r.method === 'DELETE')).toEqual([]);
    // Nobody is linked to it.
    for (const id of ['p1', 'p2', 'p3']) {
      const shown = await ws.run(['state', 'show', id, '--json']);
      expect(shown.out.join('\n')).not.toContain(seeded.id);
    }
    const events = await ws.run(['events', '--result', 'failure']);
    expect(events.out.join('\n')).toMatch(/ignored the filter userName eq/);
  });

  it('against a target that ignores filters, links each user only to its own account', async () => {
    const { target: t, ws } = await start({ filters: 'ignore' });
    // One account: every lookup answers with it, whatever the filter.
    const existing = [1].map((i) =>
      t.seedUser({ userName: `person${i}@example.com`, name: { givenName: `G${i}`, familyName: `F${i}` }, emails: [{ type: 'work', value: `person${i}@example.com` }] }),
    );
    ws.writeDirectory({ users: [person(1), person(2), person(3)] });
    await ws.run(['sync']);
    // Whatever was adopted is the user's own account: its userName is unchanged.
    for (const e of existing) expect(t.users.get(e.id)!.userName).toBe(e.userName);
    for (const id of ['p2', 'p3']) {
      const shown = await ws.run(['state', 'show', id, '--json']);
      expect(shown.out.join('\n')).not.toContain(existing[0]!.id);
    }
  });

  it('never adopts a protected account, even when it is the right match', async () => {
    const { target: t, ws } = await start({}, 'protect: ["Break Glass"]');
    const seeded = t.seedUser({ ...admin, userName: 'bg@example.com', displayName: 'Break Glass', emails: [{ type: 'work', value: 'bg@example.com' }] });
    ws.writeDirectory({ users: [person(9, { userName: 'bg@example.com', email: 'bg@example.com', title: 'Changed' })] });

    const run = await ws.run(['sync']);
    expect(run.code).toBe(1);
    const after = t.users.get(seeded.id)!;
    expect(after.displayName).toBe('Break Glass');
    expect(after.title).toBeUndefined();
    expect(after.externalId).toBe('the-admin');
    expect(t.writes()).toEqual([]);
    const events = await ws.run(['events', '--result', 'failure']);
    expect(events.out.join('\n')).toMatch(/protected account bg@example.com/);
  });
});

describe('a target that pages forever', () => {
  it('stops reconcile at a bound with one line, and compares nothing', async () => {
    const { target: t, ws } = await start({});
    ws.writeDirectory({ users: [person(1)] });
    expect((await ws.run(['sync'])).code).toBe(0);
    t.inject({ method: 'GET', path: /\/Users\?startIndex/, endlessPages: true });
    const run = await ws.run(['reconcile']);
    expect(run.code).toBe(1);
    expect(run.err).toHaveLength(1);
    expect(run.err[0]).toMatch(/user list was not read to its end .*1000000000.*nothing compared/);
    expect(t.requests.filter((r) => r.path.includes('startIndex')).length).toBeLessThan(5);
  });
});

import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'guard-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

function withGroups(n: number): Directory {
  const d = makeDirectory(n);
  d.groups = Array.from({ length: 4 }, (_, g) => ({ id: `g${g}`, displayName: `Team ${g}`, members: d.users.filter((_, i) => i % 4 === g).map((u) => u.id) }));
  return d;
}

const memberCount = () => [...target.groups.values()].reduce((n, g) => n + ((g.members as unknown[] | undefined)?.length ?? 0), 0);

describe('the shrink guard covers groups and memberships', () => {
  it('holds a cycle whose source lists its users but no groups (a failed group search), and --force accepts it once', async () => {
    const d = withGroups(40);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.groups.size).toBe(4);

    ws.writeDirectory({ users: d.users, groups: [] });
    target.requests.length = 0;
    const held = await ws.run(['sync']);
    expect(held.code).toBe(3);
    expect(held.err.join('\n')).toMatch(/0 groups, none of the 4 provisioned/);
    expect(target.groups.size).toBe(4);
    expect(target.writes()).toEqual([]);
    const events = await ws.run(['events', '--result', 'skipped']);
    expect(events.out.join('\n')).toMatch(/groups.*cycle aborted/);

    const forced = await ws.run(['sync', '--force']);
    expect(forced.code).toBe(0);
    expect(target.groups.size).toBe(0);
  });

  it('holds a cycle whose groups lost most of their members', async () => {
    const d = withGroups(40);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = memberCount();
    expect(before).toBe(40);

    ws.writeDirectory({ users: d.users, groups: d.groups!.map((g) => ({ ...g, members: g.members.slice(0, 2) })) });
    const held = await ws.run(['sync']);
    expect(held.code).toBe(3);
    expect(held.err.join('\n')).toMatch(/8 members, 20% of the 40 provisioned/);
    expect(memberCount()).toBe(before);
  });
});

describe('a bad row never deprovisions the user it names', () => {
  it('keeps a user whose second row repeats its id, and one whose active is "maybe", as they are', async () => {
    const d = makeDirectory(10);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = new Map([...target.users.values()].map((u) => [String(u.externalId), JSON.stringify(u)]));

    const raw = JSON.parse(JSON.stringify(d)) as { users: Record<string, unknown>[] };
    raw.users.push({ ...raw.users[3], title: 'Imposter' }); // a second row with u00003's id
    raw.users[5]!.active = 'maybe';
    writeFileSync(ws.sourcePath, JSON.stringify(raw));
    target.requests.length = 0;
    const run = await ws.run(['sync']);
    expect(run.out.join('\n')).toMatch(/deactivated 0,/);
    for (const id of ['u00003', 'u00005']) {
      const now = [...target.users.values()].find((u) => u.externalId === id)!;
      expect(now.active).toBe(true);
      expect(JSON.stringify(now)).toBe(before.get(id));
    }
    expect(target.writes()).toEqual([]);
    const events = await ws.run(['events', '--result', 'skipped']);
    expect(events.out.join('\n')).toMatch(/duplicate id/);
    expect(events.out.join('\n')).toMatch(/active must be true or false/);
  });

  it('keeps the memberships of a user whose row is in doubt', async () => {
    const d = withGroups(8);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = memberCount();
    const raw = JSON.parse(JSON.stringify(d)) as { users: Record<string, unknown>[]; groups: unknown[] };
    raw.users[1]!.active = 'maybe';
    writeFileSync(ws.sourcePath, JSON.stringify(raw));
    const run = await ws.run(['sync']);
    expect(run.out.join('\n')).toMatch(/deactivated 0, reactivated 0, deleted 0, failed 0, held 0/);
    expect(memberCount()).toBe(before);
  });
});

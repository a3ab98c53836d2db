import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type BulkOptions, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';

/** A member add applied by the target, its answer lost (a 502 from a proxy, a reset connection): this target then holds the member twice. */

const TOKEN = 'lost-member-adds-token';
let target: DevTarget | undefined;
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

async function start(bulk?: BulkOptions): Promise<{ t: DevTarget; ws: Workspace }> {
  const t = (target = await startDevTarget({ token: TOKEN, strict: true, ...(bulk ? { bulk: { maxOperations: 1000, ...bulk } } : {}) }));
  const ws = workspace(t.url, TOKEN);
  ws.writeConfig();
  return { t, ws };
}

/** Each group as the target holds it: its members' source ids, sorted, duplicates kept. */
function groupsInTarget(t: DevTarget): Record<string, string[]> {
  const sourceOf = new Map([...t.users.values()].map((u) => [u.id, String(u.externalId)]));
  const out: Record<string, string[]> = {};
  for (const g of t.groups.values()) {
    out[String(g.displayName)] = ((g.members ?? []) as { value: string }[]).map((m) => sourceOf.get(m.value) ?? m.value).sort();
  }
  return out;
}

function groupsInSource(d: Directory): Record<string, string[]> {
  return Object.fromEntries(d.groups!.map((g) => [g.displayName, [...g.members].sort()]));
}

function users(n: number): Directory {
  const d = makeDirectory(n);
  for (const u of d.users) delete u.managerId;
  return d;
}

describe('a member add whose answer is lost', () => {
  it('adds the members whose account came late once, when the answer to their add is lost, not again on the next cycle', async () => {
    // Every create of the first Bulk request is looked up again (a mixed-up answer): the group's members come late.
    const { t, ws } = await start({ mislabelAnswers: true });
    const d = users(4);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: d.users.map((u) => u.id) }];
    ws.writeDirectory(d);
    t.inject({ method: 'PATCH', path: /\/Groups\//, body: /"op":"add"/, afterApply: { status: 502 }, times: 1 });
    expect((await ws.run(['sync'])).code).toBe(1);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
  });

  for (const bulk of [false, true]) {
    it(`adds a joiner once${bulk ? ' (Bulk requests)' : ''}, the next cycle too`, async () => {
      const { t, ws } = await start(bulk ? {} : undefined);
      const d = users(6);
      d.groups = [
        { id: 'g1', displayName: 'Sales', members: ['u00001', 'u00002'] },
        { id: 'g2', displayName: 'Support', members: ['u00003'] },
      ];
      ws.writeDirectory(d);
      expect((await ws.run(['sync'])).code).toBe(0);
      d.groups[0]!.members.push('u00004');
      d.groups[1]!.members.push('u00005');
      ws.writeDirectory(d);
      t.inject({ method: bulk ? 'POST' : 'PATCH', path: bulk ? /\/Bulk$/ : /\/Groups\//, reset: 'after', times: bulk ? 1 : 2 });
      await ws.run(['sync']);
      expect((await ws.run(['sync'])).code).toBe(0);
      expect(groupsInTarget(t)).toEqual(groupsInSource(d));
    });
  }
});

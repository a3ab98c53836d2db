import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStateStore } from '../../state/index.js';
import { type BulkOptions } from '../support/devtarget/server.js';
import { groupsInSource, groupsInTarget, useTargetPerTest } from '../support/target.js';
import { makeDirectory, type Directory } from '../support/harness.js';

/** A member add applied by the target, its answer lost (a 502 from a proxy, a reset connection): this target then holds the member twice. */

const TOKEN = 'lost-member-adds-token';
const targetPerTest = useTargetPerTest(TOKEN);
/** A target; with `bulk`, its /Bulk takes up to 1000 operations unless `bulk` says otherwise. */
const start = (bulk?: BulkOptions) => targetPerTest(bulk ? { target: { bulk: { maxOperations: 1000, ...bulk } } } : {});

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
  it('reads back a group that a killed cycle left in flight, though the next cycle does not change it: a later add is not repeated', async () => {
    const { t, ws } = await start();
    const d = users(3);
    d.groups = [{ id: 'g1', displayName: 'Sales', members: ['u00000'] }];
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    // A cycle killed after the target applied its add of u00001 to Sales, before the state knew.
    const account = [...t.users.values()].find((u) => u.externalId === 'u00001')!;
    const sales = [...t.groups.values()][0]!;
    (sales.members as { value: string }[]).push({ value: String(account.id) });
    const store = openStateStore(join(ws.dir, 'state.db'));
    store.awaitInflight(store.markInflight('app', [{ key: 'group:g1', kind: 'group.update', sourceId: 'g1' }], 'killed-cycle'));
    store.close();
    // Meanwhile u00001 left Sales in the source: the next cycle has nothing to send to Sales.
    expect((await ws.run(['sync'])).code).toBe(0);
    // u00001 joins Sales again.
    d.groups[0]!.members.push('u00001');
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(groupsInTarget(t)).toEqual(groupsInSource(d));
  });
});

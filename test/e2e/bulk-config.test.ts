import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStateStore } from '../../state/index.js';
import { type BulkOptions, type DevTarget } from '../support/devtarget/server.js';
import { useTargetPerTest } from '../support/target.js';
import { makeDirectory, workspace, type Directory } from '../support/harness.js';

/** target.bulk, target.bulkMaxOperations, and what test-connection says sync will use. */

const TOKEN = 'bulk-config-token';
const targetPerTest = useTargetPerTest(TOKEN);
/** A target whose /Bulk takes up to 1000 operations unless `bulk` says otherwise. */
const bulkTarget = (bulk: BulkOptions, targetYaml?: string) => targetPerTest({ target: { bulk: { maxOperations: 1000, ...bulk } }, ...(targetYaml ? { targetYaml } : {}) });

function directory(n: number): Directory {
  const d = makeDirectory(n);
  for (const u of d.users) delete u.managerId;
  d.groups = [{ id: 'g1', displayName: 'Sales', members: d.users.map((u) => u.id) }];
  return d;
}

const bulkRequests = (t: DevTarget) => t.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Bulk'));
const bulkLine = (out: string[]) => out.find((l) => l.includes('Bulk requests:'))?.trim();

describe('target.bulk and target.bulkMaxOperations', () => {
  it('target.bulk: off sends no Bulk request to a target that supports Bulk, and test-connection says so', async () => {
    const { t, ws } = await bulkTarget({}, 'bulk: off');
    expect(bulkLine((await ws.run(['test-connection'])).out)).toBe('Bulk requests: not used (target.bulk: off)');
    ws.writeDirectory(directory(6));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(bulkRequests(t)).toEqual([]);
    expect(t.users.size).toBe(6);
  });

  it('target.bulkMaxOperations replaces the declared maxOperations, and test-connection says which is used', async () => {
    const { t, ws } = await bulkTarget({ maxPayloadSize: 65536 }, 'bulkMaxOperations: 3');
    expect(bulkLine((await ws.run(['test-connection'])).out)).toBe('Bulk requests: used, up to 3 operations (target.bulkMaxOperations) and 65536 bytes each');
    ws.writeDirectory(directory(10));
    expect((await ws.run(['sync'])).code).toBe(0);
    const sizes = bulkRequests(t).map((r) => (r.body as { Operations: unknown[] }).Operations.length);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...sizes)).toBe(3);
    expect(([...t.groups.values()][0]!.members as unknown[]).length).toBe(10);

    const declared = workspace(t.url, TOKEN);
    declared.writeConfig();
    expect(bulkLine((await declared.run(['test-connection'])).out)).toBe('Bulk requests: used, up to 1000 operations (as the target declares) and 65536 bytes each');
  });

  it('test-connection says when a refused /Bulk is left alone until', async () => {
    const { ws } = await bulkTarget({ refuseWith: 501 });
    ws.writeDirectory(directory(6));
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(bulkLine((await ws.run(['test-connection'])).out)).toMatch(/^Bulk requests: not used \(\/Bulk answered HTTP 501: .*, until \d{4}-\d\d-\d\dT/);
  });

  it('rejects a bulkMaxOperations below 2 and an unknown bulk mode, naming the key', async () => {
    const { ws } = await bulkTarget({}, 'bulkMaxOperations: 1');
    const low = await ws.run(['sync']);
    expect(low.code).not.toBe(0);
    expect(low.err.join('\n')).toMatch(/bulkMaxOperations/);
    expect(low.err.join('\n')).not.toMatch(/\n\s+at /);
    ws.writeConfig({ targetYaml: 'bulk: sometimes' });
    const mode = await ws.run(['sync']);
    expect(mode.code).not.toBe(0);
    expect(mode.err.join('\n')).toMatch(/target\.bulk/);
  });
});

describe('a token the whole target refuses, /Bulk included', () => {
  it('is still quarantined as refused credentials, and Bulk is not marked as refused', async () => {
    const { t, ws } = await bulkTarget({});
    ws.writeDirectory(directory(6));
    t.inject({ method: 'POST', status: 403, path: /\/(Bulk|Users|Groups)$/ });
    expect((await ws.run(['sync'])).code).not.toBe(0);
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      expect(store.getQuarantine('app')?.reason).toMatch(/refused our credentials \(HTTP 403\)/);
      expect(store.targetFacts.get('app', 'bulk.refused')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

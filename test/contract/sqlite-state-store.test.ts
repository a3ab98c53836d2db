import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationSchema } from '../../src/config/schema.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { runCycle } from '../../src/engine/cycle.js';
import { createLogger } from '../../src/log.js';
import { openStateStore, SqliteStateStore } from '../../state/index.js';
import { makeDirectory } from '../support/harness.js';
import { testStateStore } from './state-store.contract.js';

testStateStore('SQLite', openStateStore);

const statePath = () => join(mkdtempSync(join(tmpdir(), 'scimsync-sqlite-store-')), 'state.db');

describe('the SQLite store’s writer thread, run from the TypeScript sources', () => {
  it('starts, and commits on its own connection while the main one holds no transaction', async () => {
    const store = SqliteStateStore.open(statePath());
    expect(import.meta.url.endsWith('.ts')).toBe(true);
    expect(store.startBackgroundWrites()).toBe(true);
    store.awaitInflight(store.markInflight('app', [{ key: 'user:u1', kind: 'user.create', sourceId: 'u1' }], 'c1'));
    store.saveUser('app', { sourceId: 'u1', targetId: 't1', status: 'active', attrs: { userName: 'u1@example.com' } });
    // On the main thread the save would have opened a group commit here.
    expect(store.db.inTransaction).toBe(false);
    expect(store.loadInflight('app')).toHaveLength(1);
    await store.stopBackgroundWrites();
    expect(store.loadUsers('app')).toHaveLength(1);
    store.close();
  });

  describe('in a cycle', () => {
    const TOKEN = 'sqlite-store-token';
    let target: DevTarget;
    beforeAll(async () => {
      target = await startDevTarget({ token: TOKEN, strict: true });
    });
    afterAll(() => target.stop());

    it('takes every write of the delivery, and the state holds them all once the cycle ends', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'scimsync-sqlite-cycle-'));
      const directory = makeDirectory(40);
      directory.groups = [{ id: 'g1', displayName: 'Sales', members: directory.users.slice(0, 10).map((u) => u.id) }];
      writeFileSync(join(dir, 'directory.json'), JSON.stringify(directory));
      const integration = integrationSchema.parse({
        name: 'app',
        source: { type: 'file', path: join(dir, 'directory.json') },
        target: { url: target.url, auth: { type: 'bearer', token: TOKEN }, rateLimit: { requestsPerSecond: 1000, maxConcurrent: 4 } },
      });
      const path = join(dir, 'state.db');
      const store = SqliteStateStore.open(path);
      // Whether each delivery write found the writer thread running.
      const inBackground = new Map<string, boolean[]>();
      const watched = new Set(['saveUser', 'saveGroup', 'markInflight', 'clearInflight', 'insertEvent']);
      const spy = new Proxy(store, {
        get(t, property, receiver) {
          const value: unknown = Reflect.get(t, property, t);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (typeof property === 'string' && watched.has(property) && receiver === spy) {
              inBackground.set(property, [...(inBackground.get(property) ?? []), t.writesInBackground]);
            }
            return (value as (...a: unknown[]) => unknown).apply(t, args);
          };
        },
      });
      const report = await runCycle({ integration, store: spy, logger: createLogger({ level: 'error', format: 'json', silent: true }) });
      expect(report.exitCode).toBe(0);
      expect(target.users.size).toBe(40);
      // Every user and the group were saved, and their requests marked in flight, with the writer thread running.
      expect(inBackground.get('saveUser')).toEqual(Array(40).fill(true));
      expect(inBackground.get('saveGroup')?.every(Boolean)).toBe(true);
      expect(inBackground.get('markInflight')?.length).toBeGreaterThan(0);
      expect(inBackground.get('markInflight')?.every(Boolean)).toBe(true);
      expect(store.writesInBackground).toBe(false);
      store.close();
      // Committed: another connection reads all of it.
      const other = openStateStore(path);
      expect(other.loadUsers('app').filter((u) => u.targetId !== null)).toHaveLength(40);
      expect([...other.loadGroups('app')[0]!.members].sort()).toEqual(directory.groups[0]!.members);
      expect(other.queryEvents({ integration: 'app', type: 'user_create_provision', result: 'success' })).toHaveLength(40);
      expect(other.loadInflight('app')).toEqual([]);
      other.close();
    });
  });
});

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, execBuiltCli, requireBuild } from '../support/cli.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { openStateStore, type StateStore } from '../../state/index.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

/**
 * `approve`, `discard` and `state purge` write the integration's state: like every writer
 * they hold its lease, so an admin's action never lands in the middle of a daemon's cycle.
 */
const TOKEN = 'admin-lease-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let target: DevTarget;
let ws: Workspace;

requireBuild();
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

/** The built CLI on the workspace's config. */
const scimsync = (args: string[]) => execBuiltCli([...args, '--config', ws.configPath], TOKEN);

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** 20 users synced, then 3 gone from the source: past maxDeletes, the cycle is held for approval. */
async function heldPlan(): Promise<void> {
  ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 1 }' });
  const d = makeDirectory(20);
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(0);
  d.users.splice(0, 3);
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(3);
}

/** A daemon whose first cycle stays in its open phase a while: the target's /Schemas answers slowly and must be read again. */
function startSlowDaemon(store: StateStore) {
  store.targetFacts.forget('app');
  store.flush();
  target.inject({ method: 'GET', path: /\/Schemas/, stallMs: 4000, times: 1 });
  const child = spawn(process.execPath, [BIN, 'daemon', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { stop: async () => (child.kill('SIGTERM'), await exited) };
}

describe("approve and discard under the integration's lease (built CLI, a daemon's cycle running)", () => {
  it('refuses with exit 4 and one line while the cycle holds the lease, and with --wait approves once it ends', async () => {
    await heldPlan();
    const store = openStateStore(join(ws.dir, 'state.db'));
    const daemon = startSlowDaemon(store);
    try {
      await until("the daemon's cycle holding the lease", () => store.leaseHolder('app') !== undefined);
      const audits = () => store.queryEvents({ integration: 'app', type: 'idm_integration_update' }).filter((e) => /approved|discarded/.test(e.summary)).length;

      for (const verb of ['approve', 'discard']) {
        const refused = await scimsync([verb, 'app']);
        expect(refused.code, verb).toBe(4);
        expect(refused.stdout, verb).toBe('');
        expect(refused.stderr, verb).toMatch(/^\[scimsync\] \[integration app\] another scimsync process \(pid \d+ on \S+\) is running this integration; try again later or pass --wait 5m\n$/);
      }
      // Nothing done: still held, not approved, no audit event.
      expect(store.getHeldPlan('app')).toMatchObject({ approvedAt: null });
      expect(audits()).toBe(0);

      const waited = await scimsync(['approve', 'app', '--wait', '1m']);
      expect(waited.stderr).toMatch(/another scimsync process \(pid \d+ on \S+\) is running this integration; waiting up to 1m\n$/);
      expect(waited.code).toBe(0);
      expect(waited.stdout).toMatch(/^\[integration app\] approved: the next cycle deprovisions up to these 3 users/);
      // It waited for the cycle: that cycle had ended (held again, nothing sent) before the approval was written.
      const [cycle] = store.recentCycles('app', 1);
      expect(cycle!.endedAt).not.toBeNull();
      const approvedAt = store.getHeldPlan('app')!.approvedAt;
      expect(approvedAt).not.toBeNull();
      expect(Date.parse(approvedAt!)).toBeGreaterThanOrEqual(Date.parse(cycle!.endedAt!));
      expect(audits()).toBe(1);
      expect([...target.users.values()].filter((u) => u.active === false)).toEqual([]);
    } finally {
      expect(await daemon.stop()).toBe(0);
      store.close();
    }
  }, 60_000);
});

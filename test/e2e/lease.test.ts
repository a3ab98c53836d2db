import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { leaseOwner, withLease } from '../../src/engine/lease.js';
import { openStateStore } from '../../state/index.js';
import { BIN, execBuiltCli } from '../support/cli.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'lease-token';
const OTHER = 'pid 4242 on otherhost (0badc0de)';
const BUSY = /^\[scimsync\] \[integration app\] another scimsync process \(pid 4242 on otherhost\) is running this integration; try again later or pass --wait 5m$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let target: DevTarget;
let ws: Workspace;

// A target that does not refuse a second account with the same userName: two runs sending the same creates would make duplicates.
beforeAll(async () => {
  target = await startDevTarget({ token: TOKEN, strict: true, uniqueUserNames: false });
});
afterAll(() => target.stop());
beforeEach(() => {
  target.users.clear();
  target.groups.clear();
  target.clearFaults();
  target.requests.length = 0;
  ws = workspace(target.url, TOKEN);
  ws.writeConfig();
});

/** Holds the integration's lease as another process would, until `release` is called. */
function holdLease(w: Workspace): { release: () => void } {
  const store = openStateStore(join(w.dir, 'state.db'));
  expect(store.takeLease('app', OTHER, 60_000)).toBe(true);
  return {
    release: () => {
      store.releaseLease('app', OTHER);
      store.close();
    },
  };
}

const creates = () => target.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/Users')).length;

describe('the lease of an integration, in-process', () => {
  it('makes sync exit 4 with one line and send nothing while another process holds it', async () => {
    ws.writeDirectory(makeDirectory(5));
    const other = holdLease(ws);
    try {
      const res = await ws.run(['sync']);
      expect(res.code).toBe(4);
      expect(res.err).toHaveLength(1);
      expect(res.err[0]).toMatch(BUSY);
      expect(res.out).toEqual([]);
      expect(target.requests).toEqual([]);
      // sync --user writes too: the same refusal.
      const one = await ws.run(['sync', '--user', 'u00001']);
      expect(one.code).toBe(4);
      expect(one.err).toHaveLength(1);
    } finally {
      other.release();
    }
    expect(target.requests).toEqual([]);
    // Released: the next run goes ahead.
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.users.size).toBe(5);
  });

  it('with --wait, waits for the other process to finish, then runs', async () => {
    ws.writeDirectory(makeDirectory(5));
    const other = holdLease(ws);
    const run = ws.run(['sync', '--wait', '1m']);
    await sleep(1500);
    // Still waiting: nothing sent while the other process holds the lease.
    expect(target.requests).toEqual([]);
    other.release();
    const res = await run;
    expect(res.code).toBe(0);
    expect(res.err).toEqual([expect.stringMatching(/another scimsync process \(pid 4242 on otherhost\) is running this integration; waiting up to 1m$/)]);
    expect(res.out[0]).toMatch(/^\[integration app\] success: created 5,/);
    expect(target.users.size).toBe(5);
  });

  it('with --wait, gives up with exit 4 when the other process is still running', async () => {
    ws.writeDirectory(makeDirectory(5));
    const other = holdLease(ws);
    try {
      const started = Date.now();
      const res = await ws.run(['sync', '--wait', '1s']);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(res.code).toBe(4);
      expect(res.err.at(-1)).toMatch(/another scimsync process \(pid 4242 on otherhost\) is running this integration; still running after --wait 1s, try again later$/);
      expect(target.requests).toEqual([]);
    } finally {
      other.release();
    }
  });

  it('takes over at once the lease of a process of this machine that has died', async () => {
    ws.writeDirectory(makeDirectory(5));
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      expect(store.takeLease('app', leaseOwner().replace(/^pid \d+/, `pid ${gone}`), 60_000)).toBe(true);
    } finally {
      store.close();
    }
    const res = await ws.run(['sync']);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(0);
    expect(target.users.size).toBe(5);
  });

  it('stops the run when its lease expired and another process took it', async () => {
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      // Renewals slower than the expiry, as when a run stalls: another process takes the lease in between.
      const lostTo = await withLease({ store, integration: 'app', owner: leaseOwner(), ttlMs: 100, renewMs: 300 }, async (lease) => {
        await sleep(150);
        expect(store.takeLease('app', OTHER, 60_000)).toBe(true);
        await new Promise((r) => lease.signal.addEventListener('abort', r, { once: true }));
        return lease.lostTo;
      });
      expect(lostTo).toBe('another scimsync process (pid 4242 on otherhost)');
      // Its lease is left to it.
      expect(store.leaseHolder('app')).toBe(OTHER);
    } finally {
      store.close();
    }
  });

  it('refuses an unreadable --wait with exit 2', async () => {
    const res = await ws.run(['sync', '--wait', 'soon']);
    expect(res.code).toBe(2);
    expect(res.err).toEqual(['[scimsync] --wait soon: expected a duration such as 30s, 5m or 1h']);
  });

  it('is needed by reconcile --apply, --adopt and state rebuild, not by dry runs, plan or a read-only reconcile', async () => {
    ws.writeDirectory(makeDirectory(5));
    expect((await ws.run(['sync'])).code).toBe(0);
    ws.writeDirectory(makeDirectory(6));
    const other = holdLease(ws);
    try {
      for (const args of [['reconcile', '--apply'], ['reconcile', '--adopt'], ['state', 'rebuild', 'app']]) {
        const res = await ws.run(args);
        expect(res.code, args.join(' ')).toBe(4);
        expect(res.err, args.join(' ')).toEqual([expect.stringMatching(BUSY)]);
      }
      expect(target.writes()).toHaveLength(5);
      for (const args of [['sync', '--dry-run'], ['plan'], ['reconcile']]) {
        expect((await ws.run(args)).code, args.join(' ')).toBe(0);
      }
      expect(target.writes()).toHaveLength(5);
    } finally {
      other.release();
    }
    expect((await ws.run(['reconcile', '--apply'])).code).toBe(0);
    expect(target.users.size).toBe(6);
  });

  it('names this process in the lease while a sync holds it, and frees it at the end', async () => {
    ws.writeDirectory(makeDirectory(200));
    target.inject({ method: 'POST', path: /\/Users$/, stallMs: 20, times: 200 });
    const run = ws.run(['sync']);
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      let owner: string | undefined;
      for (let i = 0; i < 200 && owner === undefined; i++) {
        owner = store.leaseHolder('app');
        if (owner === undefined) await sleep(10);
      }
      expect(owner).toMatch(new RegExp(`^pid ${process.pid} on ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `));
      expect((await run).code).toBe(0);
      expect(store.leaseHolder('app')).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

const scimsync = (args: string[]) => execBuiltCli(args, TOKEN);

describe('two scimsync sync processes started at the same moment (built CLI)', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error('build first: npx tsc -p tsconfig.build.json (npm test does it)');
  });

  it('create each of 300 users once: one runs, the other exits 4 with one line', async () => {
    ws.writeDirectory(makeDirectory(300));
    const [a, b] = await Promise.all([scimsync(['sync', '--config', ws.configPath]), scimsync(['sync', '--config', ws.configPath])]);
    expect(target.users.size).toBe(300);
    expect(creates()).toBe(300);
    expect([a.code, b.code].sort()).toEqual([0, 4]);
    const loser = a.code === 4 ? a : b;
    const winner = a.code === 4 ? b : a;
    expect(loser.stderr.trim().split('\n')).toHaveLength(1);
    expect(loser.stderr).toMatch(/^\[scimsync\] \[integration app\] another scimsync process \(pid \d+ on \S+\) is running this integration; try again later or pass --wait 5m\n$/);
    expect(loser.stdout).toBe('');
    expect(winner.stdout).toMatch(/^\[integration app\] success: created 300,/);
    for (const r of [a, b]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('after a sync killed outright, the next one runs at once and creates nobody twice', async () => {
    ws.writeDirectory(makeDirectory(300));
    const child = spawn(process.execPath, [BIN, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    for (let i = 0; i < 3000 && target.users.size < 50; i++) await sleep(10);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(target.users.size).toBeLessThan(300);
    const again = await scimsync(['sync', '--config', ws.configPath]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(target.users.size).toBe(300);
    expect(new Set([...target.users.values()].map((u) => u.externalId)).size).toBe(300);
  });

  it('create each of 300 users once with --wait: the second waits, then finds nothing left to do', async () => {
    ws.writeDirectory(makeDirectory(300));
    const args = ['sync', '--config', ws.configPath, '--wait', '1m'];
    const [a, b] = await Promise.all([scimsync(args), scimsync(args)]);
    expect(target.users.size).toBe(300);
    expect(creates()).toBe(300);
    expect([a.code, b.code]).toEqual([0, 0]);
    const summaries = [a.stdout, b.stdout].map((s) => s.trim()).sort();
    expect(summaries[0]).toMatch(/^\[integration app\] success: created 0, adopted 0, updated 0,/);
    expect(summaries[1]).toMatch(/^\[integration app\] success: created 300,/);
    for (const r of [a, b]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { BIN, requireBuild } from '../support/cli.js';
import { freePort } from '../support/net.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { openStateStore } from '../../state/index.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';
import { startHttpReceiver } from '../events/support.js';

const TOKEN = 'daemon-token';
let target: DevTarget;
let ws: Workspace;

requireBuild();
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startDaemon(w: Workspace, token = TOKEN): Daemon {
  const child = spawn(process.execPath, [BIN, 'daemon', '--config', w.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: token } });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The cycles of integration `app` the state records, oldest first. */
function cycles(w: Workspace): { started_at: string; ended_at: string | null; outcome: string | null }[] {
  const store = openStateStore(join(w.dir, 'state.db'));
  try {
    return store
      .recentCycles('app', 100_000)
      .reverse()
      .map((c) => ({ started_at: c.startedAt, ended_at: c.endedAt, outcome: c.outcome }));
  } finally {
    store.close();
  }
}

describe('scimsync daemon', () => {
  it('runs cycles on schedule and serves /healthz and /metrics', async () => {
    const port = await freePort();
    ws.writeConfig({ integrationYaml: 'schedule: { every: 1s }' });
    writeFileSync(ws.configPath, `http: { listen: "127.0.0.1:${port}" }\n` + (await import('node:fs')).readFileSync(ws.configPath, 'utf8'));
    ws.writeDirectory(makeDirectory(20));
    const d = startDaemon(ws);
    try {
      await until('4 cycles', () => existsSync(join(ws.dir, 'state.db')) && cycles(ws).length >= 4);
      const starts = cycles(ws).map((c) => Date.parse(c.started_at));
      for (let i = 1; i < starts.length; i++) {
        expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(950);
        expect(starts[i]! - starts[i - 1]!).toBeLessThan(1800);
      }
      expect(target.users.size).toBe(20);

      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const families = parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const byName = new Map(families.map((f) => [f.name, f]));
      const created = byName.get('scimsync_operations_total')!.metrics.find((m) => m.labels?.type === 'user_create_provision' && m.labels.result === 'success');
      expect(created?.labels?.integration).toBe('app');
      expect(Number(created?.value)).toBe(20);
      expect(byName.get('scimsync_cycle_duration_seconds')!.type).toBe('HISTOGRAM');
      // (this parser keeps a histogram's buckets only: +Inf is the count)
      expect(Number(byName.get('scimsync_cycle_duration_seconds')!.metrics[0]!.buckets!['+Inf'])).toBeGreaterThanOrEqual(3);
      expect(byName.get('scimsync_quarantined')!.metrics[0]!.value).toBe('0');
      expect(Number(byName.get('scimsync_last_success_timestamp_seconds')!.metrics[0]!.value)).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(byName.has('scimsync_queue_depth')).toBe(true);
      expect(byName.has('scimsync_rate_limit_waits_total')).toBe(true);
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
    // Logs are JSON lines when not on a terminal.
    const lines = d.stderr().split('\n').filter((l) => l.trim() !== '');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  }, 30_000);

  it('never runs one integration in two daemons at once', async () => {
    ws.writeConfig({ integrationYaml: 'schedule: { every: 100ms }\nescrow: { maxCycles: 1000 }' });
    ws.writeDirectory(makeDirectory(5));
    // Every create fails with a slow 500, so each cycle spends a while retrying.
    target.inject({ method: 'POST', path: /\/Users$/, status: 500, stallMs: 150 });
    // Info logs, to know when both daemons are running (a slow start is not a stop).
    writeFileSync(ws.configPath, (await import('node:fs')).readFileSync(ws.configPath, 'utf8').replace('log: { level: error }', 'log: { level: info }'));
    const a = startDaemon(ws);
    const b = startDaemon(ws);
    try {
      await until('both daemons', () => a.stderr().includes('daemon started') && b.stderr().includes('daemon started'), 30_000);
      await sleep(5000);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
    }
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const rows = cycles(ws).filter((c) => c.ended_at !== null);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < rows.length; i++) expect(Date.parse(rows[i]!.started_at)).toBeGreaterThanOrEqual(Date.parse(rows[i - 1]!.ended_at!));
  }, 60_000);

  it('keeps the running configuration when SIGHUP brings a broken one, and takes a good one', async () => {
    ws.writeConfig({ integrationYaml: 'schedule: { every: 300ms }' });
    ws.writeDirectory(makeDirectory(3));
    const d = startDaemon(ws);
    try {
      await until('a cycle', () => existsSync(join(ws.dir, 'state.db')) && cycles(ws).length >= 1);
      const good = (await import('node:fs')).readFileSync(ws.configPath, 'utf8');
      writeFileSync(ws.configPath, good.replace('schedule:', 'schedul:'));
      d.child.kill('SIGHUP');
      await until('the refusal', () => d.stderr().includes('configuration reload refused'));
      expect(d.stderr()).toMatch(/configuration reload refused, the running configuration is kept: .*integrations\[0\]\.schedul: unknown key/);
      const before = cycles(ws).length;
      await sleep(1000);
      expect(cycles(ws).length).toBeGreaterThan(before);
      expect(d.child.exitCode).toBeNull();
      // A good config with a new person is taken.
      writeFileSync(ws.configPath, good);
      ws.writeDirectory(makeDirectory(4));
      d.child.kill('SIGHUP');
      await until('the new user', () => target.users.size === 4);
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
  }, 30_000);

  it('forwards every event of its cycles to an events.forward sink while it runs, in order, once each', async () => {
    const r = await startHttpReceiver();
    try {
      ws.writeConfig({ integrationYaml: 'schedule: { every: 500ms }' });
      const forward = ['events:', '  forward:', `    - { type: http, name: siem, url: "${r.url}", batchSize: 10, flushMs: 0 }`, ''].join('\n');
      writeFileSync(ws.configPath, forward + (await import('node:fs')).readFileSync(ws.configPath, 'utf8'));
      ws.writeDirectory(makeDirectory(25));
      const d = startDaemon(ws);
      try {
        await until('the first cycle', () => target.users.size === 25);
        // The new events of the running daemon reach the sink without a restart.
        await until('the creates forwarded', () => r.ids().length >= 25);
        ws.writeDirectory(makeDirectory(30));
        await until('the next users', () => target.users.size === 30);
        await until('their events forwarded', () => r.ids().length >= 30);
      } finally {
        d.child.kill('SIGTERM');
      }
      expect(await d.exited).toBe(0);
      const store = openStateStore(join(ws.dir, 'state.db'));
      try {
        const ids = store.eventsAfter(0, 1_000_000).map((e) => e.id);
        // Every event the state holds, in order and once (this sink never failed: nothing repeated).
        expect(r.ids()).toEqual(ids);
        expect(store.sinkPositions.get('siem')).toBe(ids.at(-1));
      } finally {
        store.close();
      }
    } finally {
      await r.stop();
    }
  }, 30_000);

  it('stops cleanly on SIGTERM in the middle of a cycle, with nothing lost', async () => {
    ws.writeConfig({ integrationYaml: 'schedule: { every: 1h }' });
    const dir = makeDirectory(400);
    ws.writeDirectory(dir);
    const d = startDaemon(ws);
    await until('some creates', () => target.users.size >= 60);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(target.users.size).toBeLessThan(400);
    const status = JSON.parse((await ws.run(['status', '--json'])).out[0]!) as { inFlight: unknown[]; lastCycle: { outcome: string; counts: Record<string, number> } };
    expect(status.inFlight).toEqual([]);
    expect(status.lastCycle.outcome).toBe('interrupted');
    // Every account the target got is recorded: as created, or adopted after a lost answer.
    const created = await ws.run(['events', '--type', 'user_create_provision', '--result', 'success', '--json']);
    expect(new Set(created.out.map((l) => (JSON.parse(l) as { sourceId: string }).sourceId)).size).toBe(target.users.size);
    expect(status.lastCycle.counts.created! + status.lastCycle.counts.adopted!).toBe(target.users.size);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(new Set([...target.users.values()].map((u) => u.externalId)).size).toBe(400);
    expect(target.users.size).toBe(400);
  }, 60_000);

  it('goes unhealthy while every operation of the last cycle fails, with the escrow in /healthz, and healthy again once they go through', async () => {
    const port = await freePort();
    ws.writeConfig({ integrationYaml: 'schedule: { every: 1s }' });
    writeFileSync(ws.configPath, `http: { listen: "127.0.0.1:${port}" }\n` + (await import('node:fs')).readFileSync(ws.configPath, 'utf8'));
    // Fewer failures than quarantine takes: the integration keeps running, and failing.
    ws.writeDirectory(makeDirectory(3));
    target.inject({ method: 'POST', path: /\/Users$/, status: 500 });
    const d = startDaemon(ws);
    interface Health {
      healthy: boolean;
      integrations: { app: { healthy: boolean; reason: string | null; lastOutcome: string; quarantinedUntil: string | null; escrow: { size: number; givenUp: number } } };
    }
    const healthz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: res.status, body: (await res.json()) as Health };
    };
    try {
      await until('a finished cycle', () => existsSync(join(ws.dir, 'state.db')) && cycles(ws).some((c) => c.ended_at !== null));
      const failing = await healthz();
      expect(failing.status).toBe(503);
      expect(failing.body.healthy).toBe(false);
      expect(failing.body.integrations.app).toMatchObject({
        healthy: false,
        reason: 'every operation of the last cycle failed (3)',
        lastOutcome: 'partial',
        quarantinedUntil: null,
        escrow: { size: 3, givenUp: 0 },
      });
      expect(target.users.size).toBe(0);
      // The target recovers: the next cycle creates the users, and the daemon is healthy again with nothing kept for retry.
      target.clearFaults();
      await until('the users', () => target.users.size === 3);
      await until('a healthy answer', () => cycles(ws).at(-1)?.outcome === 'success');
      const healthy = await healthz();
      expect(healthy.status).toBe(200);
      expect(healthy.body.integrations.app).toMatchObject({ healthy: true, reason: null, lastOutcome: 'success', escrow: { size: 0, givenUp: 0 } });
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
  }, 30_000);

  it('goes unhealthy when an integration is quarantined', async () => {
    const port = await freePort();
    ws.writeConfig({ integrationYaml: 'schedule: { every: 1s }' });
    writeFileSync(ws.configPath, `http: { listen: "127.0.0.1:${port}" }\n` + (await import('node:fs')).readFileSync(ws.configPath, 'utf8'));
    ws.writeDirectory(makeDirectory(3));
    const d = startDaemon(ws, 'wrong-token');
    try {
      await until('a cycle', () => existsSync(join(ws.dir, 'state.db')) && cycles(ws).length >= 1 && cycles(ws)[0]!.ended_at !== null);
      await sleep(300);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(503);
      const body = (await health.json()) as { integrations: { app: { healthy: boolean; quarantinedUntil: string; reason: string } } };
      expect(body.integrations.app.healthy).toBe(false);
      expect(body.integrations.app.quarantinedUntil).toBeTruthy();
      expect(body.integrations.app.reason).toMatch(/^quarantined until .*: the target refused our credentials \(HTTP 401\)/);
      const families = parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      expect(families.find((f) => f.name === 'scimsync_quarantined')!.metrics[0]!.value).toBe('1');
      // Quarantined: no second cycle although the schedule says every second.
      await sleep(1500);
      expect(cycles(ws)).toHaveLength(1);
    } finally {
      d.child.kill('SIGTERM');
    }
    expect(await d.exited).toBe(0);
  }, 30_000);
});

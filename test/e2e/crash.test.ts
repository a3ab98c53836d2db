import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, requireBuild } from '../support/cli.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'crash-token';

let target: DevTarget;
let ws: Workspace;

requireBuild();
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

function directory(): Directory {
  const d = makeDirectory(500);
  d.groups = Array.from({ length: 4 }, (_, g) => ({
    id: `g${g}`,
    displayName: `Team ${g}`,
    members: d.users.filter((_, i) => i % 4 === g || i % 9 === 0).map((u) => u.id),
  }));
  return d;
}

function expectExactly(d: Directory): void {
  const accounts = [...target.users.values()];
  const externalIds = accounts.map((u) => String(u.externalId));
  expect(new Set(externalIds).size).toBe(externalIds.length);
  expect(externalIds.sort()).toEqual(d.users.map((u) => u.id).sort());
  const sourceOf = new Map(accounts.map((u) => [u.id, String(u.externalId)]));
  const names = [...target.groups.values()].map((g) => String(g.displayName));
  expect(names.sort()).toEqual(d.groups!.map((g) => g.displayName).sort());
  for (const g of target.groups.values()) {
    const members = ((g.members ?? []) as { value: string }[]).map((m) => sourceOf.get(m.value)).sort();
    expect(members, String(g.displayName)).toEqual([...d.groups!.find((s) => s.displayName === g.displayName)!.members].sort());
  }
}

/** Starts `scimsync sync` as its own process; `when` decides the moment to send `signal`. */
async function runAndSignal(signal: NodeJS.Signals, when: () => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, sig) => res({ code, signal: sig })));
  const poll = setInterval(() => {
    if (when()) {
      clearInterval(poll);
      child.kill(signal);
    }
  }, 5);
  const result = await exited;
  clearInterval(poll);
  return { ...result, stdout, stderr };
}

describe('crash safety', () => {
  it('after a SIGKILL in the middle of the user creates, the next run finishes with no duplicates', async () => {
    const d = directory();
    ws.writeConfig({ integrationYaml: 'groups: { membersPerRequest: 10 }' });
    ws.writeDirectory(d);
    const killed = await runAndSignal('SIGKILL', () => target.users.size >= 150);
    expect(killed.signal).toBe('SIGKILL');
    expect(target.users.size).toBeLessThan(500);

    const again = await ws.run(['sync']);
    expect(again.err).toEqual([]);
    expect(again.code).toBe(0);
    expectExactly(d);
    target.requests.length = 0;
    await ws.run(['sync']);
    expect(target.requests).toEqual([]);
  }, 60_000);

  it('after a SIGKILL in the middle of the membership batches, no member is lost or added twice', async () => {
    const d = directory();
    ws.writeConfig({ integrationYaml: 'groups: { membersPerRequest: 10 }' });
    ws.writeDirectory(d);
    const patches = () => target.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/Groups/')).length;
    const killed = await runAndSignal('SIGKILL', () => patches() >= 5);
    expect(killed.signal).toBe('SIGKILL');

    const again = await ws.run(['sync']);
    expect(again.code).toBe(0);
    expectExactly(d);
  }, 60_000);

  it('SIGTERM lets the requests in flight finish, commits, prints the summary and exits 1', async () => {
    const d = directory();
    ws.writeConfig();
    ws.writeDirectory(d);
    const stopped = await runAndSignal('SIGTERM', () => target.users.size >= 100);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/SIGTERM: stopping after the requests in flight/);
    expect(stopped.stdout).toMatch(/\[integration app\] interrupted: created \d+, .*not started \d+/);
    const created = Number(/created (\d+)/.exec(stopped.stdout)![1]);
    // Everything the target got was committed: the summary counts what the target holds.
    expect(created).toBe(target.users.size);
    const status = JSON.parse((await ws.run(['status', '--json'])).out[0]!) as { inFlight: unknown[]; lastCycle: { outcome: string } };
    expect(status.inFlight).toEqual([]);
    expect(status.lastCycle.outcome).toBe('interrupted');

    expect((await ws.run(['sync'])).code).toBe(0);
    expectExactly(d);
  }, 60_000);
});

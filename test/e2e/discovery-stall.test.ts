import { afterEach, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { requireBuild, runBuiltCli } from '../support/cli.js';
import { configHead, makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'discovery-token';
const DISCOVERY = /\/(Schemas|ResourceTypes|ServiceProviderConfig)$/;

let target: DevTarget | undefined;

requireBuild();
afterEach(async () => {
  await target?.stop();
  target = undefined;
});

/** Five users for a target whose /ServiceProviderConfig accepts the request and never answers; the default retry policy. */
async function stalledConfig(targetYaml: string, extra = ''): Promise<Workspace> {
  target = await startDevTarget({ token: TOKEN, strict: true });
  target.inject({ method: 'GET', path: /\/ServiceProviderConfig$/, stallMs: 600_000 });
  const ws = workspace(target.url, TOKEN);
  ws.writeDirectory(makeDirectory(5));
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: target.url, log: 'warn' }),
      `      ${targetYaml}`,
      extra,
      '',
    ].join('\n'),
  });
  return ws;
}

const discoveryReads = (path: string) => target!.requests.filter((r) => r.method === 'GET' && r.path.endsWith(path)).length;

describe('a target whose /ServiceProviderConfig hangs', () => {
  it('costs one short deadline, once: /Schemas is kept, the failure remembered, and the next cycle asks nothing', async () => {
    const ws = await stalledConfig('timeoutMs: 1000');
    const first = await runBuiltCli(ws, TOKEN);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/success: created 5/);
    // Each discovery endpoint once in the cycle: the delivery does not ask /ServiceProviderConfig again.
    expect(discoveryReads('/Schemas')).toBe(1);
    expect(discoveryReads('/ResourceTypes')).toBe(1);
    expect(discoveryReads('/ServiceProviderConfig')).toBe(1);
    expect(first.stderr).toMatch(/Bulk support could not be read \(GET \/ServiceProviderConfig: .*no answer within 1000 ms\)\): using single requests \(no Bulk\); read again in 60 min/);
    expect(first.stderr).not.toMatch(/schema could not be read/);

    target!.requests.length = 0;
    const second = await runBuiltCli(ws, TOKEN);
    expect(second.code).toBe(0);
    // The schema read last cycle is kept, and the endpoint that hung is left alone for an hour.
    expect(target!.requests.filter((r) => DISCOVERY.test(r.path))).toEqual([]);
    expect(second.ms).toBeLessThan(first.ms + 5_000);
  }, 120_000);

  it('lets SIGTERM cut the read: the process ends within shutdown.graceMs, not after target.timeoutMs', async () => {
    const ws = await stalledConfig('timeoutMs: 60000', 'shutdown: { graceMs: 1000 }');
    // The signal comes while /ServiceProviderConfig is the request in flight (the other two have answered).
    const run = await runBuiltCli(ws, TOKEN, { signalWhen: () => discoveryReads('/Schemas') === 1 && discoveryReads('/ResourceTypes') === 1 && target!.concurrency.now > 0 });
    expect(run.stopMs).toBeDefined();
    expect(run.stopMs!).toBeLessThan(1000 + 4_000);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/interrupted/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    // Cut by the shutdown, not failed: the next run asks it again; nothing else was sent.
    expect(target!.writes()).toEqual([]);
  }, 120_000);

  it('lets SIGTERM cut the read in the daemon too', async () => {
    const ws = await stalledConfig('timeoutMs: 60000', 'shutdown: { graceMs: 1000 }');
    const inFlight = () => discoveryReads('/Schemas') === 1 && discoveryReads('/ResourceTypes') === 1 && target!.concurrency.now > 0;
    const run = await runBuiltCli(ws, TOKEN, { signalWhen: inFlight, verb: 'daemon' });
    expect(run.stopMs).toBeDefined();
    expect(run.stopMs!).toBeLessThan(1000 + 4_000);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});

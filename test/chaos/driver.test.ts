import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliDriver } from './driver.js';
import { cycleBound } from './campaign.js';
import { bounded } from './invariants.js';

/** The driver ends a run that outlives its bound (a finding, not a stuck test), and times a SIGTERM. */
function fakeCli(body: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'scimsync-chaos-driver-')), 'cli.js');
  writeFileSync(file, body);
  return file;
}

describe('the CLI driver', () => {
  it('kills a run that hangs past its bound, and `bounded` reports it', async () => {
    const driver = cliDriver({ cli: fakeCli('setInterval(() => {}, 1000);'), configPath: 'none.yaml', env: {} });
    const run = await driver.runCycle({ boundMs: 500 });
    expect(run.timedOut).toBe(true);
    expect(run.signal).toBe('SIGKILL');
    expect(bounded(run, 500, 3000).map((v) => v.invariant)).toEqual(['bounded']);
  });

  it('passes the arguments of a sync, and the exit code back', async () => {
    const driver = cliDriver({ cli: fakeCli('console.log(process.argv.slice(2).join(" ")); process.exit(3);'), configPath: 'c.yaml', env: {} });
    const run = await driver.runCycle({ boundMs: 10_000, force: true });
    expect(run.stdout.trim()).toBe('sync --config c.yaml --force');
    expect(run.code).toBe(3);
    expect(run.timedOut).toBe(false);
  });

  it('sends SIGTERM at the time asked, and a run that ignores it breaks `bounded`', async () => {
    const driver = cliDriver({ cli: fakeCli('process.on("SIGTERM", () => {}); setInterval(() => {}, 1000);'), configPath: 'none.yaml', env: {} });
    const run = await driver.runCycle({ boundMs: 1500, signal: { signal: 'SIGTERM', atMs: 100 } });
    expect(run.sent?.signal).toBe('SIGTERM');
    expect(run.sent!.atMs).toBeGreaterThanOrEqual(100);
    // Killed at the bound: the grace (here 0 ms, and the margin) was not kept either.
    expect(bounded(run, 1500, 0).map((v) => v.invariant)).toEqual(['bounded']);
  });
});

describe('the bound of a cycle', () => {
  it('is derived from the config: timeouts × attempts, waits, the rate, the grace', () => {
    const config = { timeoutMs: 1000, maxAttempts: 2, maxTotalWaitMs: 500, maxConcurrent: 4, graceMs: 3000 };
    // 5 s + 3 × 2 s + 20 requests at 2.5/s + ⌈6 / 4⌉ × 2.5 s + 3 s
    expect(cycleBound(config, 0)).toBe(5000 + 6000 + 8000 + 5000 + 3000);
    expect(cycleBound({ ...config, requestsPerSecond: 20 }, 0)).toBe(5000 + 6000 + 1000 + 5000 + 3000);
    expect(cycleBound(config, 100)).toBeGreaterThan(cycleBound(config, 10));
  });
});

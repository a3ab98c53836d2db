import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateStore } from '../../state/index.js';
import { LEARNED_RATE_FACT } from '../../src/engine/clients.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { configHead, makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';
import { startTokenBucketTarget, type TokenBucketTarget } from '../support/token-bucket-target.js';

const TOKEN = 'rate-limits-token';

/** The integration without `requestsPerSecond` (an adaptive rate), with `retry` as given. */
function writeConfig(ws: Workspace, url: string, options: { rateLimit?: string; retry?: string } = {}): void {
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: url }),
      `      rateLimit: ${options.rateLimit ?? '{ maxConcurrent: 4 }'}`,
      `      retry: ${options.retry ?? '{ maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 }'}`,
      '    safety: { maxDeletes: 100000, minSourceRatio: 0 }',
      '',
    ].join('\n'),
  });
}

interface StatusJson {
  quarantine: { until: string; reason: string } | null;
  lastCycle: { outcome: string; counts: Record<string, number> } | null;
}

async function status(ws: Workspace): Promise<StatusJson> {
  const r = await ws.run(['status', '--json']);
  return JSON.parse(r.out[0]!) as StatusJson;
}

/** Runs `fn` and answers what it answered, with the warnings Node emitted meanwhile. */
async function watchingWarnings<T>(fn: () => Promise<T>): Promise<{ value: T; warnings: string[] }> {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const value = await fn();
    // Warnings are emitted on the next tick.
    await new Promise((r) => setTimeout(r, 50));
    return { value, warnings };
  } finally {
    process.off('warning', onWarning);
  }
}

describe('a 429 against the dev target', () => {
  let target: DevTarget;
  let ws: Workspace;
  useStrictTarget(TOKEN, (t, w) => {
    target = t;
    ws = w;
  });

  const absurd = [
    { header: 'Retry-After', value: '1000000000' },
    { header: 'Retry-After', value: 'Fri, 31 Dec 9999 23:59:59 GMT' },
    { header: 'X-Retry-After', value: '1000000000' },
    { header: 'X-Retry-After', value: 'Fri, 31 Dec 9999 23:59:59 GMT' },
  ];
  it.each(absurd)('an absurd wait ($header: $value) with the adaptive rate: the sync ends at once, quarantined, no TimeoutOverflowWarning, nothing lost', async ({ header, value }) => {
    const d = makeDirectory(40);
    ws.writeDirectory(d);
    writeConfig(ws, target.url);
    target.inject({ path: /\/scim\/v2\//, status: 429, headers: { [header]: value } });
    const started = performance.now();
    const { value: res, warnings } = await watchingWarnings(() => ws.run(['sync']));
    // Far within target.retry.maxTotalWaitMs (5 min): a wait past it is never taken.
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    expect(res.code).toBe(1);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toMatch(/every request with HTTP 429 .*the cycle stopped; \d+ operations failed and \d+ were not sent, left for the next cycle/);
    expect(res.err[0]).toMatch(/days\)/);
    const s = await status(ws);
    expect(s.quarantine?.reason).toMatch(/HTTP 429/);

    target.clearFaults();
    const next = await ws.run(['sync', '--force']);
    expect(next.code).toBe(0);
    expect(target.users.size).toBe(40);
  }, 60_000);

  it('the built command prints no TimeoutOverflowWarning for Retry-After: 1000000000 and ends', async () => {
    const bin = resolve('dist/src/cli/main.js');
    if (!existsSync(bin)) throw new Error('build first: npm run build (npm test does it)');
    ws.writeDirectory(makeDirectory(40));
    writeConfig(ws, target.url);
    target.inject({ path: /\/scim\/v2\//, status: 429, headers: { 'Retry-After': '1000000000' } });
    const res = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = execFile(process.execPath, [bin, 'sync', '--config', ws.configPath], { env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN }, timeout: 30_000 }, (err, _stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }),
      );
      child.stdin?.end();
    });
    expect(res.stderr).not.toMatch(/TimeoutOverflowWarning/);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/HTTP 429/);
  }, 60_000);

  it('a target that refuses every request (Retry-After: 1, a quota spent) stops the cycle after target.retry.maxRefusedMs, quarantines, and loses nothing', async () => {
    const d = makeDirectory(5);
    ws.writeDirectory(d);
    writeConfig(ws, target.url, { retry: '{ maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, maxRefusedMs: 3000 }' });
    // A first clean cycle: the target's schema is kept, as it is at any later cycle.
    expect((await ws.run(['sync'])).code).toBe(0);

    const more: Directory = makeDirectory(200);
    ws.writeDirectory(more);
    target.inject({ path: /\/scim\/v2\//, status: 429, headers: { 'Retry-After': '1' } });
    const started = performance.now();
    const res = await ws.run(['sync']);
    // Each operation waiting out 20 refusals on its own would take some 200 / 4 × 20 s.
    expect(performance.now() - started).toBeLessThan(45_000);
    expect(res.code).toBe(1);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toMatch(/\[integration app\] target: the target answered every request with HTTP 429 \(\d+ in a row over \d+ s, the last asking to wait 1 s\)/);
    expect(res.err[0]).toMatch(/were not sent, left for the next cycle/);
    const s = await status(ws);
    expect(s.quarantine?.reason).toMatch(/every request with HTTP 429/);
    expect(s.lastCycle?.counts.notStarted).toBeGreaterThan(150);
    expect(target.users.size).toBe(5);

    // Quarantined: the next run does not try; forced, once the quota is back, it sends everything.
    target.clearFaults();
    expect((await ws.run(['sync'])).code).toBe(3);
    const forced = await ws.run(['sync', '--force']);
    expect(forced.code).toBe(0);
    expect(target.users.size).toBe(200);
  }, 90_000);
});

describe('a token-bucket target', () => {
  let ws: Workspace;
  let bucket: TokenBucketTarget;

  beforeAll(async () => {
    bucket = await startTokenBucketTarget({ ratePerSecond: 50 });
    ws = workspace(bucket.url, TOKEN);
  });
  afterAll(() => bucket.stop());

  it('that is busy but answers some requests is never taken to refuse everything: no quarantine, everything sent', async () => {
    const busy = await startTokenBucketTarget({ ratePerSecond: 20, burst: 2 });
    try {
      const w = workspace(busy.url, TOKEN);
      w.writeDirectory(makeDirectory(40));
      // A fixed rate ten times the target's: most requests are answered 429, for the whole cycle.
      writeConfig(w, busy.url, { rateLimit: '{ requestsPerSecond: 200, maxConcurrent: 4 }', retry: '{ maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, maxRefusedMs: 1000 }' });
      const res = await w.run(['sync']);
      expect(res.err).toEqual([]);
      expect(res.code).toBe(0);
      expect(busy.counts.limited).toBeGreaterThan(10);
      const s = await status(w);
      expect(s.quarantine).toBeNull();
      expect(s.lastCycle?.counts).toMatchObject({ created: 40, failed: 0 });
    } finally {
      await busy.stop();
    }
  }, 90_000);

  const USERS = 300;
  const R = 50;
  /** The directory with every title changed: one update per user. */
  const titled = (title: string): Directory => {
    const d = makeDirectory(USERS);
    for (const u of d.users) u.title = title;
    return d;
  };
  const learned = () => {
    const store = openStateStore(join(ws.dir, 'state.db'));
    try {
      return JSON.parse(store.targetFacts.get('app', LEARNED_RATE_FACT)!.value) as { requestsPerSecond: number; ceiling?: number; refused?: number; limitedAt?: number };
    } finally {
      store.close();
    }
  };

  it('storming for part of one cycle (every request 429 for 8 s) leaves the learned rate near the limit, and the next cycle runs at it', async () => {
    writeConfig(ws, bucket.url);
    ws.writeDirectory(titled('first'));
    expect((await ws.run(['sync'])).code).toBe(0);
    const before = learned().requestsPerSecond;

    ws.writeDirectory(titled('storm'));
    bucket.reset();
    bucket.storm({ afterRequests: 40, ms: 8000 });
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(bucket.counts.limited).toBeGreaterThan(5);
    // Before, each refusal after a pause cut the rate by a fifth: some 50 × 0.8^8 ≈ 8 requests/s was kept.
    expect(learned().requestsPerSecond).toBeGreaterThan(Math.min(before, R) * 0.6);

    ws.writeDirectory(titled('after'));
    bucket.reset();
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(learned().requestsPerSecond).toBeGreaterThan(R * 0.6);
  }, 120_000);

  it('a rate learned 10× too low hours ago (as a storm left it) climbs back near the limit within one cycle', async () => {
    const store = openStateStore(join(ws.dir, 'state.db'));
    store.targetFacts.put('app', LEARNED_RATE_FACT, JSON.stringify({ requestsPerSecond: 4.75, ceiling: 5, refused: 5, limitedAt: Date.now() - 3 * 3_600_000 }));
    store.close();
    ws.writeDirectory(titled('recovered'));
    bucket.reset();
    expect((await ws.run(['sync'])).code).toBe(0);
    // 300 updates at 5 requests/s would take a minute; the limit is found again in seconds.
    expect(learned().requestsPerSecond).toBeGreaterThan(R * 0.6);
    expect(learned().limitedAt).toBeGreaterThan(Date.now() - 120_000);
  }, 120_000);
});

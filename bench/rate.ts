/**
 * The adaptive rate against a target that enforces a token bucket of R
 * requests/s (test/support/token-bucket-target.ts, in a process of its own),
 * R unknown to scimsync: for R = 5, 50 and 500, a delivery of about 20 s of
 * creates with nothing learned (the first cycle), then another with the rate the
 * first one kept in state (the next cycle). Measures goodput (requests answered
 * 2xx per second ÷ R) and the share of requests answered 429.
 *
 *   node dist/bench/rate.js                 after `npx tsc -p tsconfig.bench.json`; prints the table of bench/RATE.md
 *   BENCH_RATE_MODE=cli                     a whole `scimsync sync` per cycle, through the built CLI
 *                                           (the config sets no requestsPerSecond); default `client`:
 *                                           the engine's client (clientFor + rateMemoryFor) driven by
 *                                           `maxConcurrent` loops of creates
 *                                           `model`: the arithmetic alone (src/core/aimd-rate.ts) against a
 *                                           simulated bucket and a sender that is never short of CPU, for
 *                                           bursts of 0.05, 0.2 (the target's), 0.5 and 1 s of R
 *   BENCH_RATE_SECONDS=20                   the length of each delivery
 *   BENCH_RATE_R=5,50,500                   the limits
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openStateStore } from '../state/index.js';
import { AimdRate, type LearnedRate } from '../src/core/aimd-rate.js';
import { parseConfig } from '../src/config/load.js';
import type { IntegrationConfig } from '../src/config/schema.js';
import { clientFor, LEARNED_RATE_FACT, rateMemoryFor } from '../src/engine/clients.js';
import { createLogger } from '../src/log.js';
import type { TokenBucketCounts } from '../test/support/token-bucket-target.js';
import { CLI, here } from './setup.js';

export type RateBenchMode = 'client' | 'cli' | 'model';

export interface RateRow {
  limit: number;
  cycle: 'first' | 'next';
  /** Creates delivered. */
  creates: number;
  /** From the first request the target saw to its last. */
  seconds: number;
  /** Requests answered 2xx, and 429. */
  succeeded: number;
  limited: number;
  /** succeeded / seconds / limit. */
  goodput: number;
  /** limited / every request the target answered. */
  share429: number;
  /** Runs of 429s more than 500 ms apart: each paused the delivery for its Retry-After. */
  episodes: number;
  /** Seconds from the first request to the first 429 (the probe), when one came. */
  firstLimitedAfter: number | undefined;
  /** The rate kept in state after the cycle. */
  learned: number | undefined;
}

const CONCURRENCY = 8;
const TOKEN = 'bench';
const logger = createLogger({ level: 'error', format: 'pretty', silent: true });

export async function rateBench(options: { mode: RateBenchMode; limits: number[]; seconds: number }): Promise<RateRow[]> {
  const work = mkdtempSync(join(tmpdir(), 'scimsync-rate-'));
  const rows: RateRow[] = [];
  try {
    for (const limit of options.limits) {
      const bucket = await startBucket(limit);
      try {
        const creates = Math.round(limit * options.seconds);
        const state = join(work, `rate-${limit}.db`);
        for (const cycle of ['first', 'next'] as const) {
          await bucket.reset();
          if (options.mode === 'cli') runCli(work, limit, bucket.url, state, cycle === 'first' ? creates : 2 * creates);
          else await runClient(bucket.url, state, cycle === 'first' ? 0 : creates, creates);
          rows.push(row(limit, cycle, creates, await bucket.counts(), state));
        }
      } finally {
        bucket.child.kill();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

interface BucketProcess {
  url: string;
  child: ChildProcess;
  counts(): Promise<TokenBucketCounts>;
  /** Zeroes the counts and fills the bucket; the users stay (the next cycle finds them). */
  reset(): Promise<void>;
}

/** The token-bucket target in a process of its own, serving its own store: the engine's process measures only itself. */
async function startBucket(limit: number): Promise<BucketProcess> {
  const child = spawn(process.execPath, [join(here, '../test/support/token-bucket-target.js'), String(limit)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res) => child.stdout!.once('data', (c: Buffer) => res(c.toString().trim())));
  const origin = new URL(url).origin;
  return {
    url,
    child,
    counts: async () => (await (await fetch(`${origin}/_bucket`)).json()) as TokenBucketCounts,
    reset: async () => {
      await fetch(`${origin}/_bucket/counts`, { method: 'POST' });
    },
  };
}

/**
 * The arithmetic alone: a sender of `CONCURRENCY` requests at once, 1 to 2.5 ms each,
 * paced by AimdRate, against a token bucket of `limit` holding `burstSeconds` of it;
 * a 429 stops every request for its Retry-After (whole seconds), as the client does.
 */
export function modelRun(limit: number, burstSeconds: number, seconds: number, learned: LearnedRate | undefined): { row: Omit<RateRow, 'cycle'>; learned: LearnedRate } {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const burst = Math.max(1, limit * burstSeconds);
  const aimd = new AimdRate({}, learned, 0);
  let tokens = burst;
  let filledAt = 0;
  let credit = 1;
  let creditAt = 0;
  let pausedUntil = 0;
  const inFlight: { sentAt: number; rate: number; doneAt: number; limited: boolean; waitMs: number }[] = [];
  let succeeded = 0;
  let limited = 0;
  const limitedAt: number[] = [];
  const step = 0.1;
  for (let t = 0; t < seconds * 1000; t += step) {
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const r = inFlight[i]!;
      if (r.doneAt > t) continue;
      inFlight.splice(i, 1);
      if (!r.limited) {
        succeeded++;
        aimd.answered(r.sentAt, t);
        continue;
      }
      limited++;
      limitedAt.push(t);
      pausedUntil = Math.max(pausedUntil, t + r.waitMs);
      aimd.throttled(r.sentAt, r.rate, t, pausedUntil);
    }
    const rate = aimd.rate;
    credit = Math.min(Math.max(1, rate * 0.05), credit + ((t - creditAt) * rate) / 1000);
    creditAt = t;
    while (t >= pausedUntil && inFlight.length < CONCURRENCY && credit >= 1) {
      credit--;
      aimd.sent(t);
      const latency = 1 + random() * 1.5;
      const arrives = t + latency / 2;
      tokens = Math.min(burst, tokens + ((arrives - filledAt) * limit) / 1000);
      filledAt = Math.max(filledAt, arrives);
      const ok = tokens >= 1;
      if (ok) tokens--;
      inFlight.push({ sentAt: t, rate, doneAt: t + latency, limited: !ok, waitMs: ok ? 0 : Math.max(1, Math.ceil((1 - tokens) / limit)) * 1000 });
    }
  }
  let episodes = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const at of limitedAt) {
    if (at - last > 500) episodes++;
    last = at;
  }
  return {
    row: {
      limit,
      creates: succeeded,
      seconds,
      succeeded,
      limited,
      goodput: succeeded / seconds / limit,
      share429: limited / Math.max(1, limited + succeeded),
      episodes,
      firstLimitedAfter: limitedAt[0] !== undefined ? limitedAt[0] / 1000 : undefined,
      learned: aimd.learned.requestsPerSecond,
    },
    learned: aimd.learned,
  };
}

function integration(url: string): IntegrationConfig {
  const config = parseConfig(configText(url, join(tmpdir(), 'unused.db'), join(tmpdir(), 'unused.json')), join(tmpdir(), 'rate.yaml'));
  const app = config.integrations[0]!;
  // Without requestsPerSecond: the rate is found (a config that sets none, once the schema has no default rate).
  const { maxConcurrent } = app.target.rateLimit;
  return { ...app, target: { ...app.target, rateLimit: { maxConcurrent } as IntegrationConfig['target']['rateLimit'] } };
}

function configText(url: string, state: string, directory: string): string {
  return [
    `state: { path: ${state} }`,
    'log: { level: error }',
    'integrations:',
    '  - name: app',
    `    source: { type: file, path: ${directory} }`,
    '    target:',
    `      url: ${url}`,
    `      auth: { type: bearer, token: ${TOKEN} }`,
    `      rateLimit: { maxConcurrent: ${CONCURRENCY} }`,
    '    safety: { maxDeletes: 1000000, minSourceRatio: 0 }',
    '',
  ].join('\n');
}

/** `maxConcurrent` loops of creates through the engine's client, its learned rate kept in the state file. */
async function runClient(url: string, statePath: string, from: number, creates: number): Promise<void> {
  const store = openStateStore(statePath);
  try {
    const client = clientFor(integration(url), { logger, use: 'delivery', rateMemory: rateMemoryFor(store, 'app', logger) });
    let next = from;
    const end = from + creates;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < end) {
          const i = next++;
          await client.request('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `user${i}@example.com`, name: { givenName: `G${i}`, familyName: `F${i}` }, active: true });
        }
      }),
    );
    await client.close();
  } finally {
    store.close();
  }
}

/** A whole `scimsync sync` of a directory of `users` (the next cycle's has the first cycle's users and as many new). */
function runCli(work: string, limit: number, url: string, state: string, users: number): void {
  const directory = join(work, `directory-${limit}.json`);
  const list = Array.from({ length: users }, (_, i) => ({ id: `u${i}`, userName: `user${i}@example.com`, givenName: `G${i}`, familyName: `F${i}`, email: `user${i}@example.com` }));
  writeFileSync(directory, JSON.stringify({ users: list, groups: [] }));
  const config = join(work, `rate-${limit}.yaml`);
  writeFileSync(config, configText(url, state, directory));
  execFileSync(process.execPath, [CLI, 'sync', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
}

function row(limit: number, cycle: 'first' | 'next', creates: number, c: TokenBucketCounts, statePath: string): RateRow {
  const seconds = c.firstAt !== undefined && c.lastAt !== undefined ? (c.lastAt - c.firstAt) / 1000 : 0;
  let episodes = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const at of c.limitedAt) {
    if (at - last > 500) episodes++;
    last = at;
  }
  const store = openStateStore(statePath);
  const fact = store.targetFacts.get('app', LEARNED_RATE_FACT);
  store.close();
  const learned = fact ? (JSON.parse(fact.value) as { requestsPerSecond: number }).requestsPerSecond : undefined;
  return {
    limit,
    cycle,
    creates,
    seconds,
    succeeded: c.succeeded,
    limited: c.limited,
    goodput: seconds > 0 ? c.succeeded / seconds / limit : 0,
    share429: c.limited / Math.max(1, c.limited + c.answered),
    episodes,
    firstLimitedAfter: c.limitedAt[0] !== undefined && c.firstAt !== undefined ? (c.limitedAt[0] - c.firstAt) / 1000 : undefined,
    learned,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The results as a Markdown table, with each target checked. */
export function rateTable(rows: RateRow[]): string[] {
  const lines = [
    '| R (req/s) | cycle | creates | time at the target | goodput | answered 429 | 429 episodes | first 429 after | rate kept |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.limit} | ${r.cycle === 'first' ? 'first (nothing learned)' : 'next (learned rate)'} | ${r.creates} | ${r.seconds.toFixed(1)} s | ${pct(r.goodput)} | ${pct(r.share429)} (${r.limited}) | ${r.episodes} | ${r.firstLimitedAfter !== undefined ? `${r.firstLimitedAfter.toFixed(1)} s` : '—'} | ${r.learned !== undefined ? r.learned.toFixed(1) : '—'} |`,
    );
  }
  return lines;
}

/** Goodput ≥ 90 %, ≤ 5 % answered 429, and goodput the same within 10 % across R: per cycle. */
export function rateTargets(rows: RateRow[]): string[] {
  const out: string[] = [];
  for (const cycle of ['first', 'next'] as const) {
    const of = rows.filter((r) => r.cycle === cycle);
    if (of.length === 0) continue;
    const goodputs = of.map((r) => r.goodput);
    const spread = (Math.max(...goodputs) - Math.min(...goodputs)) / Math.max(...goodputs);
    const met = (ok: boolean) => (ok ? 'met' : '**missed**');
    out.push(
      `- ${cycle === 'first' ? 'First cycle (nothing learned)' : 'Next cycle (learned rate)'}: goodput ≥ 90 % of R: ${met(goodputs.every((g) => g >= 0.9))} (lowest ${pct(Math.min(...goodputs))}); ≤ 5 % answered 429: ${met(of.every((r) => r.share429 <= 0.05))} (highest ${pct(Math.max(...of.map((r) => r.share429)))}); the same within 10 % across R: ${met(spread <= 0.1)} (spread ${pct(spread)}).`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const mode = (process.env.BENCH_RATE_MODE ?? 'client') as RateBenchMode;
  if (mode !== 'client' && mode !== 'cli' && mode !== 'model') throw new Error(`BENCH_RATE_MODE: expected client, cli or model, got ${String(mode)}`);
  const seconds = Number(process.env.BENCH_RATE_SECONDS ?? 20);
  const limits = (process.env.BENCH_RATE_R ?? '5,50,500').split(',').map(Number);
  if (mode === 'model') {
    for (const burstSeconds of [0.05, 0.2, 0.5, 1]) {
      const rows: RateRow[] = [];
      for (const limit of limits) {
        const first = modelRun(limit, burstSeconds, seconds, undefined);
        const next = modelRun(limit, burstSeconds, seconds, first.learned);
        rows.push({ ...first.row, cycle: 'first' }, { ...next.row, cycle: 'next' });
      }
      for (const l of [`Model, burst ${burstSeconds} s of R, ${seconds} s per cycle:`, '', ...rateTable(rows), '', ...rateTargets(rows), '']) console.log(l);
    }
    return;
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}; load average at the start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`;
  const started = performance.now();
  const rows = await rateBench({ mode, limits, seconds });
  const lines = [
    `Mode: ${mode === 'cli' ? 'a whole `scimsync sync` per cycle (built CLI)' : "the engine's client (clientFor with rateMemoryFor over a SQLite state file), 8 loops of creates"}; ${seconds} s of creates per cycle; concurrency ${CONCURRENCY}.`,
    `Machine: ${machine}. Took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    '',
    ...rateTable(rows),
    '',
    ...rateTargets(rows),
  ];
  for (const l of lines) console.log(l);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}

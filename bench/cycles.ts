/**
 * Whole `scimsync` runs, as an operator starts them (the built CLI, a process
 * each): request economy on a pushed directory, and the initial sync of a large
 * directory (peak memory, state size) followed by no-change plans and cycles.
 */
import { readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDirectory } from './directory.js';
import { median, measure, type Measured } from './measure.js';
import { CLI, configFile, freshState, requestsOf, reset, stats, type BenchConfig } from './setup.js';

async function cli(args: string[], config: BenchConfig): Promise<Measured> {
  // As an operator runs it: no Node flags (a larger heap limit would change when the collector runs, and so the peak).
  const m = await measure(CLI, [...args, '--config', config.path], { memory: true });
  if (m.exitCode !== 0) throw new Error(`scimsync ${args.join(' ')} exited ${m.exitCode}: ${m.stdout.slice(-500)}${m.stderr.slice(-1000)}`);
  return m;
}

/** Requests a cycle sent, read from the target's counters. */
async function requestsOfSync(url: string, config: BenchConfig): Promise<{ requests: number; counts: Record<string, number> }> {
  const before = (await stats(url)).counts;
  await cli(['sync'], config);
  const after = (await stats(url)).counts;
  const counts: Record<string, number> = {};
  for (const k of Object.keys(after)) if ((after[k] ?? 0) !== (before[k] ?? 0)) counts[k] = (after[k] ?? 0) - (before[k] ?? 0);
  return { requests: Object.values(counts).reduce((a, b) => a + b, 0), counts };
}

export interface EconomyRow {
  cycle: string;
  sent: string;
  target: string;
  met: boolean;
}

/** Pushes `n` users, then counts what a no-change cycle, a 1% change and a group of every user send. */
export async function economy(work: string, url: string, n: number): Promise<EconomyRow[]> {
  const file = join(work, `economy-${n}.json`);
  writeDirectory(file, n, 0, 0);
  const config = configFile(work, 'economy', file, url, 8);
  await reset(url);
  freshState(config);
  await cli(['sync'], config);
  const rows: EconomyRow[] = [];
  const none = await requestsOfSync(url, config);
  rows.push({ cycle: 'no-change cycle', sent: String(none.requests), target: '0', met: none.requests === 0 });
  const changed = Math.floor(n / 100);
  writeDirectory(file, n, 0, 0, changed);
  const some = await requestsOfSync(url, config);
  rows.push({ cycle: `1% of users changed (${changed})`, sent: String(some.requests), target: String(changed), met: some.requests === changed });
  const withGroup = JSON.parse(readFileSync(file, 'utf8')) as { users: { id: string }[]; groups: unknown[] };
  withGroup.groups = [{ id: 'all', displayName: 'Everyone', members: withGroup.users.map((u) => u.id) }];
  writeFileSync(file, JSON.stringify(withGroup));
  const group = await requestsOfSync(url, config);
  const writes = (group.counts['POST /scim/v2/Groups'] ?? 0) + (group.counts['PATCH /scim/v2/Groups/:id'] ?? 0);
  const bound = Math.ceil(n / 100);
  rows.push({
    cycle: `create a ${n.toLocaleString('en')}-member group`,
    sent: `${writes} writes + ${group.counts['GET /scim/v2/Groups'] ?? 0} lookup`,
    target: `≤ ${bound}`,
    met: writes <= bound,
  });
  return rows;
}

export interface InitialSyncResult {
  users: number;
  groups: number;
  memberships: number;
  runs: Measured[];
  requests: number;
  stateBytes: number;
  /** `scimsync plan` right after, nothing changed. */
  plans: Measured[];
  /** `scimsync sync` right after, nothing changed. */
  noChangeSync: Measured;
  noChangeRequests: number;
}

/** `runs` initial syncs of a fresh state each, then no-change plans and a no-change cycle on the last one. */
export async function initialSync(work: string, url: string, size: { users: number; groups: number; memberships: number }, runs: number): Promise<InitialSyncResult> {
  const file = join(work, `initial-${size.users}.json`);
  writeDirectory(file, size.users, size.groups, size.memberships);
  const config = configFile(work, 'initial', file, url, 8);
  const measured: Measured[] = [];
  let requests = 0;
  for (let r = 0; r < runs; r++) {
    await reset(url);
    freshState(config);
    const m = await cli(['sync'], config);
    const s = await stats(url);
    if (s.users !== size.users || s.groups !== size.groups) throw new Error(`initial sync: ${s.users} users and ${s.groups} groups on the target`);
    requests = requestsOf(s);
    measured.push(m);
    console.error(`  initial sync ${r + 1}/${runs}: ${(m.wallMs / 1000).toFixed(1)} s, peak RSS ${Math.round(m.peakRssMb)} MB`);
  }
  const stateBytes = statSync(config.state).size + (existsSync(`${config.state}-wal`) ? statSync(`${config.state}-wal`).size : 0);
  const plans: Measured[] = [];
  for (let r = 0; r < runs; r++) {
    const m = await cli(['plan'], config);
    if (!/\b0 operations\b/.test(m.stdout)) throw new Error(`no-change plan: ${m.stdout.slice(0, 500)}`);
    plans.push(m);
  }
  const before = requestsOf(await stats(url));
  const noChangeSync = await cli(['sync'], config);
  const noChangeRequests = requestsOf(await stats(url)) - before;
  return { ...size, runs: measured, requests, stateBytes, plans, noChangeSync, noChangeRequests };
}

export const medianOf = (ms: Measured[], pick: (m: Measured) => number): number => median(ms.map(pick));

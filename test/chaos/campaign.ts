import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { armChaos, CHAOS_FAULTS, disarmChaos, drawChaos, type ChaosFaultKind } from '../support/devtarget/chaos.js';
import { startDevTarget, type BulkOptions, type DevTarget, type StoredResource } from '../support/devtarget/server.js';
import { cliDriver, type CycleDriver } from './driver.js';
import { checkInvariants, type DesiredView, type RunResult, type TargetView, type Violation } from './invariants.js';
import { Random } from './random.js';
import { startSink, type ChaosSink } from './sink.js';
import { ChaosSource, SOURCE_EVENTS, type SourceEvent, type SourceEventKind, type Snapshot } from './source.js';
import { readState } from './state.js';

export interface CampaignOptions {
  seed: number;
  cycles: number;
  /** Users in the directory at the start. */
  users: number;
  /** The built CLI under test. @default dist/src/cli/main.js of this tree */
  cli?: string;
  /** The fault kinds the campaign draws from. @default all of them */
  faults?: readonly ChaosFaultKind[];
  /** The source events the campaign draws from. @default all of them */
  events?: readonly SourceEventKind[];
  /** A clean cycle (faults off, the whole source) after every this many cycles, and after the last. @default 3 */
  cleanEvery?: number;
  /** Kill (-9) and stop (SIGTERM) the process at random points. @default true */
  kills?: boolean;
  /** Groups the `fan-out` user joins. @default 500 */
  fanGroups?: number;
  /** Stop at the first violation. @default true */
  stopAtFirst?: boolean;
  /** Where each cycle's line goes. */
  log?: (line: string) => void;
  /** Another way to run a cycle (the CLI by default). */
  driver?: (paths: { configPath: string; env: Record<string, string> }) => CycleDriver;
}

export interface Finding {
  seed: number;
  cycle: number;
  phase: 'chaos' | 'clean';
  violations: Violation[];
  faults: ChaosFaultKind[];
  events: SourceEvent[];
  run: RunResult;
}

export interface CampaignResult {
  seed: number;
  /** Cycles run (a clean cycle counts with the chaos cycle before it). */
  cycles: number;
  findings: Finding[];
  durationMs: number;
  /** What the target advertised for this seed. */
  bulk: boolean;
  etags: boolean;
}

/** One line per violation (the first eight of each finding), with what was drawn: what a failed test shows. */
export function describeFindings(r: CampaignResult): string[] {
  return r.findings.flatMap((f) =>
    f.violations
      .slice(0, 8)
      .map((v) => `seed ${f.seed} cycle ${f.cycle}${f.phase === 'clean' ? ' (clean)' : ''}: ${v.invariant}: ${v.message} [faults ${f.faults.join(', ')}; ${f.events.map((e) => e.note).join('; ')}]`),
  );
}

/** The knobs of the config that bound a cycle's time. */
export interface BoundConfig {
  timeoutMs: number;
  maxAttempts: number;
  maxTotalWaitMs: number;
  maxConcurrent: number;
  /** Unset: the adaptive rate, which starts at 10/s. */
  requestsPerSecond?: number;
  graceMs: number;
}

export const CHAOS_CONFIG: BoundConfig = { timeoutMs: 1500, maxAttempts: 3, maxTotalWaitMs: 3000, maxConcurrent: 4, graceMs: 3000 };
const TOKEN = 'chaos-token';
const INTEGRATION = 'chaos';
const PROTECTED = 'admin@example.com';
const BREAK_GLASS = 'breakglass@example.com';

/**
 * How long a cycle may take (docs/INVARIANTS.md): start-up, discovery (three reads,
 * each within timeouts × attempts), the requests at the rate's floor (the adaptive
 * rate's start after two cuts), the share of requests a fault may slow down, each
 * within timeouts × attempts plus its waits, `maxConcurrent` at a time, and the drain.
 */
export function cycleBound(c: BoundConfig, changedObjects: number): number {
  const requests = 20 + 4 * changedObjects;
  const attempt = c.timeoutMs * c.maxAttempts;
  const rate = c.requestsPerSecond ?? 10 / 4;
  const slow = Math.ceil((requests * 0.3) / c.maxConcurrent) * (attempt + c.maxTotalWaitMs);
  return Math.round(5000 + 3 * attempt + (requests / rate) * 1000 + slow + c.graceMs);
}

function configYaml(paths: { state: string; source: string }, targetUrl: string, sinkUrl: string, c: BoundConfig): string {
  return [
    'state:',
    `  path: ${paths.state}`,
    'log: { level: error }',
    `shutdown: { graceMs: ${c.graceMs} }`,
    'events:',
    '  forward:',
    `    - { type: http, name: chaos, url: ${sinkUrl}, flushMs: 20, timeoutMs: 1000, retry: { baseDelayMs: 20, maxDelayMs: 100 } }`,
    'integrations:',
    `  - name: ${INTEGRATION}`,
    `    source: { type: file, path: ${paths.source} }`,
    '    target:',
    `      url: ${targetUrl}`,
    '      auth: { type: bearer, token: "${TEST_TOKEN}" }',
    `      rateLimit: { maxConcurrent: ${c.maxConcurrent}${c.requestsPerSecond ? `, requestsPerSecond: ${c.requestsPerSecond}` : ''} }`,
    `      timeoutMs: ${c.timeoutMs}`,
    `      retry: { maxAttempts: ${c.maxAttempts}, baseDelayMs: 10, maxDelayMs: 100, maxTotalWaitMs: ${c.maxTotalWaitMs} }`,
    `    protect: ["admin@*", "breakglass@*"]`,
    '    escrow: { maxCycles: 10000 }',
    '',
  ].join('\n');
}

const copy = (r: StoredResource) => JSON.parse(JSON.stringify(r)) as StoredResource;
const viewOf = (t: DevTarget): TargetView => ({ users: [...t.users.values()].map(copy), groups: [...t.groups.values()].map(copy) });

/** Rows of a snapshot by id, to count what changed since the target last held it all. */
function rowsOf(s: Snapshot): Map<string, string> {
  return new Map([...s.file.users.map((u) => [`u:${String(u.id)}`, JSON.stringify(u)] as const), ...s.file.groups.map((g) => [`g:${g.id}`, JSON.stringify(g)] as const)]);
}

function changedSince(before: Map<string, string>, now: Map<string, string>): number {
  let n = 0;
  for (const [k, v] of now) if (before.get(k) !== v) n++;
  for (const k of before.keys()) if (!now.has(k)) n++;
  return n;
}

/** A seeded campaign: cycles with faults drawn from the plan, a clean cycle now and then, every invariant after each. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = performance.now();
  const random = new Random(options.seed);
  const log = options.log ?? (() => {});
  const allowedFaults = options.faults ?? CHAOS_FAULTS.map((f) => f.kind);
  const allowedEvents = options.events ?? SOURCE_EVENTS.map((e) => e.kind);
  const cleanEvery = options.cleanEvery ?? 3;
  const kills = options.kills ?? true;
  // What the target is for the whole campaign: its /ServiceProviderConfig is read once a day.
  const bulk = random.chance(0.5);
  const etags = random.chance(0.5);
  // Bulk faults change this object between cycles: the target reads it at each request.
  const bulkOptions: BulkOptions | undefined = bulk ? {} : undefined;
  const target = await startDevTarget({ token: TOKEN, strict: true, seed: random.fork(), etags, ...(bulkOptions ? { bulk: bulkOptions } : {}) });
  const chaos = { target, timeoutMs: CHAOS_CONFIG.timeoutMs, random: () => random.next(), ...(bulkOptions ? { bulk: bulkOptions } : {}) };
  const sinkRandom = new Random(random.fork());
  const sink: ChaosSink = await startSink(() => sinkRandom.next());
  sink.failRate = random.chance(0.5) ? 0.1 : 0;
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-chaos-'));
  const paths = { state: join(dir, 'state.db'), source: join(dir, 'directory.json'), config: join(dir, 'scimsync.yaml') };
  writeFileSync(paths.config, configYaml(paths, target.url, sink.url, CHAOS_CONFIG));
  const env = { TEST_TOKEN: TOKEN };
  const driver = options.driver?.({ configPath: paths.config, env }) ?? cliDriver({ cli: options.cli ?? resolve('dist/src/cli/main.js'), configPath: paths.config, env });
  const source = new ChaosSource(random, { users: options.users, fanGroups: options.fanGroups ?? 500, protectedUserName: PROTECTED });
  const person = (userName: string, n: string) => ({ userName, name: { givenName: 'Admin', familyName: n }, emails: [{ value: userName, type: 'work' }], active: true });
  const protectedAccounts = [target.seedUser(person(PROTECTED, 'App')), target.seedUser(person(BREAK_GLASS, 'Glass'))].map(copy);
  // Accounts made in the app before scimsync, their userName in another case: found, then adopted.
  for (const u of [...source.users.values()].slice(0, 2)) {
    target.seedUser({ userName: u.userName.toUpperCase(), name: { givenName: u.givenName, familyName: u.familyName }, emails: [{ value: u.email, type: 'work' }], active: true });
  }
  const seenUsers = new Set<string>();
  const seenGroups = new Set<string>();
  let converged = new Map<string, string>();
  const findings: Finding[] = [];
  const desired = (): DesiredView => {
    const users = [...source.users.values()].filter((u) => u.id !== source.protectedId);
    const groups = [...source.groups.values()];
    const groupNames = new Set(groups.map((g) => g.displayName));
    return { users, groups, goneUsers: [...seenUsers].filter((id) => !source.users.has(id)), goneGroups: [...seenGroups].filter((n) => !groupNames.has(n)) };
  };
  const run = async (snapshot: Snapshot, phase: 'chaos' | 'clean', faults: ChaosFaultKind[], events: SourceEvent[], cycle: number): Promise<boolean> => {
    writeFileSync(paths.source, JSON.stringify(snapshot.file));
    for (const u of snapshot.file.users) seenUsers.add(String(u.id));
    for (const g of snapshot.file.groups) seenGroups.add(g.displayName);
    const rows = rowsOf(source.snapshot('clean'));
    const boundMs = cycleBound(CHAOS_CONFIG, changedSince(converged, rows));
    const signal = phase === 'chaos' && kills && random.chance(0.2) ? { signal: random.pick(['SIGKILL', 'SIGTERM'] as const), atMs: random.int(100, 2500) } : undefined;
    const before = viewOf(target);
    const forwardedBefore = sink.received.length;
    if (phase === 'chaos') armChaos(chaos, faults);
    let result = await driver.runCycle({ boundMs, ...(signal ? { signal } : {}) });
    disarmChaos(chaos);
    // The clean snapshot is the truth: a safety rule that holds it (a group really gone) is confirmed, as an admin
    // would; a quarantine is not (it says the target refused us, and it is a finding).
    if (phase === 'clean' && result.code === 3 && /safety\./.test(result.stderr)) {
      log(`seed ${options.seed} cycle ${cycle} (clean): held by a safety rule, confirmed with --force`);
      result = await driver.runCycle({ boundMs, force: true });
    }
    const after = viewOf(target);
    const violations = checkInvariants({
      phase,
      target: after,
      before,
      state: readState(paths.state, INTEGRATION),
      desired: desired(),
      doubt: snapshot.doubt,
      protectedAccounts,
      run: result,
      boundMs,
      graceMs: CHAOS_CONFIG.graceMs,
      forwarded: sink.received,
    });
    const how = result.code === null ? `killed by ${String(result.signal)}` : `exit ${result.code}`;
    log(
      `seed ${options.seed} cycle ${cycle}${phase === 'clean' ? ' (clean)' : ''}: ${how} in ${(result.durationMs / 1000).toFixed(1)}s` +
        (faults.length ? ` faults [${faults.join(', ')}]` : '') +
        (events.length ? ` events [${events.map((e) => e.kind).join(', ')}]` : '') +
        (result.sent ? ` ${result.sent.signal}@${result.sent.atMs}ms` : '') +
        ` forwarded +${sink.received.length - forwardedBefore}`,
    );
    if (violations.length > 0) {
      findings.push({ seed: options.seed, cycle, phase, violations, faults, events, run: result });
      for (const v of violations.slice(0, 8)) log(`  VIOLATION ${v.invariant}: ${v.message}`);
      if (violations.length > 8) log(`  … and ${violations.length - 8} more`);
      // What the target held, beside the state, config and source kept for a post-mortem.
      writeFileSync(join(dir, `target-cycle-${cycle}-${phase}.json`), JSON.stringify(after, null, 1));
      writeFileSync(join(dir, `run-cycle-${cycle}-${phase}.txt`), `${result.stdout}\n${result.stderr}`);
      return false;
    }
    if (result.code === 0 && snapshot.doubt.size === 0) converged = rows;
    return true;
  };
  let cycle = 0;
  try {
    for (cycle = 1; cycle <= options.cycles; cycle++) {
      const events = cycle === 1 ? [] : source.evolve(allowedEvents);
      const faults = drawChaos(() => random.next(), allowedFaults);
      const ok = await run(source.snapshot('as-drawn'), 'chaos', faults, events, cycle);
      if (!ok && (options.stopAtFirst ?? true)) break;
      if (cycle % cleanEvery === 0 || cycle === options.cycles) {
        const clean = await run(source.snapshot('clean'), 'clean', [], [], cycle);
        if (!clean && (options.stopAtFirst ?? true)) break;
      }
    }
  } finally {
    await target.stop();
    await sink.stop();
    if (findings.length === 0) rmSync(dir, { recursive: true, force: true });
    else log(`state, config and source kept in ${dir}`);
  }
  return { seed: options.seed, cycles: Math.min(cycle, options.cycles), findings, durationMs: Math.round(performance.now() - started), bulk, etags };
}

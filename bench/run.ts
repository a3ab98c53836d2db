/**
 * `npm run bench`: scimsync's cost against the floor, on synthetic directories
 * and a fast local target in its own process. Prints the tables and, after a
 * full run, writes bench/RESULTS.md. Each figure is a median of BENCH_RUNS (3).
 *
 *   BENCH_ONLY=client,initial   parts to run (plan, client, economy, initial, rate); RESULTS.md is written only by a full run
 *   BENCH_QUICK=1               small sizes, to try the benchmark itself
 *   BENCH_PROFILE=dir           `node --cpu-prof` on the client-cost runs, profiles in dir (see profile-summary.ts)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { clientCost, clientTable, type ClientRow } from './client-cost.js';
import { economy, initialSync, medianOf, type EconomyRow, type InitialSyncResult } from './cycles.js';
import { writeDirectory } from './directory.js';
import { median, type Measured } from './measure.js';
import { rateBench, rateTable, rateTargets, type RateRow } from './rate.js';
import { configFile, here, startTarget } from './setup.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const PARTS = ['plan', 'client', 'economy', 'initial', 'rate'] as const;
const runs = (part: (typeof PARTS)[number]) => !ONLY || ONLY.includes(part);
if (ONLY?.some((p) => !(PARTS as readonly string[]).includes(p))) throw new Error(`BENCH_ONLY: expected some of ${PARTS.join(', ')}, got ${ONLY.join(',')}`);

const work = mkdtempSync(join(tmpdir(), 'scimsync-bench-'));
const lines: string[] = [];
const out = (s: string) => {
  console.log(s);
  lines.push(s);
};
const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const check = (ok: boolean) => (ok ? 'met' : '**missed**');

function worker(mode: 'prepare' | 'measure', config: string, name: string): { ms: number; operations: number; peakRssMb: number } {
  const text = execFileSync(process.execPath, ['--max-old-space-size=6144', join(here, 'plan-worker.js'), mode, config, name], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(text.trim().split('\n').at(-1)!) as { ms: number; operations: number; peakRssMb: number };
}

interface PlanRow {
  users: number;
  change: string;
  ms: number;
  rssMb: number;
  operations: number;
}

/** A dry-run cycle in a fresh process, on state seeded as if the directory had been pushed. */
function planning(n: number, g: number, memberships: number): PlanRow[] {
  const file = join(work, `dir-${n}.json`);
  writeDirectory(file, n, g, memberships);
  const name = `plan${n}`;
  const config = configFile(work, name, file, 'http://127.0.0.1:9/scim/v2').path;
  worker('prepare', config, name);
  const rows: PlanRow[] = [];
  for (const [label, changed] of [['none', 0], ['1%', Math.floor(n / 100)]] as const) {
    writeDirectory(file, n, g, memberships, changed);
    const r = Array.from({ length: RUNS }, () => worker('measure', config, name));
    rows.push({ users: n, change: label, ms: median(r.map((x) => x.ms)), rssMb: median(r.map((x) => x.peakRssMb)), operations: r[0]!.operations });
  }
  rmSync(file, { force: true });
  return rows;
}

/** The measured part of RESULTS.md is replaced between its markers; the analysis written around it stays. */
function writeResults(measured: string): void {
  const path = resolve(here, '../../bench/RESULTS.md');
  const [begin, end] = ['<!-- bench:begin -->', '<!-- bench:end -->'];
  const block = `${begin}\n${measured}\n${end}`;
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const from = old.indexOf(begin);
  const to = old.indexOf(end);
  writeFileSync(path, from >= 0 && to > from ? old.slice(0, from) + block + old.slice(to + end.length) : `# scimsync benchmarks\n\n${block}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}`;
  const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log('# scimsync benchmarks\n');
  out(`Machine: ${machine}; load average at the start ${load()}. Each figure is the median of ${RUNS} runs. Command: \`npm run bench\`.\n`);

  const planRows: PlanRow[] = [];
  if (runs('plan')) {
    out('## 1. Planning cost (a dry-run cycle in-process, as `scimsync plan` runs it after start-up: source read + scope/map + state read + plan, no HTTP)\n');
    out('| users | groups | memberships | change | wall time | peak RSS | operations |');
    out('|---:|---:|---:|---|---:|---:|---:|');
    const sizes: [number, number, number][] = QUICK ? [[10_000, 200, 50_000]] : [[100_000, 2_000, 500_000], [1_000_000, 2_000, 500_000]];
    for (const [n, g, m] of sizes) {
      for (const r of planning(n, g, m)) {
        planRows.push(r);
        out(`| ${n.toLocaleString('en')} | ${g.toLocaleString('en')} | ${m.toLocaleString('en')} | ${r.change} | ${s2(r.ms)} | ${Math.round(r.rssMb)} MB | ${r.operations} |`);
      }
    }
  }

  const target = await startTarget();
  let client: ClientRow[] = [];
  let eco: EconomyRow[] = [];
  let initial: InitialSyncResult | undefined;
  const pushUsers = QUICK ? 2_000 : 20_000;
  try {
    if (runs('client')) {
      const file = join(work, `push-${pushUsers}.json`);
      writeDirectory(file, pushUsers, 0, 0);
      client = await clientCost({ work, url: target.url, directory: file, users: pushUsers, concurrency: 8, runs: RUNS, profileDir: process.env.BENCH_PROFILE });
      out(`\n## 2. Client cost against the floor (initial push of ${pushUsers.toLocaleString('en')} users at concurrency 8, fast local target, each client a process of its own)\n`);
      out('Every client reads the directory, builds the bodies, reads the user list once and creates every manager, then everyone');
      out("else with their manager's id (the engine's requests). Wall time runs from spawn to exit; CPU is the process's, every");
      out('thread (getrusage at exit), the main thread\'s alone read from /proc. The runs take turns in a rotating order.\n');
      for (const l of clientTable(client)) out(l);
    }
    if (runs('economy')) {
      eco = await economy(work, target.url, pushUsers);
      out('\n## 3. Request economy (`scimsync sync` on the pushed directory)\n');
      out('| cycle | requests sent | target |');
      out('|---|---:|---:|');
      for (const r of eco) out(`| ${r.cycle} | ${r.sent} | ${r.target} |`);
    }
    if (runs('initial')) {
      const size = QUICK ? { users: 10_000, groups: 200, memberships: 10_000 } : { users: 100_000, groups: 2_000, memberships: 100_000 };
      initial = await initialSync(work, target.url, size, RUNS);
      const i = initial;
      const label = `${i.users.toLocaleString('en')} users / ${i.groups.toLocaleString('en')} groups / ${i.memberships.toLocaleString('en')} memberships`;
      out(`\n## 4. Initial sync and no-change runs of ${label} (\`scimsync\` as a process, concurrency 8)\n`);
      out('| run | wall time (process start included) | CPU | peak RSS, each run | main thread\'s JS heap at the peak | requests |');
      out('|---|---:|---:|---:|---:|---:|');
      const each = (ms: Measured[], pick: (m: Measured) => number | undefined) => ms.map((m) => (pick(m) === undefined ? '?' : String(Math.round(pick(m)!)))).join(', ');
      const heap = (m: Measured) => m.atPeak?.heapUsedMb;
      const rows: [string, Measured[], number][] = [
        ['`scimsync sync`, initial', i.runs, i.requests],
        ['`scimsync plan`, nothing changed', i.plans, 0],
        ['`scimsync sync`, nothing changed', [i.noChangeSync], i.noChangeRequests],
      ];
      for (const [label, ms, requests] of rows) {
        out(`| ${label} | ${s2(medianOf(ms, (m) => m.wallMs))} | ${s2(medianOf(ms, (m) => m.cpuMs))} | ${each(ms, (m) => m.peakRssMb)} MB | ${each(ms, heap)} MB | ${requests} |`);
      }
      out(`\nState after the initial sync: ${(i.stateBytes / 2 ** 20).toFixed(1)} MB on disk (database + WAL), ${Math.round(i.stateBytes / i.users)} bytes per user.`);
    }
  } finally {
    target.child.kill();
  }

  let rate: RateRow[] = [];
  if (runs('rate')) {
    out('\n## 5. Adaptive rate against a token-bucket target of R requests/s unknown to scimsync (R × 20 s of creates, concurrency 8; bench/rate.ts)\n');
    rate = await rateBench({ mode: 'client', limits: [5, 50, 500], seconds: QUICK ? 5 : 20 });
    out(rateTable(rate).join('\n'));
  }

  out('\n## Targets\n');
  const sync = client.find((r) => r.mode.key === 'sync');
  const floor = client.find((r) => r.mode.key === 'node-http');
  if (sync && floor) {
    const ratio = floor.wallMs / sync.wallMs;
    out(`- \`scimsync sync\` ≥ 0.5 of the raw \`node:http\` floor in wall time (${pushUsers.toLocaleString('en')}-user push, concurrency 8, process start included): ${ratio.toFixed(2)} (${s2(sync.wallMs)} against ${s2(floor.wallMs)}) — ${check(ratio >= 0.5)}`);
    out(`- ≤ 250 µs of client CPU per created user: ${Math.round(sync.cpuUs)} µs (${Math.round(sync.mainUs)} µs main thread + ${Math.round(sync.otherUs)} µs other threads; the floor: ${Math.round(floor.cpuUs)} µs) — ${check(sync.cpuUs <= 250)}`);
  }
  if (initial) {
    const peak = Math.max(...initial.runs.map((m) => m.peakRssMb));
    const plan = medianOf(initial.plans, (m) => m.wallMs);
    out(`- peak RSS of a ${initial.users.toLocaleString('en')}-user initial sync ≤ 400 MB, every run: ${initial.runs.map((m) => Math.round(m.peakRssMb)).join(', ')} MB — ${check(peak <= 400)}`);
    out(`- no-change plan of ${initial.users.toLocaleString('en')} users / ${initial.groups.toLocaleString('en')} groups / ${initial.memberships.toLocaleString('en')} memberships ≤ 2 s (\`scimsync plan\`, process start included): ${s2(plan)} — ${check(plan <= 2000)}`);
    out(`- state ≤ 1 KB per user: ${Math.round(initial.stateBytes / initial.users)} bytes — ${check(initial.stateBytes / initial.users <= 1024)}`);
  }
  const p100 = planRows.find((r) => r.users === 100_000);
  const p1m = planRows.find((r) => r.users === 1_000_000);
  if (p100) out(`- no-change planning of 100,000 users / 500,000 memberships in-process ≤ 3 s and ≤ 500 MB: ${s2(p100.ms)}, ${Math.round(p100.rssMb)} MB — ${check(p100.ms <= 3000 && p100.rssMb <= 500)}`);
  if (p1m) out(`- no-change planning of 1,000,000 users in-process ≤ 30 s and ≤ 3 GB: ${s2(p1m.ms)}, ${Math.round(p1m.rssMb)} MB — ${check(p1m.ms <= 30_000 && p1m.rssMb <= 3072)}`);
  for (const line of rate.length > 0 ? rateTargets(rate) : []) out(line);
  for (const r of eco) out(`- ${r.cycle}: ${r.sent} requests, target ${r.target} — ${check(r.met)}`);
  out(`\nWhole run: ${((Date.now() - started) / 60_000).toFixed(1)} min; load average at the end ${load()}.`);

  if (!QUICK && !ONLY) writeResults(lines.join('\n'));
  rmSync(work, { recursive: true, force: true });
}

await main();

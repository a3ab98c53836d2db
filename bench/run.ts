/**
 * `npm run bench`: planning cost, delivery throughput against a bare HTTP loop,
 * request economy and state size, on synthetic directories. Prints a table and
 * writes bench/RESULTS.md. Each timing is the median of several runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import PQueue from 'p-queue';
import { loadConfig } from '../src/config/load.js';
import { scimHttpOptions } from '../src/scim/client.js';
import { runCycle } from '../src/engine/cycle.js';
import { createLogger } from '../src/log.js';
import { StateStore } from '../state/store.js';
import { writeDirectory } from './directory.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The delivery varies most from one minute to the next on a shared machine: more pairs of runs for its medians. */
const DELIVERY_RUNS = Number(process.env.BENCH_RUNS ?? 5);
const QUICK = process.env.BENCH_QUICK === '1';
/** `BENCH_ONLY=delivery` (or `plan`) runs one part; RESULTS.md is written only by a full run. */
const ONLY = process.env.BENCH_ONLY;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const work = mkdtempSync(join(tmpdir(), 'scimsync-bench-'));
const lines: string[] = [];
const out = (s: string) => {
  console.log(s);
  lines.push(s);
};

function configFile(name: string, directory: string, url: string, concurrency = 8, extra = ''): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(
    path,
    [
      `state: { path: ${join(work, `${name}.db`)} }`,
      'log: { level: error }',
      'integrations:',
      `  - name: ${name}`,
      `    source: { type: file, path: ${directory} }`,
      '    target:',
      `      url: ${url}`,
      '      auth: { type: bearer, token: bench }',
      `      rateLimit: { requestsPerSecond: 1000000, maxConcurrent: ${concurrency} }`,
      '    safety: { maxDeletes: 1000000, minSourceRatio: 0 }',
      extra,
      '',
    ].join('\n'),
  );
  return path;
}

function worker(mode: 'prepare' | 'measure', config: string, name: string): { ms: number; operations: number; peakRssMb: number } {
  const text = execFileSync(process.execPath, ['--max-old-space-size=6144', join(here, 'plan-worker.js'), mode, config, name], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(text.trim().split('\n').at(-1)!) as { ms: number; operations: number; peakRssMb: number };
}

// 1. Planning cost.
interface PlanRow {
  users: number;
  change: string;
  ms: number;
  rssMb: number;
  operations: number;
}
function planning(n: number, g: number, memberships: number): PlanRow[] {
  const file = join(work, `dir-${n}.json`);
  writeDirectory(file, n, g, memberships);
  const name = `plan${n}`;
  const config = configFile(name, file, 'http://127.0.0.1:9/scim/v2');
  worker('prepare', config, name);
  const rows: PlanRow[] = [];
  for (const [label, changed] of [['none', 0], ['1%', Math.floor(n / 100)]] as const) {
    writeDirectory(file, n, g, memberships, changed);
    const runs = Array.from({ length: RUNS }, () => worker('measure', config, name));
    rows.push({ users: n, change: label, ms: median(runs.map((r) => r.ms)), rssMb: median(runs.map((r) => r.peakRssMb)), operations: runs[0]!.operations });
  }
  rmSync(file, { force: true });
  return rows;
}

// The fast target, in its own process.
async function startTarget(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, 'fast-target.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res) => child.stdout!.once('data', (c: Buffer) => res(c.toString().trim())));
  return { url, child };
}
const base = (url: string) => url.replace(/\/scim\/v2$/, '');
const stats = async (url: string) => (await axios.get<{ counts: Record<string, number>; users: number; groups: number; members: number }>(`${base(url)}/_stats`)).data;
const reset = async (url: string) => axios.post(`${base(url)}/_reset`);
const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/** One cycle in this process: its whole time, and its delivery phase (first request to last result committed). */
async function sync(config: string): Promise<{ ms: number; deliveryMs: number; operations: number; exitCode: number }> {
  const { config: c } = loadConfig(config);
  const store = StateStore.open(c.state.path);
  const logger = createLogger({ level: 'error', format: 'json', silent: true });
  try {
    const started = process.hrtime.bigint();
    const report = await runCycle({ integration: c.integrations[0]!, store, logger });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { ms, deliveryMs: report.deliveryMs ?? ms, operations: report.operations.length, exitCode: report.exitCode };
  } finally {
    store.close();
  }
}

/**
 * The same requests as the engine's initial push, sent by a plain loop: axios, p-queue, same
 * concurrency, the same user bodies (built before the clock starts). Against an empty target the
 * engine reads the user list once (first-run matching) instead of looking each user up, creates
 * each manager before the people who report to them, then looks each group up and creates it with
 * its first 100 members, completing it with PATCHes of 100.
 */
async function bareLoop(url: string, directory: string, n: number, g: number, perGroup: number, concurrency: number): Promise<number> {
  // The engine's axios options, so that only the engine differs (its default timeout, the bench token).
  const http = axios.create(scimHttpOptions(url));
  http.defaults.headers.common.Authorization = 'Bearer bench';
  const source = JSON.parse(readFileSync(directory, 'utf8')) as { users: Record<string, string>[] };
  const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
  const bodies = source.users.map((u) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', enterprise],
    externalId: u.id,
    userName: u.userName,
    name: { givenName: u.givenName, familyName: u.familyName, formatted: `${u.givenName} ${u.familyName}` },
    displayName: `${u.givenName} ${u.familyName}`,
    emails: [{ type: 'work', primary: true, value: u.email }],
    ...(u.phone ? { phoneNumbers: [{ type: 'work', primary: true, value: u.phone }] } : {}),
    title: u.title,
    active: true,
  }));
  const managerOf = source.users.map((u) => (u.managerId ? Number(u.managerId.slice(1)) : undefined));
  const ids: string[] = new Array(n);
  const queue = new PQueue({ concurrency });
  const started = process.hrtime.bigint();
  await http.get('/Users?startIndex=1&count=100');
  const create = (i: number) =>
    queue.add(async () => {
      const m = managerOf[i];
      const body = m === undefined ? bodies[i] : { ...bodies[i], [enterprise]: { manager: { value: ids[m] } } };
      const res = await http.post('/Users', JSON.stringify(body));
      ids[i] = (JSON.parse(res.data as string) as { id: string }).id;
    });
  for (let i = 0; i < n; i++) if (managerOf[i] === undefined) void create(i);
  await queue.onIdle();
  for (let i = 0; i < n; i++) if (managerOf[i] !== undefined) void create(i);
  await queue.onIdle();
  for (let k = 0; k < g; k++) {
    void queue.add(async () => {
      await http.get(`/Groups?filter=${encodeURIComponent(`displayName eq "Group ${k}"`)}&excludedAttributes=members`);
      const members = Array.from({ length: perGroup }, (_, j) => ({ value: ids[(k * 7919 + j * 31) % n] }));
      const res = await http.post('/Groups', JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `Group ${k}`, members: members.slice(0, 100) }));
      const gid = (JSON.parse(res.data as string) as { id: string }).id;
      for (let s = 100; s < members.length; s += 100) {
        await http.patch(`/Groups/${gid}`, JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: members.slice(s, s + 100) }] }));
      }
    });
  }
  await queue.onIdle();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function main(): Promise<void> {
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${process.platform}`;
  out(`# scimsync benchmarks\n\nMachine: ${machine}. Each timing is the median of ${RUNS} runs (the delivery's, of ${DELIVERY_RUNS}). Command: \`npm run bench\`.\n`);

  // 1. Planning.
  out('## 1. Planning cost (a dry-run cycle, as `scimsync plan` runs it: source read + scope/map + state read + plan, no HTTP)\n');
  out('| users | groups | memberships | change | wall time | peak RSS | operations |');
  out('|---:|---:|---:|---|---:|---:|---:|');
  const sizes: [number, number, number][] =
    ONLY === 'delivery' ? [] : QUICK ? [[10_000, 200, 50_000]] : [[100_000, 2_000, 500_000], [1_000_000, 2_000, 500_000]];
  const planRows: PlanRow[] = [];
  for (const [n, g, m] of sizes) {
    for (const r of planning(n, g, m)) {
      planRows.push(r);
      out(`| ${n.toLocaleString('en')} | ${g.toLocaleString('en')} | ${m.toLocaleString('en')} | ${r.change} | ${(r.ms / 1000).toFixed(2)} s | ${Math.round(r.rssMb)} MB | ${r.operations} |`);
    }
  }

  if (ONLY === 'plan') return;
  // 2. Delivery throughput and 3. request economy.
  const { url, child } = await startTarget();
  try {
    const n = QUICK ? 2_000 : 10_000;
    const g = 200;
    const perGroup = 100;
    const file = join(work, `push-${n}.json`);
    writeDirectory(file, n, g, g * perGroup);
    out(`\n## 2. Delivery throughput (initial push of ${n.toLocaleString('en')} users and ${g} groups of ${perGroup}, fast local target, no rate limit)\n`);
    out('The engine figure is its delivery phase (`CycleReport.deliveryMs`: from the first request to the last result committed, the');
    out('first-run matching read included); the planning before it is section 1\'s. The bare loop likewise builds its bodies before');
    out('its clock starts. The whole cycle, planning included, is shown beside it.\n');
    out('| maxConcurrent | engine (delivery) | engine (whole cycle) | bare loop (same requests) | engine / bare |');
    out('|---:|---:|---:|---:|---:|');
    const economy: string[] = [];
    const ratios: number[] = [];
    for (const concurrency of [8, 32]) {
      const engine: number[] = [];
      const whole: number[] = [];
      const bare: number[] = [];
      let requests = 0;
      for (let r = 0; r < DELIVERY_RUNS; r++) {
        await reset(url);
        const name = `push${concurrency}_${r}`;
        const res = await sync(configFile(name, file, url, concurrency));
        if (res.exitCode !== 0) throw new Error(`engine push failed (exit ${res.exitCode})`);
        requests = total((await stats(url)).counts);
        engine.push(res.deliveryMs);
        whole.push(res.ms);
        if (r === 0 && concurrency === 8) {
          // Request economy on the state this push left.
          const config = join(work, `${name}.yaml`);
          await axios.get(`${base(url)}/_stats`);
          const before = total((await stats(url)).counts);
          await sync(config);
          economy.push(`| no-change cycle | ${total((await stats(url)).counts) - before} | 0 |`);
          const changed = Math.floor(n / 100);
          writeDirectory(file, n, g, g * perGroup, changed);
          const before2 = total((await stats(url)).counts);
          await sync(config);
          economy.push(`| 1% of users changed (${changed}) | ${total((await stats(url)).counts) - before2} | ${changed} |`);
          writeDirectory(file, n, g, g * perGroup);
        }
        await reset(url);
        bare.push(await bareLoop(url, file, n, g, perGroup, concurrency));
      }
      const e = median(engine);
      const b = median(bare);
      ratios.push(b / e);
      const w = median(whole);
      const rate = (ms: number) => `${Math.round(requests / (ms / 1000))} requests/s (${(ms / 1000).toFixed(2)} s)`;
      out(`| ${concurrency} | ${rate(e)} | ${rate(w)} | ${rate(b)} | ${(b / e).toFixed(2)} |`);
    }

    // The 20,000-member group.
    const big = 20_000;
    const bigFile = join(work, 'big.json');
    writeDirectory(bigFile, big, 1, 0);
    await reset(url);
    const bigConfig = configFile('big', bigFile, url, 16);
    await sync(bigConfig);
    const withGroup = JSON.parse(readFileSync(bigFile, 'utf8')) as { users: { id: string }[]; groups: unknown[] };
    withGroup.groups = [{ id: 'all', displayName: 'Everyone', members: withGroup.users.map((u) => u.id) }];
    writeFileSync(bigFile, JSON.stringify(withGroup));
    const beforeBig = (await stats(url)).counts;
    await sync(bigConfig);
    const afterBig = (await stats(url)).counts;
    const delta = (k: string) => (afterBig[k] ?? 0) - (beforeBig[k] ?? 0);
    const writes = delta('POST /scim/v2/Groups') + delta('PATCH /scim/v2/Groups/:id');
    economy.push(`| create a 20,000-member group | ${writes} writes + ${delta('GET /scim/v2/Groups')} lookup | ≤ 200 |`);
    out('\n## 3. Request economy\n');
    out('| cycle | requests sent | target |');
    out('|---|---:|---:|');
    for (const l of economy) out(l);

    // 4. State size.
    const stateUsers = QUICK || ONLY ? 10_000 : 100_000;
    const stateFile = join(work, 'state.json');
    writeDirectory(stateFile, stateUsers, 1, 0);
    await reset(url);
    const stateConfig = configFile('statesize', stateFile, url, 32);
    const beforePush = total((await stats(url)).counts);
    const pushed = await sync(stateConfig);
    const pushRequests = total((await stats(url)).counts) - beforePush;
    const db = join(work, 'statesize.db');
    const bytes = statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
    out(`\n## 4. State size\n\nAfter the ${stateUsers.toLocaleString('en')}-user initial sync (${(pushed.ms / 1000).toFixed(1)} s, ${pushRequests} requests, ${Math.round(pushRequests / (pushed.ms / 1000))} requests/s): ${(bytes / 2 ** 20).toFixed(1)} MB on disk (database + WAL), ${Math.round(bytes / stateUsers)} bytes per user.`);

    // Targets.
    out('\n## Targets\n');
    const p100 = planRows.filter((r) => r.users === 100_000);
    const p1m = planRows.filter((r) => r.users === 1_000_000);
    const check = (ok: boolean) => (ok ? 'met' : '**missed**');
    if (p100.length) out(`- no-change plan of 100,000 users ≤ 3 s and ≤ 500 MB: ${(p100[0]!.ms / 1000).toFixed(2)} s, ${Math.round(p100[0]!.rssMb)} MB — ${check(p100[0]!.ms <= 3000 && p100[0]!.rssMb <= 500)}`);
    if (p1m.length) out(`- no-change plan of 1,000,000 users ≤ 30 s and ≤ 3 GB: ${(p1m[0]!.ms / 1000).toFixed(2)} s, ${Math.round(p1m[0]!.rssMb)} MB — ${check(p1m[0]!.ms <= 30_000 && p1m[0]!.rssMb <= 3072)}`);
    out(`- delivery ≥ 0.9 × the bare loop: ${ratios.map((r) => r.toFixed(2)).join(' and ')} — ${check(ratios.every((r) => r >= 0.9))}`);
    out(`- state ≤ 1 KB per user: ${Math.round(bytes / stateUsers)} bytes — ${check(bytes / stateUsers <= 1024)}`);
  } finally {
    child.kill();
  }
  if (!QUICK && !ONLY) writeFileSync(resolve(here, '../../bench/RESULTS.md'), lines.join('\n') + '\n');
  rmSync(work, { recursive: true, force: true });
}

await main();

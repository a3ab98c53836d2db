/**
 * Soak run of `scimsync daemon`: the built CLI against the benchmark target,
 * many short cycles with a share of users changing between them, and the
 * daemon's resident memory (RSS) read from outside every few cycles.
 *
 *   npx tsc -p tsconfig.bench.json && node dist/bench/soak.js --users 5000 --cycles 500
 *
 * Options: --users N (5000), --cycles N (500), --every DURATION (100ms, the
 * daemon's schedule), --change SHARE (0.01 of users) every --change-every N
 * cycles (4: a 5 s schedule with 1% changing every 20 s, sped up).
 * Prints a table of RSS and of the heap in use after a full garbage collection
 * by cycle, the growth after warm-up, and whether Node warned about listeners.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, '../src/cli/main.js');
const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '5000' },
    cycles: { type: 'string', default: '500' },
    every: { type: 'string', default: '100ms' },
    change: { type: 'string', default: '0.01' },
    'change-every': { type: 'string', default: '4' },
  },
});
const USERS = Number(values.users);
const CYCLES = Number(values.cycles);
const CHANGED = Math.max(1, Math.round(USERS * Number(values.change)));
const CHANGE_EVERY = Number(values['change-every']);
const SAMPLE_EVERY = Math.max(1, Math.floor(CYCLES / 20));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), 'scimsync-soak-'));
const directory = join(work, 'directory.json');
const statePath = join(work, 'state.db');
const configPath = join(work, 'scimsync.yaml');

/** The directory after `round` rounds of changes, each retitling one block of CHANGED users. */
function writeDirectory(round: number): void {
  const users: string[] = new Array<string>(USERS);
  const blocks = Math.ceil(USERS / CHANGED);
  for (let i = 0; i < USERS; i++) {
    // Round r retitles block (r - 1) mod blocks: a user keeps the title of the last round that touched its block.
    const first = Math.floor(i / CHANGED) + 1;
    const title = round < first ? 'Engineer' : `Title ${first + Math.floor((round - first) / blocks) * blocks}`;
    users[i] = JSON.stringify({
      id: `u${i}`,
      userName: `user${i}@example.com`,
      givenName: `Given${i}`,
      familyName: `Family${i}`,
      email: `user${i}@example.com`,
      title,
      ...(i % 10 !== 0 ? { managerId: `u${i - (i % 10)}` } : {}),
    });
  }
  // Renamed into place: the daemon never reads a half-written file.
  writeFileSync(`${directory}.tmp`, `{"users":[${users.join(',')}],"groups":[]}`);
  renameSync(`${directory}.tmp`, directory);
}

async function startTarget(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(here, 'fast-target.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((res) => child.stdout!.once('data', (d: Buffer) => res(d.toString().trim())));
  return { child, url };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // No /proc: ask ps.
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;
}

const target = await startTarget();
// Whatever happens, no process is left behind.
process.on('exit', () => target.child.kill());
writeFileSync(
  configPath,
  [
    `state: { path: ${statePath} }`,
    'log: { level: error }',
    'integrations:',
    '  - name: soak',
    `    source: { type: file, path: ${directory} }`,
    '    target:',
    `      url: ${target.url}`,
    '      auth: { type: bearer, token: bench }',
    '      rateLimit: { requestsPerSecond: 1000000, maxConcurrent: 8 }',
    `    schedule: { every: ${values.every} }`,
    '    safety: { maxDeletes: 1000000, minSourceRatio: 0 }',
    '',
  ].join('\n'),
);
writeDirectory(0);
// The initial push first: the soak measures steady cycles, not the first one.
execFileSync(process.execPath, [CLI, 'sync', '--config', configPath], { stdio: 'inherit' });

/**
 * Loaded into the daemon before the CLI (not into its writer threads): on
 * SIGUSR2, a full garbage collection and one line on stdout with the heap in use.
 */
const SAMPLER = `
import { isMainThread } from 'node:worker_threads';
if (isMainThread) process.on('SIGUSR2', () => { globalThis.gc(); process.stdout.write(process.memoryUsage().heapUsed + '\\n'); });
`;
const daemon = spawn(process.execPath, ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(SAMPLER)}`, CLI, 'daemon', '--config', configPath], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let stderr = '';
daemon.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
const heaps: number[] = [];
let pending = '';
daemon.stdout!.on('data', (c: Buffer) => {
  pending += c.toString();
  const lines = pending.split('\n');
  pending = lines.pop()!;
  for (const l of lines) heaps.push(Number(l) / 1048576);
});
const exited = new Promise<number | null>((r) => daemon.on('exit', (code) => r(code)));
const db = new Database(statePath, { readonly: true, fileMustExist: true });
const finished = db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM cycles WHERE ended_at IS NOT NULL AND dry_run = 0`);
const base = finished.get()!.n;
const samples: { cycle: number; seconds: number; rssMb: number; heapIndex: number }[] = [];
const started = Date.now();
let round = 0;
// From the first cycle: by then the sampler is loaded (a SIGUSR2 before would end the daemon).
let next = 1;
for (;;) {
  const done = finished.get()!.n - base;
  if (done >= (round + 1) * CHANGE_EVERY) writeDirectory(++round);
  if (done >= next || done >= CYCLES) {
    samples.push({ cycle: done, seconds: (Date.now() - started) / 1000, rssMb: rssMb(daemon.pid!), heapIndex: samples.length });
    daemon.kill('SIGUSR2');
    next += SAMPLE_EVERY;
  }
  if (done >= CYCLES) break;
  if (daemon.exitCode !== null || daemon.signalCode !== null) {
    throw new Error(`the daemon exited early (${daemon.exitCode ?? daemon.signalCode}): ${stderr.slice(-2000)}`);
  }
  await sleep(20);
}
// The last heap sample answered before the daemon stops.
for (let i = 0; i < 100 && heaps.length < samples.length; i++) await sleep(20);
daemon.kill('SIGTERM');
const code = await exited;
const outcomes = db.prepare<[], { outcome: string; n: number }>(`SELECT outcome, COUNT(*) AS n FROM cycles WHERE dry_run = 0 GROUP BY outcome`).all();
db.close();
target.child.kill();

const warm = samples.find((s) => s.cycle >= CYCLES / 5) ?? samples[0]!;
const last = samples.at(-1)!;
const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
console.log(`soak: ${USERS} users, ${CYCLES} cycles every ${values.every}, ${CHANGED} users changed every ${CHANGE_EVERY} cycles`);
const heapOf = (s: { heapIndex: number }) => heaps[s.heapIndex] ?? NaN;
console.log(line(['cycle', 'seconds', 'RSS MB', 'heap MB (after gc)']));
console.log(line(['---:', '---:', '---:', '---:']));
for (const s of samples) console.log(line([s.cycle, s.seconds.toFixed(0), s.rssMb.toFixed(1), heapOf(s).toFixed(1)]));
const perCycle = ((last.rssMb - warm.rssMb) * 1024) / Math.max(1, last.cycle - warm.cycle);
console.log(
  `RSS after warm-up (cycle ${warm.cycle}): ${warm.rssMb.toFixed(1)} MB; at cycle ${last.cycle}: ${last.rssMb.toFixed(1)} MB ` +
    `(${(((last.rssMb - warm.rssMb) / warm.rssMb) * 100).toFixed(1)}%, ${perCycle.toFixed(1)} KB per cycle)`,
);
console.log(
  `heap after gc, after warm-up: ${heapOf(warm).toFixed(1)} MB; at cycle ${last.cycle}: ${heapOf(last).toFixed(1)} MB ` +
    `(${(((heapOf(last) - heapOf(warm)) / heapOf(warm)) * 100).toFixed(1)}%)`,
);
console.log(`cycles by outcome: ${outcomes.map((o) => `${o.outcome} ${o.n}`).join(', ')}; changes: ${round} rounds of ${CHANGED} users`);
console.log(`MaxListenersExceededWarning: ${stderr.includes('MaxListenersExceededWarning') ? 'yes' : 'no'}; daemon exit code ${code}`);
rmSync(work, { recursive: true, force: true });

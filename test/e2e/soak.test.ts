import { spawn } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const BIN = resolve('dist/src/cli/main.js');
const TOKEN = 'soak-token';
const USERS = 100;
/** Several hundred cycles at the shortest schedule the config allows (100ms). */
const CYCLES = 300;
const MIN_CYCLES = 60;
/** A memory sample every few cycles. */
const SAMPLE_EVERY = 5;
/** Users whose title changes every CHANGE_EVERY cycles. */
const CHANGED = 2;
const CHANGE_EVERY = 3;
let target: DevTarget;
let ws: Workspace;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('build first: npm run build (npm test does it)');
});
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

/**
 * Loaded into the daemon's process before the CLI: on SIGUSR2, a full garbage
 * collection, then one line on stdout with the heap in use and the RSS (the
 * daemon itself writes nothing on stdout). Not in the writer threads, which load it too.
 */
const SAMPLER = `
import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    const m = process.memoryUsage();
    process.stdout.write(JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss }) + '\\n');
  });
}
`;

interface Sample {
  cycle: number;
  heapUsed: number;
  rss: number;
}

/** Renamed into place: the daemon never reads a half-written directory. */
function writeAtomically(path: string, d: Directory): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(d));
  renameSync(`${path}.tmp`, path);
}

describe('scimsync daemon over hundreds of cycles', () => {
  it('keeps its memory flat and adds no listener per cycle while users keep changing', async () => {
    ws.writeConfig({ integrationYaml: 'schedule: { every: 100ms }' });
    const dir = makeDirectory(USERS);
    writeAtomically(ws.sourcePath, dir);
    const child = spawn(process.execPath, ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(SAMPLER)}`, BIN, 'daemon', '--config', ws.configPath], {
      env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const statePath = join(ws.dir, 'state.db');
    let db: Database.Database | undefined;
    let done = 0;
    // Samples asked for (the cycle count at the time), answered in order.
    const asked: number[] = [];
    const samples: Sample[] = [];
    let pending = '';
    child.stdout.on('data', (c: Buffer) => {
      pending += c.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) samples.push({ cycle: asked.shift()!, ...(JSON.parse(l) as { heapUsed: number; rss: number }) });
    });
    let round = 0;
    let nextSample = SAMPLE_EVERY;
    const deadline = Date.now() + 50_000;
    try {
      while (done < CYCLES && Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited: ${stderr}`);
        if (!db && existsSync(statePath)) db = new Database(statePath, { readonly: true });
        if (db) {
          try {
            done = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM cycles WHERE ended_at IS NOT NULL').get()!.n;
          } catch {
            // The schema is being created: ask again.
          }
        }
        if (done >= nextSample) {
          asked.push(done);
          child.kill('SIGUSR2');
          nextSample = done + SAMPLE_EVERY;
        }
        // A few users change between cycles, as in production, so that cycles send something now and then.
        if (done >= (round + 1) * CHANGE_EVERY) {
          round++;
          for (let k = 0; k < CHANGED; k++) dir.users[(round * CHANGED + k) % USERS]!.title = `Title ${round}`;
          writeAtomically(ws.sourcePath, dir);
        }
        await sleep(10);
      }
      await sleep(300);
    } finally {
      child.kill('SIGTERM');
      db?.close();
    }
    expect(await exited).toBe(0);
    expect(stderr).not.toContain('MaxListenersExceededWarning');
    expect(stderr).not.toMatch(/Warning:/);
    // On a loaded machine fewer cycles fit in the time; a leak of a cycle's state still shows well before this many.
    expect(done).toBeGreaterThanOrEqual(MIN_CYCLES);
    // The cycles did real work: the changes reached the target.
    expect(target.users.size).toBe(USERS);
    expect(target.requests.filter((r) => r.method === 'PATCH').length).toBeGreaterThanOrEqual((round - 2) * CHANGED);

    // After warm-up (the first fifth of the cycles), the heap and the RSS stay where they were. The least heap of a
    // stretch is taken between two cycles, whatever a sample caught in the middle of one.
    const window = (from: number, to: number) => samples.filter((s) => s.cycle >= from * done && s.cycle <= to * done);
    const early = window(0.2, 0.45);
    const late = window(0.75, 1);
    expect(early.length).toBeGreaterThanOrEqual(4);
    expect(late.length).toBeGreaterThanOrEqual(4);
    const least = (xs: Sample[], key: 'heapUsed' | 'rss') => Math.min(...xs.map((x) => x[key]));
    const heapGrowth = least(late, 'heapUsed') / least(early, 'heapUsed') - 1;
    const rssGrowth = median(late.map((x) => x.rss)) / median(early.map((x) => x.rss)) - 1;
    const report = `over ${done} cycles: heap ${mb(least(early, 'heapUsed'))} -> ${mb(least(late, 'heapUsed'))} MB, RSS ${mb(median(early.map((x) => x.rss)))} -> ${mb(median(late.map((x) => x.rss)))} MB`;
    expect(heapGrowth, report).toBeLessThan(0.05);
    expect(rssGrowth, report).toBeLessThan(0.1);
  }, 70_000);
});

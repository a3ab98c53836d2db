import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/context.js';
import { eventsCommand, type EventsOptions } from '../../src/cli/events.js';
import { CSV_HEADER } from '../../src/events/forward/format.js';
import type { EventRecord, EventResult, EventType } from '../../src/events/types.js';
import { openStateStore } from '../../state/index.js';
import { migrate } from '../../state/sqlite/migrations.js';
import { openStateFile } from '../../state/sqlite/open.js';
import { workspace, type Workspace } from '../support/harness.js';

/**
 * `scimsync events` on a state of 20,000 users and 60,000 events, through the built CLI:
 * every filter answers correctly, each within 1.5 s of wall time with process start.
 */
const BIN = resolve('dist/src/cli/main.js');
const USERS = 20_000;
const EVENTS = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const run = promisify(execFile);
const ENV = { PATH: process.env.PATH, TEST_TOKEN: 'unused' };

interface Seeded {
  id: number;
  time: number;
  integration: string;
  cycle: string;
  type: EventType;
  result: EventResult;
  u: number;
}

const pad = (u: number) => String(u).padStart(5, '0');
/** Event k: a minute after event k-1; the first USERS create the users, the rest update, deprovision or fail. */
function eventOf(k: number): Omit<Seeded, 'id'> {
  return {
    time: T0 + k * 60_000,
    integration: k % 10 === 9 ? 'gong' : 'app',
    cycle: `cycle-${Math.floor(k / 1000)}`,
    type: k < USERS ? 'user_create_provision' : k % 500 === 0 ? 'user_deprovision' : 'user_update_provision',
    result: k % 100 === 7 ? 'failure' : 'success',
    u: k < USERS ? k : (k * 7919) % USERS,
  };
}
const targetOf = (integration: string, u: number) => `${integration === 'app' ? 't' : 'g'}-${pad(u)}`;

let ws: Workspace;
let seeded: Seeded[];
/** The same command on an empty state, here and now: process start, modules, config, opening the state. */
let startMs: number;

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('build first: npx tsc -p tsconfig.build.json');
  ws = workspace('http://127.0.0.1:9/scim/v2', 'unused');
  ws.writeConfig();
  const store = openStateStore(join(ws.dir, 'state.db'));
  seeded = [];
  // One transaction: half the events carry their userName, the others take it from the users saved first.
  store.transaction(() => {
    for (const integration of ['app', 'gong']) {
      for (let u = 0; u < USERS; u++) {
        store.saveUser(integration, { sourceId: `u${pad(u)}`, targetId: targetOf(integration, u), status: 'active', attrs: { userName: `user${u}@example.com` } });
      }
    }
    for (let k = 0; k < EVENTS; k++) {
      const e = eventOf(k);
      store.insertEvent({
        time: new Date(e.time).toISOString(),
        integration: e.integration,
        cycleId: e.cycle,
        type: e.type,
        result: e.result,
        sourceId: `u${pad(e.u)}`,
        targetId: targetOf(e.integration, e.u),
        summary: e.result === 'failure' ? `user.update u${pad(e.u)} failed: HTTP 400, "title" too long` : `updated user${e.u}@example.com`,
        detail: { attempts: 1, k },
        ...(k % 2 === 0 ? { subject: `user${e.u}@example.com` } : {}),
      });
      seeded.push({ ...e, id: k + 1 });
    }
  });
  store.close();
  const empty = workspace('http://127.0.0.1:9/scim/v2', 'unused');
  empty.writeConfig();
  const starts: number[] = [];
  for (let i = 0; i < 3; i++) starts.push((await timedCli(['--limit', '1', '--json'], empty.configPath)).ms);
  startMs = starts.sort((a, b) => a - b)[1]!;
}, 60_000);

async function timedCli(args: string[], config = ws.configPath): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, [BIN, 'events', ...args, '--config', config], { maxBuffer: 1 << 28, env: ENV });
  return { ms: performance.now() - started, stdout };
}

const ids = (lines: string[]) => lines.filter(Boolean).map((l) => (JSON.parse(l) as EventRecord).id);
const listed = (rows: Seeded[]) => rows.map((e) => e.id);

/** Runs the events command in this process, as the CLI verb does, and returns what it printed. */
async function events(options: EventsOptions): Promise<string[]> {
  const out: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => out.push(l), isTty: false, env: ENV };
  expect(await eventsCommand({ ...options, config: ws.configPath }, io)).toBe(0);
  return out;
}

describe('scimsync events on tens of thousands of users and events', () => {
  it('answers every filter through the built CLI, correctly, within 1.5 s of wall time each', async () => {
    const last = USERS - 1;
    const of = (u: number) => seeded.filter((e) => e.u === u);
    const inGong = seeded.filter((e) => e.integration === 'gong').at(-1)!.u;
    const cases: [string, string[], number[]][] = [
      ['a userName, in any case', ['--user', `USER${last}@Example.com`], listed(of(last))],
      ['a source id', ['--user', `u${pad(last - 1)}`], listed(of(last - 1))],
      ['a target id', ['--user', targetOf('gong', inGong)], listed(of(inGong).filter((e) => e.integration === 'gong'))],
      ['a type', ['--type', 'user_deprovision'], listed(seeded.filter((e) => e.type === 'user_deprovision'))],
      ['a result', ['--result', 'failure'], listed(seeded.filter((e) => e.result === 'failure'))],
      ['a time window', ['--since', new Date(T0 + 30_000 * 60_000).toISOString(), '--until', new Date(T0 + 31_440 * 60_000).toISOString()], listed(seeded.filter((e) => e.time >= T0 + 30_000 * 60_000 && e.time <= T0 + 31_440 * 60_000))],
      ['an integration, the newest 50', ['--integration', 'gong', '--limit', '50'], listed(seeded.filter((e) => e.integration === 'gong').slice(-50))],
      ['the newest 20', ['--limit', '20'], listed(seeded.slice(-20))],
      ['a user and a type', ['--user', `user${last}@example.com`, '--type', 'user_update_provision', '--integration', 'app'], listed(of(last).filter((e) => e.type === 'user_update_provision' && e.integration === 'app'))],
    ];
    const budget = Math.max(1500, startMs + 1000);
    for (const [what, args, expected] of cases) {
      expect(expected.length, what).toBeGreaterThan(0);
      const { ms, stdout } = await timedCli([...args, '--json']);
      expect(ids(stdout.split('\n')), what).toEqual(expected);
      // On a loaded machine starting the command alone may pass 1.5 s: the query then has 1 s above it.
      expect(ms, `${what}: ${ms.toFixed(0)} ms (on an empty state ${startMs.toFixed(0)} ms)`).toBeLessThanOrEqual(budget);
    }
  }, 60_000);

  it('lists one cycle, and pages any filter with --after and --limit without a gap or a repeat', async () => {
    expect(ids(await events({ cycle: 'cycle-42', json: true }))).toEqual(listed(seeded.filter((e) => e.cycle === 'cycle-42')));
    const filter: EventsOptions = { integration: 'gong', type: 'user_update_provision', json: true };
    const whole = ids(await events(filter));
    expect(whole).toEqual(listed(seeded.filter((e) => e.integration === 'gong' && e.type === 'user_update_provision')));
    const paged: number[] = [];
    let after = 0;
    for (;;) {
      const page = ids(await events({ ...filter, after: String(after), limit: '1000' }));
      paged.push(...page);
      if (page.length < 1000) break;
      after = page.at(-1)!;
    }
    expect(paged).toEqual(whole);
  });

  it('exports any filter as NDJSON or CSV', async () => {
    const failures = seeded.filter((e) => e.result === 'failure' && e.integration === 'app');
    const ndjson = await events({ result: 'failure', integration: 'app', format: 'ndjson' });
    expect(ids(ndjson)).toEqual(listed(failures));
    expect(ndjson).toEqual(await events({ result: 'failure', integration: 'app', json: true }));
    const csv = await events({ result: 'failure', integration: 'app', format: 'csv' });
    expect(`${csv[0]}\n`).toBe(CSV_HEADER);
    expect(csv).toHaveLength(failures.length + 1);
    // Each record one line, ended by CRLF; a summary's quotes and comma are quoted.
    const first = failures[0]!;
    expect(csv[1]).toBe(
      `${first.id},${new Date(first.time).toISOString()},app,${first.cycle},${first.type},failure,u${pad(first.u)},${targetOf('app', first.u)},` +
        `"user.update u${pad(first.u)} failed: HTTP 400, ""title"" too long","{""attempts"":1,""k"":${first.id - 1}}"\r`,
    );
    expect((await events({ user: 'nobody', format: 'csv' })).map((l) => `${l}\n`)).toEqual([CSV_HEADER]);
    const bad = await eventsCommand({ format: 'xml', config: ws.configPath }, { out: () => undefined, err: () => undefined, isTty: false, env: ENV }).catch((e: Error) => e.message);
    expect(bad).toMatch(/--format xml: expected ndjson or csv/);
  });

  it('streams to a pipe, and ends quietly when its reader goes away (`| head`)', async () => {
    for (const [args, start] of [
      [['--json'], '{"id":1,'],
      [[], 'TIME '],
    ] as const) {
      const child = spawn(process.execPath, [BIN, 'events', ...args, '--config', ws.configPath], { env: ENV });
      let first = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.once('data', (c: Buffer) => {
        first = c.toString();
        child.stdout.destroy();
      });
      const code = await new Promise((resolve) => child.on('exit', resolve));
      expect(first.startsWith(start), first.slice(0, 40)).toBe(true);
      expect([code, stderr]).toEqual([0, '']);
    }
  });

  it('finds the events of a state written before the event log’s migration, by the userName of their object', async () => {
    const old = workspace('http://127.0.0.1:9/scim/v2', 'unused');
    old.writeConfig();
    const db = openStateFile(join(old.dir, 'state.db'));
    migrate(db, { upTo: 8 });
    db.prepare(`INSERT INTO objects (integration, kind, source_id, target_id, status, attrs, created_at, updated_at) VALUES ('app', 'user', 'u1', 't1', 'active', ?, 'x', 'x')`).run(
      JSON.stringify({ userName: 'Ada@Example.com' }),
    );
    const insert = db.prepare(`INSERT INTO events (time, integration, cycle_id, type, result, source_id, target_id, summary, detail) VALUES (?, 'app', 'c1', ?, ?, ?, ?, ?, '{"attempts":1}')`);
    insert.run('2026-02-01T10:00:00.000Z', 'user_create_provision', 'success', 'u1', 't1', 'created Ada@Example.com');
    insert.run('2026-02-01T10:01:00.000Z', 'user_update_provision', 'success', 'u2', 't2', 'updated bob@example.com');
    insert.run('2026-02-01T10:02:00.000Z', 'user_deprovision', 'failure', 'u1', 't1', 'deactivated Ada@Example.com');
    db.close();
    const { stdout } = await run(process.execPath, [BIN, 'events', '--user', 'ada@example.com', '--json', '--config', old.configPath], { env: ENV });
    const found = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventRecord);
    expect(found.map((e) => [e.id, e.time, e.type, e.result, e.sourceId, e.targetId, e.summary, e.detail])).toEqual([
      [1, '2026-02-01T10:00:00.000Z', 'user_create_provision', 'success', 'u1', 't1', 'created Ada@Example.com', { attempts: 1 }],
      [3, '2026-02-01T10:02:00.000Z', 'user_deprovision', 'failure', 'u1', 't1', 'deactivated Ada@Example.com', { attempts: 1 }],
    ]);
    expect((await old.run(['events', '--type', 'user_update_provision', '--json'])).out.map((l) => (JSON.parse(l) as EventRecord).sourceId)).toEqual(['u2']);
  });
});

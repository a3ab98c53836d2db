import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import type { EventRecord } from '../../src/events/types.js';
import { openStateStore } from '../../state/index.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';

const TOKEN = 'events-token';
let target: DevTarget;
let ws: Workspace;

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as EventRecord);

beforeAll(async () => {
  target = await startDevTarget({ token: TOKEN, strict: true });
  ws = workspace(target.url, TOKEN);
  ws.writeConfig();
  const d = makeDirectory(6);
  ws.writeDirectory(d);
  await ws.run(['sync']);
  d.users[2]!.active = false;
  ws.writeDirectory(d);
  await ws.run(['sync']);
  target.inject({ method: 'PATCH', path: /\/Users\//, status: 400, times: 1, detail: 'nope' });
  d.users[3]!.title = 'Changed';
  ws.writeDirectory(d);
  await ws.run(['sync']);
  // An old event, for --since/--until and retention.
  const store = openStateStore(`${ws.dir}/state.db`);
  store.insertEvent({ time: '2020-01-01T00:00:00.000Z', integration: 'old', cycleId: 'c0', type: 'user_create_provision', result: 'success', sourceId: 'x', summary: 'long ago', detail: {} });
  store.close();
});
afterAll(() => target.stop());

describe('scimsync events', () => {
  it('--json is NDJSON with every field', async () => {
    const all = parse((await ws.run(['events', '--json'])).out);
    expect(all.length).toBeGreaterThan(8);
    for (const e of all) expect(Object.keys(e).sort()).toEqual(['cycleId', 'detail', 'id', 'integration', 'result', 'sourceId', 'summary', 'targetId', 'time', 'type']);
  });

  it('filters by integration, type and result', async () => {
    expect(parse((await ws.run(['events', '--integration', 'old', '--json'])).out).map((e) => e.summary)).toEqual(['long ago']);
    const deprov = parse((await ws.run(['events', '--type', 'user_deprovision', '--json'])).out);
    expect(deprov.map((e) => e.sourceId)).toEqual(['u00002']);
    const failed = parse((await ws.run(['events', '--result', 'failure', '--json'])).out);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail).toMatchObject({ status: 400, scimDetail: 'nope' });
    const bad = await ws.run(['events', '--type', 'user_created']);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/--type user_created: unknown event type/);
  });

  it('--user takes a source id, a userName or a target id', async () => {
    const bySource = parse((await ws.run(['events', '--user', 'u00002', '--json'])).out);
    expect(bySource.map((e) => e.type)).toEqual(['user_create_provision', 'user_deprovision']);
    const byName = parse((await ws.run(['events', '--user', 'USER2@example.com', '--json'])).out);
    expect(byName.map((e) => e.id)).toEqual(bySource.map((e) => e.id));
    const byTarget = parse((await ws.run(['events', '--user', bySource[0]!.targetId!, '--json'])).out);
    expect(byTarget.map((e) => e.id)).toEqual(bySource.map((e) => e.id));
  });

  it('--since and --until take durations and ISO dates; --limit keeps the newest', async () => {
    expect(parse((await ws.run(['events', '--since', '1h', '--json'])).out).some((e) => e.integration === 'old')).toBe(false);
    expect(parse((await ws.run(['events', '--until', '2021-01-01', '--json'])).out).map((e) => e.summary)).toEqual(['long ago']);
    expect(parse((await ws.run(['events', '--since', '2019-12-31T00:00:00Z', '--until', '2020-01-02T00:00:00Z', '--json'])).out)).toHaveLength(1);
    const all = parse((await ws.run(['events', '--json'])).out);
    const last2 = parse((await ws.run(['events', '--limit', '2', '--json'])).out);
    expect(last2.map((e) => e.id)).toEqual(all.slice(-2).map((e) => e.id));
    expect((await ws.run(['events', '--since', 'yesterday'])).err[0]).toMatch(/--since yesterday: expected a duration/);
  });

  it('prints an aligned table by default', async () => {
    const lines = (await ws.run(['events', '--type', 'user_deprovision'])).out;
    expect(lines[0]).toMatch(/^TIME\s+INTEGRATION\s+TYPE\s+RESULT\s+SOURCE ID\s+SUMMARY$/);
    expect(lines[1]!.indexOf('user_deprovision')).toBe(lines[0]!.indexOf('TYPE'));
  });

  it('--follow prints an event written after it started', async () => {
    const child = spawn(process.execPath, [resolve('dist/src/cli/main.js'), 'events', '--follow', '--json', '--type', 'user_create_provision', '--config', ws.configPath], {
      env: { PATH: process.env.PATH, TEST_TOKEN: TOKEN },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    // It prints the events already there first: wait for them (process start-up varies with load).
    const existing = parse((await ws.run(['events', '--type', 'user_create_provision', '--json'])).out).length;
    const ready = Date.now() + 10_000;
    while (out.split('\n').filter(Boolean).length < existing && Date.now() < ready) await new Promise((r) => setTimeout(r, 50));
    const before = out.split('\n').filter(Boolean).length;
    expect(before).toBe(existing);
    const d = makeDirectory(7);
    d.users[2]!.active = false;
    d.users[3]!.title = 'Changed';
    ws.writeDirectory(d);
    await ws.run(['sync']); // creates u00006
    const end = Date.now() + 5000;
    while (!out.includes('"sourceId":"u00006"') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventRecord);
    expect(lines.length).toBe(before + 1);
    expect(lines.at(-1)!.sourceId).toBe('u00006');
  }, 20_000);

  it('prunes events older than events.retainDays at the end of a cycle', async () => {
    const store = openStateStore(`${ws.dir}/state.db`);
    store.insertEvent({ time: '2020-01-01T00:00:00.000Z', integration: 'old', cycleId: 'c0', type: 'user_create_provision', result: 'success', sourceId: 'x', summary: 'long ago', detail: {} });
    store.close();
    expect(parse((await ws.run(['events', '--integration', 'old', '--json'])).out)).toHaveLength(1);
    await ws.run(['sync']);
    expect(parse((await ws.run(['events', '--integration', 'old', '--json'])).out)).toHaveLength(0);
    expect(parse((await ws.run(['events', '--json'])).out).length).toBeGreaterThan(8);
  });

  it('state purge drops a removed integration and writes idm_integration_delete', async () => {
    const refused = await ws.run(['state', 'purge', 'app']);
    expect(refused.code).toBe(2);
    expect(refused.err[0]).toMatch(/state purge app: the integration is still configured/);
    const config = (await import('node:fs')).readFileSync(ws.configPath, 'utf8');
    (await import('node:fs')).writeFileSync(ws.configPath, config.replace('- name: app', '- name: other'));
    const purged = await ws.run(['state', 'purge', 'app']);
    expect(purged.code).toBe(0);
    expect(purged.out[0]).toMatch(/\[integration app\] state purged \(7 objects\); its events are kept/);
    const deleted = parse((await ws.run(['events', '--type', 'idm_integration_delete', '--json'])).out);
    expect(deleted.map((e) => e.integration)).toEqual(['app']);
    expect(parse((await ws.run(['events', '--integration', 'app', '--type', 'user_create_provision', '--json'])).out).length).toBe(7);
    (await import('node:fs')).writeFileSync(ws.configPath, config);
  });
});


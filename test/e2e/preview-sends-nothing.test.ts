import { describe, expect, it } from 'vitest';
import { prepareCycle } from '../../src/engine/cycle.js';
import { RFC_SCHEMA } from '../../src/core/target-schema.js';
import { openStateStore } from '../../state/index.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import { engineBackend, useWorkspaceState } from '../support/state.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'preview-token';

let target: DevTarget;
let ws: Workspace;
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const openState = useWorkspaceState(TOKEN);

/** What the state holds that a cycle would add to: its events, its cycles, a held plan. */
function stateMarks(): { events: number; cycles: number; held: boolean } {
  const store = openStateStore(`${ws.dir}/state.db`);
  try {
    return { events: store.eventsPage({ limit: 100_000 }).length, cycles: store.recentCycles('app', 1000).length, held: store.getHeldPlan('app') !== undefined };
  } finally {
    store.close();
  }
}

/** The console's plan preview, as its page and API call it. */
async function consolePlan(): Promise<{ total: number; hold: unknown }> {
  return engineBackend(openState(ws)).plan('app');
}

/** `scimsync plan` for the directory `d`, which sends no write and keeps nothing; with the state's marks before it. */
async function planOf(d: Directory): Promise<{ before: ReturnType<typeof stateMarks>; plan: Awaited<ReturnType<Workspace['run']>> }> {
  ws.writeDirectory(d);
  target.requests.length = 0;
  const before = stateMarks();

  const plan = await ws.run(['plan']);
  expect(target.writes()).toEqual([]);
  expect(stateMarks()).toEqual(before);
  return { before, plan };
}

describe('previews prepare the cycle and send nothing', () => {
  it('plan, plan --user, sync --dry-run and the console plan send no write and keep nothing, while sync sends the same plan', async () => {
    const d = makeDirectory(20);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    // Something to send: an edit, a leaver, a joiner.
    d.users[1]!.title = 'Principal';
    const leaver = d.users.pop()!;
    d.users.push({ ...d.users[0]!, id: 'new-1', userName: 'new-1@example.com', email: 'new-1@example.com', managerId: undefined });
    const { before, plan } = await planOf(d);
    expect(plan.code).toBe(0);
    expect(plan.out.join('\n')).toContain('new-1');
    expect(plan.out.join('\n')).toContain(leaver.id);
    const one = await ws.run(['plan', '--user', 'new-1']);
    expect(one.code).toBe(0);
    expect(one.out.join('\n')).toContain('new-1');
    const dry = await ws.run(['sync', '--dry-run']);
    expect(dry.out[0]).toMatch(/dry run: 3 operations would be sent/);
    expect((await consolePlan()).total).toBe(3);

    expect(target.writes()).toEqual([]);
    expect(stateMarks()).toEqual(before);

    // The counter counts: the cycle itself sends those three operations.
    const sync = await ws.run(['sync']);
    expect(sync.out.join('\n')).toMatch(/created 1, adopted 0, updated 1, deactivated 1/);
    expect(target.writes().length).toBeGreaterThanOrEqual(3);
  });

  it('a held mass deprovision is shown by the previews, not recorded and not told; the cycle records it', async () => {
    ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 2 }' });
    const d = makeDirectory(20);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    for (const u of d.users.slice(10, 15)) u.active = false;
    const { before, plan } = await planOf(d);
    expect(plan.code).toBe(3);
    expect(plan.out.join('\n')).toMatch(/would deprovision 5 users/);
    const dry = await ws.run(['sync', '--dry-run']);
    expect(dry.code).toBe(3);
    expect(dry.out.join('\n')).toMatch(/HELD: the plan would deprovision 5 users/);
    expect((await consolePlan()).hold).toMatchObject({ deprovisions: 5, approved: false });

    expect(target.writes()).toEqual([]);
    expect(stateMarks()).toEqual(before);

    const sync = await ws.run(['sync']);
    expect(sync.code).toBe(3);
    expect(target.writes()).toEqual([]);
    expect(stateMarks()).toMatchObject({ held: true, cycles: before.cycles + 1 });
  });

  it('prepareCycle returns a shrunken source as a halt value, with the event a cycle would record, and keeps nothing', async () => {
    const d = makeDirectory(20);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    d.users.splice(0, 10);
    ws.writeDirectory(d);
    target.requests.length = 0;
    const before = stateMarks();

    const { config, store, logger } = openState(ws);
    const prepared = await prepareCycle({ integration: config.integrations[0]!, store, logger, schema: () => Promise.resolve(RFC_SCHEMA), escrow: [] });
    expect(prepared).toMatchObject({ kind: 'halt', reason: 'source-shrank', exitCode: 3, shrank: { sourceUsers: 10, lastGood: 20 } });
    expect(prepared.events.map((e) => [e.type, e.result])).toEqual([['user_deprovision', 'skipped']]);
    const forced = await prepareCycle({ integration: config.integrations[0]!, store, logger, schema: () => Promise.resolve(RFC_SCHEMA), escrow: [], force: true });
    expect(forced.kind).toBe('plan');
    expect(forced.operations.filter((op) => op.kind === 'user.deactivate')).toHaveLength(10);

    expect(target.writes()).toEqual([]);
    expect(stateMarks()).toEqual(before);
  });
});

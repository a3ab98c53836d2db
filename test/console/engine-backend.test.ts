import { describe, expect, it } from 'vitest';
import type { Actor, ConsoleBackend } from '../../src/engine/console-api.js';
import { createConsoleApp } from '../../src/console/app.js';
import { CycleProgressBoard } from '../../src/console/progress.js';
import { httpConfigSchema } from '../../src/config/http.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { type StateStore } from '../../state/index.js';
import { makeDirectory, type Directory, type Workspace } from '../support/harness.js';
import { engineBackend, useWorkspaceState } from '../support/state.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'console-backend-token';
const ADA: Actor = { name: 'ada', role: 'admin', via: 'session' };

let target: DevTarget;
let ws: Workspace;
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const openState = useWorkspaceState(TOKEN);

function backendFor(options: { progress?: CycleProgressBoard } = {}): { backend: ConsoleBackend; store: StateStore } {
  const state = openState(ws);
  return { backend: engineBackend(state, options), store: state.store };
}

const byExternalId = (id: string) => [...target.users.values()].find((u) => u.externalId === id);

async function synced(n: number, integrationYaml?: string): Promise<Directory> {
  ws.writeConfig(integrationYaml ? { integrationYaml } : {});
  const d = makeDirectory(n);
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(0);
  return d;
}

describe('the engine backend of the console', () => {
  it('shows a healthy integration, its counts, its cycle history and its events, newest first by keyset', async () => {
    await synced(6);
    const { backend } = backendFor();
    const [o] = await backend.integrations();
    expect(o).toMatchObject({ name: 'app', state: { kind: 'healthy' }, objects: { usersActive: 6, usersInactive: 0 }, escrow: { size: 0 } });
    expect(o!.lastCycle?.outcome).toBe('success');
    expect(Date.parse(o!.nextCycle!)).toBeGreaterThan(Date.parse(o!.lastCycle!.startedAt) + 39 * 60_000);
    const history = await backend.history('app', 30);
    expect(history).toHaveLength(1);
    expect(history[0]!.operations.created).toBe(6);

    const first = await backend.events({ limit: 4 });
    expect(first.events).toHaveLength(4);
    expect(first.events[0]!.id).toBeGreaterThan(first.events[3]!.id);
    const second = await backend.events({ limit: 4, after: first.next! });
    expect(second.events[0]!.id).toBeLessThan(first.events[3]!.id);
    const all = await backend.events({ limit: 100 });
    expect(new Set([...first.events, ...second.events].map((e) => e.id)).size).toBe(first.events.length + second.events.length);

    // By userName, source id or target id: the same user's events.
    const byName = await backend.events({ user: 'USER3@example.com', limit: 50 });
    expect(byName.events.map((e) => e.sourceId)).toEqual(['u00003']);
    const targetId = byExternalId('u00003')!.id;
    expect((await backend.events({ user: targetId, limit: 50 })).events.map((e) => e.id)).toEqual(byName.events.map((e) => e.id));
    const cycle = all.events.find((e) => e.type === 'user_create_provision')!.cycleId!;
    expect((await backend.events({ cycle, type: 'user_create_provision', limit: 50 })).events).toHaveLength(6);
    expect((await backend.event(byName.events[0]!.id))?.summary).toContain('user3@example.com');
  });

  it('previews the next cycle with old → new values, grouped by kind, sending nothing', async () => {
    const d = await synced(5);
    d.users[1]!.title = 'Director';
    d.users.splice(4, 1);
    ws.writeDirectory(d);
    target.requests.length = 0;
    const { backend } = backendFor();
    const plan = await backend.plan('app');
    expect(target.writes()).toEqual([]);
    expect(plan.total).toBe(2);
    const update = plan.groups.find((g) => g.kind === 'user.update')!.operations[0]!;
    expect(update).toMatchObject({ sourceId: 'u00001', label: 'user1@example.com' });
    expect(update.changes).toContainEqual({ path: 'title', old: 'Engineer', new: 'Director' });
    const deactivate = plan.groups.find((g) => g.kind === 'user.deactivate')!.operations[0]!;
    expect(deactivate.sourceId).toBe('u00004');
    expect(deactivate.changes).toContainEqual({ path: 'active', old: 'true', new: 'false' });
    expect(deactivate.note).toContain('removed from the source');
  });

  it('provisions one user now, any action, shows each step, and audits it with the console user', async () => {
    const d = await synced(4);
    d.users[1]!.title = 'Director';
    d.users.push({ id: 'u09999', userName: 'new@example.com', givenName: 'New', familyName: 'Person', email: 'new@example.com', active: true });
    const leaver = d.users.splice(3, 1)[0]!;
    ws.writeDirectory(d);
    const { backend } = backendFor();

    const updated = await backend.provisionNow({ integration: 'app', sourceId: 'u00001', actor: ADA });
    expect(updated.steps.map((s) => [s.step, s.status])).toEqual([
      ['source', 'ok'],
      ['scope', 'ok'],
      ['match', 'ok'],
      ['attributes', 'ok'],
      ['result', 'ok'],
    ]);
    expect(updated.steps.find((s) => s.step === 'attributes')!.lines).toContain('title: Engineer → Director');
    expect(byExternalId('u00001')!.title).toBe('Director');
    // Only that user: the others wait for the next cycle.
    expect(byExternalId('u09999')).toBeUndefined();
    expect(byExternalId(leaver.id)!.active).toBe(true);

    const created = await backend.provisionNow({ integration: 'app', sourceId: 'u09999', actor: ADA });
    const match = created.steps.find((s) => s.step === 'match')!;
    expect(match.title).toMatch(/^Created in the target: /);
    expect(byExternalId('u09999')!.userName).toBe('new@example.com');

    const gone = await backend.provisionNow({ integration: 'app', sourceId: leaver.id, actor: ADA });
    expect(gone.steps.map((s) => [s.step, s.status])).toEqual([
      ['source', 'no'],
      ['match', 'ok'],
      ['deprovision', 'ok'],
      ['result', 'ok'],
    ]);
    expect(byExternalId(leaver.id)!.active).toBe(false);

    const audit = (await backend.events({ type: 'idm_integration_update', limit: 10 })).events;
    expect(audit.map((e) => e.summary)).toContain(`provision now of ${leaver.id}: 1 operation by ada (console)`);
    expect(audit[0]!.detail.console).toEqual({ user: 'ada', via: 'session' });
    // The run's events and the audit share the run's cycle, and the user's history shows both.
    expect((await backend.events({ cycle: gone.cycleId!, limit: 10 })).events.map((e) => e.type).sort()).toEqual(['idm_integration_update', 'user_deprovision']);
    const view = await backend.user('app', leaver.id);
    expect(view!.source).toBeNull();
    expect(view!.state?.status).toBe('inactive');
    expect(view!.events.map((e) => e.type)).toContain('user_deprovision');
  });

  it('approves a held mass deprovision for the next cycle, naming the console user, and discards it with its approval', async () => {
    // 3 of 20 leave: past maxDeletes, within the shrink guard (safety.minSourceRatio).
    const d = await synced(20, 'safety: { maxDeletes: 1 }');
    d.users.splice(0, 3);
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(3);
    const { backend } = backendFor();
    const detail = await backend.integration('app', { historyCycles: 10 });
    expect(detail!.overview.state).toMatchObject({ kind: 'held', deprovisions: 3, approvedAt: null });
    expect(detail!.held!.objects.map((o) => o.sourceId).sort()).toEqual(['u00000', 'u00001', 'u00002']);

    await backend.approve({ integration: 'app', actor: ADA });
    await backend.discard({ integration: 'app', actor: { name: 'grace', role: 'admin', via: 'token' } });
    expect((await ws.run(['sync'])).code).toBe(3);
    expect(byExternalId('u00000')!.active).toBe(true);

    const ok = await backend.approve({ integration: 'app', actor: ADA });
    expect(ok.message).toContain('deprovisions up to these 3 users');
    expect((await ws.run(['sync'])).code).toBe(0);
    for (const id of ['u00000', 'u00001', 'u00002']) expect(byExternalId(id)!.active).toBe(false);
    const summaries = (await backend.events({ type: 'idm_integration_update', limit: 10 })).events.map((e) => e.summary);
    expect(summaries).toContain('mass deprovision of 3 users approved for the next cycle (more than safety.maxDeletes (1)) by ada (console)');
    expect(summaries).toContain('held mass deprovision of 3 users discarded (its approval withdrawn) by grace (console API token)');
    await expect(backend.approve({ integration: 'app', actor: ADA })).rejects.toThrow('no cycle is held for approval');
  });

  it("shows a user as the cycle scopes them: a protected account is held as it is, not just in scope", async () => {
    const d = await synced(3, 'protect: ["user1@*"]');
    // user1's title changes at the source: a cycle leaves its account alone, and the view says why.
    d.users[1]!.title = 'Director';
    ws.writeDirectory(d);
    const { backend } = backendFor();
    const held = await backend.user('app', d.users[1]!.id);
    expect(held!.inScope).toBe(true);
    expect(held!.problems).toEqual(['held as it is: protected by protect; a cycle neither changes nor deprovisions it']);
    const plain = await backend.user('app', d.users[2]!.id);
    expect(plain!.inScope).toBe(true);
    expect(plain!.problems).toEqual([]);
    expect((await ws.run(['sync'])).out[0]).toMatch(/updated 0,/);
  });

  it('lifts a quarantine, and shows a running cycle with its progress and time left', async () => {
    await synced(2);
    const board = new CycleProgressBoard();
    const { backend, store } = backendFor({ progress: board });
    store.setQuarantine('app', { until: new Date(Date.now() + 3_600_000).toISOString(), level: 1, reason: 'HTTP 401 from the target' });
    const [q] = await backend.integrations();
    expect(q!.state).toMatchObject({ kind: 'quarantined', reason: 'HTTP 401 from the target', level: 1 });
    await backend.liftQuarantine({ integration: 'app', actor: ADA });
    expect((await backend.integrations())[0]!.state.kind).toBe('healthy');
    await expect(backend.liftQuarantine({ integration: 'app', actor: ADA })).rejects.toThrow('app is not quarantined');

    board.start('app');
    board.update('app', { done: 0, total: 100, failed: 0 });
    await new Promise((r) => setTimeout(r, 50));
    board.update('app', { done: 20, total: 100, failed: 1 });
    board.rateLimited('app');
    const running = (await backend.integrations())[0]!.state;
    expect(running.kind).toBe('running');
    if (running.kind !== 'running') return;
    expect(running.progress).toMatchObject({ done: 20, total: 100, failed: 1, rateLimitWaits: 1, source: 'live' });
    // 20 in about 50 ms: the 80 left take about 200 ms.
    expect(running.progress.etaMs).toBeGreaterThan(100);
    expect(running.progress.etaMs).toBeLessThan(2000);
    board.finish('app');
    expect(await backend.progress('app')).toBeNull();
  });

  it('reports drift in the target and applies the source values back', async () => {
    await synced(3);
    const account = byExternalId('u00002')!;
    account.title = 'Changed in the app';
    const { backend } = backendFor();
    const report = await backend.reconcileReport('app');
    expect(report.drift).toContainEqual({ sourceId: 'u00002', userName: 'user2@example.com', path: 'title', pushed: 'Engineer', actual: 'Changed in the app' });
    const outcome = await backend.reconcile({ integration: 'app', mode: 'apply', actor: ADA });
    expect(outcome).toMatchObject({ mode: 'apply', corrected: 1, cycle: { outcome: 'success' } });
    expect(byExternalId('u00002')!.title).toBe('Engineer');
  });

  it("charts each cycle's 429 waits in the history, its API and the page's table, 0 for a cycle that recorded none", async () => {
    await synced(2);
    const { backend, store } = backendFor();
    const at = Date.now() + 60_000;
    store.startCycle('cycle-429', 'app', false, new Date(at));
    store.finishCycle('cycle-429', 'success', { updated: 2, failed: 0, rateLimitWaits: 4 }, new Date(at + 2500));
    store.flush();

    const history = await backend.history('app', 30);
    expect(history.map((p) => [p.outcome, p.operations.updated, p.rateLimitWaits])).toEqual([
      ['success', 2, 4],
      ['success', 0, 0],
    ]);
    const app = createConsoleApp({ backend, http: httpConfigSchema.parse({}), secrets: () => [] });
    const api = (await (await app.request('http://127.0.0.1/api/integrations/app/history?cycles=5')).json()) as { rateLimitWaits: number }[];
    expect(api.map((p) => p.rateLimitWaits)).toEqual([4, 0]);
    const detail = (await (await app.request('http://127.0.0.1/api/integrations/app')).json()) as { history: { rateLimitWaits: number }[] };
    expect(detail.history.map((p) => p.rateLimitWaits)).toEqual([4, 0]);

    const html = await (await app.request('http://127.0.0.1/integrations/app')).text();
    const table = /<table class="grid" id="cycles">([\s\S]*?)<\/table>/.exec(html)![1]!;
    const headers = [...table.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
    const column = headers.indexOf('429 waits');
    expect(column).toBeGreaterThan(0);
    const rows = table.split('<tr>').slice(2).map((r) => [...r.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]));
    expect(rows.map((r) => r[column])).toEqual(['4', '0']);
  });
});


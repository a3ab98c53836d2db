import { describe, expect, it } from 'vitest';
import { createConsoleApp } from '../../src/console/app.js';
import { httpConfigSchema } from '../../src/config/http.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, type Workspace } from '../support/harness.js';
import { engineBackend, useWorkspaceState } from '../support/state.js';
import { useStrictTarget } from '../support/target.js';
import { TestBrowser } from './support/client.js';

/**
 * Every console action that writes runs under the integration's lease: while a
 * cycle of the daemon or a `scimsync sync` holds it, the action answers 409 with
 * one line, and nothing is written to the target or the state.
 */
const TOKEN = 'console-lease-token';
/** Another process's lease, as leaseOwner() writes it (a host of its own: never taken over as dead here). */
const OTHER = 'pid 4242 on other-host (0a1b2c3d)';
const BUSY = 'a cycle of app is running; try again when it ends';

let target: DevTarget;
let ws: Workspace;
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const openState = useWorkspaceState(TOKEN);

const byExternalId = (id: string) => [...target.users.values()].find((u) => u.externalId === id);

/** 20 users synced, then 3 left (held: past maxDeletes), one changed in the source, one changed in the target, and a quarantine. */
async function setUp() {
  ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 1 }' });
  const d = makeDirectory(20);
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(0);
  d.users.splice(0, 3);
  d.users.find((u) => u.id === 'u00005')!.title = 'Director';
  ws.writeDirectory(d);
  expect((await ws.run(['sync'])).code).toBe(3);
  byExternalId('u00010')!.title = 'Changed in the app';

  const state = openState(ws);
  const { store } = state;
  store.setQuarantine('app', { until: new Date(Date.now() + 3_600_000).toISOString(), level: 1, reason: 'HTTP 401 from the target' });
  store.flush();
  const backend = engineBackend(state);
  // On loopback without logins: a script is the local admin.
  const app = createConsoleApp({ backend, http: httpConfigSchema.parse({}), secrets: () => [TOKEN] });
  return { store, app };
}

const ACTIONS = [
  '/api/integrations/app/approve',
  '/api/integrations/app/discard',
  '/api/integrations/app/lift-quarantine',
  '/api/integrations/app/users/u00005/provision',
  '/api/integrations/app/reconcile/apply',
  '/api/integrations/app/reconcile/adopt',
];

describe("the console's actions under the integration's lease", () => {
  it('answers 409 with one line while another process holds the lease, and applies nothing', async () => {
    const { store, app } = await setUp();
    const audits = () => store.queryEvents({ integration: 'app', type: 'idm_integration_update' }).length;
    const auditsBefore = audits();
    const cyclesBefore = store.recentCycles('app', 100).length;
    target.requests.length = 0;
    expect(store.takeLease('app', OTHER, 60_000)).toBe(true);

    for (const path of ACTIONS) {
      const res = await app.request(`http://127.0.0.1${path}`, { method: 'POST' });
      expect(res.status, path).toBe(409);
      expect(await res.json(), path).toEqual({ error: BUSY });
    }

    // Nothing applied: the plan still held and not approved, the quarantine still set, no request to the target, no cycle, no audit.
    expect(store.getHeldPlan('app')).toMatchObject({ approvedAt: null });
    expect(store.getHeldPlan('app')!.objects).toHaveLength(3);
    expect(store.getQuarantine('app')?.reason).toBe('HTTP 401 from the target');
    expect(target.requests).toEqual([]);
    expect(byExternalId('u00005')!.title).toBe('Engineer');
    expect(byExternalId('u00010')!.title).toBe('Changed in the app');
    expect(store.recentCycles('app', 100)).toHaveLength(cyclesBefore);
    expect(audits()).toBe(auditsBefore);
    // The other process's lease is still its own.
    expect(store.leaseHolder('app')).toBe(OTHER);

    // Once it ends, the same action is done.
    store.releaseLease('app', OTHER);
    const approved = await app.request('http://127.0.0.1/api/integrations/app/approve', { method: 'POST' });
    expect(approved.status).toBe(200);
    expect(store.getHeldPlan('app')!.approvedAt).not.toBeNull();
    expect(audits()).toBe(auditsBefore + 1);
    expect(store.leaseHolder('app')).toBeUndefined();
  });

  it("tells a browser the same on the page, as the action's message", async () => {
    const { store, app } = await setUp();
    const browser = new TestBrowser(app, undefined, 'http://127.0.0.1');
    const csrf = await browser.csrf();
    expect(store.takeLease('app', OTHER, 60_000)).toBe(true);
    const res = await browser.post('/integrations/app/approve', { _csrf: csrf });
    expect(res.status).toBe(303);
    const page = await (await browser.get(res.headers.get('location')!)).text();
    expect(page).toContain(BUSY);
    expect(store.getHeldPlan('app')!.approvedAt).toBeNull();

    const provision = await browser.post('/users/app/u00005/provision', { _csrf: csrf });
    expect(provision.status).toBe(303);
    expect(await (await browser.get(provision.headers.get('location')!)).text()).toContain(BUSY);
    expect(byExternalId('u00005')!.title).toBe('Engineer');
  });
});

import { describe, expect, it } from 'vitest';
import type { DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';

const TOKEN = 'faults-token';

let target: DevTarget;
let ws: Workspace;

useStrictTarget(
  TOKEN,
  (t, w) => {
    target = t;
    ws = w;
  },
  { seed: 7 },
);

function withGroups(n: number): Directory {
  const d = makeDirectory(n);
  d.groups = Array.from({ length: 5 }, (_, g) => ({
    id: `g${g}`,
    displayName: `Team ${g}`,
    members: d.users.filter((_, i) => i % 5 === g || i % 7 === g).map((u) => u.id),
  }));
  return d;
}

/** Exactly the source: one account per source user, each group's members once each. */
function expectExactly(d: Directory): void {
  const accounts = [...target.users.values()];
  const externalIds = accounts.map((u) => String(u.externalId));
  expect(new Set(externalIds).size).toBe(externalIds.length); // no duplicate account
  expect(externalIds.sort()).toEqual(d.users.map((u) => u.id).sort());
  const sourceOf = new Map(accounts.map((u) => [u.id, String(u.externalId)]));
  const groups = new Map([...target.groups.values()].map((g) => [String(g.displayName), ((g.members ?? []) as { value: string }[]).map((m) => sourceOf.get(m.value)).sort()]));
  expect(groups.size).toBe(d.groups!.length);
  for (const g of d.groups!) expect(groups.get(g.displayName), g.displayName).toEqual([...g.members].sort());
}

interface StatusJson {
  quarantine: { until: string; reason: string } | null;
  escrow: { kind: string; sourceId: string; givenUp: boolean; cycles: number }[];
  inFlight: unknown[];
}

async function status(w: Workspace): Promise<StatusJson> {
  const r = await w.run(['status', '--json']);
  return JSON.parse(r.out[0]!) as StatusJson;
}

describe('delivery under faults', () => {
  it('a 500-user sync under 20% 500s, a 429 storm, 2% resets and stalls ends applied or escrowed, and one clean cycle converges', async () => {
    const d = withGroups(500);
    ws.writeDirectory(d);
    ws.writeConfig({ targetYaml: 'timeoutMs: 1000' });
    target.inject({ path: /\/scim\/v2\//, rate: 0.005, stallMs: 1500 });
    target.inject({ path: /\/scim\/v2\//, rate: 0.2, status: 500, detail: 'injected 500' });
    target.inject({ path: /\/scim\/v2\//, rate: 0.01, reset: 'before' });
    target.inject({ path: /\/scim\/v2\//, rate: 0.01, reset: 'after' });
    target.inject({ path: /\/scim\/v2\/Users$/, method: 'POST', times: 25, status: 429, headers: { 'Retry-After': '1' } });
    const first = await ws.run(['sync']);
    expect([0, 1]).toContain(first.code);
    const s = await status(ws);
    expect(s.inFlight).toEqual([]);
    // Whatever did not get through is held in escrow for the next cycle.
    const missing = d.users.filter((u) => ![...target.users.values()].some((t) => t.externalId === u.id));
    const escrowedCreates = new Set(s.escrow.filter((e) => e.kind === 'user.create').map((e) => e.sourceId));
    for (const u of missing) expect(escrowedCreates.has(u.id), `${u.id} missing and not escrowed`).toBe(true);
    if (first.code === 1) expect(s.escrow.length).toBeGreaterThan(0);
    // 429s are waited out, never counted as failures.
    const events = await ws.run(['events', '--result', 'failure', '--json']);
    for (const line of events.out) expect(JSON.parse(line).detail.status).not.toBe(429);

    target.clearFaults();
    const second = await ws.run(['sync']);
    expect(second.err).toEqual([]);
    expect(second.code).toBe(0);
    expectExactly(d);
    expect((await status(ws)).escrow).toEqual([]);
    target.requests.length = 0;
    await ws.run(['sync']);
    expect(target.requests).toEqual([]);
  }, 120_000);

  it('counts the 429s a cycle waited out in its record (status), none failed', async () => {
    ws.writeDirectory(makeDirectory(20));
    target.inject({ path: /\/scim\/v2\/Users$/, method: 'POST', times: 3, status: 429, headers: { 'Retry-After': '0' } });
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    expect(target.users.size).toBe(20);
    const r = await ws.run(['status', '--json']);
    const last = (JSON.parse(r.out[0]!) as { lastCycle: { counts: Record<string, number> } }).lastCycle;
    expect(last.counts).toMatchObject({ rateLimitWaits: 3, failed: 0, created: 20 });
  });

  it('a slow target never has more than maxConcurrent requests at once, and gets that many', async () => {
    const d = makeDirectory(80);
    ws.writeDirectory(d);
    // Every create answered after 100 ms, so that requests overlap; the config allows 8 at once.
    target.inject({ method: 'POST', path: /\/Users$/, stallMs: 100 });
    target.concurrency.peak = 0;
    const res = await ws.run(['sync']);
    expect(res.code).toBe(0);
    expect(target.users.size).toBe(80);
    expect(target.concurrency.peak).toBe(8);
  });

  it('a member batch whose answer is lost is not added twice', async () => {
    const d = withGroups(60);
    ws.writeDirectory(d);
    ws.writeConfig({ integrationYaml: 'groups: { membersPerRequest: 5 }' });
    target.inject({ method: 'PATCH', path: /\/Groups\//, times: 3, reset: 'after' });
    const first = await ws.run(['sync']);
    expect(first.code).toBe(1);
    const second = await ws.run(['sync']);
    expect(second.code).toBe(0);
    expectExactly(d);
  });

  it('a 401 stops the cycle at once, quarantines the integration, and --force or new credentials lift it', async () => {
    const d = makeDirectory(500);
    d.groups = [];
    ws.writeDirectory(d);
    const bad = workspace(target.url, 'wrong-token');
    bad.writeConfig();
    bad.writeDirectory(d);
    const first = await bad.run(['sync']);
    expect(first.code).toBe(1);
    expect(first.err.join('\n')).toMatch(/refused our credentials \(HTTP 401\)/);
    expect(target.requests.length).toBeLessThanOrEqual(20);
    const s = await status(bad);
    expect(s.quarantine?.reason).toMatch(/HTTP 401/);
    expect(Date.parse(s.quarantine!.until) - Date.now()).toBeGreaterThan(55 * 60_000);
    const text = await bad.run(['status']);
    expect(text.out.join('\n')).toMatch(/QUARANTINED until/);
    const events = await bad.run(['events', '--type', 'idm_integration_update', '--result', 'failure']);
    expect(events.out.join('\n')).toMatch(/quarantined until/);

    // Later cycles do not touch the target until the quarantine ends.
    target.requests.length = 0;
    const second = await bad.run(['sync']);
    expect(second.code).toBe(3);
    expect(second.err.join('\n')).toMatch(/quarantined until .*sync --force/);
    expect(target.requests).toEqual([]);

    // Forcing with the same bad token fails again and backs off further (2 h).
    const forced = await bad.run(['sync', '--force']);
    expect(forced.code).toBe(1);
    const again = await status(bad);
    expect(Date.parse(again.quarantine!.until) - Date.now()).toBeGreaterThan(115 * 60_000);

    // New credentials lift it.
    const fixed = workspace(target.url, TOKEN);
    fixed.writeConfig({ raw: (await import('node:fs')).readFileSync(bad.configPath, 'utf8') });
    const good = await fixed.run(['sync']);
    expect(good.code).toBe(0);
    expect((await status(fixed)).quarantine).toBeNull();
    expect(target.users.size).toBe(500);
  }, 60_000);

  it('gives up an operation after escrow.maxCycles failing cycles, and says so', async () => {
    const d = makeDirectory(5);
    ws.writeDirectory(d);
    ws.writeConfig({ integrationYaml: 'escrow: { maxCycles: 3 }' });
    target.inject({ method: 'POST', path: /\/Users$/, body: /user3@example\.com/, status: 400, scimType: 'invalidValue', detail: 'title not allowed' });
    for (let i = 1; i <= 3; i++) expect((await ws.run(['sync'])).code).toBe(1);
    const s = await status(ws);
    expect(s.escrow).toEqual([expect.objectContaining({ kind: 'user.create', sourceId: 'u00003', givenUp: true, cycles: 3 })]);
    const events = await ws.run(['events', '--result', 'failure', '--json']);
    expect(events.out.map((l) => JSON.parse(l).summary).join('\n')).toMatch(/given up after failing 3 cycles/);
    // Given up: not sent again while unchanged.
    target.requests.length = 0;
    const fourth = await ws.run(['sync']);
    expect(fourth.code).toBe(0);
    expect(target.requests).toEqual([]);
    // A change at the source tries again.
    d.users[3]!.title = 'Engineer II';
    ws.writeDirectory(d);
    target.clearFaults();
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.users.size).toBe(5);
    expect((await status(ws)).escrow).toEqual([]);
  });

  it('retries an escrowed operation at the next cycle although the source did not change', async () => {
    const d = makeDirectory(5);
    ws.writeDirectory(d);
    target.inject({ method: 'POST', path: /\/Users$/, body: /user2@example\.com/, status: 400, times: 1 });
    expect((await ws.run(['sync'])).code).toBe(1);
    expect((await status(ws)).escrow).toHaveLength(1);
    expect((await ws.run(['sync'])).code).toBe(0);
    expect(target.users.size).toBe(5);
    expect((await status(ws)).escrow).toEqual([]);
  });

  it('quarantines an integration whose every operation fails', async () => {
    const d = makeDirectory(12);
    ws.writeDirectory(d);
    target.inject({ method: 'POST', path: /\/Users$/, status: 400, scimType: 'invalidValue', detail: 'schema mismatch' });
    expect((await ws.run(['sync'])).code).toBe(1);
    expect((await status(ws)).quarantine?.reason).toBe('all 12 operations failed');
  });
});

describe('scimsync test-connection', () => {
  it('reports what the target supports and that the lookup works', async () => {
    const r = await ws.run(['test-connection']);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toMatch(/PATCH: yes/);
    expect(text).toMatch(/filter: yes/);
    expect(text).toMatch(/lookup by userName: works \(0 matches/);
    expect(text).toMatch(/OK$/);
  });

  it('falls back when /ServiceProviderConfig is missing', async () => {
    target.inject({ path: /ServiceProviderConfig/, status: 404, times: 1 });
    const r = await ws.run(['test-connection']);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/not published \(HTTP 404\); assuming RFC 7644 defaults/);
  });

  it('says in plain words when the credentials are refused or the target is down', async () => {
    const bad = workspace(target.url, 'nope');
    bad.writeConfig();
    const refused = await bad.run(['test-connection']);
    expect(refused.code).toBe(1);
    expect(refused.out.join('\n')).toMatch(/problem: the target refused the credentials \(HTTP 401/);
    expect(refused.out.join('\n')).not.toMatch(/nope/);
    const down = workspace('http://127.0.0.1:9/scim/v2', TOKEN);
    down.writeConfig();
    const unreachable = await down.run(['test-connection']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.out.join('\n')).toMatch(/problem: cannot reach http:\/\/127\.0\.0\.1:9\/scim\/v2: ECONNREFUSED/);
  });
});

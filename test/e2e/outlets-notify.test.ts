/**
 * `notify:` through `scimsync sync`: a target that fails every create gets the
 * integration quarantined; a local webhook receiver is told once when that
 * happens and once when it is lifted, however many cycles run in between
 * (what was told is kept in the state file, across runs). Also: a config
 * naming `events.forward` and `notify` loads, a bad one is refused in one line
 * naming the key, and retention prunes past `events.maxRows`.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { configHead, makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';
import { startHttpReceiver, type HttpReceiver } from '../events/support.js';

const TOKEN = 'outlets-notify-token';

let target: DevTarget;
let ws: Workspace;
useStrictTarget(TOKEN, (t, w) => {
  target = t;
  ws = w;
});

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function receiver(): Promise<HttpReceiver> {
  const r = await startHttpReceiver();
  cleanup.push(() => r.stop().catch(() => undefined));
  return r;
}

function writeConfig(extra: string): void {
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: target.url }),
      '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 8 }',
      '      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 }',
      extra,
      '',
    ].join('\n'),
  });
}

/** The notifications a receiver was sent, as parsed JSON bodies. */
const told = (r: HttpReceiver) => r.requests.map((q) => JSON.parse(q.body) as Record<string, unknown>);

describe('notifications of a quarantine', () => {
  it('tells a webhook once when the integration is quarantined and once when it is lifted, across several cycles', async () => {
    const json = await receiver();
    const slack = await receiver();
    writeConfig(
      [
        'notify:',
        `  - { webhook: "${json.url}", format: json }`,
        `  - { on: [quarantine], webhook: "${slack.url}", format: slack }`,
      ].join('\n'),
    );
    ws.writeDirectory(makeDirectory(12));
    target.inject({ method: 'POST', path: /\/Users$/, status: 400, scimType: 'invalidValue', detail: 'schema mismatch' });

    // Every create fails: the integration is quarantined, and both webhooks are told.
    const first = await ws.run(['sync']);
    expect(first.code).toBe(1);
    expect(told(json)).toEqual([
      expect.objectContaining({ source: 'scimsync', kind: 'quarantineEntered', integration: 'app', reason: 'all 12 operations failed', until: expect.any(String) }),
    ]);
    expect(told(slack)).toEqual([{ text: expect.stringMatching(/^scimsync: integration app: quarantined until \S+: all 12 operations failed$/) }]);

    // Three more runs while it lasts: each stops at the quarantine, and nobody is told again.
    for (let i = 0; i < 3; i++) {
      const r = await ws.run(['sync']);
      expect(r.code).toBe(3);
      expect(r.err.join('\n')).toMatch(/quarantined until/);
    }
    expect(told(json)).toHaveLength(1);
    expect(told(slack)).toHaveLength(1);

    // The target is fixed and the quarantine lifted: one more message each.
    target.clearFaults();
    expect((await ws.run(['sync', '--force'])).code).toBe(0);
    expect(target.users.size).toBe(12);
    expect(told(json).map((n) => n.kind)).toEqual(['quarantineEntered', 'quarantineLifted']);
    expect(told(json)[1]).toMatchObject({ integration: 'app', reason: 'sync --force' });
    expect(told(slack).map((n) => n.text)).toEqual([expect.stringMatching(/quarantined until/), 'scimsync: integration app: quarantine lifted (sync --force)']);

    // Healthy cycles after it tell nothing.
    for (let i = 0; i < 2; i++) expect((await ws.run(['sync'])).code).toBe(0);
    expect(told(json)).toHaveLength(2);
    expect(told(slack)).toHaveLength(2);
  });

  it('tells a quarantine again after a webhook that was down comes back (what failed is not remembered as told)', async () => {
    const hook = await receiver();
    writeConfig(['notify:', `  - { on: [quarantine], webhook: "${hook.url}", timeoutMs: 500 }`].join('\n'));
    ws.writeDirectory(makeDirectory(12));
    target.inject({ method: 'POST', path: /\/Users$/, status: 400, scimType: 'invalidValue', detail: 'schema mismatch' });
    hook.status = 500;
    expect((await ws.run(['sync'])).code).toBe(1);
    expect(told(hook)).toEqual([]);
    hook.status = 200;
    expect((await ws.run(['sync'])).code).toBe(3);
    expect((await ws.run(['sync'])).code).toBe(3);
    expect(told(hook).map((n) => n.kind)).toEqual(['quarantineEntered']);
  });
});

describe('a config with events.forward and notify', () => {
  it('loads, and a dry run sends nothing and tells nobody', async () => {
    const hook = await receiver();
    const siem = await receiver();
    writeConfig(
      [
        'events:',
        '  retainDays: 30',
        '  forward:',
        `    - { type: http, url: "${siem.url}", hmac: { secret: "a-shared-secret-of-32-characters" } }`,
        '    - { type: syslog, url: "tcp://127.0.0.1:9", name: siem-syslog }',
        'notify:',
        `  - { webhook: "${hook.url}" }`,
      ].join('\n'),
    );
    ws.writeDirectory(makeDirectory(3));
    const r = await ws.run(['sync', '--dry-run']);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/dry run: 3 operations would be sent/);
    expect(siem.requests).toEqual([]);
    expect(hook.requests).toEqual([]);
  });

  it('is refused with one line naming the key, before anything is sent', async () => {
    ws.writeDirectory(makeDirectory(3));
    const cases: [string, RegExp][] = [
      ['events: { forward: [{ type: http, url: "ftp://siem.example.com/in" }] }', /events\.forward\[0\]\.url: expected a http:\/\/ or https:\/\/ URL, not ftp:\/\//],
      ['events: { forward: [{ type: syslog, url: "tcp://127.0.0.1:514", caFile: /nonexistent/ca.pem }] }', /events\.forward\[0\]\.caFile: \/nonexistent\/ca\.pem cannot be read \(ENOENT\)/],
      ['notify: [{ on: [quarantine] }]', /notify\[0\]: expected webhook:, email: or both/],
      ['notify: [{ webhook: "https://hooks.example.com/services/T0/B0/tokenpart", format: discord }]', /notify\[0\]\.format: /],
    ];
    for (const [yaml, expected] of cases) {
      writeConfig(yaml);
      const r = await ws.run(['sync']);
      expect(r.code, yaml).toBe(2);
      expect(r.err, yaml).toHaveLength(1);
      expect(r.err[0]).toMatch(expected);
      expect(r.err[0]).not.toContain('tokenpart');
    }
    expect(target.requests).toEqual([]);
  });
});

describe('event retention in sync', () => {
  it('prunes the oldest events past events.maxRows at the end of a run', async () => {
    writeConfig('events: { maxRows: 1000 }');
    ws.writeDirectory(makeDirectory(1100));
    expect((await ws.run(['sync'])).code).toBe(0);
    const store = SqliteStateStore.open(join(ws.dir, 'state.db'));
    try {
      const ids = store.eventsAfter(0, 1_000_000).map((e) => e.id);
      const last = store.lastEventId();
      expect(last).toBeGreaterThan(1100);
      // The newest 1,000 written are kept, the older ones gone.
      expect(ids).toHaveLength(1000);
      expect(ids[0]).toBe(last - 999);
    } finally {
      store.close();
    }
  });
});

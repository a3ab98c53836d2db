import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { describe, expect, it } from 'vitest';
import { eventListingFormat, eventQuery } from '../../src/engine/queries/events-listing.js';
import { parseWait } from '../../src/engine/durations.js';
import { recordAdminAction } from '../../src/events/sink.js';
import type { Logger } from '../../src/log.js';
import { openStateStore } from '../../state/index.js';
import { workspace } from '../support/harness.js';

/** A logger whose lines are kept. */
function keptLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString().trim());
      done();
    },
  });
  const logger = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}

describe('the options of scimsync events', () => {
  const now = Date.parse('2026-03-01T12:00:00.000Z');

  it('turns durations and dates into times, and ids and limits into numbers', () => {
    expect(eventQuery({ since: '2h', until: '2026-03-01T11:30:00Z', after: '0', limit: '50', type: 'user_deprovision', result: 'failure' }, now)).toEqual({
      since: '2026-03-01T10:00:00.000Z',
      until: '2026-03-01T11:30:00.000Z',
      after: 0,
      limit: 50,
      type: 'user_deprovision',
      result: 'failure',
    });
  });

  it.each([
    [{ type: 'user_created' }, /^\[scimsync\] --type user_created: unknown event type \(one of idm_integration_activate, /],
    [{ result: 'ok' }, /^\[scimsync\] --result ok: expected success, failure or skipped$/],
    [{ since: 'yesterday' }, /^\[scimsync\] --since yesterday: expected a duration \(30m, 2h, 7d\) or an ISO date$/],
    [{ limit: '0' }, /^\[scimsync\] --limit 0: expected a positive whole number$/],
    [{ after: '-1' }, /^\[scimsync\] --after -1: expected a non-negative whole number$/],
  ])('refuses %o in one line naming the option', (filters, message) => {
    expect(() => eventQuery(filters, now)).toThrow(message);
  });

  it('takes --json as --format ndjson, and refuses both together or an unknown format', () => {
    expect(eventListingFormat(undefined, false)).toBe('table');
    expect(eventListingFormat(undefined, true)).toBe('ndjson');
    expect(eventListingFormat('csv', false)).toBe('csv');
    expect(() => eventListingFormat('xml', false)).toThrow('--format xml: expected ndjson or csv');
    expect(() => eventListingFormat('csv', true)).toThrow('--json and --format csv: choose one (--json is --format ndjson)');
  });

  it('reads --wait as a duration, and names it when it is not one', () => {
    expect(parseWait(undefined)).toBe(0);
    expect(parseWait('5m')).toBe(300_000);
    expect(() => parseWait('soon')).toThrow('--wait soon: expected a duration such as 30s, 5m or 1h');
  });
});

describe('an admin action outside a cycle', () => {
  it('is written through the event sink: kept in the state at once, with an id of its own, and logged', () => {
    const ws = workspace('http://127.0.0.1:9/scim/v2', 't');
    const path = join(ws.dir, 'state.db');
    const store = openStateStore(path);
    const { logger, lines } = keptLogger();
    try {
      const a = recordAdminAction({ integration: 'app', logger, store }, { type: 'idm_integration_update', result: 'success', summary: 'approved', detail: { approved: true } });
      const b = recordAdminAction({ integration: 'app', logger, store }, { type: 'idm_integration_delete', result: 'success', summary: 'purged' });
      // Another reader sees both before this store closes: the action is durable when it returns.
      const reader = openStateStore(path);
      try {
        const seen = reader.queryEvents({ integration: 'app' });
        expect(seen.map((e) => [e.type, e.summary, e.detail])).toEqual([
          ['idm_integration_update', 'approved', { approved: true }],
          ['idm_integration_delete', 'purged', {}],
        ]);
        expect(seen.map((e) => e.cycleId)).toEqual([a.cycleId, b.cycleId]);
      } finally {
        reader.close();
      }
      expect(a.cycleId).toMatch(/^[0-9a-f-]{36}$/);
      expect(a.cycleId).not.toBe(b.cycleId);
      expect(lines.map((l) => JSON.parse(l) as { message: string; integration: string })).toEqual([
        expect.objectContaining({ message: 'idm_integration_update success: approved', integration: 'app' }),
        expect.objectContaining({ message: 'idm_integration_delete success: purged', integration: 'app' }),
      ]);
    } finally {
      store.close();
    }
  });
});

describe('scimsync approve, discard and status', () => {
  it('approve and discard write their audit events, and status shows the held plan and the quarantine', async () => {
    const ws = workspace('http://127.0.0.1:9/scim/v2', 't');
    ws.writeDirectory({ users: [] });
    ws.writeConfig({ integrationYaml: 'schedule: { every: 10m }' });
    const store = openStateStore(join(ws.dir, 'state.db'));
    const until = new Date(Date.now() + 3_600_000).toISOString();
    store.holdPlan('app', { reason: 'more than 1 user', managed: 4, objects: [{ kind: 'user.deactivate', sourceId: 'u1', userName: 'ada@example.com' }] });
    // A quarantine is kept for an integration the state knows (a cycle records it first).
    store.putIntegration({ name: 'app', configHash: 'c', authHash: 'a' });
    store.setQuarantine('app', { until, level: 1, reason: 'HTTP 401' });
    store.close();

    const approved = await ws.run(['approve', 'app']);
    expect(approved.code).toBe(0);
    expect(approved.out[0]).toMatch(/^\[integration app\] approved: the next cycle deprovisions up to these 1 users \(held .*: more than 1 user\)$/);
    expect(approved.out[1]).toBe('  user.deactivate  u1  ada@example.com');

    const [status] = (await ws.run(['status', '--json'])).out.map((l) => JSON.parse(l) as { held: { approvedAt: string | null }; nextCycle: string; quarantine: { until: string } });
    expect(status!.held.approvedAt).not.toBeNull();
    // Quarantined: the daemon's next cycle waits for the quarantine to end.
    expect(status!.nextCycle).toBe(until);
    const text = (await ws.run(['status'])).out;
    expect(text).toContain(`  QUARANTINED until ${until}: HTTP 401 (sync --force, or new credentials, lifts it)`);
    expect(text.some((l) => /^ {2}mass deprovision held .*: 1 users \(more than 1 user\); APPROVED /.test(l))).toBe(true);

    // Discard forgets the held plan and its approval: nothing of it is deprovisioned, and status no longer shows it.
    expect((await ws.run(['discard', 'app'])).out).toEqual([
      '[integration app] held plan of 1 deprovisions discarded (its approval withdrawn): the next cycle holds them again if the source still lacks these users',
    ]);
    expect((await ws.run(['status'])).out.some((l) => l.includes('mass deprovision held'))).toBe(false);
    const again = await ws.run(['discard', 'app']);
    expect(again.code).toBe(2);
    expect(again.err).toEqual(['[scimsync] discard app: no cycle is held']);
    const events = (await ws.run(['events', '--json'])).out.map((l) => JSON.parse(l) as { type: string; summary: string; detail: Record<string, unknown> });
    expect(events.map((e) => [e.type, e.summary, e.detail.approved])).toEqual([
      ['idm_integration_update', 'mass deprovision of 1 users approved for the next cycle (more than 1 user)', true],
      ['idm_integration_update', 'held mass deprovision of 1 users discarded (its approval withdrawn)', false],
    ]);
  });

  it('approve names the integration when nothing is held', async () => {
    const ws = workspace('http://127.0.0.1:9/scim/v2', 't');
    ws.writeDirectory({ users: [] });
    ws.writeConfig();
    const res = await ws.run(['approve', 'app']);
    expect(res.code).toBe(2);
    expect(res.err).toEqual(['[scimsync] approve app: no cycle is held for approval']);
  });
});

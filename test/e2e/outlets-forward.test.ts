/**
 * `events.forward` through `scimsync sync`: a real SCIM target (the devtarget),
 * a real state file, a local HTTP collector and a local syslog listener that
 * go down and come back while a cycle runs. Every event ends up delivered, in
 * order; the collector's own log shows no gap and at most one batch repeated,
 * and a second run resumes from the position kept in state.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import type { DevTarget } from '../support/devtarget/server.js';
import { configHead, makeDirectory, type Workspace } from '../support/harness.js';
import { useStrictTarget } from '../support/target.js';
import { deliveryReport, startHttpReceiver, startSyslogListener, waitFor } from '../events/support.js';

const TOKEN = 'outlets-forward-token';
const USERS = 300;
const BATCH = 25;

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

/** The workspace's config with `extra` at the top level; the target paced so that a cycle of USERS creates takes about three seconds. */
function writeConfig(extra: string, shutdown = ''): void {
  ws.writeConfig({
    raw: [
      ...configHead(ws, { targetUrl: target.url }),
      '      rateLimit: { requestsPerSecond: 100, maxConcurrent: 4 }',
      '      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 }',
      extra,
      shutdown,
      '',
    ].join('\n'),
  });
}

/** Every event id in the state, oldest first, and where the sink stands. */
function stateEvents(sink: string): { ids: number[]; position: number } {
  const store = SqliteStateStore.open(join(ws.dir, 'state.db'));
  try {
    return { ids: store.eventsAfter(0, 1_000_000).map((e) => e.id), position: store.sinkPositions.get(sink) };
  } finally {
    store.close();
  }
}

/** The ids received with every repeat removed, in arrival order: the collector's log as a SIEM deduplicates it. */
const firstArrivals = (ids: readonly number[]) => [...new Set(ids)];

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sync forwards its events to an HTTP collector', () => {
  it('delivers every event in order when the collector is killed and restarted in the middle of a cycle, repeating at most one batch', async () => {
    const r = await startHttpReceiver();
    cleanup.push(() => r.stop().catch(() => undefined));
    writeConfig(
      [
        'events:',
        '  forward:',
        `    - { type: http, name: siem, url: "${r.url}", batchSize: ${BATCH}, flushMs: 0, timeoutMs: 2000, retry: { baseDelayMs: 20, maxDelayMs: 200 } }`,
      ].join('\n'),
    );
    ws.writeDirectory(makeDirectory(USERS));

    const sync = ws.run(['sync']);
    // Killed once two batches are in, while the cycle is still creating users.
    await waitFor(() => r.ids().length >= 2 * BATCH, 'the first batches', 20_000);
    const createdAtKill = target.users.size;
    await r.stop();
    const receivedWhileUp = r.ids().length;
    // Down while the cycle writes at least two more batches' worth of events.
    await waitFor(() => target.users.size >= createdAtKill + 2 * BATCH, 'more users created while the collector is down', 20_000);
    const createdAtRestart = target.users.size;
    expect(r.ids().length).toBe(receivedWhileUp);
    await r.restart();
    const result = await sync;

    expect(result.code).toBe(0);
    expect(createdAtKill).toBeLessThan(USERS);
    expect(createdAtRestart).toBeLessThan(USERS);
    expect(target.users.size).toBe(USERS);
    const { ids, position } = stateEvents('siem');
    expect(ids.length).toBeGreaterThanOrEqual(USERS);
    // Every event, in order, no gap; at most one batch sent twice (the one whose answer the kill cut off).
    const report = deliveryReport(r.ids(), ids);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toBe(0);
    expect(report.repeated).toBeLessThanOrEqual(BATCH);
    expect(firstArrivals(r.ids())).toEqual(ids);
    // Each request carries the events of one batch, in id order, in the event log's field names.
    for (const q of r.requests) expect(q.ids).toEqual([...q.ids].sort((a, b) => a - b));
    const first = (JSON.parse(r.requests[0]!.body) as { events: Record<string, unknown>[] }).events[0]!;
    expect(first).toMatchObject({ integration: 'app', result: expect.any(String), type: expect.stringMatching(/^(idm_integration|user)_/) });
    expect(position).toBe(ids.at(-1));

    // A second run (a restart of scimsync) resumes after the position kept in state: nothing sent again.
    const before = r.requests.length;
    const d = makeDirectory(USERS);
    for (const u of d.users.slice(0, 10)) u.title = 'Director';
    ws.writeDirectory(d);
    expect((await ws.run(['sync'])).code).toBe(0);
    const after = stateEvents('siem');
    const fresh = after.ids.filter((id) => id > ids.at(-1)!);
    expect(fresh.length).toBeGreaterThanOrEqual(10);
    expect(r.requests.slice(before).flatMap((q) => q.ids)).toEqual(fresh);
    expect(after.position).toBe(after.ids.at(-1));
  }, 60_000);

  it('sends nothing on a dry run, and a collector that stays down leaves the position where it was for the next run', async () => {
    const r = await startHttpReceiver();
    cleanup.push(() => r.stop().catch(() => undefined));
    writeConfig(
      ['events:', '  forward:', `    - { type: http, name: siem, url: "${r.url}", flushMs: 0, timeoutMs: 500, retry: { baseDelayMs: 20, maxDelayMs: 100 } }`].join('\n'),
      // The end of a sync waits shutdown.graceMs for the sinks.
      'shutdown: { graceMs: 1500 }',
    );
    ws.writeDirectory(makeDirectory(20));
    expect((await ws.run(['sync', '--dry-run'])).code).toBe(0);
    expect(r.requests).toEqual([]);

    r.status = 503;
    const started = Date.now();
    const down = await ws.run(['sync']);
    expect(down.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(target.users.size).toBe(20);
    // The run ends in time (the drain is bounded) and says where the sink stands, without its URL's path.
    expect(down.err.join('\n')).toMatch(/\[forward siem\] not caught up before the deadline: events after #0 are sent at the next run \(last error: .*HTTP 503/);
    expect(down.err.join('\n')).not.toContain('/ingest');
    expect(stateEvents('siem').position).toBe(0);

    r.status = 200;
    expect((await ws.run(['sync'])).code).toBe(0);
    const { ids, position } = stateEvents('siem');
    expect(firstArrivals(r.ids())).toEqual(ids);
    expect(position).toBe(ids.at(-1));
  });
});

describe('sync forwards its events to syslog over TCP', () => {
  it('delivers every event in order, one RFC 5424 message each, when the listener restarts in the middle of a cycle', async () => {
    const l = await startSyslogListener();
    cleanup.push(() => l.stop());
    writeConfig(
      [
        'events:',
        '  forward:',
        `    - { type: syslog, name: siem-syslog, url: "${l.url}", batchSize: ${BATCH}, flushMs: 0, timeoutMs: 2000, retry: { baseDelayMs: 20, maxDelayMs: 200 } }`,
      ].join('\n'),
    );
    ws.writeDirectory(makeDirectory(USERS));

    const sync = ws.run(['sync']);
    await waitFor(() => l.messages.length >= 2 * BATCH, 'the first messages', 20_000);
    const createdAtStop = target.users.size;
    await l.stop('end');
    await waitFor(() => target.users.size >= createdAtStop + 2 * BATCH, 'more users created while the listener is down', 20_000);
    const createdAtRestart = target.users.size;
    await pause(50);
    await l.restart();
    const result = await sync;

    expect(result.code).toBe(0);
    expect(createdAtStop).toBeLessThan(USERS);
    expect(createdAtRestart).toBeLessThan(USERS);
    const { ids, position } = stateEvents('siem-syslog');
    const report = deliveryReport(l.ids(), ids);
    expect(report.missing).toEqual([]);
    expect(report.outOfOrder).toBe(0);
    expect(firstArrivals(l.ids())).toEqual(ids);
    expect(l.messages[0]).toMatch(/^<1[0-9][0-9]>1 \S+ \S+ scimsync \d+ (idm_integration|user)_\w+ \[scimsync@32473 id="\d+" integration="app"/);
    expect(position).toBe(ids.at(-1));
  }, 60_000);
});

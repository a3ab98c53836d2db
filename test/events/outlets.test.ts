/**
 * The engine's outlets (src/engine/outlets.ts) as the daemon runs them, on a
 * real state file: started once, woken after events are written, stopped on
 * shutdown; and retention in bounded batches that let other work run between them.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { openOutlets } from '../../src/engine/outlets.js';
import { pruneEventsGently } from '../../src/engine/retention.js';
import { quarantineEntered } from '../../src/events/notify/rules.js';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import type { StateStore } from '../../state/interface.js';
import { memoryLogger, startHttpReceiver, tempDir, waitFor, type HttpReceiver } from './support.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function store(): StateStore {
  const s = SqliteStateStore.open(join(tempDir(), 'state.db'));
  cleanup.push(() => s.close());
  return s;
}

async function receiver(): Promise<HttpReceiver> {
  const r = await startHttpReceiver();
  cleanup.push(() => r.stop().catch(() => undefined));
  return r;
}

const config = (extra: string) =>
  parseConfig(
    `integrations:
  - name: app
    source: { type: file, path: ./directory.json }
    target: { url: https://scim.example.com/scim/v2, auth: { type: bearer, token: scim-token } }
${extra}
`,
    'scimsync.yaml',
    {},
  );

function write(s: StateStore, n: number, daysAgo = 0): void {
  const time = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  for (let i = 0; i < n; i++) {
    s.insertEvent({ time, integration: 'app', cycleId: 'c1', type: 'user_update_provision', result: 'success', sourceId: `u${i}`, summary: `updated u${i}`, detail: { attempts: 1 } });
  }
}

describe('the outlets of a long-running process', () => {
  it('forwards what each wake finds, tells a notification once, and resumes from the stored position after a stop', async () => {
    const siem = await receiver();
    const hook = await receiver();
    const s = store();
    const { logger } = memoryLogger();
    const c = config(`events:
  forward:
    - { type: http, name: siem, url: "${siem.url}", flushMs: 0, retry: { baseDelayMs: 20, maxDelayMs: 100 } }
notify:
  - { on: [quarantine], webhook: "${hook.url}" }`);
    const outlets = openOutlets({ config: c, store: s, logger, pollMs: 60_000 });
    cleanup.push(() => outlets.stop({ graceMs: 100 }));
    expect(outlets.forwarding).toBe(true);
    outlets.start();

    // The idle poll is a minute away: only the wake brings these.
    write(s, 30);
    outlets.wake();
    await waitFor(() => siem.ids().length === 30, 'the first events');
    write(s, 5);
    for (let i = 0; i < 5; i++) outlets.onEvent();
    await waitFor(() => siem.ids().length === 35, 'the next events');
    expect(siem.ids()).toEqual(s.eventsAfter(0, 100).map((e) => e.id));

    const n = quarantineEntered({ integration: 'app', until: '2030-01-01T00:00:00.000Z', reason: 'HTTP 401' });
    outlets.notifier!.notify(n);
    outlets.notifier!.notify(n);
    await outlets.stop({ graceMs: 2000 });
    expect(hook.requests).toHaveLength(1);
    expect(s.sinkPositions.get('siem')).toBe(siem.ids().at(-1));

    // A new process on the same state: what was sent is not sent again, what was told is not told again.
    write(s, 3);
    const again = openOutlets({ config: c, store: s, logger, pollMs: 60_000 });
    again.start();
    again.notifier!.notify(n);
    const drained = await again.drain({ timeoutMs: 5000 });
    expect(drained).toEqual({ complete: true, behind: [], notificationsCutOff: 0 });
    expect(siem.ids()).toEqual(s.eventsAfter(0, 100).map((e) => e.id));
    expect(hook.requests).toHaveLength(1);
  });

  it('has nothing to start, wake or drain without sinks or rules', async () => {
    const outlets = openOutlets({ config: config(''), store: store(), logger: memoryLogger().logger });
    expect(outlets.forwarding).toBe(false);
    expect(outlets.notifier).toBeUndefined();
    outlets.start();
    outlets.wake();
    expect(await outlets.drain({ timeoutMs: 100 })).toEqual({ complete: true, behind: [], notificationsCutOff: 0 });
  });
});

describe('event retention', () => {
  it('prunes past retainDays and maxRows in batches, letting other work run between them', async () => {
    const s = store();
    write(s, 300, 100);
    write(s, 1200);
    s.flush();
    let ticks = 0;
    let spinning = true;
    const spin = () => {
      ticks++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const pruned = await pruneEventsGently({ store: s, events: { retainDays: 90, maxRows: 1000 }, batch: 50 });
    spinning = false;
    expect(pruned).toBe(500);
    const left = s.eventsAfter(0, 10_000);
    expect(left).toHaveLength(1000);
    expect(left[0]!.id).toBe(s.lastEventId() - 999);
    // Ten batches of 50: the loop ran between them.
    expect(ticks).toBeGreaterThanOrEqual(9);
  });

  it('stops between batches when its signal aborts', async () => {
    const s = store();
    write(s, 400, 100);
    s.flush();
    const stop = new AbortController();
    setImmediate(() => stop.abort());
    const pruned = await pruneEventsGently({ store: s, events: { retainDays: 90 }, batch: 50, signal: stop.signal });
    expect(pruned).toBeGreaterThan(0);
    expect(pruned).toBeLessThan(400);
    expect(await pruneEventsGently({ store: s, events: { retainDays: 90 }, batch: 50 })).toBe(400 - pruned);
  });
});

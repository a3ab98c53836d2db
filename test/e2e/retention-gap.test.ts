/**
 * Retention against a SIEM that is down, through the built CLI: a sync of more
 * users than `events.maxRows` while the collector is down prunes events it
 * never acknowledged. The prune says so, in a warning line and in an event that
 * names the gap, which the collector receives once it is back.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../state/sqlite/index.js';
import { useTargetPerTest } from '../support/target.js';
import { requireBuild, runBuiltCli } from '../support/cli.js';
import { configHead, makeDirectory } from '../support/harness.js';
import { startHttpReceiver, type HttpReceiver } from '../events/support.js';

const TOKEN = 'retention-gap-token';
const USERS = 1100;
const MAX_ROWS = 1000;

const targetPerTest = useTargetPerTest(TOKEN);
let receiver: HttpReceiver | undefined;

requireBuild();
afterEach(async () => {
  await receiver?.stop().catch(() => undefined);
  receiver = undefined;
});

interface GapEvent {
  id: number;
  type: string;
  result: string;
  integration: string;
  summary: string;
  detail: { forward?: { sink: string; gap: { from: number; to: number } } };
}

describe('retention with a forward sink that is down', () => {
  it('names the events it pruned before the sink acknowledged them, in a warning and in an event the sink receives when it is back', async () => {
    const { t: target, ws } = await targetPerTest();
    receiver = await startHttpReceiver();
    await receiver.stop();
    ws.writeDirectory(makeDirectory(USERS));
    ws.writeConfig({
      raw: [
        ...configHead(ws, { targetUrl: target.url, log: 'warn' }),
        '      rateLimit: { requestsPerSecond: 2000, maxConcurrent: 8 }',
        'events:',
        `  maxRows: ${MAX_ROWS}`,
        '  forward:',
        `    - { type: http, name: siem, url: "${receiver.url}", timeoutMs: 1000, retry: { baseDelayMs: 100, maxDelayMs: 500 } }`,
        'shutdown: { graceMs: 1000 }',
        '',
      ].join('\n'),
    });

    const first = await runBuiltCli(ws, TOKEN);
    expect(first.code).toBe(0);
    expect(receiver.requests).toEqual([]);
    const store = SqliteStateStore.open(join(ws.dir, 'state.db'));
    let kept: number[];
    let gapEvent: GapEvent | undefined;
    try {
      kept = store.eventsAfter(0, 1_000_000).map((e) => e.id);
      gapEvent = store.eventsAfter(0, 1_000_000).find((e) => e.detail.forward !== undefined) as GapEvent | undefined;
      expect(store.sinkPositions.get('siem')).toBe(0);
    } finally {
      store.close();
    }
    // The oldest events went (maxRows), none of them acknowledged: the gap is named, from the first event.
    const firstKept = kept[0]!;
    expect(firstKept).toBeGreaterThan(1);
    const gap = `events #1–#${firstKept - 1} were pruned (older than 90 days or beyond the newest ${MAX_ROWS}) before forward sink siem acknowledged them: it will never receive them`;
    expect(first.stderr).toContain(`warn  [scimsync] [forward siem] ${gap}`);
    expect(gapEvent).toMatchObject({ type: 'idm_integration_update', result: 'failure', integration: 'app', summary: gap, detail: { forward: { sink: 'siem', gap: { from: 1, to: firstKept - 1 } } } });

    // The collector comes back: the next run sends what is left, the gap event among it.
    await receiver.restart();
    const second = await runBuiltCli(ws, TOKEN);
    expect(second.code).toBe(0);
    const received = receiver.requests.flatMap((r) => (JSON.parse(r.body) as { events: GapEvent[] }).events);
    expect(received[0]!.id).toBe(firstKept);
    expect(received.find((e) => e.id === gapEvent!.id)).toMatchObject({ summary: gap, detail: { forward: { gap: { from: 1, to: firstKept - 1 } } } });
    // Nothing pruned past the sink this time: no second gap.
    expect(second.stderr).not.toContain('before forward sink siem acknowledged them');
  }, 120_000);
});

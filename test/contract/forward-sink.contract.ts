/**
 * The contract every forward sink keeps (HTTP, syslog over TCP, syslog over TLS), in the
 * manner of hono's shared router suite: one runner per sink kind starts a real receiver on
 * 127.0.0.1, says how that receiver fails and refuses, and calls testForwardSink. The sink is
 * built from an `events.forward` entry as a user writes it, and driven by the Forwarder
 * over a real SQLite event log, as sync and the daemon drive it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardError, type Forwarder } from '../../src/events/forward/forwarder.js';
import { forwardSchema, forwarderFromConfig, sinkFromConfig } from '../../src/events/forward/sinks.js';
import { deliveryReport, memoryLogger, openEventLog, tempDir, waitFor, type EventLog, type MemoryLogger } from '../events/support.js';

/** A receiver of events on 127.0.0.1, as the runner of one sink kind starts it. */
export interface ForwardReceiver {
  /** One `events.forward` entry aimed at this receiver, as a user writes it (no name, no delivery settings). */
  config: Record<string, unknown>;
  /** Ids of the events it received, in arrival order, repeats included. */
  ids(): number[];
  /** Stops listening and cuts its connections, as a crash would. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Keeps accepting connections but stops acknowledging (reading, answering): it hangs. */
  hold(): void;
  /** Acknowledges again. */
  release(): void;
  close(): Promise<void>;
}

/** A way the receiver fails for a while; the sink retries until it is back. */
export interface Outage<R extends ForwardReceiver> {
  begin(r: R): Promise<void>;
  end(r: R): Promise<void>;
}

/** A receiver that refuses this sink for good (an HTTP 4xx, a certificate no CA vouches for), and the error it must give. */
export interface Refusal {
  start(): Promise<ForwardReceiver>;
  /** What the error says, so the admin knows what to fix. */
  error: RegExp;
}

export interface ForwardSinkRunner<R extends ForwardReceiver> {
  /** A receiver that accepts every batch. */
  start(): Promise<R>;
  /** The credentials its config holds (a bearer token, an HMAC key, a token in the URL): none may show in an error or a log line. */
  secrets: readonly string[];
  /** Each way its receiver can be away or failing, by what a user would see. */
  outages: Record<string, Outage<R>>;
  /** Each way its receiver can refuse the sink; empty where the protocol has none (syslog over TCP). */
  refusals: Record<string, Refusal>;
}

const SINK = 'contract';
const BATCH = 10;

/** Every text a user could read about the sink: its log lines, its status, the errors its sends threw. */
function expectNoSecret(texts: readonly string[], secrets: readonly string[]): void {
  const all = texts.join('\n');
  for (const secret of secrets) expect(all, 'a secret shown to the user').not.toContain(secret);
}

export function testForwardSink<R extends ForwardReceiver>(kind: string, runner: ForwardSinkRunner<R>): void {
  describe(`forward sink contract: ${kind}`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const c of cleanup.splice(0).reverse()) await c();
    });

    async function receiver<T extends ForwardReceiver>(start: () => Promise<T>): Promise<T> {
      const r = await start();
      cleanup.push(() => r.close());
      return r;
    }

    function eventLog(): EventLog {
      const log = openEventLog(join(tempDir(), 'state.db'));
      cleanup.push(() => log.close());
      return log;
    }

    /** The entry as the config loads it, under the name its position is kept by. */
    function entry(r: ForwardReceiver, settings: Record<string, unknown> = {}) {
      const [parsed] = forwardSchema.parse([{ ...r.config, name: SINK, batchSize: BATCH, flushMs: 0, timeoutMs: 10_000, retry: { baseDelayMs: 20, maxDelayMs: 250 }, ...settings }]);
      return parsed!;
    }

    interface Run {
      forwarder: Forwarder;
      log: MemoryLogger;
      /** Every position an acknowledgement moved to. */
      acknowledged: number[];
    }

    function forwarder(r: ForwardReceiver, events: EventLog, settings: Record<string, unknown> = {}): Run {
      const log = memoryLogger();
      const acknowledged: number[] = [];
      const f = forwarderFromConfig({
        config: [entry(r, settings)],
        source: events,
        positions: events,
        logger: log.logger,
        pollMs: 20,
        onDelivered: (d) => acknowledged.push(d.position),
      })!;
      cleanup.push(() => f.stop({ graceMs: 500 }));
      return { forwarder: f, log, acknowledged };
    }

    const status = (run: Run) => run.forwarder.status()[0]!;

    /** What one send of the sink itself throws, with the receiver as it is now. */
    async function thrownBySend(r: ForwardReceiver, events: EventLog): Promise<unknown> {
      const sink = sinkFromConfig(entry(r), 'events.forward[0]');
      try {
        await sink.send(events.eventsAfter(0, BATCH), AbortSignal.timeout(20_000));
        return undefined;
      } catch (err) {
        return err;
      } finally {
        await sink.close();
      }
    }

    it('delivers every event once and in order, and moves its position to the last one', async () => {
      const r = await receiver(() => runner.start());
      const events = eventLog();
      const ids = events.append(45);
      const run = forwarder(r, events);
      expect((await run.forwarder.drain({ timeoutMs: 30_000 })).complete).toBe(true);
      await waitFor(() => r.ids().length >= ids.length, 'every event at the receiver');
      expect(r.ids()).toEqual(ids);
      expect(events.get(SINK)).toBe(ids.at(-1));
      expect(run.acknowledged).toEqual([10, 20, 30, 40, 45].map((n) => ids[n - 1]));
    });

    it('moves its position only once the receiver took the events: not while it is down', async () => {
      const r = await receiver(() => runner.start());
      const events = eventLog();
      const first = events.append(12);
      const run = forwarder(r, events);
      expect((await run.forwarder.drain({ timeoutMs: 30_000 })).complete).toBe(true);
      // Read before the crash: syslog's limit is that bytes a receiver never read die with it (syslog.ts).
      await waitFor(() => r.ids().length >= first.length, 'the first events at the receiver');
      await r.down();
      const later = events.append(12);
      run.forwarder.start();
      run.forwarder.wake();
      await waitFor(() => status(run).failures >= 2, 'two failed sends');
      expect(events.get(SINK)).toBe(first.at(-1));
      expect(status(run).position).toBe(first.at(-1));
      await r.up();
      expect((await run.forwarder.drain({ timeoutMs: 30_000 })).complete).toBe(true);
      expect(events.get(SINK)).toBe(later.at(-1));
      // Every position acknowledged is one the receiver holds every event up to.
      for (const position of run.acknowledged) {
        await waitFor(() => [...first, ...later].filter((id) => id <= position).every((id) => r.ids().includes(id)), `every event up to #${position} at the receiver`);
      }
    });

    for (const [what, outage] of Object.entries(runner.outages)) {
      it(`retries while the receiver ${what}, then delivers: nothing lost or skipped, at most one batch repeated`, async () => {
        const r = await receiver(() => runner.start());
        const events = eventLog();
        const run = forwarder(r, events);
        run.forwarder.start();
        const ids = events.append(25);
        run.forwarder.wake();
        await waitFor(() => r.ids().length >= 25, 'the first events');
        await waitFor(() => events.get(SINK) === ids.at(-1), 'the first acknowledgement');

        await outage.begin(r);
        for (let wave = 0; wave < 3; wave++) {
          ids.push(...events.append(7));
          run.forwarder.wake();
        }
        await waitFor(() => status(run).failures >= 2, 'two failed sends');
        const held = events.get(SINK);
        expect(held, 'the position moved past events the receiver did not take').toBe(ids[24]);
        expect(status(run).lastError).toBeDefined();
        await outage.end(r);

        ids.push(...events.append(13));
        expect((await run.forwarder.drain({ timeoutMs: 30_000 })).complete).toBe(true);
        await waitFor(() => new Set(r.ids()).size >= ids.length, 'every event at the receiver');
        const delivered = deliveryReport(r.ids(), ids);
        expect(delivered.missing).toEqual([]);
        expect(delivered.outOfOrder).toBe(0);
        expect(delivered.repeated).toBeLessThanOrEqual(BATCH);
        expect(events.get(SINK)).toBe(ids.at(-1));
        expect(status(run).failures).toBe(0);
        expectNoSecret([...run.log.lines, JSON.stringify(run.forwarder.status())], runner.secrets);
      });
    }

    for (const [what, refusal] of Object.entries(runner.refusals)) {
      it(`gives a clear error, moves nothing and shows no secret when the receiver ${what}`, async () => {
        const r = await receiver(() => refusal.start());
        const events = eventLog();
        events.append(5);
        const thrown = await thrownBySend(r, events);
        expect(thrown).toBeInstanceOf(ForwardError);
        const message = (thrown as ForwardError).message;
        expect(message).toMatch(new RegExp(`^\\[scimsync\\] \\[forward ${SINK}\\] `));
        expect(message).toMatch(refusal.error);
        expect(message).not.toContain('\n');

        const run = forwarder(r, events);
        run.forwarder.start();
        await waitFor(() => status(run).failures >= 2, 'two refused sends');
        expect(status(run).lastError).toMatch(refusal.error);
        expect(events.get(SINK)).toBe(0);
        expect(r.ids()).toEqual([]);
        const warned = run.log.lines.filter((l) => l.includes('"warn"'));
        expect(warned.length).toBeGreaterThan(0);
        expect(warned[0]).toMatch(refusal.error);
        expect(run.log.lines.join('\n'), 'a stack trace logged').not.toMatch(/"stack"|\s{4}at /);
        expectNoSecret([message, (thrown as Error).stack ?? '', ...run.log.lines, JSON.stringify(run.forwarder.status())], runner.secrets);
      });
    }

    it.skipIf(runner.secrets.length === 0)('shows none of its credentials in the error a send throws, its log lines or its status when the receiver is down', async () => {
      const r = await receiver(() => runner.start());
      const events = eventLog();
      events.append(5);
      await r.down();
      const thrown = await thrownBySend(r, events);
      expect(thrown).toBeInstanceOf(ForwardError);
      const run = forwarder(r, events);
      run.forwarder.start();
      await waitFor(() => status(run).failures >= 2, 'two failed sends');
      expectNoSecret([(thrown as Error).message, (thrown as Error).stack ?? '', String((thrown as Error).cause ?? ''), ...run.log.lines, JSON.stringify(run.forwarder.status())], runner.secrets);
    });

    it('bounds a receiver that hangs: the drain ends at its deadline, the position stays, and nothing is lost once it answers again', async () => {
      const r = await receiver(() => runner.start());
      const events = eventLog();
      // About 8 MB in one batch: more than a socket's buffers take from a receiver that reads nothing.
      const ids = events.append(1000, (i) => `user u${i} created ${'x'.repeat(8000)}`);
      r.hold();
      const run = forwarder(r, events, { batchSize: 1000, timeoutMs: 1500, retry: { baseDelayMs: 1000, maxDelayMs: 2000 } });
      const started = Date.now();
      const report = await run.forwarder.drain({ timeoutMs: 6000 });
      // Generous: the bound under test is 6 s; a loaded machine may add a few more, never minutes.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(report.complete).toBe(false);
      expect(events.get(SINK)).toBe(0);
      expect(status(run).lastError).toMatch(/no acknowledgement within 1500 ms/);

      r.release();
      expect((await run.forwarder.drain({ timeoutMs: 60_000 })).complete).toBe(true);
      await waitFor(() => new Set(r.ids()).size >= ids.length, 'every event at the receiver', 30_000);
      // Each send that timed out may have reached the receiver, on connections it reads in any order once it
      // answers again: repeats and that order are the receiver's; a gap would be the sink's.
      expect(deliveryReport(r.ids(), ids).missing).toEqual([]);
      expect(events.get(SINK)).toBe(ids.at(-1));
    });
  });
}

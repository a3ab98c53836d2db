/**
 * The contract every notification destination keeps (a JSON webhook, Slack, Teams, SMTP
 * email), in the manner of hono's shared router suite: one runner per destination starts a
 * real receiver on 127.0.0.1, says how that receiver fails and how its reader must see a
 * source's text, and calls testNotifyDestination. The destination is built from a `notify:`
 * rule as a user writes it, and driven by the Notifier over a real SQLite state file.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { notifySchema } from '../../src/events/notify/config.js';
import { Notifier, destinationsFromConfig } from '../../src/events/notify/notifier.js';
import { cycleFailed, quarantineEntered } from '../../src/events/notify/rules.js';
import { memoryLogger, openEventLog, tempDir, waitFor, type MemoryLogger } from '../events/support.js';

/** A receiver of notifications on 127.0.0.1, as the runner of one destination starts it. */
export interface NotifyReceiver {
  /** The keys of a `notify:` rule that aim it here, as a user writes them: `{ webhook, format }` or `{ email }`. */
  destination: Record<string, unknown>;
  /** Each message received, in order, as its reader sees it (the chat text, the JSON body, the mail's headers and decoded body). */
  messages(): string[];
  close(): Promise<void>;
}

/** A way the receiver fails; the notifier tries a bounded number of times, then reports `error`. */
export interface Failure<R extends NotifyReceiver> {
  begin(r: R): Promise<void>;
  end(r: R): Promise<void>;
  /** What the report says, so the admin knows what to fix. */
  error: RegExp;
  /** Attempts that reached the receiver, where it can count them. */
  attempts?(r: R): number;
}

/** A receiver that takes connections and never answers. */
export interface Hanging {
  destination: Record<string, unknown>;
  /** Connections open to it now. */
  open(): number;
  close(): Promise<void>;
}

export interface NotifyDestinationRunner<R extends NotifyReceiver> {
  start(): Promise<R>;
  /** The credentials of its destination (the webhook URL's token, the SMTP password): none may show in a report or a log line. */
  secrets: readonly string[];
  failures: Record<string, Failure<R>>;
  hanging(): Promise<Hanging>;
  /** How its reader must see SOURCE_TEXT: what it shows as typed, and what would be markup that must not reach it. */
  literal: { shows: readonly string[]; never: readonly (string | RegExp)[] };
}

/** A target's error text with every kind of markup a destination reads, and a line break that tries to start a mail header. */
export const SOURCE_TEXT = '<!channel> <https://evil.example/login|Reset your password> [Reset](https://evil.example/login) <b>urgent</b> & Co\r\nBcc: attacker@evil.example';

const ATTEMPTS = 3;
const time = '2025-03-01T10:00:00.000Z';
const INTEGRATION = 'payroll-app';
const entered = () => quarantineEntered({ integration: INTEGRATION, time, until: '2025-03-01T11:00:00.000Z', reason: 'HTTP 401 from the target' });

function expectNoSecret(texts: readonly string[], secrets: readonly string[]): void {
  const all = texts.join('\n');
  for (const secret of secrets) expect(all, 'a secret shown to the user').not.toContain(secret);
}

export function testNotifyDestination<R extends NotifyReceiver>(kind: string, runner: NotifyDestinationRunner<R>): void {
  describe(`notify destination contract: ${kind}`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const c of cleanup.splice(0).reverse()) await c();
    });

    async function receiver(): Promise<R> {
      const r = await runner.start();
      cleanup.push(() => r.close());
      return r;
    }

    /** A Notifier of one rule aimed at `destination`, over a state file of its own. */
    function notifier(destination: Record<string, unknown>, rule: Record<string, unknown> = {}): { notifier: Notifier; log: MemoryLogger; label: string } {
      const memory = openEventLog(join(tempDir(), 'state.db'));
      cleanup.push(() => memory.close());
      const log = memoryLogger();
      const destinations = destinationsFromConfig(notifySchema.parse([{ ...destination, timeoutMs: 10_000, ...rule }]));
      const n = new Notifier({ destinations, memory, logger: log.logger, attempts: ATTEMPTS, retryDelayMs: 50 });
      cleanup.push(async () => void (await n.closeWithin(2000)));
      return { notifier: n, log, label: destinations[0]!.label };
    }

    it('sends one message per notification, naming the integration and what happened', async () => {
      const r = await receiver();
      const { notifier: n, label } = notifier(r.destination);
      expect((await n.notify(entered())).sent).toEqual([label]);
      expect((await n.notify(entered())).suppressed).toEqual([label]);
      expect((await n.notify(cycleFailed({ integration: INTEGRATION, time, error: 'the source file is empty' }))).sent).toEqual([label]);
      await waitFor(() => r.messages().length >= 2, 'two messages');
      const [quarantine, failed, ...more] = r.messages();
      expect(more).toEqual([]);
      expect(quarantine).toContain(INTEGRATION);
      expect(quarantine).toContain('quarantined');
      expect(quarantine).toContain('HTTP 401 from the target');
      expect(failed).toContain(INTEGRATION);
      expect(failed).toContain('cycle failed');
      expect(failed).toContain('the source file is empty');
    });

    it("shows a source's or a target's text as text: no mention of everyone, no disguised link, no markup, no new line", async () => {
      const r = await receiver();
      const { notifier: n } = notifier(r.destination);
      await n.notify(cycleFailed({ integration: INTEGRATION, time, error: SOURCE_TEXT }));
      await waitFor(() => r.messages().length >= 1, 'the message');
      const [message, ...more] = r.messages();
      expect(more).toEqual([]);
      for (const text of runner.literal.shows) expect(message, 'what the reader must see as typed').toContain(text);
      for (const markup of runner.literal.never) {
        if (typeof markup === 'string') expect(message, 'markup that reached the reader').not.toContain(markup);
        else expect(message, 'markup that reached the reader').not.toMatch(markup);
      }
      expect(message).not.toMatch(/[\r\n]Bcc:/);
    });

    for (const [what, failure] of Object.entries(runner.failures)) {
      it(`tries a destination that ${what} at most ${ATTEMPTS} times, reports it with a clear error and no secret, and sends it the next time`, async () => {
        const r = await receiver();
        const { notifier: n, log, label } = notifier(r.destination);
        await failure.begin(r);
        const started = Date.now();
        const report = await n.notify(entered());
        // Generous: three attempts 50 and 100 ms apart; a loaded machine adds seconds, never minutes.
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(report.sent).toEqual([]);
        expect(report.failed).toHaveLength(1);
        expect(report.failed[0]!.destination).toBe(label);
        expect(report.failed[0]!.error).toMatch(failure.error);
        expect(report.failed[0]!.error).toMatch(new RegExp(`after ${ATTEMPTS} attempts`));
        expect(report.failed[0]!.error).not.toContain('\n');
        if (failure.attempts) expect(failure.attempts(r)).toBe(ATTEMPTS);
        const warned = log.lines.filter((l) => l.includes('"warn"'));
        expect(warned).toHaveLength(1);
        expect(warned[0]).toMatch(failure.error);
        expect(log.lines.join('\n'), 'a stack trace logged').not.toMatch(/"stack"|\s{4}at /);
        expectNoSecret([JSON.stringify(report), ...log.lines], runner.secrets);
        expect(r.messages()).toEqual([]);

        await failure.end(r);
        expect((await n.notify(entered())).sent).toEqual([label]);
        await waitFor(() => r.messages().length >= 1, 'the message once the destination is back');
        expect(r.messages()).toHaveLength(1);
      });
    }

    it('bounds a destination that never answers, and leaves no connection open to it once closed', async () => {
      const hang = await runner.hanging();
      cleanup.push(() => hang.close());
      const { notifier: n, label } = notifier(hang.destination, { timeoutMs: 1000 });
      const started = Date.now();
      const report = await n.notify(entered());
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(report.failed).toEqual([{ destination: label, error: `no answer within 1000 ms (after ${ATTEMPTS} attempts)` }]);
      await n.close();
      // An open connection would keep `scimsync sync` from exiting.
      await waitFor(() => hang.open() === 0, 'every connection to the destination closed', 15_000);
    });
  });
}

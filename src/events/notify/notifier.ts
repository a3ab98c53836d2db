/**
 * Sends notifications to the destinations of the `notify:` rules. Each
 * destination remembers what it was last told about each integration and
 * topic (rules.ts `decide`), so a flapping target gives one message per change
 * of state, not one per cycle, across restarts when the memory is the state's.
 * Sending never throws into the cycle: a failure is logged and reported.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MissingPackageError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { redactSecrets } from '../../redact.js';
import type { NotifyConfig, NotifyRuleConfig } from './config.js';
import type { Destination } from './destination.js';
import { destinationPlugins } from './destinations.js';
import { untilAborted } from '../forward/forwarder.js';
import { CLEARED, decide, memoryKey, topicOf, type Notification, type NotifyMemory, type NotifyOn } from './rules.js';

/** One place a rule sends to: what its plug-in built (destination.ts), with the rule's settings. */
export interface NotifyDestination extends Destination {
  on: readonly NotifyOn[];
  repeatAfterMs: number;
  timeoutMs: number;
}

export interface NotifyReport {
  /** Labels of the destinations told. */
  sent: string[];
  /** Labels of the destinations that had already been told. */
  suppressed: string[];
  failed: { destination: string; error: string }[];
}

export interface NotifierOptions {
  destinations: readonly NotifyDestination[];
  memory: NotifyMemory;
  logger?: Logger;
  /** @default () => Date.now() */
  now?: () => number;
  /** Attempts per message, the first included. @default 3 */
  attempts?: number;
  /** The first pause between attempts, doubled each time. @default 1000 */
  retryDelayMs?: number;
}

/** The destinations of `notify:`. A CA file that cannot be read is a ConfigError naming its key. */
export function destinationsFromConfig(config: NotifyConfig): NotifyDestination[] {
  return config.flatMap((rule, i) => ruleDestinations(rule, `notify[${i}]`));
}

function ruleDestinations(rule: NotifyRuleConfig, key: string): NotifyDestination[] {
  const common = { on: rule.on, repeatAfterMs: rule.repeatAfter, timeoutMs: rule.timeoutMs };
  return destinationPlugins.flatMap((plugin) => {
    const d = plugin.create(rule, key);
    return d ? [{ ...common, ...d }] : [];
  });
}

export class Notifier {
  private readonly now: () => number;
  private readonly pending = new Set<Promise<NotifyReport>>();
  /** One decision at a time per memory key: two calls racing must not both find the news unsent. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Aborted by a close that stopped waiting: sends under way are cut off and not retried. */
  private readonly closing = new AbortController();

  constructor(private readonly options: NotifierOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  /** Tells every destination whose rule is `on` this topic and that has not been told already. Never rejects. */
  notify(n: Notification): Promise<NotifyReport> {
    const work = this.deliver(n);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** The condition ended (a cycle succeeded, a hold was approved): its next occurrence is told at once, window or not. */
  clear(integration: string, topic: Exclude<NotifyOn, 'quarantine'>): void {
    for (const d of this.options.destinations) {
      if (!d.on.includes(topic)) continue;
      const key = memoryKey(d.id, integration, topic);
      try {
        if (this.options.memory.last(key) !== undefined) this.options.memory.remember(key, CLEARED);
      } catch (err) {
        this.options.logger?.warn(`notifications: could not record that ${topic} ended: ${errorMessage(err)}`, { integration });
      }
    }
  }

  /** Waits for the messages under way (at the end of a command), then releases connections. */
  async close(): Promise<void> {
    await this.closeWithin(undefined);
  }

  /**
   * As `close`, waiting at most `timeoutMs` (none: as long as they take): a message
   * still under way then is cut off, not remembered, and told again the next time
   * its condition is seen. Says how many were cut off.
   */
  async closeWithin(timeoutMs: number | undefined): Promise<{ cutOff: number }> {
    const all = Promise.all([...this.pending]);
    if (timeoutMs === undefined) await all;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))))]);
      clearTimeout(timer);
    }
    const cutOff = this.pending.size;
    this.closing.abort(new Error('scimsync is stopping'));
    for (const d of this.options.destinations) d.close();
    return { cutOff };
  }

  /** Messages being sent now. */
  get pendingCount(): number {
    return this.pending.size;
  }

  private async deliver(n: Notification): Promise<NotifyReport> {
    const report: NotifyReport = { sent: [], suppressed: [], failed: [] };
    const topic = topicOf(n);
    await Promise.all(
      this.options.destinations
        .filter((d) => d.on.includes(topic))
        .map((d) => {
          const key = memoryKey(d.id, n.integration, topic);
          return this.serially(key, () => this.tell(d, n, key, report));
        }),
    );
    return report;
  }

  private serially(key: string, work: () => Promise<void>): Promise<void> {
    // A failure of the one before must not skip this one.
    const next = (this.chains.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.chains.set(key, next);
    return next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  private async tell(d: NotifyDestination, n: Notification, key: string, report: NotifyReport): Promise<void> {
    let decision;
    try {
      decision = decide(n, this.options.memory.last(key), { now: this.now(), repeatAfterMs: d.repeatAfterMs });
    } catch (err) {
      report.failed.push({ destination: d.label, error: `reading what was already sent: ${errorMessage(err)}` });
      return;
    }
    if (!decision.send) {
      report.suppressed.push(d.label);
      return;
    }
    const error = await this.attempt(d, n);
    if (error !== undefined) {
      // Not remembered: the next time this is seen, it is tried again.
      report.failed.push({ destination: d.label, error });
      this.options.logger?.warn(`notification ${n.kind} to ${d.label} not sent: ${error}`, { integration: n.integration });
      return;
    }
    report.sent.push(d.label);
    try {
      this.options.memory.remember(key, decision.remember);
    } catch (err) {
      this.options.logger?.warn(`notification ${n.kind} sent to ${d.label}, but not recorded (it may be sent again): ${errorMessage(err)}`, { integration: n.integration });
    }
  }

  /** Waits `ms` between attempts, or until a close stops waiting. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.closing.signal }).catch(() => undefined);
  }

  /** Sends with retries; the error of the last attempt, with the destination's secrets hidden, or undefined once sent. */
  private async attempt(d: NotifyDestination, n: Notification): Promise<string | undefined> {
    const attempts = this.options.attempts ?? 3;
    let delay = this.options.retryDelayMs ?? 1000;
    let error = '';
    for (let i = 1; i <= attempts; i++) {
      const timeout = AbortSignal.timeout(d.timeoutMs);
      const signal = AbortSignal.any([timeout, this.closing.signal]);
      try {
        await untilAborted(d.send(n, signal), signal);
        return undefined;
      } catch (err) {
        if (this.closing.signal.aborted) return 'not sent before scimsync stopped';
        // Trying again cannot install a package: the one line says what to do.
        if (err instanceof MissingPackageError) return err.message;
        const timedOut = timeout.aborted;
        error = timedOut ? `no answer within ${d.timeoutMs} ms` : errorMessage(err);
        const code = (err as NodeJS.ErrnoException).code;
        if (!timedOut && code && !error.includes(code)) error += ` (${code})`;
        error = redactSecrets(error, [...d.secrets, ...d.secrets.map(pathOf)]);
      }
      if (i < attempts) await this.pause(delay);
      if (this.closing.signal.aborted) return `${error} (stopped after ${i} attempts)`;
      delay *= 2;
    }
    return `${error} (after ${attempts} attempts)`;
  }
}

/** A webhook's path and query hold its token: hidden on their own too. */
function pathOf(secret: string): string {
  if (!URL.canParse(secret)) return '';
  const url = new URL(secret);
  return url.pathname.length > 1 || url.search ? `${url.pathname}${url.search}` : '';
}

export interface NotifierFromConfigOptions {
  /** `config.notify`. */
  config: NotifyConfig;
  memory: NotifyMemory;
  logger?: Logger;
}

/** Undefined when no rule is configured. */
export function notifierFromConfig(options: NotifierFromConfigOptions): Notifier | undefined {
  if (options.config.length === 0) return undefined;
  return new Notifier({ destinations: destinationsFromConfig(options.config), memory: options.memory, ...(options.logger ? { logger: options.logger } : {}) });
}

/**
 * Forwards the event log to sinks (a SIEM's HTTP endpoint, syslog), at least
 * once and in order. Each sink runs on its own: it reads the batch after its
 * stored position, sends it, and only once the sink acknowledged it moves the
 * position. A restart therefore resumes where the last acknowledgement left
 * off: nothing is lost, and at most the last unacknowledged batch is sent again.
 */
import { ScimsyncError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { redactSecrets } from '../../redact.js';
import type { EventRecord } from '../types.js';

/** Where events come from: the state's event log, by ascending id. */
export interface ForwardSource {
  /** Up to `limit` events with an id above `id`, oldest first. */
  eventsAfter(id: number, limit: number): EventRecord[];
}

/** Where each sink's position (the id of the last event it acknowledged) is kept. */
export interface SinkPositions {
  /** 0 for a sink never seen: it receives the whole retained log. */
  get(sink: string): number;
  set(sink: string, id: number): void;
}

/** A destination of events. */
export interface ForwardSink {
  /** Stable across restarts: the key of its position. Never holds a secret. */
  readonly name: string;
  /** Resolves once the destination acknowledged the whole batch, rejects otherwise; gives up when `signal` aborts. */
  send(batch: readonly EventRecord[], signal: AbortSignal): Promise<void>;
  /** Releases connections; a later send opens new ones. */
  close(): Promise<void>;
}

/** A failed send, with a message free of secrets. */
export class ForwardError extends ScimsyncError {
  readonly code = 'FORWARD';
  readonly exitCode = 1 as const;
  constructor(sink: string, message: string) {
    super(`[scimsync] [forward ${sink}] ${message}`);
    this.name = 'ForwardError';
  }
}

/** The message of a failure, with the sink's secrets hidden in case a library echoed one. */
export function describeFailure(err: unknown, secrets: readonly string[]): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = errorMessage(err) + cause;
  return redactSecrets(code && !text.includes(code) ? `${text} (${code})` : text, secrets);
}

export interface SinkSettings {
  /** Events per request. @default 500 */
  batchSize: number;
  /** How long a batch that is not full waits for more events. 0 sends at once. @default 1000 */
  flushMs: number;
  /** Bounds one send, connection and answer included. @default 10000 */
  timeoutMs: number;
  /** Exponential backoff with jitter between failed sends. @default { baseDelayMs: 500, maxDelayMs: 60000 } */
  retry: { baseDelayMs: number; maxDelayMs: number };
}

export const DEFAULT_SINK_SETTINGS: SinkSettings = { batchSize: 500, flushMs: 1000, timeoutMs: 10_000, retry: { baseDelayMs: 500, maxDelayMs: 60_000 } };

export interface ForwarderOptions {
  sinks: readonly { sink: ForwardSink; settings?: Partial<SinkSettings> }[];
  source: ForwardSource;
  positions: SinkPositions;
  logger?: Logger;
  /** How often an idle sink looks for events written by another process. @default 1000 */
  pollMs?: number;
  /** In [0, 1): the jitter of the backoff (tests). @default Math.random */
  random?: () => number;
  /** Called after each acknowledged batch. */
  onDelivered?: (delivery: { sink: string; events: number; position: number }) => void;
}

export interface SinkStatus {
  sink: string;
  position: number;
  /** Failed sends in a row (0 when the last one was acknowledged). */
  failures: number;
  lastError?: string;
  delivered: number;
}

export interface DrainReport {
  /** Every sink reached the end of the log before the deadline. */
  complete: boolean;
  sinks: (SinkStatus & { caughtUp: boolean })[];
}

export interface StopOptions {
  /** How long a send in progress may take to finish before it is cut off (its batch is sent again next time). @default 5000 */
  graceMs?: number;
}

export interface DrainOptions {
  /** The deadline of the whole drain; what is left is sent next time. @default 30000 */
  timeoutMs?: number;
}

/** Runs every sink independently: a sink that is down holds back none of the others. */
export class Forwarder {
  private readonly runners: SinkRunner[];

  constructor(options: ForwarderOptions) {
    const names = new Set<string>();
    this.runners = options.sinks.map(({ sink, settings }) => {
      if (names.has(sink.name)) throw new ForwardError(sink.name, 'two sinks have this name; give each a name of its own');
      names.add(sink.name);
      const retry = { ...DEFAULT_SINK_SETTINGS.retry, ...settings?.retry };
      return new SinkRunner(sink, { ...DEFAULT_SINK_SETTINGS, ...settings, retry }, options);
    });
  }

  /** Starts forwarding in the background (daemon). */
  start(): void {
    for (const r of this.runners) r.start();
  }

  /** New events were written: an idle sink looks now instead of at its next poll. */
  wake(): void {
    for (const r of this.runners) r.interrupt('events');
  }

  /** Sends everything written so far, full batch or not, and resolves when every sink is caught up or the deadline passed. */
  async drain(options: DrainOptions = {}): Promise<DrainReport> {
    const sinks = await Promise.all(this.runners.map((r) => r.drain(options.timeoutMs ?? 30_000)));
    return { complete: sinks.every((s) => s.caughtUp), sinks };
  }

  /** Stops within `graceMs`: a send still running then is cut off and not counted as acknowledged. */
  async stop(options: StopOptions = {}): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop(options.graceMs ?? 5000)));
    await Promise.all(this.runners.map((r) => r.close()));
  }

  status(): SinkStatus[] {
    return this.runners.map((r) => r.status());
  }
}

type SleepKind = 'idle' | 'flush' | 'backoff';
/** What an interruption may cut short: new events end an idle wait, a drain also a batching wait, a stop every wait. */
const INTERRUPTS: Record<'events' | 'flush' | 'stop', readonly SleepKind[]> = {
  events: ['idle'],
  flush: ['idle', 'flush'],
  stop: ['idle', 'flush', 'backoff'],
};

/** One run of a sink's loop, from start() to its stop: a new start never revives a loop that is winding down. */
interface Run {
  stopping: boolean;
  /** Set when a stop cut a send short: a late acknowledgement must not move the position. */
  halted: boolean;
  hardStop: AbortController;
  done: Promise<void>;
}

class SinkRunner {
  private current: Run | undefined;
  private sleeping: { kind: SleepKind; wake: () => void } | undefined;
  private flushRequests = 0;
  private caughtUpWaiters: (() => void)[] = [];
  private failures = 0;
  private lastError: string | undefined;
  private delivered = 0;
  private lastPosition = 0;

  constructor(
    private readonly sink: ForwardSink,
    private readonly settings: SinkSettings,
    private readonly deps: ForwarderOptions,
  ) {}

  get running(): boolean {
    return this.current !== undefined && !this.current.stopping;
  }

  start(): void {
    if (this.running) return;
    const run: Run = { stopping: false, halted: false, hardStop: new AbortController(), done: Promise.resolve() };
    this.current = run;
    run.done = this.run(run).finally(() => {
      if (this.current === run) this.current = undefined;
    });
  }

  interrupt(reason: keyof typeof INTERRUPTS): void {
    if (this.sleeping && INTERRUPTS[reason].includes(this.sleeping.kind)) this.sleeping.wake();
  }

  async drain(timeoutMs: number): Promise<SinkStatus & { caughtUp: boolean }> {
    const deadline = Date.now() + timeoutMs;
    const wasRunning = this.running;
    this.flushRequests++;
    let caughtUp = false;
    const reached = new Promise<void>((resolve) => this.caughtUpWaiters.push(resolve)).then(() => {
      caughtUp = true;
    });
    if (wasRunning) this.interrupt('flush');
    else this.start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reached, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.flushRequests--;
    // The deadline bounds the whole drain: a send still running when it passes is cut off.
    if (!wasRunning) await this.stop(Math.max(0, deadline - Date.now()));
    return { ...this.status(), caughtUp };
  }

  async stop(graceMs: number): Promise<void> {
    const run = this.current;
    if (!run) return;
    run.stopping = true;
    this.interrupt('stop');
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([run.done.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
    if (!finished) {
      run.halted = true;
      run.hardStop.abort(new ForwardError(this.sink.name, 'stopped'));
    }
    if (this.current === run) this.current = undefined;
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  status(): SinkStatus {
    return {
      sink: this.sink.name,
      position: this.lastPosition,
      failures: this.failures,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      delivered: this.delivered,
    };
  }

  private async run(run: Run): Promise<void> {
    const { batchSize, flushMs } = this.settings;
    let pendingSince: number | undefined;
    while (!run.stopping) {
      let batch: EventRecord[];
      try {
        this.lastPosition = this.deps.positions.get(this.sink.name);
        batch = this.deps.source.eventsAfter(this.lastPosition, batchSize);
      } catch (err) {
        this.failed(run, `reading the event log: ${describeFailure(err, [])}`);
        await this.sleep(run, 'backoff', this.backoffMs());
        continue;
      }
      if (batch.length === 0) {
        // An empty read after a drain asked is the proof that everything written before it was sent.
        pendingSince = undefined;
        for (const resolve of this.caughtUpWaiters.splice(0)) resolve();
        await this.sleep(run, 'idle', this.deps.pollMs ?? 1000);
        continue;
      }
      if (batch.length < batchSize && this.flushRequests === 0 && flushMs > 0) {
        pendingSince ??= Date.now();
        const left = pendingSince + flushMs - Date.now();
        if (left > 0) {
          await this.sleep(run, 'flush', left);
          continue;
        }
      }
      pendingSince = undefined;
      if (!(await this.deliver(run, batch))) await this.sleep(run, 'backoff', this.backoffMs());
    }
  }

  /** Sends one batch; true once it is acknowledged and the position moved past it. */
  private async deliver(run: Run, batch: readonly EventRecord[]): Promise<boolean> {
    const last = batch[batch.length - 1]!.id;
    // Kept referenced until the send ends: on Node 20 a timeout signal reachable only through AbortSignal.any() may be collected and never fire.
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    const signal = AbortSignal.any([run.hardStop.signal, timeout]);
    try {
      await untilAborted(this.sink.send(batch, signal), signal);
    } catch (err) {
      const timedOut = timeout.aborted && signal.reason === timeout.reason;
      const reason = timedOut ? `no acknowledgement within ${this.settings.timeoutMs} ms` : describeFailure(err, []).replace(/^\[scimsync\] \[forward [^\]]*\] /, '');
      this.failed(run, `${batch.length} events after #${batch[0]!.id - 1} not delivered: ${reason}`);
      return false;
    }
    if (run.halted) return false;
    try {
      this.deps.positions.set(this.sink.name, last);
    } catch (err) {
      // Delivered but not recorded: the batch goes again, which at-least-once allows.
      this.failed(run, `events up to #${last} delivered, but the position could not be saved: ${describeFailure(err, [])}`);
      return false;
    }
    this.lastPosition = last;
    this.delivered += batch.length;
    if (this.failures > 0) this.deps.logger?.info(`[forward ${this.sink.name}] delivering again after ${this.failures} failed attempts`);
    this.failures = 0;
    this.lastError = undefined;
    this.deps.onDelivered?.({ sink: this.sink.name, events: batch.length, position: last });
    return true;
  }

  private failed(run: Run, message: string): void {
    // A send cut off by a stop says nothing about the sink.
    if (run.stopping) return;
    this.failures++;
    this.lastError = message;
    this.deps.logger?.warn(`[forward ${this.sink.name}] ${message} (attempt ${this.failures}; retrying with backoff)`);
  }

  /** Exponential, capped, with jitter over the upper half so sinks that failed together do not retry together. */
  private backoffMs(): number {
    const { baseDelayMs, maxDelayMs } = this.settings.retry;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(this.failures - 1, 30));
    return ceiling / 2 + (this.deps.random ?? Math.random)() * (ceiling / 2);
  }

  private sleep(run: Run, kind: SleepKind, ms: number): Promise<void> {
    if (run.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.sleeping?.wake === wake) this.sleeping = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping = { kind, wake };
    });
  }
}

/** Rejects when `signal` aborts, even if `work` never settles: a sink that ignores its signal cannot hang the forwarder. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

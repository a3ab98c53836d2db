/**
 * Where events and news leave scimsync: the forwarders of `events.forward`
 * (every event, at least once and in order, each sink's position kept in state)
 * and the notifier of `notify:` (quarantines, held deprovisions, given-up
 * operations, failed cycles, shrunken sources; what was told kept in state).
 *
 * One lifecycle for both commands that write events:
 * - `scimsync sync`: `openOutlets` and `start` before the cycles, `notifier`
 *   and `onEvent` to each cycle, `drain` at the end (deliver what is pending,
 *   bounded, then stop);
 * - the daemon: the same at its start, `wake` after each cycle, `stop` on shutdown.
 */
import type { Config } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import { forwarderFromConfig } from '../events/forward/sinks.js';
import type { Forwarder, ForwardSource, SinkStatus } from '../events/forward/forwarder.js';
import { notifierFromConfig, type Notifier } from '../events/notify/notifier.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../../state/index.js';
import type { CycleNotifier } from './cycle.js';

/** New events are committed a few milliseconds after they are written: a wake waits this long so the sinks find them. */
const WAKE_DELAY_MS = 40;
/** How long a drain or a stop leaves a send under way once its deadline passed (it is cut off and sent again next time). */
const CUT_OFF_MS = 1000;

export interface OutletsOptions {
  /** `events.forward` and `notify`. */
  config: Pick<Config, 'events' | 'notify'>;
  store: StateStore;
  logger: Logger;
  /** How often an idle sink looks for events written by another process. @default 1000 */
  pollMs?: number;
}

/** A sink that did not catch up with the event log before a drain's deadline. */
export interface SinkBehind {
  sink: string;
  /** The id of the last event it acknowledged: the next run starts after it. */
  position: number;
  lastError?: string;
}

export interface OutletsDrain {
  /** Every sink caught up and every notification settled before the deadline. */
  complete: boolean;
  behind: SinkBehind[];
  /** Notifications still being sent when the deadline passed (cut off; told again when their condition is next seen). */
  notificationsCutOff: number;
}

export interface DrainOutletsOptions {
  /** The deadline of the whole drain. @default 30000 */
  timeoutMs?: number;
  /** Aborted by a signal: stop waiting at once (what is left goes next time). */
  signal?: AbortSignal;
}

export interface StopOutletsOptions {
  /** How long a send under way may take to finish. @default 5000 */
  graceMs?: number;
}

/** The forwarders and the notifier of one process. Every method is safe without any sink or rule configured. */
export interface Outlets {
  /** For `runCycle({ notifier })`; undefined without `notify:` rules. */
  readonly notifier: CycleNotifier | undefined;
  /** Whether any sink is configured. */
  readonly forwarding: boolean;
  /** Starts forwarding in the background. */
  start(): void;
  /** Events were written: the sinks look for them shortly (calls close together are coalesced). */
  wake(): void;
  /** For `runCycle({ onEvent })`: a wake per event written, coalesced. */
  readonly onEvent: () => void;
  /** Delivers what is pending within the deadline, then stops everything; what is left goes at the next start. */
  drain(options?: DrainOutletsOptions): Promise<OutletsDrain>;
  /** Stops forwarding and waits for notifications under way, within `graceMs`. */
  stop(options?: StopOutletsOptions): Promise<void>;
  /** Where each sink stands. */
  status(): SinkStatus[];
}

/**
 * Builds the outlets that `config` describes, on `store`. A CA file that cannot be
 * read is a ConfigError naming its key; nothing is sent until `start` or `drain`.
 */
export function openOutlets(options: OutletsOptions): Outlets {
  const { store, logger } = options;
  // A group commit on this connection may hold events not yet committed: a sink must never see those.
  const source: ForwardSource = {
    eventsAfter(id, limit) {
      if (!store.writesInBackground) store.flush();
      return store.eventsAfter(id, limit);
    },
  };
  const forwarder = forwarderFromConfig({
    config: options.config.events.forward,
    source,
    positions: store.sinkPositions,
    logger,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  });
  const notifier = notifierFromConfig({ config: options.config.notify, memory: store.notifyMemory, logger });
  return new ProcessOutlets(forwarder, notifier, logger);
}

const sinkBehind = ({ sink, position, lastError }: SinkStatus): SinkBehind => ({ sink, position, ...(lastError !== undefined ? { lastError } : {}) });

class ProcessOutlets implements Outlets {
  private wakeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Notifications cut off by the last stop. */
  private cutOff = 0;
  readonly onEvent = (): void => this.wake();

  constructor(
    private readonly forwarder: Forwarder | undefined,
    private readonly notifierOf: Notifier | undefined,
    private readonly logger: Logger,
  ) {}

  get notifier(): CycleNotifier | undefined {
    return this.notifierOf;
  }

  get forwarding(): boolean {
    return this.forwarder !== undefined;
  }

  start(): void {
    this.stopped = false;
    this.forwarder?.start();
  }

  wake(): void {
    if (!this.forwarder || this.stopped || this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.forwarder?.wake();
    }, WAKE_DELAY_MS);
    this.wakeTimer.unref();
  }

  async drain(options: DrainOutletsOptions = {}): Promise<OutletsDrain> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const left = () => Math.max(0, deadline - Date.now());
    this.cancelWake();
    const aborted = whenAborted(options.signal);
    let behind: SinkBehind[] = [];
    let caughtUp = true;
    try {
      const [forwarded, told] = await Promise.all([
        this.forwarder ? Promise.race([this.forwarder.drain({ timeoutMs: left() }), aborted.promise]) : undefined,
        this.notifierOf ? Promise.race([this.notifierOf.closeWithin(left()), aborted.promise]) : undefined,
      ]);
      if (forwarded) {
        caughtUp = forwarded.complete;
        behind = forwarded.sinks.filter((s) => !s.caughtUp).map(sinkBehind);
      } else if (this.forwarder) {
        // The signal came before the sinks caught up.
        caughtUp = false;
        behind = this.forwarder.status().map(sinkBehind);
      }
      this.cutOff = told?.cutOff ?? 0;
    } finally {
      aborted.dispose();
      await this.stop({ graceMs: Math.min(CUT_OFF_MS, left()) });
    }
    return { complete: caughtUp && this.cutOff === 0, behind, notificationsCutOff: this.cutOff };
  }

  async stop(options: StopOutletsOptions = {}): Promise<void> {
    this.stopped = true;
    this.cancelWake();
    const graceMs = options.graceMs ?? 5000;
    const [forwarded, told] = await Promise.allSettled([this.forwarder?.stop({ graceMs }), this.notifierOf?.closeWithin(graceMs)]);
    if (told.status === 'fulfilled' && told.value) this.cutOff += told.value.cutOff;
    for (const r of [forwarded, told]) if (r.status === 'rejected') this.logger.warn(`stopping the event outlets: ${errorMessage(r.reason)}`);
  }

  status(): SinkStatus[] {
    return this.forwarder?.status() ?? [];
  }

  private cancelWake(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
  }
}

/** A promise that resolves (to undefined) when `signal` aborts; `dispose` removes the listener. */
function whenAborted(signal: AbortSignal | undefined): { promise: Promise<undefined>; dispose: () => void } {
  if (!signal) return { promise: new Promise<undefined>(() => undefined), dispose: () => undefined };
  let onAbort: () => void = () => undefined;
  const promise = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** One line per sink left behind by a drain, for stderr or the log. */
export function describeDrain(d: OutletsDrain): string[] {
  const lines = d.behind.map(
    (s) => `[forward ${s.sink}] not caught up before the deadline: events after #${s.position} are sent at the next run${s.lastError ? ` (last error: ${s.lastError})` : ''}`,
  );
  if (d.notificationsCutOff > 0) lines.push(`[notify] ${d.notificationsCutOff} notifications were still being sent when scimsync stopped; they are sent when their condition is seen again`);
  return lines;
}

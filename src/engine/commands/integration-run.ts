import type { StateStore } from '../../../state/index.js';
import type { IntegrationConfig } from '../../config/schema.js';
import type { NewEvent } from '../../events/types.js';
import type { Logger } from '../../log.js';
import { runCycle } from '../cycle.js';
import type { CycleNotifier, CycleOptions } from '../cycle/options.js';
import { leaseOwner, withLease, type HeldLease } from '../lease.js';
import type { CycleReport } from '../report.js';
import { leaseFor, type LeaseWait } from './lease-wait.js';

/** Where a cycle's events and news leave scimsync (`Outlets` of outlets.ts): notifications, and a wake per event written. */
export interface CycleOutlets {
  readonly notifier: CycleNotifier | undefined;
  readonly onEvent: () => void;
}

/** One integration, run by one writer: its lease, its outlets, and how its cycles stop. */
export interface IntegrationRun {
  integration: IntegrationConfig;
  store: StateStore;
  logger: Logger;
  /** Its outlets (`events.forward`, `notify`); none: nobody is told (tests, a console without a daemon). */
  outlets?: CycleOutlets | undefined;
  /** How to wait for another writer holding the lease; by default a LeaseHeldError (exit 4) at once. */
  wait?: LeaseWait | undefined;
  /** Stops the wait for the lease and the cycle (SIGINT/SIGTERM, the daemon's stop). */
  signal?: AbortSignal | undefined;
  /** Who holds the lease: by default this process (`leaseOwner()`). */
  owner?: string | undefined;
  /** How long requests in flight may finish once stopped (`shutdown.graceMs`). */
  shutdownGraceMs?: number | undefined;
}

/** What a cycle adds to its integration's run: what to send and who watches it. */
export type CycleRequest = Omit<CycleOptions, 'integration' | 'store' | 'logger' | 'signal' | 'shutdownGraceMs' | 'notifier'>;

/** A run holding the integration's lease: its cycle (with the lease's signal and the outlets), as often as needed. */
export interface LeasedRun {
  readonly lease: HeldLease;
  cycle(request?: CycleRequest): Promise<CycleReport>;
}

/** What one cycle under the lease did, and who took the lease from it (it then stopped after the requests in flight). */
export interface LeasedCycle {
  report: CycleReport;
  lostTo: string | undefined;
}

/**
 * Runs `work` holding the integration's lease; `work` may read and correct the state first
 * (reconcile) and run its cycle through `run.cycle`. Every writer of an integration goes
 * through here: `sync`, the daemon, `reconcile --apply`, the console's actions.
 */
export function withIntegrationLease<T>(run: IntegrationRun, work: (leased: LeasedRun) => Promise<T>): Promise<T> {
  const { integration, store, logger } = run;
  const lease = { ...leaseFor(store, integration.name, run.owner ?? leaseOwner(), run.wait ?? {}), ...(run.signal ? { signal: run.signal } : {}) };
  return withLease(lease, (held) =>
    work({
      lease: held,
      cycle: (request: CycleRequest = {}) => {
        const { outlets } = run;
        const onEvent = (e: NewEvent) => {
          request.onEvent?.(e);
          outlets?.onEvent();
        };
        return runCycle({
          ...request,
          integration,
          store,
          logger,
          // The lease's own signal ends with it: nothing the cycle listens on outlives it.
          signal: held.signal,
          ...(run.shutdownGraceMs !== undefined ? { shutdownGraceMs: run.shutdownGraceMs } : {}),
          ...(outlets ? { notifier: outlets.notifier, onEvent } : request.onEvent ? { onEvent: request.onEvent } : {}),
        });
      },
    }),
  );
}

/** One cycle of one integration under its lease, with its outlets: `sync`, the daemon's schedule. */
export function runIntegrationCycle(run: IntegrationRun, request: CycleRequest = {}): Promise<LeasedCycle> {
  return withIntegrationLease(run, async (leased) => {
    const report = await leased.cycle(request);
    return { report, lostTo: leased.lease.lostTo };
  });
}

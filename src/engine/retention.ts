/**
 * Event retention (`events.retainDays`, `events.maxRows`): the oldest events
 * go in small transactions, with a yield to the event loop between them, so
 * that pruning a large backlog never holds a cycle (or the console, or a
 * forwarder) for more than a few milliseconds at a time.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../../state/index.js';

/** Events deleted per transaction: a few milliseconds each on a state of 10,000,000 events (bench/EVENTS.md). */
export const PRUNE_BATCH = 500;

export interface PruneOptions {
  store: StateStore;
  events: Pick<Config['events'], 'retainDays' | 'maxRows'>;
  logger?: Logger;
  /** Stops between two batches (a signal): the rest goes at the next prune. */
  signal?: AbortSignal;
  /** @default PRUNE_BATCH */
  batch?: number;
  /** @default Date.now() */
  now?: number;
}

/** Deletes events past `retainDays` and beyond `maxRows`, a bounded batch at a time; says how many went. */
export async function pruneEventsGently(options: PruneOptions): Promise<number> {
  const { store, events } = options;
  const before = new Date((options.now ?? Date.now()) - events.retainDays * 86_400_000).toISOString();
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) break;
    const r = store.pruneEvents({ before, ...(events.maxRows !== undefined ? { maxRows: events.maxRows } : {}), batch: options.batch ?? PRUNE_BATCH });
    total += r.deleted;
    if (!r.more) break;
    await yieldToLoop();
  }
  if (total > 0) {
    const why = events.maxRows !== undefined ? `older than ${events.retainDays} days or beyond the newest ${events.maxRows}` : `older than ${events.retainDays} days`;
    options.logger?.info(`pruned ${total} events ${why}`);
  }
  return total;
}

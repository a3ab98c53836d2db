/**
 * Event retention (`events.retainDays`, `events.maxRows`): the oldest events
 * go in small transactions, with a yield to the event loop between them, so
 * that pruning a large backlog never holds a cycle (or the console, or a
 * forwarder) for more than a few milliseconds at a time. Events pruned before
 * a forward sink acknowledged them are named in a warning event, which the
 * sink receives after the events it still can.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { sinkKey } from '../events/forward/config.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../../state/index.js';

/** Events deleted per transaction: a few milliseconds each on a state of 10,000,000 events (bench/EVENTS.md). */
export const PRUNE_BATCH = 500;

export interface PruneOptions {
  store: StateStore;
  /** `events.retainDays` and `events.maxRows`; with `events.forward`, the gaps they leave in a sink's stream are told. */
  events: Pick<Config['events'], 'retainDays' | 'maxRows'> & Partial<Pick<Config['events'], 'forward'>>;
  /** The integrations a gap's warning event is written under (every integration's events may be in it). */
  integrations?: readonly string[];
  logger?: Logger;
  /** Stops between two batches (a signal): the rest goes at the next prune. */
  signal?: AbortSignal;
  /** @default PRUNE_BATCH */
  batch?: number;
  /** @default Date.now() */
  now?: number;
}

/** Events pruned before a sink acknowledged them: it never receives ids `from` to `to`. */
export interface SinkGap {
  sink: string;
  from: number;
  to: number;
}

/** Deletes events past `retainDays` and beyond `maxRows`, a bounded batch at a time; says how many went. */
export async function pruneEventsGently(options: PruneOptions): Promise<number> {
  const { store, events } = options;
  const now = options.now ?? Date.now();
  const before = new Date(now - events.retainDays * 86_400_000).toISOString();
  const oldestBefore = oldestEventId(store);
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) break;
    const r = store.pruneEvents({ before, ...(events.maxRows !== undefined ? { maxRows: events.maxRows } : {}), batch: options.batch ?? PRUNE_BATCH });
    total += r.deleted;
    if (!r.more) break;
    await yieldToLoop();
  }
  const why = events.maxRows !== undefined ? `older than ${events.retainDays} days or beyond the newest ${events.maxRows}` : `older than ${events.retainDays} days`;
  if (total > 0) options.logger?.info(`pruned ${total} events ${why}`);
  if (total > 0 && oldestBefore !== undefined) {
    const oldestAfter = oldestEventId(store) ?? store.lastEventId() + 1;
    for (const gap of sinkGaps(store, events.forward ?? [], oldestBefore, oldestAfter)) tellGap(options, gap, why, new Date(now).toISOString());
  }
  return total;
}

function oldestEventId(store: StateStore): number | undefined {
  return store.eventsAfter(0, 1)[0]?.id;
}

/** The ids each sink had not acknowledged among those just pruned (`oldestBefore` up to `oldestAfter`, excluded). */
function sinkGaps(store: StateStore, forward: Config['events']['forward'], oldestBefore: number, oldestAfter: number): SinkGap[] {
  const gaps: SinkGap[] = [];
  for (const sink of forward.map(sinkKey)) {
    const from = Math.max(store.sinkPositions.get(sink) + 1, oldestBefore);
    if (from < oldestAfter) gaps.push({ sink, from, to: oldestAfter - 1 });
  }
  return gaps;
}

/** A warning line, and a failure event under each integration: the sink receives it after what is left of the log. */
function tellGap(options: PruneOptions, gap: SinkGap, why: string, time: string): void {
  const summary = `events #${gap.from}–#${gap.to} were pruned (${why}) before forward sink ${gap.sink} acknowledged them: it will never receive them`;
  options.logger?.warn(`[forward ${gap.sink}] ${summary}`);
  const retention = { retainDays: options.events.retainDays, ...(options.events.maxRows !== undefined ? { maxRows: options.events.maxRows } : {}) };
  for (const integration of options.integrations ?? []) {
    options.store.insertEvent({ time, integration, type: 'idm_integration_update', result: 'failure', summary, detail: { forward: { sink: gap.sink, gap: { from: gap.from, to: gap.to } }, retention } });
  }
}

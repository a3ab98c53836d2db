/**
 * The audit log as `scimsync events` lists it: the filters an admin writes, checked
 * and turned into a query; the listing, streamed from the state; and what follows it
 * (`--follow`). The NDJSON and CSV formats are the forwarder's own (events/forward).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../events/forward/format.js';
import { EVENT_RESULTS, EVENT_TYPES, type EventRecord, type EventResult, type EventType } from '../../events/types.js';
import type { EventQuery, StateStore } from '../../../state/index.js';
import { parseTimeOption } from '../durations.js';
import { openState } from '../state-access.js';

export type { EventQuery } from '../../../state/index.js';
export type { EventRecord } from '../../events/types.js';
export type { ExportFormat } from '../../events/forward/format.js';
export { lineFormat, writeEvents } from '../../events/forward/format.js';

/** The filters as written on the command line (`--type`, `--since 2h`, `--limit 50`…). */
export interface EventFilters {
  integration?: string | undefined;
  type?: string | undefined;
  result?: string | undefined;
  user?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  cycle?: string | undefined;
  after?: string | undefined;
  limit?: string | undefined;
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} ${text}: expected a ${min > 0 ? 'positive' : 'non-negative'} whole number`);
  return n;
}

/**
 * The listing asked for; a bad filter is a UsageError naming the option. Oldest first, by
 * time; `--limit N` alone keeps the newest N (still oldest first); `--after ID` lists what
 * follows event ID (`--after 0`: from the oldest), so that a script pages with
 * `--after <last id printed> --limit N`. `now` (ms) anchors `--since 2h`.
 */
export function eventQuery(filters: EventFilters, now: number = Date.now()): EventQuery {
  const q: EventQuery = {};
  if (filters.integration) q.integration = filters.integration;
  if (filters.type) {
    if (!(EVENT_TYPES as readonly string[]).includes(filters.type)) {
      throw new UsageError(`--type ${filters.type}: unknown event type (one of ${EVENT_TYPES.join(', ')})`);
    }
    q.type = filters.type as EventType;
  }
  if (filters.result) {
    if (!(EVENT_RESULTS as readonly string[]).includes(filters.result)) {
      throw new UsageError(`--result ${filters.result}: expected success, failure or skipped`);
    }
    q.result = filters.result as EventResult;
  }
  if (filters.user) q.user = filters.user;
  if (filters.since) q.since = parseTimeOption('--since', filters.since, now);
  if (filters.until) q.until = parseTimeOption('--until', filters.until, now);
  if (filters.cycle) q.cycle = filters.cycle;
  if (filters.after !== undefined) q.after = wholeNumber('--after', filters.after, 0);
  if (filters.limit !== undefined) q.limit = wholeNumber('--limit', filters.limit, 1);
  return q;
}

/** How a listing is printed: an aligned table, or an export format. */
export type EventListingFormat = 'table' | ExportFormat;

/** `--format` and `--json` as one format; both, or an unknown format, is a UsageError. */
export function eventListingFormat(format: string | undefined, json: boolean): EventListingFormat {
  if (format === undefined) return json ? 'ndjson' : 'table';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${format}: expected ${EXPORT_FORMATS.join(' or ')}`);
  if (json) throw new UsageError(`--json and --format ${format}: choose one (--json is --format ndjson)`);
  return format as ExportFormat;
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind. */
/** Waits `ms`, or less if `signal` aborts. */
const pause = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal }).catch(() => undefined);

/** How often `--follow` looks for new events. */
export const FOLLOW_POLL_MS = 500;

/** How long `EventLog.follow` goes on. */
export interface FollowOptions {
  /** Stops following (SIGINT, SIGTERM). */
  signal: AbortSignal;
  /** Whether whoever reads the events went away (a pipe into `head`): nothing more to follow. */
  ended?: () => boolean;
  /** @default FOLLOW_POLL_MS */
  pollMs?: number;
}

/** The audit log of the state the config names, open until `close`. */
export class EventLog {
  private constructor(private readonly store: StateStore) {}

  static open(config: Pick<Config, 'state'>): EventLog {
    return new EventLog(openState(config));
  }

  /** The highest event id written so far (0 for none): where a followed listing ends and following starts. */
  lastEventId(): number {
    return this.store.lastEventId();
  }

  /** The events matching `query`, streamed; `throughId` ends the listing at that event. */
  list(query: EventQuery, throughId?: number): IterableIterator<EventRecord> {
    return this.store.iterateEvents(throughId === undefined ? query : { ...query, throughId });
  }

  /**
   * What is written after event `from` that matches the query's filters, one batch per poll,
   * until `signal` aborts or `follow.ended()` says the reader is gone. Nothing twice, nothing missed.
   */
  async *follow(query: EventQuery, from: number, follow: FollowOptions): AsyncGenerator<IterableIterator<EventRecord>> {
    const { signal } = follow;
    // The filters go on; a limit, a cursor or an order belong to the listing already printed.
    const filters: EventQuery = { ...query };
    delete filters.limit;
    delete filters.after;
    delete filters.order;
    let lastId = from;
    while (!signal.aborted && !follow.ended?.()) {
      await pause(follow.pollMs ?? FOLLOW_POLL_MS, signal);
      const newest = this.store.lastEventId();
      if (newest <= lastId) continue;
      yield this.store.iterateEvents({ ...filters, afterId: lastId, throughId: newest });
      lastId = newest;
    }
  }

  close(): void {
    this.store.close();
  }
}

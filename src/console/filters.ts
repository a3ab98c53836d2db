import { EVENT_RESULTS, EVENT_TYPES } from '../events/types.js';
import { parseDuration } from '../engine/index.js';
import type { EventResultName, EventsQuery } from '../engine/index.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** The filters as the logs page and GET /api/events take them (the names of `scimsync events`). */
export interface EventFilterParams {
  integration?: string | undefined;
  user?: string | undefined;
  type?: string | undefined;
  result?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  cycle?: string | undefined;
  after?: string | undefined;
  limit?: string | undefined;
}

export type ParsedFilters = { ok: true; query: EventsQuery } | { ok: false; error: string };

/** `1h`, `7d` ago, or an ISO date, as an ISO time. */
function toTime(name: string, text: string, now: number): string | { error: string } {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now - ms).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) return { error: `${name} ${text}: expected a duration (30m, 2h, 7d) or an ISO date` };
  return new Date(t).toISOString();
}

const isEventResult = (v: string): v is EventResultName => (EVENT_RESULTS as readonly string[]).includes(v);

/** Reads the filters; an unknown type or result, a bad time or cursor is an error naming the parameter. */
export function parseEventFilters(p: EventFilterParams, now: number = Date.now()): ParsedFilters {
  const query: EventsQuery = { limit: DEFAULT_PAGE_SIZE };
  const text = (v: string | undefined) => (v === undefined ? undefined : v.trim() || undefined);
  const integration = text(p.integration);
  if (integration) query.integration = integration;
  const user = text(p.user);
  if (user) query.user = user;
  const type = text(p.type);
  if (type) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) return { ok: false, error: `type ${type}: unknown event type (one of ${EVENT_TYPES.join(', ')})` };
    query.type = type;
  }
  const result = text(p.result);
  if (result) {
    if (!isEventResult(result)) return { ok: false, error: `result ${result}: expected success, failure or skipped` };
    query.result = result;
  }
  for (const key of ['since', 'until'] as const) {
    const v = text(p[key]);
    if (!v) continue;
    const t = toTime(key, v, now);
    if (typeof t !== 'string') return { ok: false, error: t.error };
    query[key] = t;
  }
  const cycle = text(p.cycle);
  if (cycle) query.cycle = cycle;
  const after = text(p.after);
  if (after) {
    const n = Number(after);
    if (!Number.isSafeInteger(n) || n <= 0) return { ok: false, error: `after ${after}: expected an event id (a positive whole number)` };
    query.after = n;
  }
  const limit = text(p.limit);
  if (limit) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) return { ok: false, error: `limit ${limit}: expected a whole number from 1 to ${MAX_PAGE_SIZE}` };
    query.limit = n;
  }
  return { ok: true, query };
}

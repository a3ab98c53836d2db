/**
 * The event log as the StateStore offers it: which events to list and how, retention,
 * and where forward sinks and notifications stand.
 */
import type { EventResult, EventType } from '../src/events/types.js';

/** The order of a listing of events: by time, then id. */
export type EventOrder = 'oldest' | 'newest';

/**
 * Which events to list, and how. Listings run by time, then id: oldest first by
 * default; with `limit` and no `after`, the newest `limit` events, still listed
 * oldest first. Every filter, and any combination, answers from an index.
 */
export interface EventQuery {
  integration?: string;
  type?: EventType;
  result?: EventResult;
  /** A source id, a target id, or a userName / group displayName (any case) that an event was written with. */
  user?: string;
  /** ISO time, inclusive. */
  since?: string;
  /** ISO time, inclusive. */
  until?: string;
  /** The id of a cycle: only its events. */
  cycle?: string;
  /** Keyset cursor: the events that follow this one in the listing order (0: from the start). */
  after?: number;
  /** Events with an id above this one, by id (what was written since: `--follow`). Listed by id; `after` and `order` do not apply. */
  afterId?: number;
  /** Only events with an id up to this one (a listing that `--follow` then continues). */
  throughId?: number;
  /** Default 'oldest'. */
  order?: EventOrder;
  limit?: number;
}

/** A page of events, newest first, by keyset (the console's logs). */
export interface EventsPageQuery {
  integration?: string;
  type?: string;
  result?: EventResult;
  since?: string;
  until?: string;
  /** Only the events of this cycle. */
  cycle?: string;
  /** The keyset cursor: the events that come after this one, newest first (older ones). */
  after?: number;
  /** A source id, a target id or a userName, as `EventQuery.user`. */
  user?: string;
  /** A user's source and target ids: events whose source or target id is one of them. */
  userIds?: readonly string[];
  limit: number;
}

/** What an event is written with beyond NewEvent, until NewEvent carries it. */
export interface EventSubject {
  /** The userName (a group's displayName) at the time of the event; looked up in state when absent. */
  subject?: string | null;
}

/** One bounded batch of event retention (pruneEvents). */
export interface PruneEvents {
  /** ISO time: events older than this go. */
  before?: string;
  /** Keep at most this many events: the oldest written go first. */
  maxRows?: number;
  /** Events deleted at most, in one transaction. @default 500 */
  batch?: number;
}

export interface PrunedEvents {
  deleted: number;
  /** More events are due: call again (after yielding to other work). */
  more: boolean;
}

/** Where each forward sink stands: the id of the last event it acknowledged. */
export interface SinkPositionStore {
  /** 0 for a sink never seen. */
  get(sink: string): number;
  /** Records a position; one lower than the stored one is ignored (positions only move on). */
  set(sink: string, id: number): void;
}

/** What each notification destination was last told, by key. */
export interface NotifyMemoryStore {
  last(key: string): string | undefined;
  remember(key: string, value: string): void;
}

import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { NewEvent } from './types.js';

/** Where events are kept: the state's event table (or a forwarder's queue). */
export interface EventStore {
  insertEvent(event: NewEvent): void;
}

/** An event as its emitter knows it: the sink adds the time, the integration and the cycle. */
export type EventInput = Omit<NewEvent, 'time' | 'integration' | 'cycleId'>;

export interface EventSinkOptions {
  integration: string;
  /** The cycle the events belong to; null for an admin's action outside a cycle. */
  cycleId: string | null;
  logger: Logger;
  /** Where events are kept; none for a dry run, whose events are only logged. */
  store?: EventStore | undefined;
  /** Called for every event kept (metrics, notifications). */
  onEvent?: ((event: NewEvent) => void) | undefined;
}

/**
 * The one way an event is written: the state, the log and the observers, together.
 * A cycle's events and an admin's actions (approve, purge, the console's) all come here.
 */
export class EventSink {
  constructor(private readonly options: EventSinkOptions) {}

  emit(e: EventInput): NewEvent {
    const o = this.options;
    // Field by field, not spread: one event per operation, and a spread of varied shapes is slow.
    const event: NewEvent = {
      time: new Date().toISOString(),
      integration: o.integration,
      cycleId: o.cycleId,
      type: e.type,
      result: e.result,
      sourceId: e.sourceId ?? null,
      targetId: e.targetId ?? null,
      summary: e.summary,
    };
    if (e.detail !== undefined) event.detail = e.detail;
    if (o.store) {
      o.store.insertEvent(event);
      o.onEvent?.(event);
    }
    const level = e.result === 'failure' ? 'warn' : 'info';
    // Formatting a line nobody will see costs more than the event itself: ask first.
    const logger = o.logger;
    if (!logger.silent && logger.isLevelEnabled(level)) {
      logger.log(level, `${e.type} ${e.result}: ${e.summary}`, { integration: o.integration, cycleId: o.cycleId, event: e.type });
    }
    return event;
  }
}

/** Where an admin's action is kept: an EventStore, made durable at once when it can be. */
export interface AuditStore extends EventStore {
  flush?(): void;
}

export interface AdminActionOptions {
  integration: string;
  logger: Logger;
  store: AuditStore;
  /** The cycle the action ran (the console's Provision now); otherwise an id of its own. */
  cycleId?: string | undefined;
}

/**
 * An admin's action outside a cycle (approve, discard, state purge, state rebuild, reconcile):
 * one event through the sink, with an id of its own in place of a cycle's, durable when this returns.
 */
export function recordAdminAction(options: AdminActionOptions, e: EventInput): NewEvent {
  const sink = new EventSink({ integration: options.integration, cycleId: options.cycleId ?? randomUUID(), logger: options.logger, store: options.store });
  const event = sink.emit(e);
  options.store.flush?.();
  return event;
}

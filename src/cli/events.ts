import { ConfigError, type ExitCode } from '../errors.js';
import { EVENT_RESULTS, EVENT_TYPES, type EventResult, type EventType } from '../events/types.js';
import type { EventQuery } from '../../state/store.js';
import { loadConfig } from '../config/load.js';
import { StateStore } from '../../state/store.js';
import type { Io } from './context.js';
import { parseDuration, table } from './format.js';

export interface EventsOptions {
  config?: string;
  integration?: string;
  type?: string;
  result?: string;
  user?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

function toTime(flag: string, text: string, now: number): string {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now - ms).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new ConfigError(`${flag} ${text}: expected a duration (30m, 2h, 7d) or an ISO date`);
  return new Date(t).toISOString();
}

export function eventQuery(options: EventsOptions, now: number = Date.now()): EventQuery {
  const q: EventQuery = {};
  if (options.integration) q.integration = options.integration;
  if (options.type) {
    if (!(EVENT_TYPES as readonly string[]).includes(options.type)) {
      throw new ConfigError(`--type ${options.type}: unknown event type (one of ${EVENT_TYPES.join(', ')})`);
    }
    q.type = options.type as EventType;
  }
  if (options.result) {
    if (!(EVENT_RESULTS as readonly string[]).includes(options.result)) {
      throw new ConfigError(`--result ${options.result}: expected success, failure or skipped`);
    }
    q.result = options.result as EventResult;
  }
  if (options.user) q.user = options.user;
  if (options.since) q.since = toTime('--since', options.since, now);
  if (options.until) q.until = toTime('--until', options.until, now);
  if (options.limit) {
    const n = Number(options.limit);
    if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--limit ${options.limit}: expected a positive whole number`);
    q.limit = n;
  }
  return q;
}

/** `scimsync events`: the audit log. */
export function eventsCommand(options: EventsOptions, io: Io): ExitCode {
  const query = eventQuery(options);
  const { config } = loadConfig(options.config, io.env);
  const store = StateStore.open(config.state.path);
  try {
    const events = store.queryEvents(query);
    if (options.json) {
      for (const e of events) io.out(JSON.stringify(e));
      return 0;
    }
    const rows = events.map((e) => [e.time.replace('T', ' ').slice(0, 19), e.integration, e.type, e.result, e.sourceId ?? '', e.summary]);
    for (const line of table(['TIME', 'INTEGRATION', 'TYPE', 'RESULT', 'SOURCE ID', 'SUMMARY'], rows)) io.out(line);
    return 0;
  } finally {
    store.close();
  }
}

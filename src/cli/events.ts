import { ConfigError, type ExitCode } from '../errors.js';
import { EVENT_RESULTS, EVENT_TYPES, type EventResult, type EventType } from '../events/types.js';
import { type EventQuery, openStateStore } from '../../state/index.js';
import type { EventRecord } from '../events/types.js';
import { loadConfig } from '../config/load.js';
import { escapeControl } from '../log.js';
import type { Io } from './context.js';
import { parseDuration, pause, table } from './format.js';

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
  follow?: boolean;
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

const FOLLOW_POLL_MS = 500;

/** `scimsync events`: the audit log; `--follow` keeps printing new events until interrupted. */
export async function eventsCommand(options: EventsOptions, io: Io, signal?: AbortSignal): Promise<ExitCode> {
  const query = eventQuery(options);
  const { config } = loadConfig(options.config, io.env);
  const store = openStateStore(config.state.path);
  const stop = new AbortController();
  signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const onSignal = () => stop.abort();
  if (options.follow && io.handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const events = store.queryEvents(query);
    // Ids and summaries carry source and target values: each row stays one line (--json escapes by itself).
    const rowOf = (e: EventRecord) => [e.time.replace('T', ' ').slice(0, 19), e.integration, e.type, e.result, e.sourceId ?? '', e.summary].map(escapeControl);
    if (options.json) for (const e of events) io.out(JSON.stringify(e));
    else for (const line of table(['TIME', 'INTEGRATION', 'TYPE', 'RESULT', 'SOURCE ID', 'SUMMARY'], events.map(rowOf))) io.out(line);
    if (!options.follow) return 0;
    // From the newest event written so far, whatever the filters.
    let lastId = store.queryEvents({ limit: 1 }).at(-1)?.id ?? 0;
    const followQuery: EventQuery = { ...query };
    delete followQuery.limit;
    while (!stop.signal.aborted) {
      await pause(FOLLOW_POLL_MS, stop.signal);
      for (const e of store.queryEvents({ ...followQuery, afterId: lastId })) {
        lastId = e.id;
        io.out(options.json ? JSON.stringify(e) : rowOf(e).join('  '));
      }
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    store.close();
  }
}

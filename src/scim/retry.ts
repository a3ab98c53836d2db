import type { ScimErrorKind, ScimHttpError } from '../errors.js';

export interface RetryPolicy {
  /** Attempts for transient failures (5xx, 408, network, timeout), the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Total time one request may spend waiting between attempts (backoff and Retry-After). */
  maxTotalWaitMs?: number;
  /** 429 answers waited out per request before giving up; they do not count as attempts. @default 20 */
  maxRateLimitWaits?: number;
  /**
   * How long the target may answer every request with 429 before it is taken to
   * refuse everything (a quota spent for the day): see `RefusalStreak`. @default 60000
   */
  maxRefusedMs?: number;
}

/**
 * What to do when a request failed in a way that may have been applied with only
 * its answer lost (timeout, reset after sending, 5xx, a 2xx answer that is not
 * SCIM): `'retry'` sends it again, `'throw'` gives up at once so that the caller
 * can read the target back first (a create, a member add).
 */
export type LostAnswerPolicy = 'retry' | 'throw';

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

export function classify(status: number): ScimErrorKind {
  if (status === 429) return 'rate-limited';
  if (status === 408 || status >= 500) return 'transient';
  if (status === 401 || status === 403) return 'fatal';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not-found';
  return 'bad-request';
}

/** Failures where no connection was ever made: the request cannot have reached the target. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a transient failure may have left the request applied (everything but a connection never made). */
export function mayHaveBeenApplied(err: ScimHttpError): boolean {
  return !(err.status === undefined && NEVER_CONNECTED.has(err.detail ?? ''));
}

/** Epoch seconds (a reset time) are told from delta seconds by size: 10^9 s is 2001. */
const EPOCH_SECONDS = 1e9;
const EPOCH_MILLISECONDS = 1e12;

/**
 * Parses one wait header value into milliseconds from `now`: delta seconds, an
 * epoch time in seconds (past 10^9) or milliseconds (past 10^12), or an HTTP date.
 * A time already past gives 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    if (n > EPOCH_MILLISECONDS) return Math.max(0, Math.round(n - now));
    if (n > EPOCH_SECONDS) return Math.max(0, Math.round(n * 1000 - now));
    return Math.round(n * 1000);
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Header lookup of an axios answer or a plain record (names lower-case). */
export type HeaderSource = Record<string, unknown>;

/**
 * The headers targets really send to say how long to wait, first found wins:
 * `Retry-After` (RFC 9110), `X-Retry-After` (seen with a non-SCIM 429 body),
 * `RateLimit-Reset` (IETF draft) and `X-RateLimit-Reset` (GitHub-style, often an epoch time).
 */
const WAIT_HEADERS = ['retry-after', 'x-retry-after', 'ratelimit-reset', 'x-ratelimit-reset'] as const;

/** Milliseconds to wait before the next request, from whichever wait header the answer carries. */
export function parseRateLimitWait(headers: HeaderSource, now: number = Date.now()): number | undefined {
  for (const name of WAIT_HEADERS) {
    const raw = headers[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    const ms = typeof value === 'string' ? parseRetryAfter(value, now) : typeof value === 'number' ? parseRetryAfter(String(value), now) : undefined;
    if (ms !== undefined) return ms;
  }
  return undefined;
}

/** 429s in a row, across the target, before it may be taken to refuse everything. */
export const MIN_REFUSALS = 10;

/** A run of 429s with no other answer between: since when, how many, and until when the target asked to wait. */
export interface Refusal {
  /** When the first 429 of the run came (ms epoch). */
  since: number;
  count: number;
  /** The latest time a 429 of the run asked to wait until (ms epoch). */
  until: number;
  /** The wait the last 429 asked for, when it said. */
  lastWaitMs: number | undefined;
}

/**
 * Tells a target that refuses every request (a quota spent for the day) from one
 * that is busy: the target refuses everything once at least `MIN_REFUSALS` answers
 * in a row were 429, with no other answer between, and the run covers `forMs`,
 * from its first 429 to the latest time one of them asked to wait until. Any
 * other answer (a success, a 404, a 500) ends the run: a target that answers some
 * requests is busy, not closed. Network errors are not answers and change nothing.
 * Times are the caller's (ms).
 */
export class RefusalStreak {
  private run: Refusal | undefined;

  constructor(private readonly forMs: number) {}

  /** An answer other than 429. */
  answered(): void {
    this.run = undefined;
  }

  /** A 429 at `at`, asking to wait `waitMs` (when it said). */
  refused(at: number, waitMs: number | undefined): void {
    const until = at + (waitMs ?? 0);
    if (this.run === undefined) this.run = { since: at, count: 0, until, lastWaitMs: waitMs };
    this.run.count++;
    this.run.until = Math.max(this.run.until, until, at);
    this.run.lastWaitMs = waitMs;
  }

  /** The run, once it says the target refuses everything; undefined while it may be busy. */
  get refusing(): Refusal | undefined {
    const r = this.run;
    return r !== undefined && r.count >= MIN_REFUSALS && r.until - r.since >= this.forMs ? { ...r } : undefined;
  }
}

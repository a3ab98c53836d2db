import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import type { Limiter } from '../scim/client.js';

export interface RateLimit {
  requestsPerSecond: number;
  maxConcurrent: number;
  burst?: number | undefined;
}

/** `target.rateLimit` as configured: without `requestsPerSecond` (or with `adaptive: true`) the rate is found from the target's 429s. */
export interface RateLimitConfig {
  requestsPerSecond?: number | undefined;
  maxConcurrent: number;
  burst?: number | undefined;
  adaptive?: boolean | undefined;
}

/** The rate before adaptive rates, kept where `adaptive: false` is set without a rate. */
const FIXED_DEFAULT_RPS = 10;

/** How an integration's request rate is kept. */
export type RateMode =
  | { kind: 'fixed'; rateLimit: RateLimit }
  /** Found from the target's 429s, never past `maxRate` (a `requestsPerSecond` set beside `adaptive: true`). */
  | { kind: 'adaptive'; maxConcurrent: number; maxRate: number | undefined };

export function rateModeOf(config: RateLimitConfig): RateMode {
  const { requestsPerSecond, maxConcurrent, burst, adaptive } = config;
  if (adaptive === true || (adaptive === undefined && requestsPerSecond === undefined)) {
    return { kind: 'adaptive', maxConcurrent, maxRate: requestsPerSecond };
  }
  return { kind: 'fixed', rateLimit: { requestsPerSecond: requestsPerSecond ?? FIXED_DEFAULT_RPS, maxConcurrent, ...(burst !== undefined ? { burst } : {}) } };
}

/**
 * The limiter of a delivery's client: the request rate only. The delivery's own queue
 * runs `maxConcurrent` operations, each sending its requests one after the other, so
 * concurrency is already bounded. At 1,000 requests/s and more Bottleneck's spacing
 * is 0 ms: no limiter at all then.
 */
export function deliveryLimiter(rateLimit: RateLimit): Limiter {
  if (Math.floor(1000 / rateLimit.requestsPerSecond) === 0 && !rateLimit.burst) return UNLIMITED;
  return bottleneck(rateLimit);
}

/**
 * The limiter of a client used outside a delivery (reconcile, test-connection, a
 * rebuild): the request rate and the concurrency both. Where the rate needs no
 * spacing, a plain queue bounds concurrency at a fraction of Bottleneck's cost per job.
 */
export function targetLimiter(rateLimit: RateLimit): Limiter {
  if (Math.floor(1000 / rateLimit.requestsPerSecond) === 0 && !rateLimit.burst) {
    const queue = new PQueue({ concurrency: rateLimit.maxConcurrent });
    return {
      schedule: <T>(job: () => Promise<T>) => queue.add(job) as Promise<T>,
      stop: () => queue.onIdle(),
      drop: () => undefined,
    };
  }
  return bottleneck(rateLimit);
}

const UNLIMITED: Limiter = { schedule: (job) => job(), stop: () => Promise.resolve(), drop: () => undefined };

/** A request rate kept by Bottleneck (`minTime`, or a reservoir for `burst`), with `maxConcurrent` at once. */
function bottleneck(rateLimit: RateLimit): Limiter {
  const { requestsPerSecond: rps, maxConcurrent, burst } = rateLimit;
  const minTime = Math.floor(1000 / rps);
  const limiter = new Bottleneck({
    maxConcurrent,
    minTime: burst ? 0 : minTime,
    ...(burst
      ? { reservoir: burst, reservoirIncreaseAmount: 1, reservoirIncreaseInterval: Math.max(1, Math.floor(1000 / rps)), reservoirIncreaseMaximum: burst }
      : {}),
  });
  // Bottleneck's in-process store yields to the event loop with setTimeout(0) several
  // times per job, which Node clamps to 1 ms: that alone caps a limiter near 400
  // requests/s. Yield with setImmediate instead (timed waits stay timers).
  const store = (limiter as unknown as { _store?: { yieldLoop?: (t?: number) => Promise<void> } })._store;
  if (store && typeof store.yieldLoop === 'function') {
    store.yieldLoop = (t = 0) => new Promise<void>((resolve) => (t > 0 ? setTimeout(resolve, t) : setImmediate(resolve)));
  }
  // Bottleneck refuses a second stop(): the first one is kept and shared.
  let stopped: Promise<void> | undefined;
  let dropped = false;
  return {
    schedule: (job) => limiter.schedule(job),
    stop: () => (stopped ??= limiter.stop({ dropWaitingJobs: false })),
    drop: () => {
      if (dropped) return;
      dropped = true;
      if (stopped === undefined) {
        stopped = limiter.stop({ dropWaitingJobs: true });
        stopped.catch(() => undefined);
      } else {
        // Already draining: let what waits through at once instead (each job then fails at once).
        void limiter.updateSettings({ minTime: 0, maxConcurrent: null, reservoir: null });
      }
    },
  };
}

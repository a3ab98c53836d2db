import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';

export interface RateLimit {
  requestsPerSecond: number;
  maxConcurrent: number;
  burst?: number | undefined;
}

/** What the client needs of a limiter: run a job when allowed, drain, or drop every job waiting. */
export interface Limiter {
  schedule<T>(job: () => Promise<T>): Promise<T>;
  /** Resolves once every job queued has run. */
  stop(): Promise<void>;
  /**
   * Rejects at once every job waiting for its turn, where the limiter would
   * otherwise let them through one per rate slot; jobs running go on. A queue
   * that only bounds concurrency need not: it drains by itself once the
   * requests in flight are aborted, and the client fails the rest at once.
   */
  drop(): void;
}

/**
 * The target's limiter. A request rate is kept by Bottleneck (`minTime`, or a
 * reservoir for `burst`). At 1,000 requests/s and more Bottleneck's spacing is
 * 0 ms, i.e. only concurrency is limited: a plain queue does that at a fraction
 * of Bottleneck's cost per job, and a caller that bounds its own concurrency
 * needs none.
 */
export function createLimiter(rateLimit: RateLimit, options: { boundedByCaller: boolean }): Limiter {
  const { requestsPerSecond: rps, maxConcurrent, burst } = rateLimit;
  const minTime = Math.floor(1000 / rps);
  if (minTime === 0 && !burst && options.boundedByCaller) {
    return { schedule: (job) => job(), stop: () => Promise.resolve(), drop: () => undefined };
  }
  if (minTime === 0 && !burst) {
    const queue = new PQueue({ concurrency: maxConcurrent });
    return {
      schedule: <T>(job: () => Promise<T>) => queue.add(job) as Promise<T>,
      stop: () => queue.onIdle(),
      drop: () => undefined,
    };
  }
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

/** Abort reasons of an attempt cut short by scimsync itself, told apart by identity. */
const TIMED_OUT = Object.freeze({ reason: 'timed out' });
const STOPPED = Object.freeze({ reason: 'stopped' });

/** One HTTP exchange: its own controller, aborted by its deadline or by a stop. */
export class Attempt extends AbortController {
  timer: NodeJS.Timeout | undefined;

  get timedOut(): boolean {
    return this.signal.reason === TIMED_OUT;
  }

  get stopped(): boolean {
    return this.signal.reason === STOPPED;
  }
}

/** Node fires a longer timer at once (TimeoutOverflowWarning): longer waits are cut to this, about 24 days. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

function timeOut(attempt: Attempt): void {
  attempt.abort(TIMED_OUT);
}

/**
 * The exchanges and waits of one client, so that a stop can end them all at
 * once. Each attempt has its own controller and timer, both let go when it
 * settles: no signal lives long enough to gather listeners.
 */
export class InFlight {
  private halted = false;
  private readonly attempts = new Set<Attempt>();
  private readonly sleepers = new Set<() => void>();

  get stopped(): boolean {
    return this.halted;
  }

  /** Starts an attempt that aborts itself after `timeoutMs`; pass it to `end` when it settles. */
  begin(timeoutMs: number): Attempt {
    const attempt = new Attempt();
    if (this.halted) {
      attempt.abort(STOPPED);
      return attempt;
    }
    attempt.timer = setTimeout(timeOut, Math.min(timeoutMs, LONGEST_TIMER_MS), attempt);
    this.attempts.add(attempt);
    return attempt;
  }

  end(attempt: Attempt): void {
    clearTimeout(attempt.timer);
    this.attempts.delete(attempt);
  }

  /** Waits `ms`, or less if the client is stopped meanwhile. */
  sleep(ms: number): Promise<void> {
    if (this.halted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(ms, LONGEST_TIMER_MS));
      this.sleepers.add(wake);
    });
  }

  /** Aborts every attempt in flight, wakes every wait, and aborts every attempt begun later at once. */
  stop(): void {
    this.halted = true;
    for (const attempt of this.attempts) {
      clearTimeout(attempt.timer);
      attempt.abort(STOPPED);
    }
    this.attempts.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}

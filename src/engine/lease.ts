import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { LeaseHeldError, StateError, errorMessage } from '../errors.js';
import type { StateStore } from '../../state/index.js';

/** A lease outlives a crashed owner by this long; a live owner renews it well before. */
export const LEASE_TTL_MS = 60_000;
const LEASE_RENEW_MS = 15_000;
/** How often a `--wait` asks again, at most. */
const WAIT_POLL_MS = 1_000;

/**
 * The pid namespace of this process (Linux): two containers may share a
 * hostname and a pid, never a namespace. Empty where it cannot be read.
 */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    return '';
  }
}

const OWNER = /^pid (\d+) on (\S+) \((?:pidns (\d+) )?[0-9a-f]{8}\)$/;

/** Who holds a lease, as other processes read it: `pid 1234 on host1 (pidns 4026531836 8f2c41d0)`. */
export function leaseOwner(): string {
  const ns = pidNamespace();
  // The random part tells apart two owners in one process (tests) and a pid reused after a restart.
  return `pid ${process.pid} on ${hostname()} (${ns ? `pidns ${ns} ` : ''}${randomUUID().slice(0, 8)})`;
}

/**
 * Whether `owner` is a process of this machine (same host, same pid namespace)
 * that no longer runs: a sync killed outright, whose lease would otherwise
 * keep every other run out until it expires.
 */
function deadHere(owner: string): boolean {
  const m = OWNER.exec(owner);
  if (!m || m[2] !== hostname() || (m[3] ?? '') !== pidNamespace()) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface LeaseOptions {
  store: StateStore;
  integration: string;
  /** From leaseOwner(); one per process (the daemon) or per run. */
  owner: string;
  /** How long to wait for another holder to finish (`--wait`); 0 or absent: give up at once. */
  waitMs?: number;
  /** How a `--wait` was written, for the messages (e.g. `5m`). */
  waitText?: string;
  /** Stops a wait, and is followed by the lease's own signal. */
  signal?: AbortSignal;
  /** Told once when the run starts waiting for the other holder. */
  onWait?: (message: string) => void;
  /** Lease timings: the defaults, but for tests of an expiry. */
  ttlMs?: number;
  renewMs?: number;
  pollMs?: number;
}

/** A lease held for one run. */
export interface HeldLease {
  readonly owner: string;
  /**
   * Aborted when the caller's signal aborts, or when the lease is lost (its
   * renewals stalled past the expiry and another process took it): the run
   * then starts nothing new. Short-lived: pass it, not the caller's signal, to the run.
   */
  readonly signal: AbortSignal;
  /** Set when the lease was lost during the run: who holds it now. */
  readonly lostTo: string | undefined;
}

/** The holder as a message names it: `another scimsync process (pid 1234 on host1)`. */
function holderText(owner: string | undefined): string {
  if (owner === undefined) return 'another scimsync process';
  const m = /^(pid \d+ on \S+)/.exec(owner);
  return `another scimsync process (${m ? m[1] : owner})`;
}

/**
 * Takes or renews the lease, or takes it over from a holder of this machine
 * that has died. A state that stays locked past its busy timeout is a StateError, not a crash.
 */
function tryTake(options: LeaseOptions, ttlMs: number): boolean {
  const { store, integration, owner } = options;
  try {
    if (store.takeLease(integration, owner, ttlMs)) return true;
    const holder = store.leaseHolder(integration);
    if (holder === undefined || !deadHere(holder)) return false;
    // Released only if that holder still has it, then taken only if free: of two runs taking it over at once, one does.
    store.releaseLease(integration, holder);
    return store.takeLease(integration, owner, ttlMs);
  } catch (err) {
    throw new StateError(`the lease of integration ${integration} could not be taken: ${errorMessage(err)}`);
  }
}

async function take(options: LeaseOptions, ttlMs: number): Promise<void> {
  const { store, integration } = options;
  if (tryTake(options, ttlMs)) return;
  const busy = () => `${holderText(store.leaseHolder(integration))} is running this integration`;
  const waitMs = options.waitMs ?? 0;
  if (waitMs <= 0) throw new LeaseHeldError(integration, `${busy()}; try again later or pass --wait 5m`);
  options.onWait?.(`[scimsync] [integration ${integration}] ${busy()}; waiting up to ${options.waitText ?? `${waitMs} ms`}`);
  const deadline = Date.now() + waitMs;
  const pollMs = options.pollMs ?? WAIT_POLL_MS;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) {
      const why = options.signal?.aborted ? 'stopped while waiting' : `still running after --wait ${options.waitText ?? `${waitMs} ms`}`;
      throw new LeaseHeldError(integration, `${busy()}; ${why}, try again later`);
    }
    // Jitter: two waiting runs do not ask in step.
    await sleep(Math.min(left, pollMs * (0.5 + Math.random() / 2)), options.signal);
    if (tryTake(options, ttlMs)) return;
  }
}

/**
 * Runs `run` holding the integration's lease: taken first (or waited for, up
 * to `waitMs`), renewed on a timer while `run` goes on, released at the end,
 * whatever happens. Every path that writes to a target or to the
 * integration's state goes through here, so that two of them never send the
 * same operations. Throws LeaseHeldError (exit 4) when another process holds
 * it; `run` is then not called.
 */
export async function withLease<T>(options: LeaseOptions, run: (lease: HeldLease) => Promise<T>): Promise<T> {
  const { store, integration, owner } = options;
  const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
  await take(options, ttlMs);
  const controller = new AbortController();
  const lease: { owner: string; signal: AbortSignal; lostTo: string | undefined } = { owner, signal: controller.signal, lostTo: undefined };
  const outer = options.signal;
  // Removed at the end: the caller's signal may live for the whole process (the daemon's).
  const follow = () => controller.abort();
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener('abort', follow, { once: true });
  const renew = setInterval(() => {
    if (lease.lostTo !== undefined) return;
    let kept: boolean;
    try {
      kept = tryTake(options, ttlMs);
    } catch {
      // The state is busy for a moment: the next renewal tries again, well before the expiry.
      return;
    }
    if (!kept) {
      lease.lostTo = holderText(store.leaseHolder(integration));
      controller.abort();
    }
  }, options.renewMs ?? LEASE_RENEW_MS);
  renew.unref();
  try {
    return await run(lease);
  } finally {
    clearInterval(renew);
    outer?.removeEventListener('abort', follow);
    store.releaseLease(integration, owner);
    // Committed now, not by a later group commit: a waiting run sees the lease free at once.
    store.flush();
  }
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

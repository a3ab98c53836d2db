import type { StateStore } from '../../../state/index.js';
import type { LeaseOptions } from '../lease.js';

/** How a command that writes waits for another scimsync process holding the integration's lease (`--wait`). */
export interface LeaseWait {
  /** How long to wait (ms); 0 or absent: a held lease is a LeaseHeldError (exit 4) at once. */
  waitMs?: number | undefined;
  /** The wait as written (`5m`), for the messages. */
  waitText?: string | undefined;
  /** Told once when the run starts waiting. */
  onWait?: ((message: string) => void) | undefined;
}

/** The lease of one integration for `owner`, taken as `wait` says. */
export function leaseFor(store: StateStore, integration: string, owner: string, wait: LeaseWait): LeaseOptions {
  return {
    store,
    integration,
    owner,
    waitMs: wait.waitMs ?? 0,
    ...(wait.waitText ? { waitText: wait.waitText } : {}),
    ...(wait.onWait ? { onWait: wait.onWait } : {}),
  };
}

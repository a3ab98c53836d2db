import type { CycleRecord, EscrowEntry, Quarantine, StateStore } from '../../../state/index.js';

export type { CycleRecord } from '../../../state/index.js';

/** What `/healthz` says of one integration. */
export interface IntegrationHealth {
  healthy: boolean;
  /** Why it is unhealthy; null when healthy. */
  reason: string | null;
  lastOutcome: string | null;
  lastCycleEndedAt: string | null;
  quarantinedUntil: string | null;
  /** Failed operations kept for a later cycle, and of those, the ones given up after escrow.maxCycles. */
  escrow: { size: number; givenUp: number };
}

export interface HealthInput {
  /** The last finished cycle, if any. */
  last: CycleRecord | undefined;
  quarantine: Quarantine | undefined;
  escrow: readonly EscrowEntry[];
  now: number;
  /** Why the last cycle failed, when it failed and its events say (the source could not be read: …). */
  failure?: string | undefined;
}

/** The counters of operations that got through (CycleCounts). */
const SUCCESSES = ['created', 'adopted', 'updated', 'deactivated', 'reactivated', 'deleted', 'groupsCreated', 'groupsAdopted', 'groupsUpdated', 'groupsDeleted'];

/**
 * Unhealthy while quarantined, when the last cycle failed or was aborted, or
 * when it had failed operations and not one that got through (a target that
 * refuses every write, though too few to quarantine it).
 */
export function healthOf(input: HealthInput): IntegrationHealth {
  const { last, quarantine, now } = input;
  const quarantined = quarantine !== undefined && Date.parse(quarantine.until) > now;
  const outcome = last?.outcome ?? null;
  const failed = last?.counts.failed ?? 0;
  const succeeded = SUCCESSES.reduce((n, k) => n + (last?.counts[k] ?? 0), 0);
  let reason: string | null = null;
  if (quarantined) reason = `quarantined until ${quarantine.until}: ${quarantine.reason}`;
  else if (outcome === 'failed') reason = `the last cycle failed: ${input.failure ?? 'see scimsync events --result failure'}`;
  else if (outcome === 'aborted') reason = 'the last cycle was aborted by a safety rule';
  else if (failed > 0 && succeeded === 0) reason = `every operation of the last cycle failed (${failed})`;
  return {
    healthy: reason === null,
    reason,
    lastOutcome: outcome,
    lastCycleEndedAt: last?.endedAt ?? null,
    quarantinedUntil: quarantined ? quarantine.until : null,
    escrow: { size: input.escrow.length, givenUp: input.escrow.filter((e) => e.givenUp).length },
  };
}

/**
 * Tells the health of integrations from the state. While a cycle runs, it speaks of the
 * last one that finished: the finished cycle of each integration is remembered.
 */
export class HealthWatch {
  private readonly finished = new Map<string, CycleRecord>();

  constructor(private readonly store: StateStore) {}

  /** Notes the integration's last cycle if it has finished. */
  noteLastCycle(integration: string): void {
    const last = this.store.lastCycle(integration);
    if (last?.outcome) this.finished.set(integration, last);
  }

  /** The integration's health now (`now` in ms). */
  healthOf(integration: string, now: number): IntegrationHealth {
    this.noteLastCycle(integration);
    const last = this.finished.get(integration);
    const failure = last?.outcome === 'failed' ? this.failureOf(integration, last.id) : undefined;
    return healthOf({ last, quarantine: this.store.getQuarantine(integration), escrow: this.store.loadEscrow(integration), now, failure });
  }

  /**
   * Why a cycle failed, from its events: the source could not be read, or the target
   * refused us or could not be reached (the quarantine that followed says which).
   */
  private failureOf(integration: string, cycle: string): string | undefined {
    const events = this.store.queryEvents({ integration, cycle, type: 'idm_integration_update', result: 'failure', order: 'newest', limit: 20 });
    for (const e of events) {
      if (e.detail.source === 'unreadable') return e.summary;
      const quarantine = e.detail.quarantine as { reason?: unknown } | undefined;
      if (typeof quarantine?.reason === 'string') return quarantine.reason;
    }
    return undefined;
  }

  /** Until when the integration is quarantined (ms since the epoch; 0 when it is not). */
  quarantinedUntil(integration: string): number {
    const q = this.store.getQuarantine(integration);
    return q ? Date.parse(q.until) : 0;
  }
}

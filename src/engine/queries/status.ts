import type { Config, IntegrationConfig } from '../../config/schema.js';
import type { CycleRecord, EscrowEntry, HeldPlan, InflightEntry, ObjectCounts, Quarantine, StateStore } from '../../../state/index.js';
import { nextRun } from '../schedule.js';
import { openState } from '../state-access.js';

export type { CycleRecord, EscrowEntry, HeldObject, HeldPlan, InflightEntry, Quarantine } from '../../../state/index.js';

/** What `scimsync status` reports of one integration. */
export interface IntegrationStatus {
  integration: string;
  lastCycle: CycleRecord | null;
  quarantine: Quarantine | null;
  objects: ObjectCounts;
  escrow: EscrowEntry[];
  inFlight: InflightEntry[];
  /** A cycle held for deprovisioning too many users, and whether it is approved. */
  held: HeldPlan | null;
  /** When the daemon runs it next (ISO), from the schedule and any quarantine. */
  nextCycle: string;
}

/** One integration's status, read from the state; `now` in ms since the epoch. */
export function integrationStatus(store: StateStore, integration: IntegrationConfig, now: number): IntegrationStatus {
  const name = integration.name;
  const lastCycle = store.lastCycle(name) ?? null;
  const quarantine = store.getQuarantine(name) ?? null;
  const quarantinedUntil = quarantine ? Date.parse(quarantine.until) : 0;
  const next = lastCycle ? nextRun(integration.schedule, new Date(lastCycle.startedAt)) : now;
  return {
    integration: name,
    lastCycle,
    quarantine,
    objects: store.objectCounts(name),
    escrow: store.loadEscrow(name),
    inFlight: store.loadInflight(name),
    held: store.getHeldPlan(name) ?? null,
    nextCycle: new Date(Math.max(next, quarantinedUntil, now)).toISOString(),
  };
}

/** The status of every configured integration, in config order; the state is open while they are read. */
export function* configuredStatuses(config: Config, now: () => number = Date.now): Generator<IntegrationStatus> {
  const store = openState(config);
  try {
    for (const integration of config.integrations) yield integrationStatus(store, integration, now());
  } finally {
    store.close();
  }
}

/** Whether a quarantine is in force at `now` (ms). */
export function quarantinedAt(quarantine: Quarantine | null, now: number): boolean {
  return quarantine !== null && Date.parse(quarantine.until) > now;
}

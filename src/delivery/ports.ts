import type { StateUser } from '../core/records.js';

/**
 * What the delivery needs of the state, as the delivery sees it. The StateStore
 * provides all of it; the delivery never reaches the state any other way.
 */
export interface DeliveryStore {
  saveUser(integration: string, user: StateUser): void;
  saveGroup(
    integration: string,
    group: { sourceId: string; targetId: string | null; status: StateUser['status']; displayName: string },
    change?: { add?: readonly string[]; remove?: readonly string[]; members?: readonly string[] },
  ): void;
  dropMemberships(integration: string, userId: string): void;
  recordFailure(
    integration: string,
    op: { key: string; fingerprint: string; kind: string; sourceId: string },
    failure: { error: string; attempts: number; cycleId: string },
    maxCycles: number,
  ): { givenUp: boolean; cycles: number; attempts: number; firstFailedAt: string };
  clearEscrow(integration: string, key: string): void;
  markInflight(integration: string, ops: readonly { key: string; kind: string; sourceId: string }[], cycleId: string): number;
  awaitInflight(ticket: number): void;
  clearInflight(integration: string, key: string): void;
  readonly writesInBackground: boolean;
}

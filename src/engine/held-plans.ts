import type { Operation } from '../core/operations.js';
import type { StateUser } from '../core/records.js';
import { approvalCovers, massDeprovision } from '../core/safety.js';
import type { IntegrationConfig } from '../config/schema.js';
import type { NewHeldPlan, StateStore } from '../../state/index.js';
import type { MassDeprovision } from './report.js';

export interface HoldCheck {
  integration: IntegrationConfig;
  operations: readonly Operation[];
  managed: number;
  stateOf: (sourceId: string) => StateUser | undefined;
  /** Read only: the held plan an admin may have approved. */
  store: StateStore;
}

/** A mass deprovision found, and the held plan a cycle keeps for `scimsync approve` when it is not approved. */
export interface HoldFound {
  hold: MassDeprovision;
  /** What `store.holdPlan` keeps; undefined when approved. */
  record: NewHeldPlan | undefined;
}

/**
 * Whether a plan deprovisions (deactivates or deletes) more users than
 * `safety.maxDeletes`, or more than `safety.maxDeletePercent` of those managed.
 * Such a plan is held (the caller keeps `record`); it goes ahead only when approved and
 * when it deprovisions no one the approval did not cover. Writes nothing.
 */
export function checkMassDeprovision(check: HoldCheck): HoldFound | undefined {
  const { integration, store } = check;
  const found = massDeprovision(check.operations, check.managed, integration.safety);
  if (!found) return undefined;
  const n = found.operations.length;
  const prior = store.getHeldPlan(integration.name);
  const approved = prior?.approvedAt !== undefined && prior.approvedAt !== null && approvalCovers(new Set(prior.objects.map((o) => o.sourceId)), found);
  const message = approved
    ? `${n} users deprovisioned (${found.reason}), as approved on ${prior?.approvedAt ?? ''}`
    : `the plan would deprovision ${n} users, ${found.reason}: cycle held, nothing sent; review it with scimsync plan, then scimsync approve ${integration.name}`;
  const objects = approved ? undefined : found.operations.map((op) => ({ kind: op.kind, sourceId: op.sourceId, userName: String(check.stateOf(op.sourceId)?.attrs.userName ?? '') }));
  return { hold: { deprovisions: n, reason: found.reason, message, approved }, record: objects ? { reason: found.reason, managed: check.managed, objects } : undefined };
}

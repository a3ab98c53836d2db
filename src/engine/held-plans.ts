import type { Operation } from '../core/operations.js';
import type { StateUser } from '../core/records.js';
import { approvalCovers, massDeprovision } from '../core/safety.js';
import type { IntegrationConfig } from '../config/schema.js';
import type { StateStore } from '../../state/index.js';
import type { MassDeprovision } from './report.js';

export interface HoldCheck {
  integration: IntegrationConfig;
  operations: readonly Operation[];
  managed: number;
  stateOf: (sourceId: string) => StateUser | undefined;
  store: StateStore;
  /** `record`: a held plan is kept for `scimsync approve`; `preview`: nothing is written (plan, dry run). */
  mode: 'record' | 'preview';
}

/**
 * Whether a plan deprovisions (deactivates or deletes) more users than
 * `safety.maxDeletes`, or more than `safety.maxDeletePercent` of those managed.
 * Such a plan is recorded as held; it goes ahead only when approved and when it
 * deprovisions no one the approval did not cover.
 */
export function checkMassDeprovision(check: HoldCheck): MassDeprovision | undefined {
  const { integration, store } = check;
  const found = massDeprovision(check.operations, check.managed, integration.safety);
  if (!found) return undefined;
  const n = found.operations.length;
  const prior = store.getHeldPlan(integration.name);
  const approved = prior?.approvedAt !== undefined && prior.approvedAt !== null && approvalCovers(new Set(prior.objects.map((o) => o.sourceId)), found);
  const message = approved
    ? `${n} users deprovisioned (${found.reason}), as approved on ${prior?.approvedAt ?? ''}`
    : `the plan would deprovision ${n} users, ${found.reason}: cycle held, nothing sent; review it with scimsync plan, then scimsync approve ${integration.name}`;
  if (!approved && check.mode === 'record') {
    const objects = found.operations.map((op) => ({ kind: op.kind, sourceId: op.sourceId, userName: String(check.stateOf(op.sourceId)?.attrs.userName ?? '') }));
    store.holdPlan(integration.name, { reason: found.reason, managed: check.managed, objects });
  }
  return { deprovisions: n, reason: found.reason, message, approved };
}

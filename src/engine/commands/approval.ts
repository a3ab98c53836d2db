import type { Config } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { recordAdminAction } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { HeldPlan } from '../../../state/index.js';
import { openState } from '../state-access.js';

export type { HeldObject, HeldPlan } from '../../../state/index.js';

export interface ApprovalTarget {
  config: Config;
  /** Logs the audit event (as every event is). */
  logger: Logger;
  integration: string;
}

/** A held plan approved: what the next cycle may deprovision, once. */
export interface Approval {
  integration: string;
  approvedAt: string;
  held: HeldPlan;
}

/**
 * Lets the next cycle apply the mass deprovision held for `integration` once, provided it
 * deprovisions no one beyond what was held; writes the audit event. None held: a UsageError.
 */
export function approveHeldPlan(target: ApprovalTarget, now: Date = new Date()): Approval {
  const name = target.integration;
  const store = openState(target.config);
  try {
    const held = store.getHeldPlan(name);
    if (!held) throw new UsageError(`approve ${name}: no cycle is held for approval`);
    const approvedAt = now.toISOString();
    store.setApproval(name, approvedAt);
    const n = held.objects.length;
    recordAdminAction(
      { integration: name, logger: target.logger, store },
      {
        type: 'idm_integration_update',
        result: 'success',
        summary: `mass deprovision of ${n} users approved for the next cycle (${held.reason})`,
        detail: { approved: true, deprovisions: n, heldAt: held.heldAt },
      },
    );
    return { integration: name, approvedAt, held };
  } finally {
    store.close();
  }
}

/** What withdrawing an approval did: nothing when no approved plan was held. */
export type ApprovalWithdrawal = { withdrawn: false } | { withdrawn: true; deprovisions: number };

/** Forgets the approval of the held plan (the plan stays held); writes the audit event when there was one. */
export function withdrawApproval(target: ApprovalTarget): ApprovalWithdrawal {
  const name = target.integration;
  const store = openState(target.config);
  try {
    const held = store.getHeldPlan(name);
    if (!held?.approvedAt) return { withdrawn: false };
    store.setApproval(name, null);
    const n = held.objects.length;
    recordAdminAction(
      { integration: name, logger: target.logger, store },
      { type: 'idm_integration_update', result: 'success', summary: `approval of the mass deprovision of ${n} users withdrawn`, detail: { approved: false, deprovisions: n } },
    );
    return { withdrawn: true, deprovisions: n };
  } finally {
    store.close();
  }
}

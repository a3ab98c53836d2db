import { AdminActionRefusedError } from '../../errors.js';
import { recordAdminAction } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { HeldPlan, StateStore } from '../../../state/index.js';
import { leaseOwner, withLease } from '../lease.js';
import { leaseFor, type LeaseWait } from './lease-wait.js';

export type { HeldObject, HeldPlan } from '../../../state/index.js';

/** Who took an admin action, as its audit event names them. */
export type AdminActor = { via: 'cli' } | { via: 'session' | 'token' | 'loopback'; name: string };

/** An admin action on one integration: approve, discard, lift quarantine. */
export interface AdminAction {
  store: StateStore;
  /** Logs the audit event (as every event is). */
  logger: Logger;
  integration: string;
  actor: AdminActor;
  /** How to wait for a cycle holding the integration's lease; by default a LeaseHeldError (exit 4) at once. */
  wait?: LeaseWait;
  now?: () => Date;
}

/** What an approval did: the held plan the next cycle may deprovision, once. */
export interface Approval {
  integration: string;
  approvedAt: string;
  held: HeldPlan;
}

/** What a discard did: the held plan forgotten, and whether it had been approved. */
export interface Discard {
  integration: string;
  held: HeldPlan;
  wasApproved: boolean;
}

/** What lifting a quarantine did: the quarantine that was set. */
export interface LiftedQuarantine {
  integration: string;
  reason: string;
  until: string;
}

/**
 * Runs an admin action holding the integration's lease, as every writer of it does: an action
 * never lands in the middle of a cycle (the daemon's, `sync`, the console's Provision now).
 */
function leased<T>(action: AdminAction, work: () => T): Promise<T> {
  return withLease(leaseFor(action.store, action.integration, leaseOwner(), action.wait ?? {}), () => Promise.resolve().then(work));
}

function audit(action: AdminAction, summary: string, detail: Record<string, unknown>): void {
  const { actor } = action;
  const by = actor.via === 'cli' ? '' : ` by ${actor.name} (console${actor.via === 'token' ? ' API token' : ''})`;
  recordAdminAction(
    { integration: action.integration, logger: action.logger, store: action.store },
    {
      type: 'idm_integration_update',
      result: 'success',
      summary: `${summary}${by}`,
      detail: actor.via === 'cli' ? detail : { ...detail, console: { user: actor.name, via: actor.via } },
    },
  );
}

/**
 * Lets the next cycle apply the mass deprovision held for the integration once, provided it
 * deprovisions no one beyond what was held; writes the audit event. Nothing held: refused (exit 2).
 */
export function approveHeldPlan(action: AdminAction): Promise<Approval> {
  const name = action.integration;
  return leased(action, () => {
    const held = action.store.getHeldPlan(name);
    if (!held) throw new AdminActionRefusedError('approve', name, 'no cycle is held for approval');
    const approvedAt = (action.now?.() ?? new Date()).toISOString();
    action.store.setApproval(name, approvedAt);
    const n = held.objects.length;
    audit(action, `mass deprovision of ${n} users approved for the next cycle (${held.reason})`, { approved: true, deprovisions: n, heldAt: held.heldAt });
    return { integration: name, approvedAt, held: { ...held, approvedAt } };
  });
}

/**
 * Forgets the held plan and any approval of it: none of it is deprovisioned, and the next
 * cycle holds again if it would still deprovision as many. Nothing held: refused (exit 2).
 */
export function discardHeldPlan(action: AdminAction): Promise<Discard> {
  const name = action.integration;
  return leased(action, () => {
    const held = action.store.getHeldPlan(name);
    if (!held) throw new AdminActionRefusedError('discard', name, 'no cycle is held');
    action.store.clearHeldPlan(name);
    const n = held.objects.length;
    const wasApproved = held.approvedAt !== null && held.approvedAt !== undefined;
    audit(action, `held mass deprovision of ${n} users discarded${wasApproved ? ' (its approval withdrawn)' : ''}`, { discarded: true, approved: false, deprovisions: n, heldAt: held.heldAt });
    return { integration: name, held, wasApproved };
  });
}

/** Lifts the integration's quarantine: it runs at its next scheduled cycle. Not quarantined: refused (exit 2). */
export function liftQuarantine(action: AdminAction): Promise<LiftedQuarantine> {
  const name = action.integration;
  return leased(action, () => {
    const q = action.store.getQuarantine(name);
    if (!q || Date.parse(q.until) <= (action.now?.() ?? new Date()).getTime()) throw new AdminActionRefusedError('lift-quarantine', name, `${name} is not quarantined`);
    action.store.setQuarantine(name, undefined);
    audit(action, 'quarantine lifted', { quarantine: { lifted: true, was: q } });
    return { integration: name, reason: q.reason, until: q.until };
  });
}

/** The safety guards a cycle runs before it plans: a source that shrank is an outage, not a mass leave. */
import type { IntegrationConfig } from '../../config/schema.js';
import type { DesiredState } from '../../core/desired.js';
import type { StateGroup } from '../../core/records.js';
import { groupShrinkage, userShrinkage } from '../../core/safety.js';
import type { EventInput } from '../../events/sink.js';

/** Why a cycle stops before planning: the message, its event, and the facts the notification tells. */
export interface Shrinkage {
  message: string;
  event: EventInput;
  shrank: { sourceUsers: number; lastGood: number; reason: string };
}

/** What the state knows that the guards compare with. */
export interface GuardFacts {
  /** Source users of the last good snapshot. */
  lastGood: number | undefined;
  /** Users provisioned (linked and not deleted). */
  managed: number;
  groups: StateGroup[];
  memberships: number;
}

type Guarded = { integration: IntegrationConfig; force?: boolean | undefined };

const forceHint = (reason: string) => `${reason}: cycle aborted, nothing sent; sync --force to accept it`;

/** Users that shrank past safety.minSourceRatio (unless forced). */
export function usersShrank(input: Guarded, sourceUsers: number, lastGood: number | undefined): Shrinkage | undefined {
  const ratio = input.integration.safety.minSourceRatio;
  const reason = input.force ? undefined : userShrinkage(sourceUsers, lastGood, ratio);
  if (!reason) return undefined;
  const message = forceHint(reason);
  const event: EventInput = { type: 'user_deprovision', result: 'skipped', summary: message, detail: { sourceUsers, lastGood, minSourceRatio: ratio } };
  return { message, event, shrank: { sourceUsers, lastGood: lastGood ?? 0, reason } };
}

/** Nobody in scope while users are provisioned (even forced); groups or memberships that shrank past the ratio (unless forced). */
export function scopeShrank(input: Guarded, desired: DesiredState, facts: GuardFacts, sourceUsers: number): Shrinkage | undefined {
  const { managed } = facts;
  if (desired.inScope === 0 && managed > 0) {
    const message = `the source returned no users in scope while ${managed} are provisioned: cycle aborted, nothing sent`;
    const event: EventInput = { type: 'user_deprovision', result: 'skipped', summary: message, detail: { sourceUsers, inScope: 0, managed } };
    return { message, event, shrank: { sourceUsers: 0, lastGood: managed, reason: 'no users in scope' } };
  }
  // Groups and memberships that vanish or shrink past the ratio are an outage too (a failed group search).
  const ratio = input.integration.safety.minSourceRatio;
  const reason = input.force ? undefined : groupShrinkage(desired.groups, { groups: facts.groups, memberships: facts.memberships }, ratio);
  if (!reason) return undefined;
  const message = forceHint(reason);
  const event: EventInput = { type: 'group_delete_provision', result: 'skipped', summary: message, detail: { minSourceRatio: ratio } };
  return { message, event, shrank: { sourceUsers, lastGood: facts.lastGood ?? sourceUsers, reason } };
}

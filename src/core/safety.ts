import type { Operation } from './operations.js';
import type { StateGroup } from './records.js';

/**
 * The safety decisions of a cycle, as pure functions: a source that shrank is an
 * outage, not a mass leave; a plan that deprovisions too many waits for an admin;
 * a target that refuses everything is left alone for a while.
 */

/** Losses this small are ordinary changes (a group deleted, a person moved), whatever the ratio: only the ratio's larger losses, and vanishing, hold. */
const SMALL_LOSS = 5;
const HOUR_MS = 3_600_000;

const percent = (n: number, of: number) => (n === 0 ? 'none' : `${Math.round((n / of) * 100)}%`);
const shrank = (now: number, before: number, ratio: number) => now === 0 || (now < ratio * before && before - now > SMALL_LOSS);

/** Why the source's users look like an outage (none, or fewer than `ratio` of the last good snapshot); undefined when they do not. */
export function userShrinkage(count: number, lastGood: number | undefined, ratio: number): string | undefined {
  if (lastGood === undefined || lastGood === 0) return undefined;
  if (count > 0 && count >= ratio * lastGood) return undefined;
  return `the source returned ${count} users, ${percent(count, lastGood)} of the ${lastGood} of the last good snapshot (safety.minSourceRatio ${ratio})`;
}

/**
 * Why the source's groups or memberships look like an outage rather than a change:
 * fewer groups, or fewer memberships, than `ratio` of those last pushed. Undefined when they do not.
 */
export function groupShrinkage(
  desired: readonly { members: readonly string[] }[],
  pushed: { groups: readonly StateGroup[]; memberships: number },
  ratio: number,
): string | undefined {
  let groups = 0;
  for (const g of pushed.groups) if (g.targetId !== null && g.status !== 'deleted') groups++;
  if (groups > 0 && shrank(desired.length, groups, ratio)) {
    return `the source returned ${desired.length} groups, ${percent(desired.length, groups)} of the ${groups} provisioned (safety.minSourceRatio ${ratio})`;
  }
  let wanted = 0;
  for (const g of desired) wanted += g.members.length;
  if (pushed.memberships > 0 && shrank(wanted, pushed.memberships, ratio)) {
    return `the source's groups have ${wanted} members, ${percent(wanted, pushed.memberships)} of the ${pushed.memberships} provisioned (safety.minSourceRatio ${ratio})`;
  }
  return undefined;
}

export interface DeprovisionLimits {
  maxDeletes: number;
  maxDeletePercent?: number | undefined;
}

/** The deprovisions of a plan past its limits, and why; undefined when within them. */
export interface MassDeprovisionCheck {
  operations: Extract<Operation, { kind: 'user.deactivate' | 'user.delete' }>[];
  reason: string;
}

/** Whether a plan deprovisions more users than `maxDeletes`, or more than `maxDeletePercent` of those managed. */
export function massDeprovision(operations: readonly Operation[], managed: number, limits: DeprovisionLimits): MassDeprovisionCheck | undefined {
  const deprovs = operations.filter((op): op is MassDeprovisionCheck['operations'][number] => op.kind === 'user.deactivate' || op.kind === 'user.delete');
  const n = deprovs.length;
  if (n > limits.maxDeletes) return { operations: deprovs, reason: `more than safety.maxDeletes (${limits.maxDeletes})` };
  const pct = limits.maxDeletePercent;
  if (pct !== undefined && n > 0 && managed > 0 && (n / managed) * 100 > pct) {
    return { operations: deprovs, reason: `${Math.round((n / managed) * 1000) / 10}% of ${managed} managed, more than safety.maxDeletePercent (${pct}%)` };
  }
  return undefined;
}

/** An approval covers a plan when every deprovision in it was approved. */
export function approvalCovers(approved: ReadonlySet<string>, check: MassDeprovisionCheck): boolean {
  return check.operations.every((op) => approved.has(op.sourceId));
}

/** Failures in one cycle, with no success at all, that quarantine the integration. */
export const QUARANTINE_MIN_FAILURES = 10;

/** Until when a quarantine of this level lasts: 1 h, then 2 h, 4 h, … up to 24 h. */
export function quarantineUntil(level: number, now: Date): string {
  return new Date(now.getTime() + Math.min(2 ** (level - 1) * HOUR_MS, 24 * HOUR_MS)).toISOString();
}

import type { ProtectRule } from './matching.js';
import type { GroupChange, Operation } from './operations.js';
import type { TargetResource } from './records.js';
import type { MemberRemovalDialect } from './target-behaviour.js';

/** What `reconcile --apply` does with a member that is an account scimsync does not manage (`groups.foreignMembers`). */
export type ForeignMemberPolicy = 'keep' | 'remove';

/**
 * A member value of a managed group that is not a managed account: `dangling` names
 * nothing in the target (a garbage value such as `bulkId:b10`), `foreign` names an
 * account (or a group) of the target that scimsync does not manage.
 */
export interface StrayMember {
  groupSourceId: string;
  groupTargetId: string;
  displayName: string;
  /** The member value as the target holds it. */
  value: string;
  kind: 'dangling' | 'foreign';
  /** A foreign account's userName (a group's displayName); null when dangling. */
  name: string | null;
  /** What `reconcile --apply` does: dangling values go; foreign ones as the policy says, protected accounts stay. */
  onApply: 'remove' | 'keep';
  /** Why a foreign member is kept: the policy, or a `protect` pattern. */
  keptBecause?: 'policy' | 'protected';
}

/** What classifies a group's member values: the managed accounts, and everything else the target holds. */
export interface MemberContext {
  /** Target ids of the accounts scimsync manages. */
  managed: ReadonlySet<string>;
  users: ReadonlyMap<string, TargetResource>;
  groups: ReadonlyMap<string, TargetResource>;
  protect: ProtectRule;
  policy: ForeignMemberPolicy;
}

/** The member values of one managed group that are not managed accounts, each once. Pure. */
export function strayMembers(group: { sourceId: string; targetId: string; displayName: string }, values: readonly string[], ctx: MemberContext): StrayMember[] {
  const out: StrayMember[] = [];
  const seen = new Set<string>();
  for (const value of values) {
    const user = ctx.users.get(value);
    // A managed account that vanished from the target leaves a value that names nothing.
    if ((user && ctx.managed.has(value)) || seen.has(value)) continue;
    seen.add(value);
    const base = { groupSourceId: group.sourceId, groupTargetId: group.targetId, displayName: group.displayName, value };
    const named = user ?? ctx.groups.get(value);
    if (!named) {
      out.push({ ...base, kind: 'dangling', name: null, onApply: 'remove' });
      continue;
    }
    const name = String((user ? named.userName : named.displayName) ?? '');
    // Protected accounts are never changed, their memberships included.
    if (user && ctx.protect.covers([user.userName, user.displayName])) {
      out.push({ ...base, kind: 'foreign', name, onApply: 'keep', keptBecause: 'protected' });
    } else {
      out.push({ ...base, kind: 'foreign', name, ...(ctx.policy === 'remove' ? { onApply: 'remove' } : { onApply: 'keep', keptBecause: 'policy' }) });
    }
  }
  return out;
}

/** How the target takes member removals: its dialect, and how many members a request may carry. */
export interface RemovalLimits {
  memberRemoval: MemberRemovalDialect;
  membersPerRequest: number;
}

/**
 * The requests that take the stray members `onApply: remove` out of their groups, after
 * the plan's own changes to each group, at most `membersPerRequest` values a request
 * (one whole list where the target takes removals as a `replace`); none for a group the
 * plan creates again or deletes. Pure.
 */
export function strayRemovals(strays: readonly StrayMember[], planned: readonly Operation[], limits: RemovalLimits): GroupChange[] {
  const byGroup = new Map<string, StrayMember[]>();
  for (const s of strays) byGroup.set(s.groupSourceId, [...(byGroup.get(s.groupSourceId) ?? []), s]);
  const out: GroupChange[] = [];
  for (const [sourceId, members] of byGroup) {
    const remove = members.filter((m) => m.onApply === 'remove').map((m) => m.value);
    if (remove.length === 0) continue;
    const own = planned.filter((op) => op.sourceId === sourceId && op.kind.startsWith('group.'));
    if (own.some((op) => op.kind === 'group.create' || op.kind === 'group.delete')) continue;
    const keep = members.filter((m) => m.onApply === 'keep').map((m) => m.value);
    const size = limits.memberRemoval === 'replace' ? remove.length : Math.max(1, limits.membersPerRequest);
    let previous = own.map((op) => op.key);
    for (let i = 0; i < remove.length; i += size) {
      const key = `group:${sourceId}#strays${i / size + 1}`;
      const first = members[0]!;
      out.push({
        kind: 'group.members.remove',
        key,
        sourceId,
        displayName: first.displayName,
        targetId: first.groupTargetId,
        add: [],
        remove: [],
        strays: { remove: remove.slice(i, i + size), keep },
        dependsOn: previous,
      });
      previous = [key];
    }
  }
  return out;
}

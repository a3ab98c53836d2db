import type { TargetResource } from '../core/records.js';
import type { DeliveryContext } from './context.js';

/** The source ids of a group's members as the target listed them (members that are not ours are left out). */
export function membersOf(ctx: DeliveryContext, resource: TargetResource): string[] {
  const bySourceTarget = ctx.state.sourceIdsByTargetId();
  const members = Array.isArray(resource.members) ? (resource.members as { value?: unknown }[]) : [];
  const out: string[] = [];
  for (const m of members) {
    const u = typeof m.value === 'string' ? bySourceTarget.get(m.value) : undefined;
    if (u !== undefined) out.push(u);
  }
  return out;
}

/**
 * Reads a group's members from the target into state, when a change to it may
 * or may not have been applied (interrupted cycle, lost answer), so that no
 * member is added twice.
 */
export async function refreshMembers(ctx: DeliveryContext, sourceId: string, targetId: string): Promise<number> {
  const g = ctx.state.groups.get(sourceId);
  if (!g || !ctx.target.groups.readsMembers) return 0;
  const read = await ctx.client.get('Groups', targetId, 'attributes=members');
  ctx.state.saveGroup(sourceId, { targetId, status: g.status, displayName: g.displayName }, { members: membersOf(ctx, read.resource) });
  return read.attempts;
}

/**
 * Reads back the groups that an interrupted cycle left in flight and that this cycle does
 * not change: a member add of that cycle may have landed, and a later add must not repeat
 * it. Returns the groups that could not be read, to be marked in flight again.
 */
export async function readBackUntouched(ctx: DeliveryContext, changed: ReadonlySet<string>): Promise<string[]> {
  const unread: string[] = [];
  for (const sourceId of [...ctx.dirtyGroups]) {
    if (changed.has(sourceId)) continue;
    ctx.dirtyGroups.delete(sourceId);
    const g = ctx.state.groups.get(sourceId);
    if (!g || g.targetId === null || g.status === 'deleted') continue;
    try {
      await refreshMembers(ctx, sourceId, g.targetId);
    } catch {
      unread.push(sourceId);
    }
  }
  return unread;
}

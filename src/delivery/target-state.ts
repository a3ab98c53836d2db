import type { ScimAttrs } from '../core/attributes.js';
import type { DesiredUser, MemberChange, ObjectStatus, SavedGroup, StateGroup, StateUser } from '../core/records.js';
import type { DeliveryStore } from './ports.js';

/** A group as the delivery tracks it during a cycle: its member set as pushed so far. */
export interface GroupRecord extends SavedGroup {
  members: Set<string>;
}

/**
 * What the delivery knows of the target during a cycle: which account each source
 * user has, what was pushed to it, and each group's members. Every result goes to
 * the state through here, so the two never disagree.
 */
export class TargetState {
  private readonly targetIds = new Map<string, string>();
  private readonly users = new Map<string, StateUser>();
  private readonly desired = new Map<string, DesiredUser>();
  readonly groups = new Map<string, GroupRecord>();

  constructor(
    private readonly store: DeliveryStore,
    private readonly integration: string,
    init: { users: readonly StateUser[]; groups: readonly StateGroup[]; desired: readonly DesiredUser[] },
  ) {
    for (const g of init.groups) this.groups.set(g.sourceId, { ...g, members: new Set(g.members) });
    for (const s of init.users) {
      this.users.set(s.sourceId, s);
      if (s.targetId !== null && s.status !== 'deleted') this.targetIds.set(s.sourceId, s.targetId);
    }
    for (const d of init.desired) this.desired.set(d.sourceId, d);
  }

  /** The account of a source user, when it has one. */
  readonly resolve = (sourceId: string): string | undefined => this.targetIds.get(sourceId);

  user(sourceId: string): StateUser | undefined {
    return this.users.get(sourceId);
  }

  desiredUser(sourceId: string): DesiredUser | undefined {
    return this.desired.get(sourceId);
  }

  /** Source ids by account id: members read back from the target, mapped to the users they are. */
  sourceIdsByTargetId(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [u, t] of this.targetIds) out.set(t, u);
    return out;
  }

  saveUser(sourceId: string, targetId: string | null, status: ObjectStatus, attrs: ScimAttrs): void {
    const user: StateUser = { sourceId, targetId, status, attrs };
    this.store.saveUser(this.integration, user);
    this.users.set(sourceId, user);
    if (targetId !== null && status !== 'deleted') this.targetIds.set(sourceId, targetId);
    else this.targetIds.delete(sourceId);
  }

  /** A user's account is gone from the target: it is in no group there any more. */
  forgetMemberships(userId: string): void {
    this.store.dropMemberships(this.integration, userId);
    for (const g of this.groups.values()) g.members.delete(userId);
  }

  saveGroup(sourceId: string, record: Omit<GroupRecord, 'sourceId' | 'members'>, change: MemberChange): void {
    this.store.saveGroup(this.integration, { sourceId, ...record }, change);
    const existing = this.groups.get(sourceId);
    const members = change.members ? new Set(change.members) : new Set(existing?.members ?? []);
    for (const u of change.remove ?? []) members.delete(u);
    for (const u of change.add ?? []) members.add(u);
    this.groups.set(sourceId, { sourceId, ...record, members });
  }

  /** Members with an account in the target, and their account ids; the others wait for a later cycle. */
  resolved(userIds: readonly string[]): ResolvedMember[] {
    const out: ResolvedMember[] = [];
    for (const sourceId of userIds) {
      const targetId = this.targetIds.get(sourceId);
      if (targetId !== undefined) out.push({ sourceId, targetId });
    }
    return out;
  }
}

export interface ResolvedMember {
  sourceId: string;
  targetId: string;
}

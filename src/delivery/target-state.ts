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
  /** The source user linked to each account: one at most (an account is never shared). */
  private readonly owners = new Map<string, string>();
  /** Users held this cycle (left as they are): their accounts stay theirs. */
  private readonly heldUsers = new Set<string>();
  /** Users whose account another user adopted this cycle: who adopted it, and the name it had. */
  private readonly releasedTo = new Map<string, { to: string; userName: string }>();
  /** Accounts deleted this cycle: a lookup answered from an earlier read may still list them. */
  private readonly removedAccounts = new Set<string>();
  /** The work on each account, one piece after another: an adoption and a deprovision of one account never overlap. */
  private readonly accountWork = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: DeliveryStore,
    private readonly integration: string,
    init: { users: readonly StateUser[]; groups: readonly StateGroup[]; desired: readonly DesiredUser[]; held?: readonly StateUser[] | undefined },
  ) {
    for (const g of init.groups) this.groups.set(g.sourceId, { ...g, members: new Set(g.members) });
    for (const s of init.users) {
      this.users.set(s.sourceId, s);
      if (s.targetId !== null && s.status !== 'deleted') {
        this.targetIds.set(s.sourceId, s.targetId);
        this.owners.set(s.targetId, s.sourceId);
      }
    }
    for (const s of init.held ?? []) {
      this.heldUsers.add(s.sourceId);
      if (s.targetId !== null && s.status !== 'deleted') this.owners.set(s.targetId, s.sourceId);
    }
    for (const d of init.desired) this.desired.set(d.sourceId, d);
  }

  /** The source user linked to an account, if any (a held user included). */
  ownerOf(targetId: string): string | undefined {
    return this.owners.get(targetId);
  }

  /**
   * Why a user keeps its account whatever another user's lookup finds: it is active at the
   * source, or held as it is this cycle. Undefined when it is leaving (removed or inactive).
   */
  keepsAccount(sourceId: string): string | undefined {
    if (this.heldUsers.has(sourceId)) return 'is held as it is this cycle';
    if (this.desired.get(sourceId)?.active === true) return 'is active at the source';
    return undefined;
  }

  /**
   * Another user adopted `from`'s account: `from` is unlinked (its deprovision has nothing
   * left to do) and the account's group memberships, as pushed, are now `to`'s.
   */
  release(from: string, to: string): void {
    this.releasedTo.set(from, { to, userName: String(this.users.get(from)?.attrs.userName ?? from) });
    this.saveUser(from, null, 'deleted', {});
    for (const g of this.groups.values()) {
      if (!g.members.has(from) || g.targetId === null || g.status === 'deleted') continue;
      this.saveGroup(g.sourceId, { targetId: g.targetId, status: g.status, displayName: g.displayName }, { remove: [from], add: [to] });
    }
  }

  /** Who adopted this user's account during this cycle, if anyone did. */
  adoptedFrom(sourceId: string): { to: string; userName: string } | undefined {
    return this.releasedTo.get(sourceId);
  }

  accountRemoved(targetId: string): void {
    this.removedAccounts.add(targetId);
  }

  wasRemoved(targetId: string): boolean {
    return this.removedAccounts.has(targetId);
  }

  /** Runs `work` once every earlier work on the same account has settled. */
  exclusive<T>(targetId: string, work: () => Promise<T>): Promise<T> {
    const before = this.accountWork.get(targetId);
    const run = before ? before.then(work) : work();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.accountWork.set(targetId, settled);
    void settled.then(() => {
      if (this.accountWork.get(targetId) === settled) this.accountWork.delete(targetId);
    });
    return run;
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
    const before = this.targetIds.get(sourceId);
    if (before !== undefined && this.owners.get(before) === sourceId) this.owners.delete(before);
    if (targetId !== null && status !== 'deleted') {
      this.targetIds.set(sourceId, targetId);
      this.owners.set(targetId, sourceId);
    } else this.targetIds.delete(sourceId);
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

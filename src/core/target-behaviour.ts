/** What a target accepts, as the planner and the delivery need to know it (a target profile, resolved). */

/** How a target takes member removals (QUIRKS.md: three dialects are in use). */
export type MemberRemovalDialect =
  /** RFC 7644: `{op: remove, path: 'members[value eq "id"]'}`, one operation per member. */
  | 'path'
  /** `{op: remove, path: 'members', value: [{value: id}, ...]}`, one operation per batch. */
  | 'value-array'
  /** `{op: replace, path: 'members', value: [the whole list]}`. */
  | 'replace';

/** What a target accepts for groups. */
export interface GroupBehaviour {
  /** Members per request unless `groups.membersPerRequest` is set. */
  readonly membersPerRequest: number;
  /** Several Operations in one PATCH request. */
  readonly multipleOperations: boolean;
  readonly memberRemoval: MemberRemovalDialect;
  /** A POST /Groups may carry the first batch of members. */
  readonly createWithMembers: boolean;
  /** Whether a deactivated user stays in its groups (`keep`) or is taken out until reactivated. */
  readonly inactiveMembers: 'keep' | 'remove';
  /** Whether GET /Groups/{id} returns members (some servers never do). */
  readonly readsMembers: boolean;
}

/** How the delivery speaks to a target: how it finds accounts, how it updates them, how it takes groups. */
export interface TargetBehaviour {
  /** Attributes that identify an existing target user, tried in order at lookup. */
  readonly matching: readonly string[];
  /** `patch` (RFC 7644), or `put` of the whole resource for attribute updates; `active` always goes by PATCH. */
  readonly updateVerb: 'patch' | 'put';
  readonly groups: GroupBehaviour;
}

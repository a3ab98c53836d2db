import type { SourceUser } from '../../src/model.js';
import type { ScimAttrs } from '../../src/scim/attributes.js';

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

/** What a target wants: how a source user becomes a SCIM resource, and the target's quirks. */
export interface TargetProfile {
  readonly name: string;
  /** Attribute used to look a user up before create (RFC 7644 filter). */
  readonly matchAttribute: 'userName';
  readonly groups: GroupBehaviour;
  mapUser(user: SourceUser): ScimAttrs;
}

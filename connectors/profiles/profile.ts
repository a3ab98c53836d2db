import type { MappingSpec, ProfileRule } from '../../src/core/map.js';

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

/**
 * A target profile: data only. How source users become SCIM resources, what
 * the target insists on, and its quirks. Adding a target is a new file like
 * `gong.ts` registered in `index.ts`; the engine does not change.
 */
export interface TargetProfile {
  readonly name: string;
  readonly description: string;
  /** Attributes that identify an existing target user, tried in order at lookup. */
  readonly matching: readonly string[];
  /** `patch` (RFC 7644), or `put` of the whole resource for attribute updates (Okta-style apps); `active` always goes by PATCH. */
  readonly updateVerb: 'patch' | 'put';
  /** SCIM path → how it is filled. */
  readonly mappings: Readonly<Record<string, MappingSpec>>;
  /** Checked before a user is sent. */
  readonly rules: readonly ProfileRule[];
  readonly groups: GroupBehaviour;
  /** Where the target's SCIM service usually lives, for test-connection hints. */
  readonly basePath?: string;
}

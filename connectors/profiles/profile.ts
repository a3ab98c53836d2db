import { z } from 'zod';
import { bounded } from '../../src/core/config-values.js';
import type { MappingSpec, ProfileRule } from '../../src/core/map.js';

export type { GroupBehaviour, MemberRemovalDialect } from '../../src/core/target-behaviour.js';
import type { GroupBehaviour } from '../../src/core/target-behaviour.js';

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
  /**
   * The target answers a filtered lookup that finds nothing with 404 instead of an
   * empty ListResponse (QUIRKS.md). Only then is such a 404 "no match"; elsewhere it
   * means the endpoint does not exist (a wrong base URL).
   */
  readonly notFoundMeansNoMatch?: boolean;
  /** Where the target's SCIM service usually lives, for test-connection hints. */
  readonly basePath?: string;
}

/** `target.options`: adjust a profile to what this tenant of the target accepts; every profile takes them. */
export const profileOptionsSchema = z.strictObject({
  emailDomains: z.array(z.string().min(1)).optional(),
  membersPerRequest: bounded({ min: 1, max: 10_000 }).optional(),
  multipleOperations: z.boolean().optional(),
  memberRemoval: z.enum(['path', 'value-array', 'replace']).optional(),
  createWithMembers: z.boolean().optional(),
  inactiveMembers: z.enum(['keep', 'remove']).optional(),
  readsMembers: z.boolean().optional(),
  updateVerb: z.enum(['patch', 'put']).optional(),
});

import type { AccountIndex, ProtectRule } from '../core/matching.js';
import type { ManagedPaths, TargetSchema } from '../core/target-schema.js';
import type { TargetBehaviour } from '../core/target-behaviour.js';
import type { ScimClient } from '../scim/client.js';
import type { RetryPolicy } from '../scim/retry.js';
import type { CycleCounts } from './counts.js';
import type { TargetState } from './target-state.js';
import type { TargetWrites } from './writes.js';

/** What every operation of one delivery shares: the target, what is known of it, and the cycle's counts. */
export interface DeliveryContext {
  integration: string;
  cycleId: string;
  client: ScimClient;
  target: TargetBehaviour;
  retry: RetryPolicy;
  state: TargetState;
  counts: CycleCounts;
  /** Accounts that are never adopted, changed or deprovisioned. */
  protect: ProtectRule;
  /** Every account of the target, read at the start of the cycle: planned lookups are answered from it. */
  accounts?: AccountIndex | undefined;
  signal?: AbortSignal | undefined;
  /** Groups whose change was in flight when a cycle was interrupted: read back before changing. */
  dirtyGroups: Set<string>;
  /** Operations whose in-flight record stays after they settle, so the next cycle reads first. */
  keepInflight: Set<string>;
  /** Settles once this delivery's create of a user is done (undefined where it has none): a group created with it waits for its account. */
  userCreateSettled?: ((sourceId: string) => Promise<unknown> | undefined) | undefined;
  /** Where writes go when not straight to `client` (Bulk requests); set by the delivery, see `writesOf`. */
  writes?: TargetWrites | undefined;
  /** The target's schema: how its values compare (caseExact). RFC 7643's when absent. */
  schema?: TargetSchema | undefined;
  /** Every path the mappings could write: an adopted account's value at one the source leaves empty is removed. */
  managed?: ManagedPaths | undefined;
  /**
   * Users whose create the target refused last cycle as a duplicate (409) of an account
   * nobody could find: their 409 is not followed by another full read of the target.
   */
  knownConflicts?: ReadonlySet<string> | undefined;
  /** What the target was seen doing wrong this cycle. */
  quirks: {
    filterIgnored?: string;
    /** A group read back after a Bulk request that named members by `bulkId:` held other members: what it held. */
    bulkReferences?: string;
  };
}

import type { ScimClient } from '../scim/client.js';
import { AccountIndex } from '../core/matching.js';
import type { TargetSchema } from '../core/target-schema.js';

/**
 * Reads every account of the target when that is cheaper than a lookup per
 * new user: the first page's `totalResults` says how many pages it would take
 * (a hint only: the read stops at its budget whatever the target claims).
 * Undefined when a read does not pay, or fails (lookups then do the work).
 */
export async function readAccountIndex(
  client: ScimClient,
  creates: number,
  matching: readonly string[],
  schema?: TargetSchema,
): Promise<{ index: AccountIndex | undefined; requests: number; reason: string }> {
  const budget = Math.floor(creates / 2);
  if (budget < 1) return { index: undefined, requests: 0, reason: 'too few new users' };
  const pageSize = 100;
  try {
    const read = await client.listAll('Users', {
      pageSize,
      maxPages: (total) => (total !== undefined && Math.ceil(total / pageSize) + 1 > budget ? 1 : budget),
    });
    if (!read.complete) {
      return { index: undefined, requests: read.requests, reason: `the target holds ${read.totalResults ?? 'too many'} accounts: a lookup per new user is cheaper` };
    }
    return { index: new AccountIndex(read.resources, matching, schema), requests: read.requests, reason: `${read.resources.length} accounts read in ${read.requests} requests` };
  } catch (err) {
    return { index: undefined, requests: 0, reason: `the bulk read failed (${err instanceof Error ? err.message : String(err)}): looking up each user instead` };
  }
}

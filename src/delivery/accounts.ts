import type { ScimClient } from '../scim/client.js';
import { AccountIndex } from '../core/matching.js';
import type { TargetSchema } from '../core/target-schema.js';

/** A `totalResults` as targets send it: a number, or a string of digits (QUIRKS.md). */
function totalOf(answer: unknown): number | undefined {
  const t = (answer as { totalResults?: unknown } | undefined)?.totalResults;
  if (typeof t === 'number' && Number.isSafeInteger(t) && t >= 0) return t;
  if (typeof t === 'string' && /^\d{1,15}$/.test(t)) return Number(t);
  return undefined;
}

/**
 * Reads every account of the target when that is cheaper than a lookup per
 * new user. A one-account query (`count=1`) asks how many there are first,
 * so that deciding costs one small answer, not a full page; without a
 * `totalResults` the read itself stops at its budget, whatever the target holds.
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
  let asked = 0;
  try {
    const total = totalOf((await client.request<unknown>('GET', '/Users?startIndex=1&count=1')).data);
    asked = 1;
    if (total !== undefined && Math.ceil(total / pageSize) + 1 > budget) {
      return { index: undefined, requests: asked, reason: `the target holds ${total} accounts: a lookup per new user is cheaper` };
    }
    const read = await client.listAll('Users', { pageSize, maxPages: budget });
    if (!read.complete) {
      return { index: undefined, requests: asked + read.requests, reason: `the target holds ${read.totalResults ?? 'too many'} accounts: a lookup per new user is cheaper` };
    }
    return { index: new AccountIndex(read.resources, matching, schema), requests: asked + read.requests, reason: `${read.resources.length} accounts read in ${asked + read.requests} requests` };
  } catch (err) {
    return { index: undefined, requests: asked, reason: `the bulk read failed (${err instanceof Error ? err.message : String(err)}): looking up each user instead` };
  }
}

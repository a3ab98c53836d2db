import type { ScimClient, ScimResource } from '../scim/client.js';
import { readPath } from '../scim/flatten.js';

/** How a matching value is compared: userName and emails without regard to case (RFC 7643), externalId exactly. */
const keyOf = (attribute: string, value: string) => `${attribute}\u0000${attribute === 'externalId' ? value : value.toLowerCase()}`;

/** The filter attributes a matching setting looks at (`emails` means every `emails.value`). */
const ATTRIBUTES: Record<string, string> = { userName: 'userName', externalId: 'externalId', emails: 'emails.value' };

/**
 * The target's accounts, indexed by the matching attributes: what a lookup
 * before create would find, answered from one paginated read.
 */
export class AccountIndex {
  private readonly byKey = new Map<string, ScimResource[]>();
  readonly size: number;

  constructor(resources: readonly ScimResource[], matching: readonly string[]) {
    this.size = resources.length;
    for (const r of resources) {
      for (const m of matching) {
        const attribute = ATTRIBUTES[m];
        if (attribute === undefined) continue;
        const values = attribute === 'emails.value' ? emailValues(r) : [readPath(r, attribute)];
        for (const v of new Set(values.filter((x): x is string => typeof x === 'string' && x !== ''))) {
          const key = keyOf(attribute, v);
          const list = this.byKey.get(key);
          if (list) {
            if (!list.includes(r)) list.push(r);
          } else this.byKey.set(key, [r]);
        }
      }
    }
  }

  /** Accounts whose `attribute` (a filter attribute: userName, externalId, emails.value) equals `value`. */
  find(attribute: string, value: string): ScimResource[] {
    return this.byKey.get(keyOf(attribute, value)) ?? [];
  }
}

function emailValues(r: ScimResource): unknown[] {
  return Array.isArray(r.emails) ? (r.emails as { value?: unknown }[]).map((e) => e?.value) : [];
}

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
    return { index: new AccountIndex(read.resources, matching), requests: read.requests, reason: `${read.resources.length} accounts read in ${read.requests} requests` };
  } catch (err) {
    return { index: undefined, requests: 0, reason: `the bulk read failed (${err instanceof Error ? err.message : String(err)}): looking up each user instead` };
  }
}

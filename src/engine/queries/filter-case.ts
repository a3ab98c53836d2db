import { factsOf, type TargetSchema } from '../../core/target-schema.js';
import type { ScimClient } from '../../scim/client.js';

/**
 * What a lookup of an existing account by its userName in another case tells of the
 * target's filter (`test-connection`). A filter that keeps case where the schema says
 * `caseExact: false` misses a source userName written in another case: the create
 * then answers 409 and scimsync finds the account by a paginated read.
 */
export type FilterCaseProbe =
  /** No account to look up, or none whose userName has a case to change. */
  | { kind: 'untested'; reason: string }
  | { kind: 'ignores-case'; userName: string; asked: string }
  /** `caseExact`: what the target's schema says of userName. */
  | { kind: 'keeps-case'; userName: string; asked: string; caseExact: boolean };

/** Swaps the case of every letter: `Ada@Example.com` → `aDA@eXAMPLE.COM`. */
function otherCase(text: string): string {
  return [...text].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Reads one account of the target and looks it up by its userName with the case changed (two GETs). */
export async function probeFilterCase(client: ScimClient, schema: TargetSchema): Promise<FilterCaseProbe> {
  const res = await client.request<{ Resources?: unknown }>('GET', '/Users?count=1');
  const first = Array.isArray(res.data?.Resources) ? (res.data.Resources[0] as { id?: unknown; userName?: unknown } | undefined) : undefined;
  if (typeof first?.id !== 'string' || typeof first.userName !== 'string') return { kind: 'untested', reason: 'the target holds no account' };
  const userName = first.userName;
  const asked = otherCase(userName);
  if (asked === userName) return { kind: 'untested', reason: `the userName ${userName} has no letter whose case can change` };
  const found = await client.find('Users', 'userName', asked);
  if (found.resources.some((r) => r.id === first.id)) return { kind: 'ignores-case', userName, asked };
  return { kind: 'keeps-case', userName, asked, caseExact: factsOf(schema, 'userName').caseExact };
}

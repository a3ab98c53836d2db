import picomatch from 'picomatch';
import type { ScimAttrs } from './attributes.js';
import type { TargetResource } from './records.js';
import { readPath } from './paths.js';
import { factsOf, RFC_SCHEMA, type TargetSchema } from './target-schema.js';

/** A filter attribute as the lookups use it: `userName`, `externalId`, `emails.value`, `displayName`. */
export interface MatchKey {
  attribute: string;
  value: string;
}

/** The lookup keys of the configured matching attributes that these attributes fill, in order. */
export function matchKeys(matching: readonly string[], attrs: ScimAttrs): MatchKey[] {
  const out: MatchKey[] = [];
  for (const m of matching) {
    if (m === 'emails') {
      for (const path in attrs) {
        const v = attrs[path];
        if (path.startsWith('emails[') && typeof v === 'string') out.push({ attribute: 'emails.value', value: v });
      }
      continue;
    }
    const v = attrs[m];
    if (typeof v === 'string' && v !== '') out.push({ attribute: m, value: v });
  }
  return out;
}

/** A matching value as the target compares it: without case unless the schema says `caseExact`. */
export function matchKeyOf(schema: TargetSchema): (k: MatchKey) => string {
  return (k) => `${k.attribute}\u0000${factsOf(schema, k.attribute).caseExact ? k.value : k.value.toLowerCase()}`;
}

/** Filter attributes are compared as the target's schema says: without case unless `caseExact` (RFC 7643 §2.2; `id` and `externalId` are). */
function sameValue(schema: TargetSchema, attribute: string, actual: unknown, wanted: string): boolean {
  if (typeof actual !== 'string') return false;
  return factsOf(schema, attribute).caseExact ? actual === wanted : actual.toLowerCase() === wanted.toLowerCase();
}

/**
 * Whether a resource a lookup returned really has `attribute eq value`. Some
 * targets ignore the filter and answer with every account, or with the same one
 * (QUIRKS.md, "Seen on servers that others wrote"): nothing is adopted unchecked.
 */
export function resourceMatches(resource: Record<string, unknown>, key: MatchKey, schema: TargetSchema = RFC_SCHEMA): boolean {
  if (key.attribute === 'emails.value') {
    const emails = Array.isArray(resource.emails) ? (resource.emails as { value?: unknown }[]) : [];
    return emails.some((e) => sameValue(schema, key.attribute, e?.value, key.value));
  }
  return sameValue(schema, key.attribute, readPath(resource, key.attribute), key.value);
}

/** Tells protected accounts (`protect:` globs on userName or displayName) from the others. */
export interface ProtectRule {
  /** Whether any of these names (a userName, a displayName) is protected. */
  covers(names: readonly unknown[]): boolean;
  readonly active: boolean;
}

export function protectRule(globs: readonly string[] | undefined): ProtectRule {
  if (!globs || globs.length === 0) return { covers: () => false, active: false };
  const isProtected = picomatch([...globs], { nocase: true, dot: true });
  return { covers: (names) => names.some((v) => typeof v === 'string' && isProtected(v)), active: true };
}


/** The filter attributes a matching setting looks at (`emails` means every `emails.value`). */
const ATTRIBUTES: Record<string, string> = { userName: 'userName', externalId: 'externalId', emails: 'emails.value' };

/**
 * The target's accounts, indexed by the matching attributes: what a lookup
 * before create would find, answered from one paginated read.
 */
export class AccountIndex {
  private readonly byKey = new Map<string, TargetResource[]>();
  readonly size: number;

  /** How a matching value is compared: as the target's schema says (userName and emails without case, externalId exactly, by RFC 7643). */
  private readonly keyOf: (attribute: string, value: string) => string;

  constructor(resources: readonly TargetResource[], matching: readonly string[], schema: TargetSchema = RFC_SCHEMA) {
    this.size = resources.length;
    const exact = new Map<string, boolean>();
    this.keyOf = (attribute, value) => {
      let caseExact = exact.get(attribute);
      if (caseExact === undefined) exact.set(attribute, (caseExact = factsOf(schema, attribute).caseExact));
      return `${attribute}\u0000${caseExact ? value : value.toLowerCase()}`;
    };
    for (const r of resources) {
      for (const m of matching) {
        const attribute = ATTRIBUTES[m];
        if (attribute === undefined) continue;
        const values = attribute === 'emails.value' ? emailValues(r) : [readPath(r, attribute)];
        for (const v of new Set(values.filter((x): x is string => typeof x === 'string' && x !== ''))) {
          const key = this.keyOf(attribute, v);
          const list = this.byKey.get(key);
          if (list) {
            if (!list.includes(r)) list.push(r);
          } else this.byKey.set(key, [r]);
        }
      }
    }
  }

  /** Accounts whose `attribute` (a filter attribute: userName, externalId, emails.value) equals `value`. */
  find(attribute: string, value: string): TargetResource[] {
    return this.byKey.get(this.keyOf(attribute, value)) ?? [];
  }
}

function emailValues(r: TargetResource): unknown[] {
  return Array.isArray(r.emails) ? (r.emails as { value?: unknown }[]).map((e) => e?.value) : [];
}

import picomatch from 'picomatch';
import type { ScimAttrs } from './attributes.js';
import type { TargetResource } from './records.js';
import { readPath } from './paths.js';

/**
 * Attributes compared exactly (RFC 7643 §4.1.1, §3.1, §8.7.1): `id` and
 * `externalId`; userName, emails and displayName are compared without case.
 */
const CASE_EXACT = new Set(['id', 'externalId']);

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

function sameValue(attribute: string, actual: unknown, wanted: string): boolean {
  if (typeof actual !== 'string') return false;
  return CASE_EXACT.has(attribute) ? actual === wanted : actual.toLowerCase() === wanted.toLowerCase();
}

/**
 * Whether a resource a lookup returned really has `attribute eq value`. Some
 * targets ignore the filter and answer with every account, or with the same one
 * (QUIRKS.md, "Seen on servers that others wrote"): nothing is adopted unchecked.
 */
export function resourceMatches(resource: Record<string, unknown>, key: MatchKey): boolean {
  if (key.attribute === 'emails.value') {
    const emails = Array.isArray(resource.emails) ? (resource.emails as { value?: unknown }[]) : [];
    return emails.some((e) => sameValue(key.attribute, e?.value, key.value));
  }
  return sameValue(key.attribute, readPath(resource, key.attribute), key.value);
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

/** How a matching value is compared: userName and emails without regard to case (RFC 7643), externalId exactly. */
const keyOf = (attribute: string, value: string) => `${attribute}\u0000${attribute === 'externalId' ? value : value.toLowerCase()}`;

/** The filter attributes a matching setting looks at (`emails` means every `emails.value`). */
const ATTRIBUTES: Record<string, string> = { userName: 'userName', externalId: 'externalId', emails: 'emails.value' };

/**
 * The target's accounts, indexed by the matching attributes: what a lookup
 * before create would find, answered from one paginated read.
 */
export class AccountIndex {
  private readonly byKey = new Map<string, TargetResource[]>();
  readonly size: number;

  constructor(resources: readonly TargetResource[], matching: readonly string[]) {
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
  find(attribute: string, value: string): TargetResource[] {
    return this.byKey.get(keyOf(attribute, value)) ?? [];
  }
}

function emailValues(r: TargetResource): unknown[] {
  return Array.isArray(r.emails) ? (r.emails as { value?: unknown }[]).map((e) => e?.value) : [];
}

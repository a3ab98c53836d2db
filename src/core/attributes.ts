/**
 * The desired state of a SCIM resource as a flat map from SCIM attribute path
 * (RFC 7644 §3.5.2 path syntax) to value. Flat maps diff cheaply and make
 * PATCH operations one per changed path.
 */
import { RFC_SCHEMA, sameForTarget, type TargetSchema } from './target-schema.js';

export type AttrValue = string | number | boolean | UserRef;

/** A reference to another source user, resolved to its target id when sent (e.g. manager). */
export interface UserRef {
  userRef: string;
}

export type ScimAttrs = Record<string, AttrValue>;

export function isUserRef(v: AttrValue): v is UserRef {
  return typeof v === 'object' && v !== null && 'userRef' in v;
}

/** Stable text form of a value for comparisons and state. */
export function valueKey(v: AttrValue | undefined): string {
  return v === undefined ? '' : JSON.stringify(v);
}

/** Paths whose values differ between what was last pushed and what is desired now. */
export interface AttrChanges {
  set: ScimAttrs;
  remove: string[];
  /** Of `set`, the typed paths that were not pushed before: a first entry of a type is added, not replaced. */
  fresh?: string[];
}

/**
 * Whether the target's value at `path` is the same as the one scimsync pushed, as the
 * target compares them: without case unless its schema (or RFC 7643 §2.2, where it
 * says nothing) makes the attribute `caseExact`, as `id` and `externalId` are.
 */
export function sameTargetValue(path: string, actual: AttrValue | undefined, pushed: AttrValue, schema: TargetSchema = RFC_SCHEMA): boolean {
  if (valueKey(actual) === valueKey(pushed)) return true;
  if (typeof actual !== 'string' || typeof pushed !== 'string') return false;
  return sameForTarget(schema, path, actual, pushed);
}

function sameValue(path: string, a: AttrValue | undefined, b: AttrValue, schema: TargetSchema | undefined): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && typeof b === 'object') return a.userRef === b.userRef;
  if (schema && typeof a === 'string' && typeof b === 'string') return sameForTarget(schema, path, a, b);
  return false;
}

/**
 * What changes from `pushed` to `desired`. With the target's `schema`, values are
 * compared as the target compares them (RFC 7643 where it is silent): a value that
 * differs only in case from the one the target holds is no change unless `caseExact`.
 * Without it, exactly.
 */
export function diffAttrs(pushed: ScimAttrs, desired: ScimAttrs, schema?: TargetSchema): AttrChanges {
  const set: ScimAttrs = {};
  const remove: string[] = [];
  let fresh: string[] | undefined;
  for (const path in desired) {
    const value = desired[path]!;
    if (sameValue(path, pushed[path], value, schema)) continue;
    set[path] = value;
    // Only a typed entry (`phoneNumbers[type eq "work"].value`) needs telling apart: it is added, not replaced.
    if (!(path in pushed) && path.includes('[')) (fresh ??= []).push(path);
  }
  for (const path in pushed) {
    if (!(path in desired)) remove.push(path);
  }
  return fresh ? { set, remove, fresh } : { set, remove };
}

export function hasChanges(c: AttrChanges): boolean {
  return c.remove.length > 0 || Object.keys(c.set).length > 0;
}

/** Resolves user references; an unresolvable reference is left out (sent in a later cycle). */
export type RefResolver = (sourceId: string) => string | undefined;

export function resolveValue(v: AttrValue, resolve: RefResolver): unknown {
  if (isUserRef(v)) {
    const id = resolve(v.userRef);
    return id === undefined ? undefined : { value: id };
  }
  return v;
}

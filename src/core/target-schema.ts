import { CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, parsePath } from './paths.js';

/** RFC 7643 §4.1 User attributes: simple ones, complex ones with their sub-attributes, multi-valued ones with theirs. */
const CORE_SIMPLE = new Set(['userName', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'externalId']);
const CORE_COMPLEX: Record<string, Set<string>> = {
  name: new Set(['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix']),
};
const MULTI_SUB = new Set(['value', 'display', 'primary']);
const CORE_MULTI: Record<string, Set<string>> = {
  emails: MULTI_SUB,
  phoneNumbers: MULTI_SUB,
  ims: MULTI_SUB,
  photos: MULTI_SUB,
  entitlements: MULTI_SUB,
  roles: MULTI_SUB,
  x509Certificates: MULTI_SUB,
  addresses: new Set(['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country', 'primary']),
};
/** RFC 7643 §4.3 enterprise User extension. */
const ENTERPRISE = new Set(['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager']);

/**
 * Why a SCIM path cannot be mapped, or undefined when it can. Core and
 * enterprise attributes are checked against RFC 7643; attributes of other
 * (custom) extension schemas are accepted as named.
 */
export function unknownAttribute(path: string): string | undefined {
  let p;
  try {
    p = parsePath(path);
  } catch {
    return `${JSON.stringify(path)} is not a SCIM attribute path (expected e.g. title, name.givenName, emails[type eq "work"].value or a schema URN followed by :attribute)`;
  }
  if (p.schema === ENTERPRISE_USER_SCHEMA) {
    if (!ENTERPRISE.has(p.attribute) || p.type !== undefined || (p.sub !== undefined && p.attribute !== 'manager')) {
      return `${JSON.stringify(path)} is not an attribute of the enterprise User extension (${[...ENTERPRISE].join(', ')})`;
    }
    return undefined;
  }
  if (p.schema !== undefined && p.schema !== CORE_USER_SCHEMA) return undefined; // a custom extension
  const known = (ok: boolean) => (ok ? undefined : `${JSON.stringify(path)} is not a SCIM User attribute (RFC 7643)`);
  if (CORE_SIMPLE.has(p.attribute)) return known(p.type === undefined && p.sub === undefined);
  if (CORE_COMPLEX[p.attribute]) return known(p.type === undefined && p.sub !== undefined && CORE_COMPLEX[p.attribute]!.has(p.sub));
  if (CORE_MULTI[p.attribute]) return known(p.type !== undefined && CORE_MULTI[p.attribute]!.has(p.sub ?? 'value'));
  return known(false);
}

/** RFC 7643 §7: whether and when an attribute may be written. */
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';

/** What a target says of one attribute (RFC 7643 §7), as comparisons and writes need it. */
export interface AttributeFacts {
  /** Values compared with case (RFC 7643 §2.2: `caseExact` defaults to false). */
  caseExact: boolean;
  mutability: Mutability;
  required: boolean;
  multiValued: boolean;
  /** The name as the target spells it (from its schema). */
  name?: string;
}

/** An extension schema of the target's User resource type (RFC 7643 §6). */
export interface SchemaExtension {
  schema: string;
  required: boolean;
}

/**
 * The target's schema of its User resource, as read from `/Schemas` and
 * `/ResourceTypes` (RFC 7644 §4), or RFC 7643 alone when the target does not
 * publish it. An attribute the target does not describe falls back to RFC 7643.
 */
export interface TargetSchema {
  /** `target`: read from the target; `rfc`: RFC 7643's definitions only. */
  readonly origin: 'target' | 'rfc';
  /** Facts by attribute key (`attributeKey`). */
  readonly attributes: Readonly<Record<string, AttributeFacts>>;
  /** The User resource type's core schema and extensions, when the target lists them. */
  readonly userSchema?: string;
  readonly extensions?: readonly SchemaExtension[];
}

const DEFAULT_FACTS: AttributeFacts = Object.freeze({ caseExact: false, mutability: 'readWrite', required: false, multiValued: false });

/** The key of an attribute: its schema URN, its name and sub-attribute (names compare without case, RFC 7643 §2.1). */
export function attributeKey(schema: string, attribute: string, sub?: string): string {
  return `${schema}:${attribute.toLowerCase()}${sub !== undefined ? `.${sub.toLowerCase()}` : ''}`;
}

/** Common attributes (RFC 7643 §3.1): in no schema, on every resource. */
const COMMON: Readonly<Record<string, AttributeFacts>> = {
  id: { ...DEFAULT_FACTS, caseExact: true, mutability: 'readOnly' },
  externalId: { ...DEFAULT_FACTS, caseExact: true },
  meta: { ...DEFAULT_FACTS, mutability: 'readOnly' },
};

/** RFC 7643 §8.7.1 where it departs from the defaults of §7. */
let rfcUser: Readonly<Record<string, AttributeFacts>> | undefined;

/** Built on first use. */
function rfcUserFacts(): Readonly<Record<string, AttributeFacts>> {
  if (rfcUser) return rfcUser;
  const out: Record<string, AttributeFacts> = {};
  const put = (schema: string, name: string, facts: Partial<AttributeFacts>) => (out[attributeKey(schema, ...(name.split('.') as [string, string?]))] = { ...DEFAULT_FACTS, ...facts });
  put(CORE_USER_SCHEMA, 'userName', { required: true });
  put(CORE_USER_SCHEMA, 'password', { mutability: 'writeOnly' });
  put(CORE_USER_SCHEMA, 'groups', { mutability: 'readOnly', multiValued: true });
  for (const sub of ['value', '$ref', 'display', 'type']) put(CORE_USER_SCHEMA, `groups.${sub}`, { mutability: 'readOnly' });
  for (const multi of Object.keys(CORE_MULTI)) put(CORE_USER_SCHEMA, multi, { multiValued: true });
  put(CORE_USER_SCHEMA, 'x509Certificates.value', { caseExact: true });
  put(ENTERPRISE_USER_SCHEMA, 'manager.displayName', { mutability: 'readOnly' });
  return (rfcUser = out);
}

/** RFC 7643 alone: what is assumed of a target that publishes no schema. */
export const RFC_SCHEMA: TargetSchema = Object.freeze({ origin: 'rfc', attributes: Object.freeze({}) });

interface PathKey {
  schema: string;
  attribute: string;
  sub?: string | undefined;
}

function keyOfPath(path: string): PathKey | undefined {
  try {
    const p = parsePath(path);
    return { schema: p.schema ?? CORE_USER_SCHEMA, attribute: p.attribute, sub: p.sub ?? (p.type !== undefined ? 'value' : undefined) };
  } catch {
    return undefined;
  }
}

/**
 * What the target says of the attribute at a scimsync path (`emails[type eq "work"].value`,
 * a filter attribute such as `emails.value`, or an extension URN and attribute); what
 * it does not say, RFC 7643 does. A sub-attribute of a readOnly or immutable one is
 * written no more than its parent.
 */
export function factsOf(schema: TargetSchema, path: string): AttributeFacts {
  const k = keyOfPath(path);
  if (!k) return DEFAULT_FACTS;
  if (k.schema === CORE_USER_SCHEMA && k.sub === undefined && COMMON[k.attribute]) {
    return schema.attributes[attributeKey(k.schema, k.attribute)] ?? COMMON[k.attribute]!;
  }
  const key = attributeKey(k.schema, k.attribute, k.sub);
  const rfc = rfcUserFacts();
  const own = schema.attributes[key] ?? rfc[key];
  if (k.sub === undefined) return own ?? DEFAULT_FACTS;
  const parentKey = attributeKey(k.schema, k.attribute);
  const parent = schema.attributes[parentKey] ?? rfc[parentKey];
  const facts = own ?? DEFAULT_FACTS;
  const parentMutability = parent?.mutability;
  if ((parentMutability === 'readOnly' || parentMutability === 'immutable') && facts.mutability !== 'readOnly') {
    return { ...facts, mutability: parentMutability };
  }
  return facts;
}

/** Whether the target holds two values of the attribute at `path` to be the same (its `caseExact`). */
export function sameForTarget(schema: TargetSchema, path: string, a: string, b: string): boolean {
  if (a === b) return true;
  return !factsOf(schema, path).caseExact && a.toLowerCase() === b.toLowerCase();
}

/** Whether scimsync may send the attribute at `path` when it creates an account, and when it updates one. */
export function writable(schema: TargetSchema, path: string): { onCreate: boolean; onUpdate: boolean } {
  const m = factsOf(schema, path).mutability;
  return { onCreate: m !== 'readOnly', onUpdate: m === 'readWrite' || m === 'writeOnly' };
}

/**
 * A value the source wants that the target's schema does not let scimsync write: a
 * readOnly one left out of a create, or a change to an immutable one (RFC 7643 §7).
 * Reported (plan, events, reconcile), never silently dropped.
 */
export interface UnwritableValue {
  sourceId: string;
  path: string;
  /** `create`: left out of the account's create; `update`: a change never sent. */
  on: 'create' | 'update';
  mutability: 'readOnly' | 'immutable';
  /** The value wanted; null when the source emptied it. */
  wanted: string | null;
}

/** Why a value is not written, as every report says it. */
export function unwritableReason(path: string, mutability: UnwritableValue['mutability']): string {
  return `cannot be written: the target's schema marks ${path} ${mutability}`;
}

/**
 * The paths scimsync manages: every path the mappings could write and the target lets
 * be updated, whether or not the source fills it now. A value the target holds at one
 * of them that scimsync did not push is drift; reconcile, adoption and rebuild read them all.
 */
export interface ManagedPaths {
  paths: readonly string[];
  /** Paths whose value is a reference to another user (manager). */
  references: ReadonlySet<string>;
}

/**
 * The managed paths of mappings against a target's schema: not `apply: onCreate` ones,
 * not readOnly or immutable ones (never updated), not writeOnly ones (never read back).
 */
export function managedPathsOf(
  entries: readonly { path: string; onCreateOnly: boolean; reference: boolean }[],
  schema: TargetSchema,
): ManagedPaths {
  const managed = entries.filter((e) => !e.onCreateOnly && writable(schema, e.path).onUpdate && factsOf(schema, e.path).mutability !== 'writeOnly');
  return { paths: managed.map((e) => e.path), references: new Set(managed.filter((e) => e.reference).map((e) => e.path)) };
}

// ---- Parsing the target's answers (RFC 7643 §7, §6) ----

const MUTABILITIES: readonly Mutability[] = ['readOnly', 'readWrite', 'immutable', 'writeOnly'];

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The resources of a ListResponse, or of a bare array (some targets answer one). */
function resourcesOf(answer: unknown): Record<string, unknown>[] {
  const list = Array.isArray(answer) ? answer : record(answer)?.Resources;
  return Array.isArray(list) ? list.map(record).filter((r): r is Record<string, unknown> => r !== undefined) : [];
}

const bool = (v: unknown) => v === true || v === 'true';

function factsFrom(a: Record<string, unknown>): AttributeFacts {
  const mutability = MUTABILITIES.find((m) => m.toLowerCase() === String(a.mutability ?? '').toLowerCase()) ?? 'readWrite';
  return {
    caseExact: bool(a.caseExact),
    mutability,
    required: bool(a.required),
    multiValued: bool(a.multiValued),
    ...(typeof a.name === 'string' ? { name: a.name } : {}),
  };
}

/** The answers of `/Schemas` and `/ResourceTypes`, as the target gave them (undefined: not published). */
export interface DiscoveryAnswers {
  schemas: unknown;
  resourceTypes?: unknown;
}

/**
 * The target's User schema from its `/Schemas` and `/ResourceTypes` answers. Pure.
 * Without a User resource type, every schema but Group's is taken as the User's.
 * An answer that describes no attribute gives RFC 7643 alone.
 */
export function parseTargetSchema(answers: DiscoveryAnswers): TargetSchema {
  const userType = resourcesOf(answers.resourceTypes).find((t) => String(t.name ?? t.id ?? '').toLowerCase() === 'user' || t.endpoint === '/Users');
  const userSchema = typeof userType?.schema === 'string' ? userType.schema : undefined;
  const extensions: SchemaExtension[] = [];
  if (Array.isArray(userType?.schemaExtensions)) {
    for (const e of userType.schemaExtensions.map(record)) if (typeof e?.schema === 'string') extensions.push({ schema: e.schema, required: bool(e.required) });
  }
  const wanted = userSchema ? new Set([userSchema, ...extensions.map((e) => e.schema)]) : undefined;
  const attributes: Record<string, AttributeFacts> = {};
  for (const s of resourcesOf(answers.schemas)) {
    const id = typeof s.id === 'string' ? s.id : undefined;
    if (!id || (wanted ? !wanted.has(id) : id === CORE_GROUP_SCHEMA || id.includes(':core:2.0:Schema') || id.includes(':core:2.0:ResourceType'))) continue;
    for (const a of (Array.isArray(s.attributes) ? s.attributes : []).map(record)) {
      if (!a || typeof a.name !== 'string') continue;
      attributes[attributeKey(id, a.name)] = factsFrom(a);
      for (const sub of (Array.isArray(a.subAttributes) ? a.subAttributes : []).map(record)) {
        if (sub && typeof sub.name === 'string') attributes[attributeKey(id, a.name, sub.name)] = factsFrom(sub);
      }
    }
  }
  if (Object.keys(attributes).length === 0) return RFC_SCHEMA;
  return { origin: 'target', attributes, ...(userSchema ? { userSchema } : {}), ...(userType ? { extensions } : {}) };
}

/** The schema as kept in state (a target fact): JSON text. */
export function schemaToText(schema: TargetSchema): string {
  return JSON.stringify({ v: 1, ...schema });
}

/** A schema kept in state, or undefined when the text is not one (then it is read again). */
export function schemaFromText(text: string): TargetSchema | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = record(parsed);
  if (!o || o.v !== 1 || (o.origin !== 'target' && o.origin !== 'rfc') || !record(o.attributes)) return undefined;
  const attributes: Record<string, AttributeFacts> = {};
  for (const [k, v] of Object.entries(record(o.attributes)!)) {
    const f = record(v);
    if (f) attributes[k] = factsFrom(f);
  }
  const extensions = Array.isArray(o.extensions)
    ? o.extensions.map(record).filter((e): e is Record<string, unknown> => typeof e?.schema === 'string').map((e) => ({ schema: String(e.schema), required: bool(e.required) }))
    : undefined;
  return {
    origin: o.origin,
    attributes,
    ...(typeof o.userSchema === 'string' ? { userSchema: o.userSchema } : {}),
    ...(extensions ? { extensions } : {}),
  };
}

// ---- Checking mappings against the target's schema ----

/** One mapping as the check sees it: the path it writes and the config key that names it. */
export interface MappingEntry {
  path: string;
  key: string;
  /** The mapping says a user without this value is not sent. */
  required: boolean;
}

export interface SchemaProblem {
  severity: 'warning' | 'error';
  /** The config key to change (`mappings.user.title`). */
  key: string;
  message: string;
}

function declared(schema: TargetSchema, k: PathKey): boolean {
  if (schema.attributes[attributeKey(k.schema, k.attribute, k.sub)]) return true;
  if (k.sub === undefined) return false;
  // A complex attribute listed without sub-attributes: RFC 7643's are assumed.
  const parent = attributeKey(k.schema, k.attribute);
  return schema.attributes[parent] !== undefined && !Object.keys(schema.attributes).some((key) => key.startsWith(`${parent}.`));
}

/**
 * The mappings checked against the target's schema: a mapped attribute the target
 * does not have or never lets be written, and an attribute it requires that no
 * mapping fills. A required mismatch is an error, the others warnings. Nothing is
 * said of a target that publishes no schema.
 */
export function checkMappings(schema: TargetSchema, entries: readonly MappingEntry[], keyPrefix = 'mappings.user'): SchemaProblem[] {
  if (schema.origin !== 'target') return [];
  const out: SchemaProblem[] = [];
  const extensionSchemas = schema.extensions ? new Set(schema.extensions.map((e) => e.schema)) : undefined;
  const filled = new Set<string>();
  for (const e of entries) {
    const k = keyOfPath(e.path);
    if (!k) continue;
    filled.add(attributeKey(k.schema, k.attribute));
    const severity = e.required ? 'error' : 'warning';
    const isCommon = k.schema === CORE_USER_SCHEMA && k.sub === undefined && COMMON[k.attribute] !== undefined;
    if (isCommon) continue;
    if (k.schema !== CORE_USER_SCHEMA && k.schema !== schema.userSchema && extensionSchemas && !extensionSchemas.has(k.schema)) {
      out.push({ severity, key: e.key, message: `the target's User resource has no schema extension ${k.schema} (GET /ResourceTypes)` });
      continue;
    }
    if (!declared(schema, k)) {
      const name = k.sub !== undefined ? `${k.attribute}.${k.sub}` : k.attribute;
      out.push({ severity, key: e.key, message: `the target's schema has no attribute ${name}${k.schema !== CORE_USER_SCHEMA ? ` in ${k.schema}` : ''} (GET /Schemas)` });
      continue;
    }
    if (factsOf(schema, e.path).mutability === 'readOnly') {
      out.push({ severity, key: e.key, message: `the target's schema makes ${e.path} readOnly: it is never sent` });
    }
  }
  const requiredSchemas = new Set([schema.userSchema ?? CORE_USER_SCHEMA, ...(schema.extensions ?? []).filter((x) => x.required).map((x) => x.schema)]);
  for (const [key, facts] of Object.entries(schema.attributes)) {
    if (!facts.required || facts.mutability === 'readOnly') continue;
    const cut = key.lastIndexOf(':');
    const urn = key.slice(0, cut);
    const keyName = key.slice(cut + 1);
    // A required sub-attribute is required within its parent, when the parent is there.
    if (keyName.includes('.') || !requiredSchemas.has(urn) || filled.has(key) || keyName === 'id') continue;
    const name = facts.name ?? keyName;
    const path = urn === CORE_USER_SCHEMA ? name : `${urn}:${name}`;
    out.push({ severity: 'error', key: `${keyPrefix}.${path}`, message: `the target requires ${path} and no mapping fills it (GET /Schemas)` });
  }
  return out;
}

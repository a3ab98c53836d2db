/**
 * The desired state of a SCIM resource as a flat map from SCIM attribute path
 * (RFC 7644 §3.5.2 path syntax) to value. Flat maps diff cheaply and make
 * PATCH operations one per changed path.
 */
export type AttrValue = string | number | boolean | UserRef;

/** A reference to another source user, resolved to its target id when sent (e.g. manager). */
export interface UserRef {
  userRef: string;
}

export type ScimAttrs = Record<string, AttrValue>;

export const CORE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export function isUserRef(v: AttrValue): v is UserRef {
  return typeof v === 'object' && v !== null && 'userRef' in v;
}

export interface ParsedPath {
  /** Extension schema URN, when the path names one. */
  schema?: string;
  attribute: string;
  /** `emails[type eq "work"]` → "work" */
  type?: string;
  sub?: string;
}

const CORE_PATH = /^([A-Za-z][\w$-]*)(?:\[type eq "([^"]*)"\])?(?:\.([A-Za-z][\w$-]*))?$/;

/** Parses the path forms scimsync writes; throws on anything else. */
export function parsePath(path: string): ParsedPath {
  let parsed = parsedPaths.get(path);
  if (parsed === undefined) {
    parsed = Object.freeze(parseUncached(path));
    // A mapping has a few dozen paths: the cache stays small (bounded anyway).
    if (parsedPaths.size < 10_000) parsedPaths.set(path, parsed);
  }
  return parsed;
}

const parsedPaths = new Map<string, Readonly<ParsedPath>>();

function parseUncached(path: string): ParsedPath {
  let schema: string | undefined;
  let rest = path;
  if (path.startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    schema = path.slice(0, cut);
    rest = path.slice(cut + 1);
  }
  const m = CORE_PATH.exec(rest);
  if (!m) throw new Error(`unsupported SCIM attribute path ${JSON.stringify(path)}`);
  return {
    ...(schema ? { schema } : {}),
    attribute: m[1]!,
    ...(m[2] !== undefined ? { type: m[2] } : {}),
    ...(m[3] !== undefined ? { sub: m[3] } : {}),
  };
}

/** Stable text form of a value for comparisons and state. */
export function valueKey(v: AttrValue | undefined): string {
  return v === undefined ? '' : JSON.stringify(v);
}

/** Paths whose values differ between what was last pushed and what is desired now. */
export interface AttrChanges {
  set: ScimAttrs;
  remove: string[];
}

function sameValue(a: AttrValue | undefined, b: AttrValue): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && typeof b === 'object') return a.userRef === b.userRef;
  return false;
}

export function diffAttrs(pushed: ScimAttrs, desired: ScimAttrs): AttrChanges {
  const set: ScimAttrs = {};
  const remove: string[] = [];
  for (const path in desired) {
    const value = desired[path]!;
    if (!sameValue(pushed[path], value)) set[path] = value;
  }
  for (const path in pushed) {
    if (!(path in desired)) remove.push(path);
  }
  return { set, remove };
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

/** Builds a full SCIM User body from flat attributes. */
export function buildResource(attrs: ScimAttrs, active: boolean, resolve: RefResolver): {
  body: Record<string, unknown>;
  sent: ScimAttrs;
} {
  const body: Record<string, unknown> = { schemas: [CORE_USER_SCHEMA] };
  const schemas = new Set<string>([CORE_USER_SCHEMA]);
  // What is sent: `attrs` itself (never changed afterwards) unless a reference is left out.
  let sent: ScimAttrs | undefined;
  for (const path in attrs) {
    const raw = attrs[path]!;
    const value = resolveValue(raw, resolve);
    if (value === undefined) {
      if (!sent) {
        sent = {};
        for (const before in attrs) {
          if (before === path) break;
          sent[before] = attrs[before]!;
        }
      }
      continue;
    }
    if (sent) sent[path] = raw;
    const p = parsePath(path);
    let holder = body;
    if (p.schema && p.schema !== CORE_USER_SCHEMA) {
      schemas.add(p.schema);
      holder = (body[p.schema] ??= {}) as Record<string, unknown>;
    }
    if (p.type !== undefined) {
      const list = (holder[p.attribute] ??= []) as Record<string, unknown>[];
      let item = list.find((x) => x.type === p.type);
      if (!item) {
        item = list.length === 0 ? { type: p.type, primary: true } : { type: p.type };
        list.push(item);
      }
      item[p.sub ?? 'value'] = value;
    } else if (p.sub !== undefined) {
      const obj = (holder[p.attribute] ??= {}) as Record<string, unknown>;
      obj[p.sub] = value;
    } else {
      holder[p.attribute] = value;
    }
  }
  body.active = active;
  body.schemas = [...schemas];
  return { body, sent: sent ?? attrs };
}

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** PATCH operations (RFC 7644 §3.5.2) for a set of changes; unresolvable refs are left out. */
export function buildPatchOps(
  changes: AttrChanges,
  resolve: RefResolver,
): { ops: PatchOperation[]; sent: ScimAttrs; removed: string[] } {
  const ops: PatchOperation[] = [];
  const sent: ScimAttrs = {};
  for (const [path, raw] of Object.entries(changes.set)) {
    const value = resolveValue(raw, resolve);
    if (value === undefined) continue;
    sent[path] = raw;
    ops.push({ op: 'replace', path, value });
  }
  for (const path of changes.remove) ops.push({ op: 'remove', path: removalPath(path) });
  return { ops, sent, removed: [...changes.remove] };
}

/** Clearing `emails[type eq "work"].value` removes the whole work entry, not just its value. */
export function removalPath(path: string): string {
  const p = parsePath(path);
  if (p.type === undefined || (p.sub !== undefined && p.sub !== 'value')) return path;
  return `${p.schema ? `${p.schema}:` : ''}${p.attribute}[type eq "${p.type}"]`;
}

/**
 * Applies changes to a full resource read from the target, for targets that
 * take updates as PUT of the whole resource: what scimsync does not manage is
 * kept as it was. Returns the paths actually set (unresolvable refs are left out).
 */
export function applyToResource(
  resource: Record<string, unknown>,
  changes: AttrChanges,
  resolve: RefResolver,
): { body: Record<string, unknown>; sent: ScimAttrs } {
  const body = JSON.parse(JSON.stringify(resource)) as Record<string, unknown>;
  delete body.meta;
  const schemas = new Set<string>(Array.isArray(body.schemas) ? (body.schemas as string[]) : [CORE_USER_SCHEMA]);
  const holderFor = (p: ParsedPath, create: boolean): Record<string, unknown> | undefined => {
    if (!p.schema || p.schema === CORE_USER_SCHEMA) return body;
    if (create) {
      schemas.add(p.schema);
      return (body[p.schema] ??= {}) as Record<string, unknown>;
    }
    return body[p.schema] as Record<string, unknown> | undefined;
  };
  for (const path of changes.remove) {
    const p = parsePath(path);
    const holder = holderFor(p, false);
    if (!holder) continue;
    if (p.type !== undefined) {
      const list = Array.isArray(holder[p.attribute]) ? (holder[p.attribute] as Record<string, unknown>[]) : [];
      if (p.sub === undefined || p.sub === 'value') holder[p.attribute] = list.filter((x) => x.type !== p.type);
      else for (const x of list) if (x.type === p.type) delete x[p.sub];
    } else if (p.sub !== undefined) {
      const obj = holder[p.attribute] as Record<string, unknown> | undefined;
      if (obj) delete obj[p.sub];
    } else {
      delete holder[p.attribute];
    }
  }
  const sent: ScimAttrs = {};
  for (const [path, raw] of Object.entries(changes.set)) {
    const value = resolveValue(raw, resolve);
    if (value === undefined) continue;
    sent[path] = raw;
    const p = parsePath(path);
    const holder = holderFor(p, true)!;
    if (p.type !== undefined) {
      const list = (Array.isArray(holder[p.attribute]) ? holder[p.attribute] : (holder[p.attribute] = [])) as Record<string, unknown>[];
      let item = list.find((x) => x.type === p.type);
      if (!item) list.push((item = { type: p.type, ...(list.length === 0 ? { primary: true } : {}) }));
      item[p.sub ?? 'value'] = value;
    } else if (p.sub !== undefined) {
      const obj = (typeof holder[p.attribute] === 'object' && holder[p.attribute] !== null ? holder[p.attribute] : (holder[p.attribute] = {})) as Record<string, unknown>;
      obj[p.sub] = value;
    } else {
      holder[p.attribute] = value;
    }
  }
  body.schemas = [...schemas];
  return { body, sent };
}

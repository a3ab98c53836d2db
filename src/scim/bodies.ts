import { resolveValue, type AttrChanges, type RefResolver, type ScimAttrs } from '../core/attributes.js';
import { CORE_USER_SCHEMA, parsePath, type ParsedPath } from '../core/paths.js';

/* SCIM request bodies built from flat attributes: a whole resource, PATCH operations, a PUT of a read resource. */

export interface ResourceBodyOptions {
  /** The account's `active`, a JSON boolean (QUIRKS.md, "Writing"). */
  active: boolean;
  /** Target ids of user references (a manager); an unresolvable one is left out. */
  resolve: RefResolver;
}

/** Builds a full SCIM User body from flat attributes; `sent` is what it carries (refs left out are not). */
export function userBody(attrs: ScimAttrs, options: ResourceBodyOptions): {
  body: Record<string, unknown>;
  sent: ScimAttrs;
} {
  const { active, resolve } = options;
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
  const fresh = changes.fresh && changes.fresh.length > 0 ? new Set(changes.fresh) : undefined;
  // A first entry of a type (a first work phone) is added whole: a `replace` of
  // `phoneNumbers[type eq "work"].value` has no target to replace (RFC 7644 §3.5.2.3, 400 noTarget).
  const entries = new Map<string, Record<string, unknown>>();
  for (const [path, raw] of Object.entries(changes.set)) {
    const value = resolveValue(raw, resolve);
    if (value === undefined) continue;
    sent[path] = raw;
    const p = fresh?.has(path) ? parsePath(path) : undefined;
    if (p?.type !== undefined) {
      const key = `${p.schema ? `${p.schema}:` : ''}${p.attribute}`;
      const entry = entries.get(`${key}\u0000${p.type}`) ?? { type: p.type };
      entry[p.sub ?? 'value'] = value;
      if (!entries.has(`${key}\u0000${p.type}`)) {
        entries.set(`${key}\u0000${p.type}`, entry);
        ops.push({ op: 'add', path: key, value: [entry] });
      }
      continue;
    }
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

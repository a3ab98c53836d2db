/* SCIM attribute paths (RFC 7644 §3.5.2) as scimsync writes them, the schema URNs they name, and reading them from a resource. */

export const CORE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

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

/** Reads the value at a flat SCIM path from a resource the target returned. */
export function readPath(resource: Record<string, unknown>, path: string): unknown {
  const p = parsePath(path);
  let holder: unknown = resource;
  if (p.schema && p.schema !== CORE_USER_SCHEMA) holder = resource[p.schema];
  if (typeof holder !== 'object' || holder === null) return undefined;
  const attr = (holder as Record<string, unknown>)[p.attribute];
  if (p.type !== undefined) {
    if (!Array.isArray(attr)) return undefined;
    const item = attr.find((x: unknown) => typeof x === 'object' && x !== null && (x as { type?: unknown }).type === p.type) as
      | Record<string, unknown>
      | undefined;
    return item?.[p.sub ?? 'value'];
  }
  if (p.sub !== undefined) {
    return typeof attr === 'object' && attr !== null ? (attr as Record<string, unknown>)[p.sub] : undefined;
  }
  return attr;
}

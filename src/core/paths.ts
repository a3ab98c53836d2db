import { CORE_USER_SCHEMA, parsePath } from './attributes.js';

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

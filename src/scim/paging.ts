export interface ScimResource {
  id: string;
  [key: string]: unknown;
}

/** Quotes a value for a SCIM filter (RFC 7644 §3.4.2.2): `"` and `\` escaped. */
export function filterValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A resource as read, with the version to send back in `If-Match` when the target keeps versions. */
export interface ReadResource {
  resource: ScimResource;
  attempts: number;
  /** `meta.version`, else the ETag header; undefined where the target keeps no versions. */
  version: string | undefined;
}

/** The version of a resource as the target answered it: `meta.version`, else the ETag header (RFC 7644 §3.14). */
export function versionOf(resource: unknown, etag: string | undefined): string | undefined {
  const meta = (resource as { meta?: { version?: unknown } } | undefined)?.meta;
  if (typeof meta?.version === 'string' && meta.version !== '') return meta.version;
  return etag !== undefined && etag !== '' ? etag : undefined;
}

export interface ListOptions {
  /** Extra query parameters, e.g. `excludedAttributes=members`. */
  query?: string;
  /** `count` asked of each page. @default 100 */
  pageSize?: number;
  /** Requests at most; may depend on the `totalResults` of the first page. @default no bound */
  maxPages?: number | ((totalResults: number | undefined) => number);
  /** Distinct resources kept at most: past it the read stops. @default 1_000_000 */
  maxResources?: number;
}

interface ListRead {
  resources: ScimResource[];
  requests: number;
  /** The first page's `totalResults`, a number or a string of digits (QUIRKS.md); a hint only. */
  totalResults: number | undefined;
}

/** A read that ended on its own (`complete`), or was stopped by a bound, with why. */
export type ListResult = ListRead & ({ complete: true } | { complete: false; stoppedBecause: string });

export const DEFAULT_MAX_RESOURCES = 1_000_000;

/** Pages past `totalResults` that a target may still answer with before the read stops. */
const SLACK_PAGES = 10;

type ListPage = { Resources?: unknown; nextCursor?: unknown; totalResults?: unknown } | undefined;

function totalOf(page: ListPage): number | undefined {
  const v = page?.totalResults;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

/**
 * Every resource of a type, page by page, through `get` (one GET with retries).
 * `totalResults` is not trusted to end the read: it stops at an empty page or
 * one that brings nothing new (servers that ignore `startIndex` repeat a page),
 * and duplicates are dropped by id. Where the target answers with a
 * `nextCursor` (cursor paging, RFC 9865) it is followed instead of `startIndex`.
 * A target that pages forever is cut off: past `maxResources`, past
 * `max(2 × totalResults, totalResults + 10 pages)` entries read, or past `maxPages`.
 */
export async function readAllPages(
  get: (path: string) => Promise<{ data: ListPage }>,
  type: string,
  options: ListOptions = {},
): Promise<ListResult> {
  const count = options.pageSize ?? 100;
  const maxResources = options.maxResources ?? DEFAULT_MAX_RESOURCES;
  const extra = options.query ? `&${options.query}` : '';
  const seen = new Map<string, ScimResource>();
  let startIndex = 1;
  let cursor: string | undefined;
  let requests = 0;
  let entries = 0;
  let totalResults: number | undefined;
  let maxEntries = Number.POSITIVE_INFINITY;
  let maxPages = typeof options.maxPages === 'number' ? options.maxPages : Number.POSITIVE_INFINITY;
  const stopped = (stoppedBecause: string): ListResult => ({ resources: [...seen.values()], complete: false, stoppedBecause, requests, totalResults });
  for (;;) {
    if (requests >= maxPages) return stopped(`the read stopped at its budget of ${maxPages} pages`);
    if (seen.size >= maxResources) return stopped(`the read stopped at ${maxResources} resources (maxResources)`);
    if (entries > maxEntries) {
      return stopped(`the target said it holds ${totalResults} resources (totalResults) but kept answering past ${entries}: the read stopped there`);
    }
    const paging = cursor !== undefined ? `cursor=${encodeURIComponent(cursor)}` : `startIndex=${startIndex}`;
    const res = await get(`/${type}?${paging}&count=${count}${extra}`);
    requests++;
    if (requests === 1) {
      totalResults = totalOf(res.data);
      if (totalResults !== undefined) maxEntries = Math.max(2 * totalResults, totalResults + SLACK_PAGES * count);
      if (typeof options.maxPages === 'function') maxPages = options.maxPages(totalResults);
      // No need to read a million entries to learn what the target says at once.
      if (totalResults !== undefined && totalResults > maxResources && maxPages === Number.POSITIVE_INFINITY) {
        return stopped(`the target says it holds ${totalResults} resources (totalResults), more than the ${maxResources} a read takes`);
      }
    }
    const page = Array.isArray(res.data?.Resources) ? (res.data.Resources as unknown[]) : [];
    entries += page.length;
    let fresh = 0;
    for (const r of page) {
      if (typeof r !== 'object' || r === null || typeof (r as { id?: unknown }).id !== 'string') continue;
      const resource = r as ScimResource;
      if (seen.has(resource.id)) continue;
      if (seen.size >= maxResources) break;
      seen.set(resource.id, resource);
      fresh++;
    }
    const next = res.data?.nextCursor;
    if (fresh === 0 || page.length === 0) break;
    if (typeof next === 'string' && next !== '') {
      if (next === cursor) break;
      cursor = next;
    } else if (cursor !== undefined) {
      break; // the last page of a cursor read carries no nextCursor
    } else {
      startIndex += page.length;
    }
  }
  return { resources: [...seen.values()], complete: true, requests, totalResults };
}

/**
 * The target's description of itself (RFC 7644 §4): `/Schemas`, `/ResourceTypes` and
 * `/ServiceProviderConfig`, and whether its resource endpoints exist at all.
 */
import { ScimHttpError, errorMessage } from '../errors.js';
import { filterValue, type ScimClient } from './client.js';

/** The endpoints a target describes itself at. */
export const DISCOVERY_ENDPOINTS = ['/Schemas', '/ResourceTypes', '/ServiceProviderConfig'] as const;
export type DiscoveryEndpoint = (typeof DISCOVERY_ENDPOINTS)[number];

/** What one discovery endpoint answered. */
export type DiscoveryAnswer =
  /** The endpoint's JSON answer. */
  | { kind: 'read'; data: unknown }
  /** The target does not publish it (404, 400, 405, 501): RFC 7644 makes it mandatory, many targets lack it. */
  | { kind: 'not-published'; status: number }
  /** No usable answer: unreachable, no answer in time, 5xx, refused credentials, or stopped. */
  | { kind: 'failed'; error: string };

/** The answers of the endpoints asked, by endpoint. */
export type DiscoveryRead = Partial<Record<DiscoveryEndpoint, DiscoveryAnswer>>;

/** Statuses that mean "not published here". */
const NOT_PUBLISHED = new Set([400, 404, 405, 501]);

async function readOne(client: ScimClient, path: DiscoveryEndpoint): Promise<DiscoveryAnswer> {
  try {
    const res = await client.request<unknown>('GET', path);
    return { kind: 'read', data: res.data };
  } catch (err) {
    if (err instanceof ScimHttpError && err.status !== undefined && NOT_PUBLISHED.has(err.status)) return { kind: 'not-published', status: err.status };
    return { kind: 'failed', error: errorMessage(err) };
  }
}

/**
 * Reads the discovery endpoints asked (all three by default), at once and each on its
 * own: one that fails or hangs costs only its own answer, the others are kept. Never
 * throws; the client's timeout and retry policy bound each read.
 */
export async function readDiscovery(client: ScimClient, endpoints: readonly DiscoveryEndpoint[] = DISCOVERY_ENDPOINTS): Promise<DiscoveryRead> {
  const answers = await Promise.all(endpoints.map((path) => readOne(client, path)));
  const read: DiscoveryRead = {};
  endpoints.forEach((path, i) => (read[path] = answers[i]));
  return read;
}

/** The data of an answer, undefined when the endpoint is not published or failed. */
export function answerData(answer: DiscoveryAnswer | undefined): unknown {
  return answer?.kind === 'read' ? answer.data : undefined;
}

/** What a resource endpoint (`/Users`, `/Groups`) answered a list read of one resource. */
export type EndpointProbe =
  /** A SCIM ListResponse: the endpoint exists. */
  | { kind: 'list'; totalResults: number | undefined; resources: number }
  /** The endpoint is not there: a wrong base URL, or a target without this resource type. */
  | { kind: 'missing'; status: number }
  /** An answer, but not a SCIM ListResponse (a web page, a proxy, another API). */
  | { kind: 'not-scim'; status: number; detail: string };

function isListResponse(v: unknown): v is { Resources?: unknown; totalResults?: unknown } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as { schemas?: unknown; Resources?: unknown; totalResults?: unknown };
  const listSchema = Array.isArray(o.schemas) && o.schemas.includes('urn:ietf:params:scim:api:messages:2.0:ListResponse');
  return listSchema || Array.isArray(o.Resources) || typeof o.totalResults === 'number';
}

/**
 * Reads one resource of `/Users` or `/Groups` (`count=1`), or the accounts a filter
 * finds, and tells "this endpoint does not exist" (404, or an answer that is no
 * ListResponse) from a list, empty or not.
 */
export async function probeEndpoint(client: ScimClient, type: 'Users' | 'Groups', filter?: { attribute: string; value: string }): Promise<EndpointProbe> {
  const query = filter
    ? `?filter=${encodeURIComponent(`${filter.attribute} eq ${filterValue(filter.value)}`)}`
    : type === 'Groups'
      ? '?count=1&excludedAttributes=members'
      : '?count=1';
  try {
    const res = await client.request<unknown>('GET', `/${type}${query}`);
    if (!isListResponse(res.data)) return { kind: 'not-scim', status: res.status, detail: 'the answer is JSON but not a SCIM ListResponse' };
    const list = Array.isArray(res.data.Resources) ? res.data.Resources.length : 0;
    return { kind: 'list', totalResults: typeof res.data.totalResults === 'number' ? res.data.totalResults : undefined, resources: list };
  } catch (err) {
    if (!(err instanceof ScimHttpError) || err.status === undefined) throw err;
    if (err.status === 404) return { kind: 'missing', status: 404 };
    // A 2xx whose body is no JSON (a proxy's or a web app's HTML page).
    if (err.status >= 200 && err.status < 300) return { kind: 'not-scim', status: err.status, detail: err.detail ?? 'the answer is not JSON' };
    throw err;
  }
}

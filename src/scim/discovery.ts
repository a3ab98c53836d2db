/**
 * The target's description of itself (RFC 7644 §4): `/Schemas`, `/ResourceTypes` and
 * `/ServiceProviderConfig`, and whether its resource endpoints exist at all.
 */
import { ScimHttpError } from '../errors.js';
import { filterValue, type ScimClient } from './client.js';

/** The discovery answers, each undefined when the target does not publish it (404, 400, 501). */
export interface DiscoveryRead {
  schemas: unknown;
  resourceTypes: unknown;
  serviceProviderConfig: unknown;
  requests: number;
}

/** Statuses that mean "not published here" (RFC 7644 §4 makes the endpoints mandatory; many targets lack them). */
const NOT_PUBLISHED = new Set([400, 404, 405, 501]);

async function readOne(client: ScimClient, path: string): Promise<{ data: unknown; attempts: number }> {
  try {
    const res = await client.request<unknown>('GET', path);
    return { data: res.data, attempts: res.attempts };
  } catch (err) {
    if (err instanceof ScimHttpError && err.status !== undefined && NOT_PUBLISHED.has(err.status)) return { data: undefined, attempts: (err as { attempts?: number }).attempts ?? 1 };
    throw err;
  }
}

/**
 * Reads `/Schemas`, `/ResourceTypes` and `/ServiceProviderConfig`. An endpoint the
 * target does not publish answers undefined; any other failure (unreachable, 5xx,
 * refused credentials) throws the ScimHttpError.
 */
export async function readDiscovery(client: ScimClient): Promise<DiscoveryRead> {
  const schemas = await readOne(client, '/Schemas');
  const resourceTypes = await readOne(client, '/ResourceTypes');
  const config = await readOne(client, '/ServiceProviderConfig');
  return {
    schemas: schemas.data,
    resourceTypes: resourceTypes.data,
    serviceProviderConfig: config.data,
    requests: schemas.attempts + resourceTypes.attempts + config.attempts,
  };
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

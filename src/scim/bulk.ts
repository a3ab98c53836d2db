import { ScimHttpError } from '../errors.js';
import type { ScimClient, ScimResource } from './client.js';
import { scimErrorFields } from './http.js';
import { classify } from './retry.js';

/** SCIM Bulk bodies and answers (RFC 7644 §3.7), and what /ServiceProviderConfig says of Bulk. */

export const BULK_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

/** One operation of a Bulk request. */
export interface BulkOperation {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/Users`, `/Groups/<id>`: relative to the base URL. */
  path: string;
  /** Required on a POST: other operations of the request name what it creates as `bulkId:<bulkId>`. */
  bulkId?: string;
  /** RFC 7644 §3.14: the version last read; a changed resource answers 412. */
  version?: string;
  data?: unknown;
}

/** One operation's answer, as the target gave it. */
export interface BulkOperationAnswer {
  /** The HTTP status of this operation alone. */
  status: number;
  location: string | undefined;
  /** The resource, when the target returned it; else undefined. */
  resource: ScimResource | undefined;
  /** The SCIM error of a failed operation. */
  error: unknown;
}

/** What /ServiceProviderConfig says of Bulk: the limits, or undefined where Bulk is not supported. */
export interface BulkSupport {
  maxOperations: number;
  maxPayloadSize: number;
}

/**
 * Reads /ServiceProviderConfig (RFC 7644 §5) for Bulk support. A target that does not
 * publish it, or cannot be read, takes single requests.
 */
export async function readBulkSupport(client: ScimClient): Promise<BulkSupport | undefined> {
  try {
    return bulkSupportOf((await client.request<unknown>('GET', '/ServiceProviderConfig')).data);
  } catch {
    return undefined;
  }
}

/** Bulk support as a /ServiceProviderConfig answer states it: undefined without a usable `bulk` block. */
export function bulkSupportOf(config: unknown): BulkSupport | undefined {
  const bulk = (config as { bulk?: { supported?: unknown; maxOperations?: unknown; maxPayloadSize?: unknown } } | undefined)?.bulk;
  if (bulk?.supported !== true && bulk?.supported !== 'true') return undefined;
  const maxOperations = Number(bulk.maxOperations);
  const maxPayloadSize = Number(bulk.maxPayloadSize);
  // A Bulk request of one operation saves nothing; a target that names no limits is not trusted with more.
  if (!Number.isInteger(maxOperations) || maxOperations < 2 || !Number.isFinite(maxPayloadSize) || maxPayloadSize <= 0) return undefined;
  return { maxOperations, maxPayloadSize };
}

/**
 * The body of a Bulk request. `failOnErrors` is left out on purpose: the target then
 * performs every operation it can (RFC 7644 §3.7.3), as the single requests would have
 * been, each failure kept in escrow on its own instead of stopping unrelated users.
 */
export function bulkRequestBody(operations: readonly BulkOperation[]): Record<string, unknown> {
  return { schemas: [BULK_REQUEST_SCHEMA], Operations: operations };
}

/** Bytes of the request body around its operations (schemas, brackets). */
export const BULK_ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify(bulkRequestBody([])));

/**
 * The answer to each operation sent, in the order sent, or why the answer as a whole
 * cannot be used (not a BulkResponse, an operation missing): then nothing in it is trusted.
 * POST answers are matched by `bulkId`; the others by method and path, else by position.
 */
export function parseBulkResponse(data: unknown, sent: readonly BulkOperation[]): { ok: true; answers: BulkOperationAnswer[] } | { ok: false; reason: string } {
  const body = data as { schemas?: unknown; Operations?: unknown } | undefined;
  if (typeof body !== 'object' || body === null || !Array.isArray(body.Operations)) return { ok: false, reason: 'the answer is not a BulkResponse' };
  const results = body.Operations as Record<string, unknown>[];
  const byBulkId = new Map<string, Record<string, unknown>>();
  const byPath = new Map<string, Record<string, unknown>[]>();
  for (const r of results) {
    if (typeof r !== 'object' || r === null) return { ok: false, reason: 'the BulkResponse holds an operation that is not an object' };
    if (typeof r.bulkId === 'string') byBulkId.set(r.bulkId, r);
    const path = typeof r.location === 'string' ? pathOf(r.location) : undefined;
    if (path !== undefined && typeof r.method === 'string') {
      const key = `${r.method.toUpperCase()} ${path}`;
      byPath.set(key, [...(byPath.get(key) ?? []), r]);
    }
  }
  const answers: BulkOperationAnswer[] = [];
  for (let i = 0; i < sent.length; i++) {
    const op = sent[i]!;
    let r = op.method === 'POST' && op.bulkId !== undefined ? byBulkId.get(op.bulkId) : byPath.get(`${op.method} ${op.path}`)?.shift();
    // Positional only when the answer has exactly one result per operation.
    if (!r && op.method !== 'POST' && results.length === sent.length) r = results[i];
    if (!r) return { ok: false, reason: `the BulkResponse has no answer for operation ${i + 1} (${op.method} ${op.path})` };
    const status = Number(r.status);
    if (!Number.isInteger(status) || status < 100) return { ok: false, reason: `the BulkResponse answers operation ${i + 1} without a status` };
    const location = typeof r.location === 'string' ? r.location : undefined;
    const response = r.response as { id?: unknown } | undefined;
    const resource = typeof response?.id === 'string' ? (response as ScimResource) : undefined;
    const answer: BulkOperationAnswer = { status, location, resource, error: status >= 300 ? r.response : undefined };
    // A create answered with another resource (a target that mixes up its bulkIds): nothing in the answer is trusted.
    const other = op.method === 'POST' && status < 300 ? anotherResource(op, answer) : undefined;
    if (other) return { ok: false, reason: `the BulkResponse answers operation ${i + 1} (${op.method} ${op.path}, bulkId ${op.bulkId ?? '?'}) with another resource: ${other}` };
    answers.push(answer);
  }
  return { ok: true, answers };
}

/** The identifying attributes of a created user or group, compared as a lookup's answer is. */
const IDENTIFYING = [
  { name: 'userName', caseExact: false },
  { name: 'externalId', caseExact: true },
  { name: 'displayName', caseExact: false },
] as const;

/**
 * How a create's answer shows another resource than the one sent, or undefined when it does
 * not: a returned resource whose userName, externalId or displayName is not the one sent, or
 * whose id is not the one its location names.
 */
function anotherResource(op: BulkOperation, answer: BulkOperationAnswer): string | undefined {
  const resource = answer.resource as Record<string, unknown> | undefined;
  if (!resource) return undefined;
  const located = answer.location !== undefined ? pathOf(answer.location) : undefined;
  if (located !== undefined && decodeURIComponent(located.split('/')[2]!) !== resource.id) return `its location names ${located}, its resource has id ${String(resource.id)}`;
  const sent = (op.data ?? {}) as Record<string, unknown>;
  for (const { name, caseExact } of IDENTIFYING) {
    const want = sent[name];
    const got = resource[name];
    if (typeof want !== 'string' || typeof got !== 'string') continue;
    if (caseExact ? want !== got : want.toLowerCase() !== got.toLowerCase()) return `${name} ${got}, where ${want} was sent`;
  }
  return undefined;
}

/** `/Users/abc` from `https://x/scim/v2/Users/abc` (the part from the resource type on). */
function pathOf(location: string): string | undefined {
  const m = /\/(Users|Groups)\/([^/?#]+)\/?(?:[?#].*)?$/.exec(location);
  return m ? `/${m[1]}/${m[2]}` : undefined;
}

/** The id of a created resource: from its answer's resource, else the last segment of its location. */
export function createdId(answer: BulkOperationAnswer): string | undefined {
  if (answer.resource) return answer.resource.id;
  const path = answer.location !== undefined ? pathOf(answer.location) : undefined;
  return path === undefined ? undefined : decodeURIComponent(path.split('/')[2]!);
}

/**
 * Whether /Bulk's own answer means "no Bulk here", whatever /ServiceProviderConfig says:
 * not there (404), not allowed (405), not implemented (501), or refused to a token the
 * other endpoints take (403: the single requests that follow tell if they refuse it too).
 * Nothing in the request was applied.
 */
export function refusesBulk(err: ScimHttpError): boolean {
  return err.status === 403 || err.status === 404 || err.status === 405 || err.status === 501;
}

/** A failed operation of a Bulk request, as the error its own request would have thrown. */
export function bulkOperationError(op: BulkOperation, answer: BulkOperationAnswer): ScimHttpError {
  return new ScimHttpError({ kind: classify(answer.status), status: answer.status, method: op.method, path: `/Bulk ${op.path}`, ...scimErrorFields(answer.error) });
}

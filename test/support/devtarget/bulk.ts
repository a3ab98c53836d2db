import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import SCIMMY from 'scimmy';
import { holdAnswer, sendHeld, sendScimError } from './answers.js';
import type { Faults } from './faults.js';
import { bumpVersion, checkUserFields, requestStore, versionTag, type Store, type StoredResource } from './resources.js';

/** What /ServiceProviderConfig and /Bulk need of the target's options. */
export interface FeatureOptions {
  etags?: boolean | undefined;
  bulk?: BulkFeature | undefined;
}

/** A target's Bulk: its limits, and the ways a real one gets Bulk wrong. */
export interface BulkFeature {
  maxOperations?: number | undefined;
  maxPayloadSize?: number | undefined;
  /**
   * `last`: resolve only the last `bulkId:` reference of each operation, store the others as
   * literal values (`bulkId:b10`), and answer 201 all the same, as some targets do.
   */
  references?: 'all' | 'last' | undefined;
  /** Apply the request correctly, but answer each POST with another POST's bulkId (its location and resource are its own). */
  mislabelAnswers?: boolean | undefined;
  /** /Bulk alone answers this status, while /ServiceProviderConfig still says bulk.supported. */
  refuseWith?: 403 | 404 | 405 | 501 | undefined;
}

const DEFAULT_MAX_OPERATIONS = 1000;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

/**
 * Serves /ServiceProviderConfig through scimmy, with `bulk` and `etag` as this
 * target supports them (scimmy's own configuration is shared by every target in the process).
 */
export function serviceProviderConfig(_req: Request, res: Response, next: NextFunction, options: FeatureOptions): void {
  holdAnswer(res, (held) => {
    if (held.status !== 200) return sendHeld(res, held);
    const config = JSON.parse(held.body.toString('utf8')) as Record<string, unknown>;
    config.etag = { supported: options.etags ?? false };
    config.bulk = options.bulk
      ? { supported: true, maxOperations: options.bulk.maxOperations ?? DEFAULT_MAX_OPERATIONS, maxPayloadSize: options.bulk.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD }
      : { supported: false, maxOperations: 0, maxPayloadSize: 0 };
    const body = Buffer.from(JSON.stringify(config));
    res.removeHeader('Content-Length');
    sendHeld(res, { status: 200, body });
  });
  next();
}

/** Marks a reference a `references: 'last'` target leaves unresolved (scimmy would refuse the literal one). */
const LITERAL = 'unresolved-reference:';

/** Stores the placeholders of an operation's unresolved references as the literal `bulkId:…` values. */
function storeLiterals(store: Store, id: string): void {
  for (const resources of [store.users, store.groups]) {
    const resource = resources.get(id);
    if (resource) resources.set(id, JSON.parse(JSON.stringify(resource).replaceAll(LITERAL, 'bulkId:')) as StoredResource);
  }
}

interface BulkAnswer {
  method?: unknown;
  bulkId?: unknown;
  status?: unknown;
  location?: unknown;
  response?: unknown;
}

/**
 * Gives each created resource's answer the bulkId of the next POST (the last gets the first's),
 * with its own location and resource: what a target that mixes up its answers sends.
 */
function mislabel(answers: BulkAnswer[], store: Store): void {
  const created = answers.filter((a) => a.method === 'POST' && a.status === '201' && typeof a.bulkId === 'string' && typeof a.location === 'string');
  const bulkIds = created.map((a) => a.bulkId);
  created.forEach((a, i) => {
    const id = String(a.location).split('/').pop()!;
    a.bulkId = bulkIds[(i + 1) % bulkIds.length];
    a.response = store.users.get(id) ?? store.groups.get(id);
  });
}

interface BulkOp {
  method?: unknown;
  path?: unknown;
  bulkId?: unknown;
  version?: unknown;
  data?: unknown;
}

/**
 * POST /Bulk (RFC 7644 §3.7) applied by scimmy's BulkRequest, within this target's
 * limits: more than `maxOperations` operations or `maxPayloadSize` bytes is a 413.
 * An operation whose `version` is not the resource's current one answers 412 and is
 * not applied (scimmy does not check versions itself); one that an injected fault
 * matches answers that fault's status, as its own request would have.
 */
export async function serveBulk(req: Request, res: Response, options: FeatureOptions['bulk'], faults: Faults): Promise<void> {
  if (!options) return sendScimError(res, { status: 501, detail: 'Bulk is not supported' });
  if (options.refuseWith !== undefined) return sendScimError(res, { status: options.refuseWith, detail: `Bulk refused (${options.refuseWith})` });
  const maxOperations = options.maxOperations ?? DEFAULT_MAX_OPERATIONS;
  const maxPayloadSize = options.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD;
  if (Number(req.header('content-length') ?? 0) > maxPayloadSize) {
    return sendScimError(res, { status: 413, detail: `the Bulk request exceeds maxPayloadSize (${maxPayloadSize} bytes)` });
  }
  const request = (req.body ?? {}) as { Operations?: unknown };
  const operations = Array.isArray(request.Operations) ? (request.Operations as BulkOp[]) : [];
  if (operations.length > maxOperations) {
    return sendScimError(res, { status: 413, detail: `the Bulk request carries ${operations.length} operations, more than maxOperations (${maxOperations})` });
  }
  const store = requestStore.getStore()!;
  const base = req.originalUrl.replace(/\/Bulk\/?(\?.*)?$/, '');
  const refused = new Map<number, { method: unknown; location: string; status: string; response: unknown }>();
  const refuse = (i: number, op: BulkOp, status: number, detail: string, scimType?: string) => {
    const response = { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail, ...(scimType ? { scimType } : {}) };
    refused.set(i, { method: op.method, ...(typeof op.bulkId === 'string' ? { bulkId: op.bulkId } : {}), location: `${base}${String(op.path)}`, status: String(status), response });
  };
  operations.forEach((op, i) => {
    if (typeof op.path !== 'string') return;
    const fault = faults.forOperation(String(op.method), `${base}${op.path}`, op.data);
    if (fault) return refuse(i, op, fault.status!, fault.detail ?? 'injected fault', fault.scimType);
    if (!store.etags || typeof op.version !== 'string') return;
    const id = op.path.split('/')[2];
    if (id !== undefined && op.version !== versionTag(store, id)) refuse(i, op, 412, `version ${op.version} is not the current one (${versionTag(store, id)})`);
  });
  try {
    // Locations in the answer are under this target's base path (scimmy keeps one per process).
    for (const Resource of Object.values(SCIMMY.Resources.declared())) Resource.basepath(base);
    // One operation at a time, in order, each through scimmy's BulkRequest; bulkId references
    // are resolved here (scimmy's own resolution keeps only the last reference of an operation).
    const ids = new Map<string, string>();
    const answers: unknown[] = [];
    /** Taken userNames (lower-cased), read once per request when a user is created. */
    let userNames: Set<string> | undefined;
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i]!;
      const done = refused.get(i);
      if (done) {
        answers.push(done);
        continue;
      }
      let text = JSON.stringify(op);
      const refs = [...text.matchAll(/"bulkId:([^"]+)"/g)].map((m) => m[1]!);
      const missing = refs.find((ref) => !ids.has(ref));
      if (missing !== undefined && options.references !== 'last') {
        refuse(i, op, 409, `bulkId ${missing} names no resource created in this request`, 'invalidValue');
        answers.push(refused.get(i));
        continue;
      }
      // `last`: every reference but the last is kept as a placeholder, stored below as the literal `bulkId:…`.
      let seen = 0;
      text = text.replace(/"bulkId:([^"]+)"/g, (_, ref: string) =>
        options.references === 'last' && ++seen < refs.length ? JSON.stringify(`${LITERAL}${ref}`) : JSON.stringify(ids.get(ref) ?? `${LITERAL}${ref}`),
      );
      if (op.method === 'POST' && op.path === '/Users' && typeof op.bulkId === 'string') {
        // scimmy's schema coercion costs milliseconds an operation: a user create is checked
        // and stored here, with the same rules as a single POST's (resources.ts, checkUser).
        const data = (JSON.parse(text) as { data?: Record<string, unknown> }).data ?? {};
        const lower = String(data.userName ?? '').toLowerCase();
        try {
          if (store.uniqueUserNames && (userNames ??= new Set([...store.users.values()].map((u) => String(u.userName).toLowerCase()))).has(lower)) {
            throw new SCIMMY.Types.Error(409, 'uniqueness', `userName ${String(data.userName)} is already taken`);
          }
          checkUserFields(store, data, undefined);
        } catch (err) {
          const e = err as { status?: number; scimType?: string; message?: string };
          refuse(i, op, e.status ?? 400, e.message ?? 'invalid user', e.scimType);
          answers.push(refused.get(i));
          continue;
        }
        const id = randomUUID();
        userNames?.add(lower);
        store.users.set(id, { ...data, id } as StoredResource);
        bumpVersion(store, id);
        ids.set(op.bulkId, id);
        answers.push({ method: 'POST', bulkId: op.bulkId, location: `${base}/Users/${id}`, status: '201' });
        continue;
      }
      const one = { schemas: [BULK_REQUEST], Operations: [JSON.parse(text)] } as ConstructorParameters<typeof SCIMMY.Messages.BulkRequest>[0];
      const [answer] = (await new SCIMMY.Messages.BulkRequest(one).apply()).Operations as unknown as { status?: string; location?: string }[];
      if (typeof op.bulkId === 'string' && answer?.status === '201' && answer.location) ids.set(op.bulkId, answer.location.split('/').pop()!);
      if (answer?.location && text.includes(LITERAL)) storeLiterals(store, answer.location.split('/').pop()!);
      answers.push(answer);
    }
    if (options.mislabelAnswers) mislabel(answers as BulkAnswer[], store);
    res.status(200).set('Content-Type', 'application/scim+json').send(JSON.stringify({ schemas: [BULK_RESPONSE], Operations: answers }));
  } catch (err) {
    const e = err as { status?: unknown; scimType?: unknown; message?: unknown };
    const status = typeof e.status === 'number' ? e.status : Number(e.status ?? 500) || 500;
    sendScimError(res, { status, detail: String(e.message ?? err), ...(typeof e.scimType === 'string' ? { scimType: e.scimType } : {}) });
  }
}

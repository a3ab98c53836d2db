import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import SCIMMYRouters from 'scimmy-routers';
import { AnswerTimers, sendScimError } from './answers.js';
import { createFaults, type Fault } from './faults.js';
import { serveBulk, serviceProviderConfig } from './bulk.js';
import { bumpVersion, declareResources, requestStore, versionTag, type FilterMode, type Store, type StoredResource } from './resources.js';

export { GONG_EXTENSION, type FilterMode, type StoredResource } from './resources.js';
export type { AfterApply, Fault } from './faults.js';

/**
 * A local SCIM 2.0 service for the demo and the end-to-end tests, built on
 * scimmy + scimmy-routers over express, with an in-memory store. It behaves
 * like a strict real target: unique userName (case-insensitive, while its
 * `eq` filter is case-sensitive, as scimmy's is), and, when `strict`, required
 * given name, family name and work email.
 */
export interface DevTargetOptions {
  token: string;
  /** Require name.givenName, name.familyName and a work email on users. */
  strict?: boolean;
  port?: number;
  /** Seed of the random source that decides which requests a `rate` fault hits. */
  seed?: number;
  /**
   * Behave like a known target: `gong` (strict, plus the work email must be in
   * `emailDomains`; the Gong user extension is accepted), `strongdm` (strict,
   * `active` required, a duplicate email is a 409).
   */
  profile?: 'gong' | 'strongdm';
  emailDomains?: string[];
  /** Where the SCIM service is mounted (default /scim/v2; strongDM uses /provisioning/generic/v2). */
  basePath?: string;
  /** A duplicate userName (case-insensitive) is a 409 (default true); false stores both, as some targets do. */
  uniqueUserNames?: boolean;
  /** How filtered lists are answered (default `honour`, which keeps case; `caseless` ignores it; `ignore` and `first` behave like broken targets). */
  filters?: FilterMode;
  /**
   * Keep resource versions (RFC 7644 §3.14): `meta.version` on every answer, `etag.supported`
   * in /ServiceProviderConfig, and a PUT, PATCH or DELETE whose `If-Match` is not the current
   * version answered 412. Off by default.
   */
  etags?: boolean;
  /** Take Bulk requests (RFC 7644 §3.7), as /ServiceProviderConfig then says. Off by default. */
  bulk?: BulkOptions;
}

export interface BulkOptions {
  /** Operations a Bulk request may carry; more is a 413. @default 1000 */
  maxOperations?: number;
  /** Bytes a Bulk request may take; more is a 413. @default 1 MiB */
  maxPayloadSize?: number;
  /**
   * `last`: a faulty target that resolves only the last `bulkId:` reference of each operation,
   * stores the others as literal values (`bulkId:b10`) and answers 201 to everything; `none`: it
   * stores every reference so. @default 'all'
   */
  references?: 'all' | 'last' | 'none';
  /** A faulty target that applies the request correctly but answers each POST with another POST's bulkId. */
  mislabelAnswers?: boolean;
  /** A faulty target whose /Bulk alone answers this status, while /ServiceProviderConfig says bulk.supported. */
  refuseWith?: 403 | 404 | 405 | 501;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The status answered; 0 when none reached the client (the connection was dropped, or the client went away first). */
  status: number;
  /** The JSON request body of a request other than GET that had one. */
  body?: unknown;
}

export interface DevTarget {
  url: string;
  users: Map<string, StoredResource>;
  groups: Map<string, StoredResource>;
  requests: RecordedRequest[];
  /** Requests other than GET. */
  writes(): RecordedRequest[];
  /** Requests being served now, and the most at once since `peak` was last set (tests set it to 0). */
  concurrency: { now: number; peak: number };
  /** Timers still running for stalled, delayed and trickled answers (none once their clients went away). */
  pendingTimers(): number;
  /** Makes matching requests fail (fault injection for tests). */
  inject(fault: Fault): void;
  /** Removes every fault. */
  clearFaults(): void;
  /** Answers filtered lists from now on as `mode` says (a target that starts ignoring its filters). */
  setFilters(mode: FilterMode): void;
  /** Adds an account directly, as an admin would in the app. */
  seedUser(user: Record<string, unknown>): StoredResource;
  /** Changes an account directly, as an admin would in the app: its version moves on. */
  editUser(id: string, change: Record<string, unknown>): void;
  stop(): Promise<void>;
}

const LARGE_GROUP = 1000;

interface MemberOp {
  op: string;
  path: string;
  value?: { value: unknown } | { value: unknown }[];
}

function isMemberOp(o: unknown): o is MemberOp {
  if (typeof o !== 'object' || o === null) return false;
  const { op, path } = o as { op?: unknown; path?: unknown };
  if (typeof op !== 'string' || typeof path !== 'string') return false;
  return path === 'members' || (op.toLowerCase() === 'remove' && path.startsWith('members[value eq '));
}

function hasBody(req: express.Request): boolean {
  return req.method !== 'GET' && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined);
}

/** Starts the target on 127.0.0.1 (a free port unless one is given). */
export async function startDevTarget(options: DevTargetOptions): Promise<DevTarget> {
  declareResources();
  const store: Store = {
    users: new Map(),
    groups: new Map(),
    strict: options.strict ?? false,
    profile: options.profile,
    emailDomains: (options.emailDomains ?? []).map((d) => d.toLowerCase()),
    uniqueUserNames: options.uniqueUserNames ?? true,
    filters: options.filters ?? 'honour',
    versions: new Map(),
    etags: options.etags ?? false,
  };
  const base = options.basePath ?? '/scim/v2';
  const requests: RecordedRequest[] = [];
  const timers = new AnswerTimers();
  const faults = createFaults({ seed: options.seed ?? 42, timers });
  const app = express();
  app.use((_req, _res, next) => requestStore.run(store, next));
  const concurrency = { now: 0, peak: 0 };
  app.use((req, res, next) => {
    concurrency.peak = Math.max(concurrency.peak, ++concurrency.now);
    let recorded = false;
    const record = (status: number) => {
      if (recorded) return;
      recorded = true;
      requests.push({ method: req.method, path: req.originalUrl, status, ...(hasBody(req) ? { body: req.body as unknown } : {}) });
    };
    res.on('finish', () => record(res.statusCode));
    res.on('close', () => {
      concurrency.now--;
      // A request whose answer was lost counts too: tests count the writes a target received.
      if (!res.writableFinished) record(res.headersSent ? res.statusCode : 0);
    });
    next();
  });
  // Bodies are read here (the SCIM router then skips its own parser) so faults can match on them.
  app.use(express.json({ type: ['application/scim+json', 'application/json'], limit: '50mb' }));
  app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err) return sendScimError(res, { status: 400, detail: 'malformed JSON', scimType: 'invalidSyntax' });
    next();
  });
  app.use(faults.middleware);
  const authorized = (req: express.Request) => req.header('Authorization') === `Bearer ${options.token}`;
  // What the target supports is this target's own: scimmy's configuration is process-wide.
  app.get(`${base}/ServiceProviderConfig`, (req, res, next) => serviceProviderConfig(req, res, next, options));
  app.post(`${base}/Bulk`, (req, res) => {
    if (!authorized(req)) return sendScimError(res, { status: 401, detail: 'Authorization failure' });
    void serveBulk(req, res, options.bulk, faults);
  });
  app.use(`${base}/:type(Users|Groups)/:id`, (req, res, next) => {
    const ifMatch = req.header('If-Match');
    if (!store.etags || ifMatch === undefined || req.method === 'GET' || ifMatch === '*') return next();
    const exists = (req.params.type === 'Users' ? store.users : store.groups).has(req.params.id!);
    if (exists && ifMatch !== versionTag(store, req.params.id!)) {
      return sendScimError(res, { status: 412, detail: `version ${ifMatch} is not the current one (${versionTag(store, req.params.id!)})` });
    }
    next();
  });
  app.patch(`${base}/Groups/:id`, (req, res, next) => {
    const group = store.groups.get(req.params.id);
    const members = group?.members;
    const ops = (req.body as { Operations?: unknown }).Operations;
    // scimmy re-validates the whole member list for every member it adds, which is
    // quadratic; large groups take member changes here, with the same semantics
    // (an add appends, duplicates included; removal by filter path or value list).
    if (!group || !Array.isArray(members) || members.length < LARGE_GROUP || !Array.isArray(ops) || !ops.every(isMemberOp)) return next();
    if (!authorized(req)) return sendScimError(res, { status: 401, detail: 'Authorization failure' });
    let list = members as { value: string }[];
    for (const op of ops as MemberOp[]) {
      const values = (Array.isArray(op.value) ? op.value : op.value ? [op.value] : []).map((m) => ({ value: String(m.value) }));
      if (op.op.toLowerCase() === 'add') list = [...list, ...values];
      else if (op.op.toLowerCase() === 'replace') list = values;
      else {
        const byPath = /^members\[value eq "(.*)"\]$/.exec(op.path);
        const gone = new Set(byPath ? [byPath[1]!.replace(/\\(["\\])/g, '$1')] : values.map((v) => v.value));
        list = list.filter((m) => !gone.has(m.value));
      }
    }
    group.members = list;
    bumpVersion(store, group.id);
    res.status(204).end();
  });
  app.use(
    base,
    new SCIMMYRouters({
      type: 'bearer',
      handler: (req) => {
        if (req.header('Authorization') !== `Bearer ${options.token}`) throw new Error('Authorization failure');
        return 'scimsync';
      },
    }) as unknown as express.Router,
  );
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${base}`,
    users: store.users,
    groups: store.groups,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET'),
    concurrency,
    pendingTimers: () => timers.size,
    inject: faults.inject,
    clearFaults: faults.clear,
    setFilters(mode) {
      store.filters = mode;
    },
    seedUser(user) {
      const id = randomUUID();
      const stored = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], active: true, ...user, id } as StoredResource;
      store.users.set(id, stored);
      bumpVersion(store, id);
      return stored;
    },
    editUser(id, change) {
      const user = store.users.get(id);
      if (!user) throw new Error(`no user ${id} in the target`);
      Object.assign(user, change);
      bumpVersion(store, id);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

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
}

export const GONG_EXTENSION = 'urn:ietf:params:scim:schemas:extension:Gong:2.0:User';

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
}

export type StoredResource = Record<string, unknown> & { id: string };

/**
 * A failure the target answers with instead of serving matching requests: an
 * HTTP error, a connection reset (before the request is handled, or after it was
 * applied, with the answer lost), or a stall.
 */
export interface Fault {
  /** Any method when not given. */
  method?: string;
  /** Matched against the request path and query. */
  path: RegExp;
  /** Matched against the JSON request body, when given. */
  body?: RegExp;
  /** The HTTP status to answer with (unless reset or stalled). */
  status?: number;
  /** How many matching requests fail; then the fault is spent. Unlimited when `rate` is set and this is not. */
  times?: number;
  /** The share of matching requests that fail (0..1), drawn from the target's seeded random source. */
  rate?: number;
  reset?: 'before' | 'after';
  /** Wait this long before serving the request. */
  stallMs?: number;
  scimType?: string;
  detail?: string;
  headers?: Record<string, string>;
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
  /** Makes matching requests fail (fault injection for tests). */
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Adds an account directly, as an admin would in the app. */
  seedUser(user: Record<string, unknown>): StoredResource;
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

interface Store {
  users: Map<string, StoredResource>;
  groups: Map<string, StoredResource>;
  strict: boolean;
  profile: DevTargetOptions['profile'];
  emailDomains: string[];
}

// scimmy's resource registry is process-wide: its handlers find the store of the target serving the request.
// Each request runs with its own target's store, so several targets can run in one process.
const requestStore = new AsyncLocalStorage<Store>();
let declared = false;

function plain(instance: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(instance)) as Record<string, unknown>;
  delete copy.meta;
  return copy;
}

function storeOf(): Store {
  const store = requestStore.getStore();
  if (!store) throw new SCIMMY.Types.Error(503, null as unknown as string, 'target not running');
  return store;
}

function checkUser(store: Store, data: Record<string, unknown>, id: string | undefined): void {
  const userName = String(data.userName ?? '');
  for (const other of store.users.values()) {
    if (other.id !== id && String(other.userName).toLowerCase() === userName.toLowerCase()) {
      throw new SCIMMY.Types.Error(409, 'uniqueness', `userName ${userName} is already taken`);
    }
  }
  const emailsOf = (d: Record<string, unknown>) =>
    (Array.isArray(d.emails) ? (d.emails as Record<string, unknown>[]) : []).map((e) => String(e.value ?? '').toLowerCase()).filter(Boolean);
  if (store.profile === 'strongdm') {
    if (typeof data.active !== 'boolean') throw new SCIMMY.Types.Error(400, 'invalidValue', 'active is required');
    const mine = new Set(emailsOf(data));
    for (const other of store.users.values()) {
      if (other.id !== id && emailsOf(other).some((e) => mine.has(e))) throw new SCIMMY.Types.Error(409, 'uniqueness', 'email is already in use');
    }
  }
  if (!store.strict && !store.profile) return;
  const name = (data.name ?? {}) as Record<string, unknown>;
  if (!name.givenName || !name.familyName) {
    throw new SCIMMY.Types.Error(400, 'invalidValue', 'name.givenName and name.familyName are required');
  }
  const emails = Array.isArray(data.emails) ? (data.emails as Record<string, unknown>[]) : [];
  const work = emails.find((e) => e.type === 'work' && typeof e.value === 'string' && e.value.includes('@'));
  if (!work) throw new SCIMMY.Types.Error(400, 'invalidValue', 'a work email is required');
  const domain = String(work.value).split('@')[1]!.toLowerCase();
  if (store.profile === 'gong' && store.emailDomains.length > 0 && !store.emailDomains.includes(domain)) {
    throw new SCIMMY.Types.Error(400, 'invalidValue', `the work email must be in ${store.emailDomains.join(', ')}`);
  }
}

function declare(): void {
  if (declared) return;
  declared = true;
  const gong = new SCIMMY.Types.SchemaDefinition('GongUser', GONG_EXTENSION, 'Gong user extension', [
    new SCIMMY.Types.Attribute('string', 'stateOrProvince'),
    new SCIMMY.Types.Attribute('string', 'country'),
  ]);
  SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false).extend(gong as unknown as typeof SCIMMY.Types.Schema, false)) // scimmy accepts a SchemaDefinition here; its types only name Schema classes
    .ingress((resource, instance) => {
      const store = storeOf();
      const data = plain(instance);
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.users.has(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
      checkUser(store, data, resource.id);
      const stored = { ...data, id } as StoredResource;
      store.users.set(id, stored);
      return stored as never; // scimmy's handler types want its schema classes; the store holds plain JSON
    })
    .egress((resource) => {
      const store = storeOf();
      if (resource.id) {
        const found = store.users.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
        return found as never;
      }
      const all = [...store.users.values()];
      return (resource.filter ? resource.filter.match(all) : all) as never;
    })
    .degress((resource) => {
      const store = storeOf();
      if (!resource.id || !store.users.delete(resource.id)) {
        throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${String(resource.id)} not found`);
      }
    });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress((resource, instance) => {
      const store = storeOf();
      const data = plain(instance);
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.groups.has(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
      for (const other of store.groups.values()) {
        if (other.id !== id && other.displayName === data.displayName) {
          throw new SCIMMY.Types.Error(409, 'uniqueness', `group ${String(data.displayName)} exists`);
        }
      }
      const stored = { ...data, id } as StoredResource;
      store.groups.set(id, stored);
      return stored as never; // scimmy's handler types want its schema classes; the store holds plain JSON
    })
    .egress((resource) => {
      const store = storeOf();
      if (resource.id) {
        const found = store.groups.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${resource.id} not found`);
        return found as never;
      }
      const all = [...store.groups.values()];
      return (resource.filter ? resource.filter.match(all) : all) as never;
    })
    .degress((resource) => {
      const store = storeOf();
      if (!resource.id || !store.groups.delete(resource.id)) {
        throw new SCIMMY.Types.Error(404, null as unknown as string, `resource ${String(resource.id)} not found`);
      }
    });
}

/** Starts the target on 127.0.0.1 (a free port unless one is given). */
export async function startDevTarget(options: DevTargetOptions): Promise<DevTarget> {
  declare();
  const store: Store = {
    users: new Map(),
    groups: new Map(),
    strict: options.strict ?? false,
    profile: options.profile,
    emailDomains: (options.emailDomains ?? []).map((d) => d.toLowerCase()),
  };
  const base = options.basePath ?? '/scim/v2';
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const app = express();
  app.use((_req, _res, next) => requestStore.run(store, next));
  const concurrency = { now: 0, peak: 0 };
  app.use((req, res, next) => {
    concurrency.peak = Math.max(concurrency.peak, ++concurrency.now);
    res.on('close', () => concurrency.now--);
    res.on('finish', () => requests.push({ method: req.method, path: req.originalUrl, status: res.statusCode }));
    next();
  });
  const scimError = (res: express.Response, status: number, detail: string, scimType?: string, headers: Record<string, string> = {}) =>
    res
      .status(status)
      .set({ 'Content-Type': 'application/scim+json', ...headers })
      .send(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: String(status),
          ...(scimType ? { scimType } : {}),
          detail,
        }),
      );
  // Bodies are read here (the SCIM router then skips its own parser) so faults can match on them.
  app.use(express.json({ type: ['application/scim+json', 'application/json'], limit: '50mb' }));
  app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (err) return scimError(res, 400, 'malformed JSON', 'invalidSyntax');
    next();
  });
  let seed = options.seed ?? 42;
  const random = () => {
    // mulberry32: a small seeded generator, so fault runs repeat
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  app.use((req, res, next) => {
    if (faults.length === 0) return next();
    const raw = JSON.stringify(req.body ?? {});
    const i = faults.findIndex(
      (f) =>
        (f.method === undefined || f.method === req.method) &&
        f.path.test(req.originalUrl) &&
        (!f.body || f.body.test(raw)) &&
        (f.rate === undefined || random() < f.rate),
    );
    const fault = faults[i];
    if (!fault) return next();
    if (fault.times !== undefined && --fault.times <= 0) faults.splice(i, 1);
    const act = () => {
      if (fault.reset === 'before') return req.socket.destroy();
      if (fault.reset === 'after') {
        // Serve it, then drop the connection instead of answering.
        res.writeHead = (() => res) as unknown as typeof res.writeHead;
        res.end = (() => {
          req.socket.destroy();
          return res;
        }) as unknown as typeof res.end;
        return next();
      }
      if (fault.status === undefined) return next();
      scimError(res, fault.status, fault.detail ?? 'injected fault', fault.scimType, fault.headers);
    };
    if (fault.stallMs) setTimeout(act, fault.stallMs);
    else act();
  });
  /** Removes every fault. */
  const clearFaults = () => {
    faults.length = 0;
  };
  app.patch(`${base}/Groups/:id`, (req, res, next) => {
    const group = store.groups.get(req.params.id);
    const members = group?.members;
    const ops = (req.body as { Operations?: unknown }).Operations;
    // scimmy re-validates the whole member list for every member it adds, which is
    // quadratic; large groups take member changes here, with the same semantics
    // (an add appends, duplicates included; removal by filter path or value list).
    if (!group || !Array.isArray(members) || members.length < LARGE_GROUP || !Array.isArray(ops) || !ops.every(isMemberOp)) return next();
    if (req.header('Authorization') !== `Bearer ${options.token}`) return scimError(res, 401, 'Authorization failure');
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
    inject: (fault) => faults.push({ ...fault }),
    clearFaults,
    seedUser(user) {
      const id = randomUUID();
      const stored = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], active: true, ...user, id } as StoredResource;
      store.users.set(id, stored);
      return stored as never; // scimmy's handler types want its schema classes; the store holds plain JSON
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A SCIM target that enforces a request rate, as SaaS targets do: a node:http
 * server on 127.0.0.1 with a token bucket of `ratePerSecond` tokens a second
 * holding at most `burst`. A request that finds the bucket empty is answered
 * 429 with `Retry-After` in whole seconds (RFC 9110, rounded up, as real
 * targets send it); any other is passed to the SCIM server behind (`upstream`:
 * the dev target), or, without one, answered by a small in-memory SCIM store of
 * its own (cheap enough for hundreds of requests a second). It counts what it
 * answered: GET /_bucket answers the counts, POST /_bucket/counts zeroes them and
 * fills the bucket, POST /_bucket/reset empties the store too. A storm (`storm()`, or
 * POST /_bucket/storm?ms=N) answers every request 429 with a wait of 1 s for its length,
 * whatever the bucket holds, as a target whose quota is shared with a noisy neighbour does.
 *
 * Run as a process of its own: `node token-bucket-target.js <ratePerSecond>` prints its URL.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

export interface TokenBucketOptions {
  /** The SCIM server behind, e.g. `http://127.0.0.1:4000/scim/v2`; without one, a store of its own at /scim/v2. */
  upstream?: string | undefined;
  /** Tokens added per second: the target's limit. */
  ratePerSecond: number;
  /** Tokens the bucket holds at most (a burst). @default max(2, ratePerSecond / 5) */
  burst?: number | undefined;
  /** The header that says how long to wait. @default 'retry-after' */
  waitHeader?: 'retry-after' | 'x-retry-after' | undefined;
}

export interface TokenBucketCounts {
  /** Requests let through (each took a token). */
  answered: number;
  /** Of those, answered 2xx. */
  succeeded: number;
  /** Requests answered 429. */
  limited: number;
  /** performance.now() of each 429 answered. */
  limitedAt: number[];
  /** performance.now() of the first and last request counted, undefined before any. */
  firstAt: number | undefined;
  lastAt: number | undefined;
}

export interface TokenBucketTarget {
  /** The SCIM base URL to give scimsync. */
  url: string;
  readonly counts: TokenBucketCounts;
  /** Zeroes the counts and fills the bucket (the target was idle). */
  reset(): void;
  /** Every request answered 429 (wait 1 s) for `ms`, starting once `afterRequests` more have been let through. */
  storm(options: { ms: number; afterRequests?: number }): void;
  stop(): Promise<void>;
}

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export async function startTokenBucketTarget(options: TokenBucketOptions): Promise<TokenBucketTarget> {
  const upstream = options.upstream !== undefined ? new URL(options.upstream) : undefined;
  const basePath = upstream ? upstream.pathname.replace(/\/$/, '') : '/scim/v2';
  const rate = options.ratePerSecond;
  const burst = options.burst ?? Math.max(2, rate / 5);
  const waitHeader = options.waitHeader ?? 'retry-after';
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const store = new ScimStore();
  let tokens = burst;
  let filledAt = performance.now();
  const counts: TokenBucketCounts = { answered: 0, succeeded: 0, limited: 0, limitedAt: [], firstAt: undefined, lastAt: undefined };
  /** The storm to come (requests to let through first) or going on (until when, performance.now()). */
  let storm: { ms: number; after: number; until?: number } | undefined;
  const stormNow = (now: number): boolean => {
    if (storm === undefined) return false;
    if (storm.until === undefined && storm.after <= 0) storm.until = now + storm.ms;
    if (storm.until === undefined) return false;
    if (now < storm.until) return true;
    storm = undefined;
    return false;
  };
  const reset = () => {
    Object.assign(counts, { answered: 0, succeeded: 0, limited: 0, limitedAt: [], firstAt: undefined, lastAt: undefined });
    tokens = burst;
    filledAt = performance.now();
  };

  /** Takes a token, or answers how many whole seconds until one is there. */
  const take = (now: number): { ok: true } | { ok: false; waitSeconds: number } => {
    tokens = Math.min(burst, tokens + ((now - filledAt) * rate) / 1000);
    filledAt = now;
    if (tokens >= 1) {
      tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitSeconds: Math.max(1, Math.ceil((1 - tokens) / rate)) };
  };

  const pass = (req: IncomingMessage, res: ServerResponse, onStatus: (status: number) => void) => {
    if (!upstream) {
      void store.serve(req, basePath).catch(() => error(400)).then(({ status, body }) => {
        onStatus(status);
        if (body === undefined) return res.writeHead(status).end();
        res.writeHead(status, { 'Content-Type': 'application/scim+json' }).end(JSON.stringify(body));
      });
      return;
    }
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent }, (answer) => {
      onStatus(answer.statusCode ?? 502);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(String(e));
    });
    req.pipe(out);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/_bucket') return res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(counts));
    if (path === '/_bucket/storm') {
      storm = { ms: Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0), after: 0 };
      return res.writeHead(204).end();
    }
    if (path === '/_bucket/counts' || path === '/_bucket/reset') {
      reset();
      if (path === '/_bucket/reset') store.clear();
      return res.writeHead(204).end();
    }
    // Only SCIM requests are rated; anything else passes as is.
    if (!path.startsWith(basePath)) return pass(req, res, () => undefined);
    const now = performance.now();
    counts.firstAt ??= now;
    counts.lastAt = now;
    const taken = stormNow(now) ? ({ ok: false, waitSeconds: 1 } as const) : take(now);
    if (!taken.ok) {
      counts.limited++;
      counts.limitedAt.push(now);
      req.resume();
      const body = JSON.stringify({ schemas: [SCIM_ERROR], status: '429', detail: 'Too many requests' });
      res.writeHead(429, { 'Content-Type': 'application/scim+json', [waitHeader]: String(taken.waitSeconds) });
      res.end(body);
      return;
    }
    if (storm) storm.after--;
    counts.answered++;
    pass(req, res, (status) => {
      if (status >= 200 && status < 300) counts.succeeded++;
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    counts,
    reset,
    storm: ({ ms, afterRequests = 0 }) => {
      storm = { ms, after: afterRequests };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

type Resource = Record<string, unknown> & { id: string };

/** Users and groups in memory, as little SCIM as a sync needs: create (409 on a taken name), filter by `eq`, page, read, replace, patch, delete. */
class ScimStore {
  private readonly types = { Users: new Map<string, Resource>(), Groups: new Map<string, Resource>() };
  private readonly names = { Users: new Map<string, string>(), Groups: new Map<string, string>() };

  clear(): void {
    for (const m of [...Object.values(this.types), ...Object.values(this.names)]) m.clear();
  }

  async serve(req: IncomingMessage, basePath: string): Promise<{ status: number; body?: unknown }> {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(url.pathname.slice(basePath.length));
    if (!m) return error(404);
    const type = m[1] as 'Users' | 'Groups';
    const id = m[2];
    const resources = this.types[type];
    const names = this.names[type];
    const nameOf = (r: Record<string, unknown>) => String((type === 'Users' ? r.userName : r.displayName) ?? '').toLowerCase();
    const body = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH' ? await readJson(req) : {};
    if (!id) {
      if (req.method === 'POST') {
        const name = nameOf(body);
        if (names.has(name)) return error(409, 'uniqueness');
        const created = { ...body, id: randomUUID() };
        resources.set(created.id, created);
        names.set(name, created.id);
        return { status: 201, body: created };
      }
      if (req.method !== 'GET') return error(405);
      const eq = /eq "((?:[^"\\]|\\.)*)"/.exec(url.searchParams.get('filter') ?? '');
      const all = eq ? [names.get(eq[1]!.replace(/\\(.)/g, '$1').toLowerCase())].flatMap((i) => (i ? [resources.get(i)!] : [])) : [...resources.values()];
      const start = Math.max(1, Number(url.searchParams.get('startIndex') ?? 1));
      const count = Number(url.searchParams.get('count') ?? all.length);
      const page = all.slice(start - 1, start - 1 + count);
      return { status: 200, body: { schemas: [LIST], totalResults: all.length, startIndex: start, itemsPerPage: page.length, Resources: page } };
    }
    const found = resources.get(id);
    if (!found) return error(404);
    switch (req.method) {
      case 'GET':
        return { status: 200, body: found };
      case 'PUT': {
        const replaced = { ...body, id };
        names.delete(nameOf(found));
        names.set(nameOf(replaced), id);
        resources.set(id, replaced);
        return { status: 200, body: replaced };
      }
      case 'PATCH':
        return { status: 204 };
      case 'DELETE':
        resources.delete(id);
        names.delete(nameOf(found));
        return { status: 204 };
      default:
        return error(405);
    }
  }
}

const error = (status: number, scimType?: string) => ({ status, body: { schemas: [SCIM_ERROR], status: String(status), ...(scimType ? { scimType } : {}) } });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return {};
  const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = await startTokenBucketTarget({ ratePerSecond: Number(process.argv[2]) });
  console.log(target.url);
}

import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import { ScimHttpError, type ScimErrorKind } from '../errors.js';
import type { AuthConfig } from '../config/schema.js';
import { PATCH_OP_SCHEMA, type PatchOperation } from './attributes.js';

export interface RetryPolicy {
  /** Attempts for transient failures (5xx, 408, network, timeout), the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Total time one request may spend waiting between attempts (backoff and Retry-After). */
  maxTotalWaitMs?: number;
  /** 429 answers waited out per request before giving up; they do not count as attempts. */
  maxRateLimitWaits?: number;
}

export interface ScimClientOptions {
  baseUrl: string;
  auth: AuthConfig;
  timeoutMs: number;
  rateLimit: { requestsPerSecond: number; maxConcurrent: number; burst?: number | undefined };
  retry: RetryPolicy;
  /** Called for each retry, for debug logs. */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
  /** Called for each request sent (counting, metrics). */
  onRequest?: (info: { method: string; path: string; status: number | undefined }) => void;
  /** Random source for jitter; injectable for tests. */
  random?: () => number;
  /**
   * The caller never has more than `rateLimit.maxConcurrent` requests out at
   * once (a cycle's delivery, one request at a time per operation): with no
   * request rate to keep, the client then adds no queue of its own.
   */
  boundedByCaller?: boolean;
}

export type ResourceType = 'Users' | 'Groups';

export interface RequestOptions {
  /**
   * Retry after a network failure (reset, timeout). Off for requests that are not
   * safe to repeat blindly, such as adding group members: the first may have been
   * applied with only its answer lost.
   */
  retryNetwork?: boolean;
}

export interface ScimResource {
  id: string;
  [key: string]: unknown;
}

export interface RequestResult<T> {
  status: number;
  data: T;
  attempts: number;
}

/** Parses `Retry-After`: delta seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** Quotes a value for a SCIM filter (RFC 7644 §3.4.2.2): `"` and `\` escaped. */
export function filterValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function classify(status: number): ScimErrorKind {
  if (status === 429) return 'rate-limited';
  if (status === 408 || status >= 500) return 'transient';
  if (status === 401 || status === 403) return 'fatal';
  if (status === 409) return 'conflict';
  if (status === 404) return 'not-found';
  return 'bad-request';
}

function parseBody(text: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof text !== 'string' || text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function scimErrorFields(body: unknown): { scimType?: string; detail?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const out: { scimType?: string; detail?: string } = {};
  if (typeof b.scimType === 'string') out.scimType = b.scimType;
  if (typeof b.detail === 'string') out.detail = b.detail.slice(0, 500);
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface NetworkErrorLike {
  code?: string;
  message?: string;
}

/**
 * Speaks SCIM 2.0 to one target: auth, rate limit, retries, and error
 * classification. Every request of the target, lookups included, goes
 * through one limiter; a 429 pauses all of them for `Retry-After`.
 */
/** What the client needs of a limiter: run a job when allowed, and drain. */
interface Limiter {
  schedule<T>(job: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The target's limiter. A request rate is kept by Bottleneck (`minTime`, or a
 * reservoir for `burst`). At 1,000 requests/s and more Bottleneck's spacing is
 * 0 ms, i.e. only concurrency is limited: a plain queue does that at a fraction
 * of Bottleneck's cost per job, and a caller that bounds its own concurrency
 * needs none.
 */
function createLimiter(rateLimit: ScimClientOptions['rateLimit'], boundedByCaller: boolean): Limiter {
  const { requestsPerSecond: rps, maxConcurrent, burst } = rateLimit;
  const minTime = Math.floor(1000 / rps);
  if (minTime === 0 && !burst && boundedByCaller) return { schedule: (job) => job(), stop: () => Promise.resolve() };
  if (minTime === 0 && !burst) {
    const queue = new PQueue({ concurrency: maxConcurrent });
    return {
      schedule: <T>(job: () => Promise<T>) => queue.add(job) as Promise<T>,
      stop: () => queue.onIdle(),
    };
  }
  const limiter = new Bottleneck({
    maxConcurrent,
    minTime: burst ? 0 : minTime,
    ...(burst
      ? { reservoir: burst, reservoirIncreaseAmount: 1, reservoirIncreaseInterval: Math.max(1, Math.floor(1000 / rps)), reservoirIncreaseMaximum: burst }
      : {}),
  });
  // Bottleneck's in-process store yields to the event loop with setTimeout(0) several
  // times per job, which Node clamps to 1 ms: that alone caps a limiter near 400
  // requests/s. Yield with setImmediate instead (timed waits stay timers).
  const store = (limiter as unknown as { _store?: { yieldLoop?: (t?: number) => Promise<void> } })._store;
  if (store && typeof store.yieldLoop === 'function') {
    store.yieldLoop = (t = 0) => new Promise<void>((resolve) => (t > 0 ? setTimeout(resolve, t) : setImmediate(resolve)));
  }
  return {
    schedule: (job) => limiter.schedule(job),
    stop: () => limiter.stop({ dropWaitingJobs: false }),
  };
}

/**
 * The axios instance options of a SCIM target: bodies kept as text (parsed and
 * classified here), every status answered, no redirects followed. Headers are
 * set once on the instance, not per request: axios merges a request's own
 * headers every time. The benchmark's bare loop uses the same options.
 */
export function scimHttpOptions(baseUrl: string, timeoutMs: number): CreateAxiosDefaults {
  return {
    baseURL: baseUrl.replace(/\/+$/, ''),
    timeout: timeoutMs,
    responseType: 'text',
    transformResponse: [(d: unknown) => d],
    validateStatus: () => true,
    maxRedirects: 0,
    headers: {
      Accept: 'application/scim+json, application/json',
      post: { 'Content-Type': 'application/scim+json' },
      put: { 'Content-Type': 'application/scim+json' },
      patch: { 'Content-Type': 'application/scim+json' },
    },
  };
}

export class ScimClient {
  private readonly http: AxiosInstance;
  private readonly limiter: Limiter;
  private readonly options: ScimClientOptions;
  private pausedUntil = 0;
  private oauthToken: { value: string; expiresAt: number } | undefined;

  constructor(options: ScimClientOptions) {
    this.options = options;
    this.http = axios.create(scimHttpOptions(options.baseUrl, options.timeoutMs));
    this.limiter = createLimiter(options.rateLimit, options.boundedByCaller ?? false);
  }

  /** Pauses every request of this target until `until` (ms epoch). */
  pause(until: number): void {
    if (until > this.pausedUntil) this.pausedUntil = until;
  }

  async close(): Promise<void> {
    await this.limiter.stop();
  }

  /** The Authorization header on the instance: the credential's, or the OAuth token's of the moment. */
  private sentAuth: string | undefined;
  /** The Authorization header of a static credential (bearer, basic), built once. */
  private staticAuth: string | undefined;

  /** The Authorization header: a string at once for static credentials, a promise where an OAuth token may be fetched. */
  private authHeader(force = false): string | Promise<string> {
    const auth = this.options.auth;
    switch (auth.type) {
      case 'bearer':
        return (this.staticAuth ??= `Bearer ${auth.token}`);
      case 'basic':
        return (this.staticAuth ??= `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
      case 'oauth2':
        if (!force && this.oauthToken && this.oauthToken.expiresAt > Date.now() + 30_000) return `Bearer ${this.oauthToken.value}`;
        return this.fetchToken(auth);
    }
  }

  private async fetchToken(auth: Extract<AuthConfig, { type: 'oauth2' }>): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    const res = await axios.post<string>(auth.tokenUrl, form.toString(), {
      timeout: this.options.timeoutMs,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`,
      },
    });
    const parsed = parseBody(res.data);
    const body = parsed.ok ? (parsed.value as Record<string, unknown> | undefined) : undefined;
    if (res.status !== 200 || typeof body?.access_token !== 'string') {
      throw new ScimHttpError({ kind: 'fatal', status: res.status, method: 'POST', path: 'token endpoint', detail: 'token request refused' });
    }
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    this.oauthToken = { value: body.access_token, expiresAt: Date.now() + ttl * 1000 };
    return `Bearer ${this.oauthToken.value}`;
  }

  /** One request with retries. Throws ScimHttpError with the final classification. */
  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<RequestResult<T>> {
    const policy = this.options.retry;
    const random = this.options.random ?? Math.random;
    const maxWaits = policy.maxRateLimitWaits ?? 20;
    let attempt = 0;
    let rateLimitWaits = 0;
    let waited = 0;
    const maxTotalWait = policy.maxTotalWaitMs ?? Number.POSITIVE_INFINITY;
    let refreshedAuth = false;
    for (;;) {
      attempt++;
      let err: ScimHttpError;
      try {
        const res = await this.send<T>(method, path, body, refreshedAuth);
        return { status: res.status, data: res.data, attempts: attempt };
      } catch (e) {
        if (!(e instanceof ScimHttpError)) throw e;
        err = e;
      }
      if (err.kind === 'fatal' && err.status === 401 && this.options.auth.type === 'oauth2' && !refreshedAuth) {
        // The cached token may have been revoked early: fetch a new one once.
        refreshedAuth = true;
        attempt--;
        continue;
      }
      if (err.kind === 'rate-limited') {
        rateLimitWaits++;
        attempt--; // 429s are not failures (QUIRKS.md, "Throttling")
        if (rateLimitWaits > maxWaits) throw err;
        const wait = err.retryAfterMs ?? backoffDelay(rateLimitWaits, policy, random) + 1000;
        if (waited + wait > maxTotalWait) throw Object.assign(err, { attempts: attempt });
        waited += wait;
        this.pause(Date.now() + wait);
        this.options.onRetry?.({ method, path, attempt: attempt + 1, delayMs: wait, reason: 'HTTP 429' });
        continue;
      }
      if (err.kind !== 'transient' || attempt >= policy.maxAttempts) throw Object.assign(err, { attempts: attempt });
      if (err.status === undefined && options.retryNetwork === false) throw Object.assign(err, { attempts: attempt });
      const delay = backoffDelay(attempt, policy, random);
      if (waited + delay > maxTotalWait) throw Object.assign(err, { attempts: attempt });
      waited += delay;
      this.options.onRetry?.({ method, path, attempt: attempt + 1, delayMs: delay, reason: err.status ? `HTTP ${err.status}` : (err.detail ?? 'network error') });
      await sleep(delay);
    }
  }

  private send<T>(method: string, path: string, body: unknown, forceAuth: boolean): Promise<{ status: number; data: T }> {
    return this.limiter.schedule(async () => {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait);
      const header = this.authHeader(forceAuth);
      const authorization = typeof header === 'string' ? header : await header;
      if (authorization !== this.sentAuth) {
        this.http.defaults.headers.common.Authorization = authorization;
        this.sentAuth = authorization;
      }
      let res;
      try {
        res = await this.http.request<string>(body === undefined ? { method, url: path } : { method, url: path, data: JSON.stringify(body) });
      } catch (e) {
        const ne = e as NetworkErrorLike;
        this.options.onRequest?.({ method, path, status: undefined });
        const timedOut = ne.code === 'ECONNABORTED' || ne.code === 'ETIMEDOUT';
        throw new ScimHttpError({
          kind: 'transient',
          method,
          path,
          detail: timedOut ? `no answer within ${this.options.timeoutMs} ms` : (ne.code ?? ne.message ?? 'network error'),
        });
      }
      this.options.onRequest?.({ method, path, status: res.status });
      const parsed = parseBody(res.data);
      const requestId = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : undefined;
      if (res.status >= 200 && res.status < 300) {
        if (!parsed.ok) {
          throw new ScimHttpError({ kind: 'transient', status: res.status, method, path, detail: 'the target answered with a malformed JSON body', ...(requestId ? { requestId } : {}) });
        }
        return { status: res.status, data: parsed.value as T };
      }
      const retryAfter = parseRetryAfter(typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined);
      throw new ScimHttpError({
        kind: classify(res.status),
        status: res.status,
        method,
        path,
        ...(parsed.ok ? scimErrorFields(parsed.value) : {}),
        ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
        ...(requestId ? { requestId } : {}),
      });
    });
  }

  /** Users whose `attribute` equals `value`. A 404 answer counts as none (QUIRKS.md). */
  findUsers(attribute: string, value: string): Promise<{ resources: ScimResource[]; attempts: number }> {
    return this.find('Users', attribute, value);
  }

  /**
   * Resources of a type whose `attribute` equals `value`, the value escaped and the
   * filter URL-encoded. `excludeMembers` asks for groups without their member lists.
   */
  async find(
    type: ResourceType,
    attribute: string,
    value: string,
    options: { excludeMembers?: boolean } = {},
  ): Promise<{ resources: ScimResource[]; attempts: number }> {
    const filter = encodeURIComponent(`${attribute} eq ${filterValue(value)}`);
    const excluded = options.excludeMembers ? '&excludedAttributes=members' : '';
    try {
      const res = await this.request<{ Resources?: unknown }>('GET', `/${type}?filter=${filter}${excluded}`);
      const list = Array.isArray(res.data?.Resources) ? (res.data.Resources as unknown[]) : [];
      const resources = list.filter(
        (r): r is ScimResource => typeof r === 'object' && r !== null && typeof (r as { id?: unknown }).id === 'string',
      );
      // Some servers page wrongly or repeat entries: de-duplicate by id.
      const seen = new Set<string>();
      return { resources: resources.filter((r) => !seen.has(r.id) && !!seen.add(r.id)), attempts: res.attempts };
    } catch (e) {
      if (e instanceof ScimHttpError && e.kind === 'not-found') return { resources: [], attempts: 1 };
      throw e;
    }
  }

  /**
   * Every resource of a type, page by page. `totalResults` is not trusted to end
   * the read: it stops at an empty page or one that brings nothing new (servers
   * that ignore `startIndex` repeat a page), and duplicates are dropped by id.
   * Where the target answers with a `nextCursor` (cursor paging, RFC 9865) it
   * is followed instead of `startIndex`. `maxPages` may depend on the
   * `totalResults` of the first page; past it the read stops, `complete: false`.
   */
  async listAll(
    type: ResourceType,
    options: { query?: string; pageSize?: number; maxPages?: number | ((totalResults: number | undefined) => number) } = {},
  ): Promise<{ resources: ScimResource[]; complete: boolean; requests: number; totalResults: number | undefined }> {
    const count = options.pageSize ?? 100;
    const extra = options.query ? `&${options.query}` : '';
    const seen = new Map<string, ScimResource>();
    let startIndex = 1;
    let cursor: string | undefined;
    let requests = 0;
    let totalResults: number | undefined;
    let maxPages = typeof options.maxPages === 'number' ? options.maxPages : Number.POSITIVE_INFINITY;
    for (;;) {
      if (requests >= maxPages) return { resources: [...seen.values()], complete: false, requests, totalResults };
      const paging = cursor !== undefined ? `cursor=${encodeURIComponent(cursor)}` : `startIndex=${startIndex}`;
      const res = await this.request<{ Resources?: unknown; nextCursor?: unknown; totalResults?: unknown }>('GET', `/${type}?${paging}&count=${count}${extra}`);
      requests++;
      if (requests === 1) {
        totalResults = typeof res.data?.totalResults === 'number' ? res.data.totalResults : undefined;
        if (typeof options.maxPages === 'function') maxPages = options.maxPages(totalResults);
      }
      const page = Array.isArray(res.data?.Resources) ? (res.data.Resources as unknown[]) : [];
      let fresh = 0;
      for (const r of page) {
        if (typeof r !== 'object' || r === null || typeof (r as { id?: unknown }).id !== 'string') continue;
        const resource = r as ScimResource;
        if (seen.has(resource.id)) continue;
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

  /** One resource by id (404 throws a not-found error). */
  async get(type: ResourceType, id: string, query = ''): Promise<{ resource: ScimResource; attempts: number }> {
    const path = `/${type}/${encodeURIComponent(id)}${query ? `?${query}` : ''}`;
    const res = await this.request<unknown>('GET', path);
    const r = res.data as { id?: unknown } | undefined;
    if (typeof r?.id !== 'string') {
      throw new ScimHttpError({ kind: 'transient', status: res.status, method: 'GET', path, detail: 'the target answered without a resource' });
    }
    return { resource: r as ScimResource, attempts: res.attempts };
  }

  createUser(body: Record<string, unknown>): Promise<{ resource: ScimResource; attempts: number }> {
    return this.create('Users', body);
  }

  async create(type: ResourceType, body: Record<string, unknown>, options: RequestOptions = {}): Promise<{ resource: ScimResource; attempts: number }> {
    const res = await this.request<unknown>('POST', `/${type}`, body, options);
    const r = res.data as { id?: unknown } | undefined;
    if (typeof r?.id !== 'string') {
      throw new ScimHttpError({ kind: 'transient', status: res.status, method: 'POST', path: `/${type}`, detail: 'the target answered without a resource id' });
    }
    return { resource: r as ScimResource, attempts: res.attempts };
  }

  /** PATCH answers 200 with the resource or 204 with none: both are success. */
  patchUser(id: string, operations: PatchOperation[]): Promise<{ attempts: number }> {
    return this.patch('Users', id, operations);
  }

  async patch(type: ResourceType, id: string, operations: PatchOperation[], options: RequestOptions = {}): Promise<{ attempts: number }> {
    const res = await this.request(
      'PATCH',
      `/${type}/${encodeURIComponent(id)}`,
      { schemas: [PATCH_OP_SCHEMA], Operations: operations },
      options,
    );
    return { attempts: res.attempts };
  }

  deleteUser(id: string): Promise<{ attempts: number }> {
    return this.remove('Users', id);
  }

  async remove(type: ResourceType, id: string): Promise<{ attempts: number }> {
    const res = await this.request('DELETE', `/${type}/${encodeURIComponent(id)}`);
    return { attempts: res.attempts };
  }
}

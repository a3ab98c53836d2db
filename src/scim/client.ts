import axios, { type AxiosInstance } from 'axios';
import { ScimHttpError } from '../errors.js';
import type { AuthConfig } from '../core/config-values.js';
import { PATCH_OP_SCHEMA } from '../core/paths.js';
import { AuthHeaders, type TokenAnswer, type TokenFreshness } from './auth.js';
import { type PatchOperation } from './bodies.js';
import { DEFAULT_MAX_RESPONSE_BYTES, isOverSize, parseBody, scimErrorFields, scimHttpOptions, type NetworkErrorLike } from './http.js';
import { InFlight, type Attempt } from './in-flight.js';
import { filterValue, readAllPages, versionOf, type ListOptions, type ListResult, type ReadResource, type ScimResource } from './paging.js';
import { backoffDelay, classify, mayHaveBeenApplied, parseRateLimitWait, RefusalStreak, type LostAnswerPolicy, type Refusal, type RetryPolicy } from './retry.js';

export { filterValue, versionOf, type ReadResource, type ScimResource } from './paging.js';
export { backoffDelay, type Refusal } from './retry.js';
export { scimHttpOptions } from './http.js';

export interface ScimClientOptions {
  baseUrl: string;
  auth: AuthConfig;
  /** Time one attempt may take, connection, headers and body together. */
  timeoutMs: number;
  /** Largest answer read: past it the answer is abandoned and the request fails, not retried. @default 8 MiB */
  maxResponseBytes?: number | undefined;
  /**
   * When each request may go: the request rate and concurrency the caller decides
   * (src/delivery/rate.ts). Without one, every request goes at once.
   */
  limiter?: Limiter | undefined;
  retry: RetryPolicy;
  /** Called for each retry, for debug logs. */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
  /** Called for each request sent (counting, metrics). */
  onRequest?: (info: { method: string; path: string; status: number | undefined }) => void;
  /** Random source for jitter; injectable for tests. */
  random?: () => number;
}

/** What the client needs of a limiter: run a job when allowed, drain, or drop every job waiting. */
export interface Limiter {
  schedule<T>(job: () => Promise<T>): Promise<T>;
  /** Resolves once every job queued has run. */
  stop(): Promise<void>;
  /**
   * Rejects at once every job waiting for its turn, where the limiter would
   * otherwise let them through one per rate slot; jobs running go on. A queue
   * that only bounds concurrency need not: it drains by itself once the
   * requests in flight are aborted, and the client fails the rest at once.
   */
  drop(): void;
}

const UNLIMITED: Limiter = { schedule: (job) => job(), stop: () => Promise.resolve(), drop: () => undefined };

export type ResourceType = 'Users' | 'Groups';

export interface RequestOptions {
  /**
   * After a failure that may have been applied with only its answer lost
   * (timeout, reset, 5xx, a 2xx that is not JSON): `'throw'` for requests
   * that are not safe to repeat blindly, such as adding group members. A
   * connection never made and a 429 are retried either way. @default 'retry'
   */
  lostAnswer?: LostAnswerPolicy;
  /** RFC 7644 §3.14: the version last read; the target answers 412 if the resource changed since. */
  ifMatch?: string | undefined;
}

export interface RequestResult<T> {
  status: number;
  data: T;
  attempts: number;
  /** The answer's ETag header, when the target sent one (RFC 7644 §3.14). */
  etag?: string | undefined;
}


const STOPPED_DETAIL = 'stopped: scimsync is shutting down';

/**
 * Speaks SCIM 2.0 to one target: auth, rate limit, retries, and error
 * classification. Every request of the target, lookups included, goes
 * through one limiter; a 429 pauses all of them for the wait the target asks.
 */
export class ScimClient {
  private readonly http: AxiosInstance;
  private readonly limiter: Limiter;
  private readonly options: ScimClientOptions;
  private readonly inFlight = new InFlight();
  private readonly maxResponseBytes: number;
  private pausedUntil = 0;
  private readonly refusals: RefusalStreak;
  private readonly auth: AuthHeaders;

  constructor(options: ScimClientOptions) {
    this.options = options;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.http = axios.create(scimHttpOptions(options.baseUrl, { maxResponseBytes: this.maxResponseBytes }));
    this.limiter = options.limiter ?? UNLIMITED;
    this.refusals = new RefusalStreak(options.retry.maxRefusedMs ?? 60_000);
    this.auth = new AuthHeaders(options.auth, (form, basic, tokenUrl) => this.requestToken(form, basic, tokenUrl));
  }

  /** Set once the target refuses everything (`RefusalStreak`): from then on a 429 fails its request at once. */
  get refusal(): Refusal | undefined {
    return this.refusals.refusing;
  }

  /** The target's base URL, for messages (a URL with credentials in it is refused when the config loads). */
  get baseUrl(): string {
    return this.options.baseUrl;
  }

  /** Pauses every request of this target until `until` (ms epoch). */
  pause(until: number): void {
    if (until > this.pausedUntil) this.pausedUntil = until;
  }

  /** Waits for the requests queued to be sent. */
  async close(): Promise<void> {
    await this.limiter.stop();
  }

  /**
   * A hard stop, for shutdown: every request in flight is aborted at once,
   * waits (backoff, 429 pauses, the queue) are cut short, and every later
   * request fails at once, all with a transient error.
   */
  abort(): void {
    this.inFlight.stop();
    this.limiter.drop();
  }

  /** The Authorization header on the instance: the credential's, or the OAuth token's of the moment. */
  private sentAuth: string | undefined;

  /** The token endpoint's answer, within the target's timeout and cut by a shutdown. */
  private async requestToken(form: string, basic: string, tokenUrl: string): Promise<TokenAnswer> {
    const attempt = this.inFlight.begin(this.options.timeoutMs);
    try {
      const res = await axios.post<string>(tokenUrl, form, {
        signal: attempt.signal,
        maxContentLength: this.maxResponseBytes,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
      });
      const parsed = parseBody(res.data);
      return { status: res.status, body: parsed.ok ? (parsed.value as Record<string, unknown> | undefined) : undefined };
    } catch (e) {
      throw this.failure(e, attempt, 'POST', 'token endpoint');
    } finally {
      this.inFlight.end(attempt);
    }
  }

  private stoppedError(method: string, path: string): ScimHttpError {
    return new ScimHttpError({ kind: 'transient', method, path, detail: STOPPED_DETAIL });
  }

  /** The error of an attempt that got no complete answer: stopped, timed out, too large, or a network failure. */
  private failure(e: unknown, attempt: Attempt, method: string, path: string): ScimHttpError {
    if (attempt.stopped || this.inFlight.stopped) return this.stoppedError(method, path);
    if (attempt.timedOut) return new ScimHttpError({ kind: 'transient', method, path, detail: `no answer within ${this.options.timeoutMs} ms` });
    const ne = e as NetworkErrorLike;
    if (isOverSize(ne)) {
      // Not retried: the same request would bring the same answer.
      return new ScimHttpError({ kind: 'bad-request', method, path, detail: `the answer exceeded ${this.maxResponseBytes} bytes (target.maxResponseBytes)` });
    }
    return new ScimHttpError({ kind: 'transient', method, path, detail: ne.code ?? ne.message ?? 'network error' });
  }

  /** One request with retries. Throws ScimHttpError with the final classification and `attempts`. */
  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<RequestResult<T>> {
    const policy = this.options.retry;
    const random = this.options.random ?? Math.random;
    const maxWaits = policy.maxRateLimitWaits ?? 20;
    const maxTotalWait = policy.maxTotalWaitMs ?? Number.POSITIVE_INFINITY;
    const throwLost = options.lostAnswer === 'throw';
    let attempt = 0;
    let rateLimitWaits = 0;
    let waited = 0;
    let refreshedAuth = false;
    for (;;) {
      if (this.inFlight.stopped) throw Object.assign(this.stoppedError(method, path), { attempts: attempt });
      attempt++;
      let err: ScimHttpError;
      try {
        const res = await this.send<T>(method, path, body, refreshedAuth ? 'renew' : 'cached', options.ifMatch);
        return { status: res.status, data: res.data, attempts: attempt, ...(res.etag !== undefined ? { etag: res.etag } : {}) };
      } catch (e) {
        if (e instanceof ScimHttpError) err = e;
        else if (this.inFlight.stopped) err = this.stoppedError(method, path); // dropped by the limiter
        else throw e;
      }
      // Stopped meanwhile: whatever the answer, nothing more is sent.
      if (this.inFlight.stopped) throw Object.assign(err, { attempts: attempt });
      if (err.kind === 'fatal' && err.status === 401 && this.options.auth.type === 'oauth2' && !refreshedAuth) {
        // The cached token may have been revoked early: fetch a new one once.
        refreshedAuth = true;
        attempt--;
        continue;
      }
      if (err.kind === 'rate-limited') {
        rateLimitWaits++;
        attempt--; // 429s are not failures (QUIRKS.md, "Throttling"), and were not applied
        // A target that refuses everything (a quota spent): more waits would only hold the lease.
        if (rateLimitWaits > maxWaits || this.refusals.refusing) throw Object.assign(err, { attempts: attempt });
        const wait = err.retryAfterMs ?? backoffDelay(rateLimitWaits, policy, random) + 1000;
        if (waited + wait > maxTotalWait) throw Object.assign(err, { attempts: attempt });
        waited += wait;
        this.pause(Date.now() + wait);
        this.options.onRetry?.({ method, path, attempt: attempt + 1, delayMs: wait, reason: 'HTTP 429' });
        continue;
      }
      if (err.kind !== 'transient' || attempt >= policy.maxAttempts) throw Object.assign(err, { attempts: attempt });
      if (throwLost && mayHaveBeenApplied(err)) throw Object.assign(err, { attempts: attempt });
      const delay = backoffDelay(attempt, policy, random);
      if (waited + delay > maxTotalWait) throw Object.assign(err, { attempts: attempt });
      waited += delay;
      this.options.onRetry?.({ method, path, attempt: attempt + 1, delayMs: delay, reason: err.status ? `HTTP ${err.status}` : (err.detail ?? 'network error') });
      await this.inFlight.sleep(delay);
    }
  }

  private send<T>(method: string, path: string, body: unknown, freshness: TokenFreshness, ifMatch: string | undefined): Promise<{ status: number; data: T; etag?: string }> {
    if (this.inFlight.stopped) return Promise.reject(this.stoppedError(method, path));
    return this.limiter.schedule(async () => {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await this.inFlight.sleep(wait);
      if (this.inFlight.stopped) throw this.stoppedError(method, path);
      const header = this.auth.header(freshness);
      const authorization = typeof header === 'string' ? header : await header;
      if (authorization !== this.sentAuth) {
        this.http.defaults.headers.common.Authorization = authorization;
        this.sentAuth = authorization;
      }
      const data = body === undefined ? undefined : JSON.stringify(body);
      const attempt = this.inFlight.begin(this.options.timeoutMs);
      let res;
      try {
        const headers = ifMatch !== undefined ? { 'If-Match': ifMatch } : undefined;
        res = await this.http.request<string>({ method, url: path, signal: attempt.signal, ...(data !== undefined ? { data } : {}), ...(headers ? { headers } : {}) });
      } catch (e) {
        this.options.onRequest?.({ method, path, status: undefined });
        throw this.failure(e, attempt, method, path);
      } finally {
        this.inFlight.end(attempt);
      }
      this.options.onRequest?.({ method, path, status: res.status });
      const parsed = parseBody(res.data);
      const requestId = typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : undefined;
      if (res.status >= 200 && res.status < 300) {
        this.refusals.answered();
        if (!parsed.ok) {
          throw new ScimHttpError({ kind: 'transient', status: res.status, method, path, detail: 'the target answered with a malformed JSON body', ...(requestId ? { requestId } : {}) });
        }
        const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
        return { status: res.status, data: parsed.value as T, ...(etag !== undefined ? { etag } : {}) };
      }
      const retryAfter = parseRateLimitWait(res.headers);
      if (res.status === 429) this.refusals.refused(Date.now(), retryAfter);
      else this.refusals.answered();
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
   * Every resource of a type, page by page (see `readAllPages`): a read cut
   * short by a bound answers `complete: false` with `stoppedBecause`.
   */
  listAll(type: ResourceType, options: ListOptions = {}): Promise<ListResult> {
    return readAllPages((path) => this.request<{ Resources?: unknown; nextCursor?: unknown; totalResults?: unknown } | undefined>('GET', path), type, options);
  }

  /** One resource by id, with its version when the target keeps versions (404 throws a not-found error). */
  async get(type: ResourceType, id: string, query = ''): Promise<ReadResource> {
    const path = `/${type}/${encodeURIComponent(id)}${query ? `?${query}` : ''}`;
    const res = await this.request<unknown>('GET', path);
    const r = res.data as { id?: unknown } | undefined;
    if (typeof r?.id !== 'string') {
      const err = new ScimHttpError({ kind: 'transient', status: res.status, method: 'GET', path, detail: 'the target answered without a resource' });
      throw Object.assign(err, { attempts: res.attempts });
    }
    return { resource: r as ScimResource, attempts: res.attempts, version: versionOf(r, res.etag) };
  }

  createUser(body: Record<string, unknown>): Promise<{ resource: ScimResource; attempts: number }> {
    return this.create('Users', body);
  }

  /**
   * A POST is never repeated after an answer that may hide its success (timeout,
   * reset, 5xx, a 2xx that is not SCIM or has no id): the caller looks the object
   * up before sending it again. A 429 or a connection never made is retried.
   */
  async create(type: ResourceType, body: Record<string, unknown>): Promise<{ resource: ScimResource; attempts: number }> {
    const path = `/${type}`;
    const res = await this.request<unknown>('POST', path, body, { lostAnswer: 'throw' });
    const r = res.data as { id?: unknown } | undefined;
    if (typeof r?.id !== 'string') {
      const err = new ScimHttpError({ kind: 'transient', status: res.status, method: 'POST', path, detail: 'the target answered without a resource id' });
      throw Object.assign(err, { attempts: res.attempts });
    }
    return { resource: r as ScimResource, attempts: res.attempts };
  }

  /** PATCH answers 200 with the resource or 204 with none: both are success. */
  async patch(type: ResourceType, id: string, operations: PatchOperation[], options: RequestOptions = {}): Promise<{ attempts: number }> {
    const res = await this.request(
      'PATCH',
      `/${type}/${encodeURIComponent(id)}`,
      { schemas: [PATCH_OP_SCHEMA], Operations: operations },
      options,
    );
    return { attempts: res.attempts };
  }

  /** Replaces a whole resource (RFC 7644 §3.5.1); with `ifMatch`, one changed since it was read answers 412. */
  async put(type: ResourceType, id: string, body: Record<string, unknown>, options: { ifMatch?: string | undefined } = {}): Promise<{ attempts: number }> {
    const res = await this.request('PUT', `/${type}/${encodeURIComponent(id)}`, body, { ifMatch: options.ifMatch });
    return { attempts: res.attempts };
  }

  /** One Bulk request (RFC 7644 §3.7): never repeated after a lost answer, as it may carry creates. */
  bulk(body: Record<string, unknown>): Promise<RequestResult<unknown>> {
    return this.request<unknown>('POST', '/Bulk', body, { lostAnswer: 'throw' });
  }

  async remove(type: ResourceType, id: string): Promise<{ attempts: number }> {
    const res = await this.request('DELETE', `/${type}/${encodeURIComponent(id)}`);
    return { attempts: res.attempts };
  }
}

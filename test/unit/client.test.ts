import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScimHttpError } from '../../src/errors.js';
import { ScimClient, filterValue, type ScimClientOptions } from '../../src/scim/client.js';
import { backoffDelay, parseRetryAfter } from '../../src/scim/retry.js';
import { targetLimiter } from '../../src/delivery/rate.js';

const BASE = 'https://target.test/scim/v2';
const scim = () => nock('https://target.test').matchHeader('authorization', 'Bearer tok');

function client(over: Partial<ScimClientOptions> = {}): ScimClient {
  return new ScimClient({
    baseUrl: BASE,
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 2000,
    limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 4 }),
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...over,
  });
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});

describe('Retry-After and backoff', () => {
  it('parses seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('keeps full-jitter backoff within its cap', () => {
    const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, policy, () => 0.999)).toBeLessThan(100);
    expect(backoffDelay(3, policy, () => 0.999)).toBeLessThan(400);
    expect(backoffDelay(10, policy, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelay(10, policy, () => 0)).toBe(0);
  });
});

describe('ScimClient', () => {
  it('waits out a 429 for Retry-After seconds and does not count it as an attempt', async () => {
    scim().get('/scim/v2/Users/1').reply(429, '', { 'Retry-After': '1' });
    scim().get('/scim/v2/Users/1').reply(200, { id: '1' });
    const started = Date.now();
    const res = await client().request('GET', '/Users/1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(res).toMatchObject({ status: 200, data: { id: '1' }, attempts: 1 });
  });

  it('honours a Retry-After HTTP date', async () => {
    const at = new Date(Date.now() + 1500).toUTCString();
    scim().get('/scim/v2/Users/1').reply(429, '', { 'Retry-After': at });
    scim().get('/scim/v2/Users/1').reply(200, { id: '1' });
    const started = Date.now();
    await client().request('GET', '/Users/1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('retries a 500 and succeeds', async () => {
    scim().get('/scim/v2/Users/1').reply(500, { status: '500', detail: 'boom' });
    scim().get('/scim/v2/Users/1').reply(200, { id: '1' });
    expect((await client().request('GET', '/Users/1')).attempts).toBe(2);
  });

  it('gives up after maxAttempts with a transient error', async () => {
    scim().get('/scim/v2/Users/1').times(3).reply(503);
    const err = await client().request('GET', '/Users/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'transient', status: 503, attempts: 3 });
    expect(nock.isDone()).toBe(true);
  });

  it('does not retry a 400 and reports the target scimType and detail', async () => {
    scim().post('/scim/v2/Users').reply(400, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidValue', detail: 'email required' });
    const err = await client().createUser({ userName: 'a' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'bad-request', status: 400, scimType: 'invalidValue', detail: 'email required' });
    expect((err as Error).message).toBe('POST /Users: HTTP 400 (invalidValue: email required)');
  });

  it('classifies 409 as conflict, 404 as not found, 401 as fatal', async () => {
    scim().post('/scim/v2/Users').reply(409, { status: 409, scimType: 'uniqueness' });
    scim().patch('/scim/v2/Users/x').reply(404, { status: '404' });
    scim().delete('/scim/v2/Users/y').reply(401);
    const c = client();
    await expect(c.createUser({})).rejects.toMatchObject({ kind: 'conflict', scimType: 'uniqueness' });
    await expect(c.patch('Users', 'x', [])).rejects.toMatchObject({ kind: 'not-found' });
    await expect(c.remove('Users', 'y')).rejects.toMatchObject({ kind: 'fatal', status: 401 });
  });

  it('treats a malformed JSON body as a transient failure', async () => {
    scim().get('/scim/v2/Users/1').times(3).reply(200, '{"id": "1", ', { 'Content-Type': 'application/scim+json' });
    await expect(client().request('GET', '/Users/1')).rejects.toMatchObject({ kind: 'transient', detail: 'the target answered with a malformed JSON body' });
  });

  it('times out a request that does not answer', async () => {
    scim().get('/scim/v2/Users/1').times(3).delay(500).reply(200, { id: '1' });
    const err = await client({ timeoutMs: 100 }).request('GET', '/Users/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient', detail: 'no answer within 100 ms', attempts: 3 });
  });

  it('retries a reset connection', async () => {
    scim().get('/scim/v2/Users/1').replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    scim().get('/scim/v2/Users/1').reply(200, { id: '1' });
    expect((await client().request('GET', '/Users/1')).attempts).toBe(2);
  });

  it('accepts PATCH answered with 204 and no body, and sends a PatchOp', async () => {
    let body: unknown;
    scim()
      .patch('/scim/v2/Users/abc', (b: unknown) => ((body = b), true))
      .matchHeader('content-type', 'application/scim+json')
      .reply(204);
    await client().patch('Users', 'abc', [{ op: 'replace', path: 'active', value: false }]);
    expect(body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  });

  it('sends a SCIM content type with a body only, and the credential with every request', async () => {
    const noType = (v: string | undefined) => v === undefined;
    scim().post('/scim/v2/Users').matchHeader('content-type', 'application/scim+json').reply(201, { id: 'n1' });
    scim().put('/scim/v2/Users/n1').matchHeader('content-type', 'application/scim+json').reply(200, { id: 'n1' });
    scim().get('/scim/v2/Users/n1').matchHeader('content-type', noType).reply(200, { id: 'n1' });
    scim().delete('/scim/v2/Users/n1').matchHeader('content-type', noType).reply(204);
    const c = client();
    expect((await c.createUser({ userName: 'new@example.com' })).resource.id).toBe('n1');
    await c.request('PUT', '/Users/n1', { userName: 'new@example.com' });
    expect((await c.get('Users', 'n1')).resource.id).toBe('n1');
    await c.remove('Users', 'n1');
    expect(nock.isDone()).toBe(true);
  });

  it('escapes and URL-encodes the lookup filter, and reads 404 or empty as no match', async () => {
    expect(filterValue('a"b\\c')).toBe('"a\\"b\\\\c"');
    const value = 'o"brien\\x+y@example.com';
    scim()
      .get('/scim/v2/Users')
      .query((q) => q.filter === `userName eq ${filterValue(value)}`)
      .reply(200, { totalResults: '2', Resources: [{ id: '1' }, { id: '1' }] });
    scim().get('/scim/v2/Users').query(true).reply(404);
    const c = client();
    expect((await c.findUsers('userName', value)).resources).toEqual([{ id: '1' }]);
    expect((await c.findUsers('userName', 'none')).resources).toEqual([]);
  });

  it('fetches an OAuth2 token once, reuses it, and refreshes it once on 401', async () => {
    const tokens = nock('https://auth.test').post('/token', 'grant_type=client_credentials').times(2).reply(200, () => ({ access_token: `t${++issued}`, expires_in: 3600 }));
    let issued = 0;
    const c = new ScimClient({
      baseUrl: BASE,
      auth: { type: 'oauth2', tokenUrl: 'https://auth.test/token', clientId: 'id', clientSecret: 'secret' },
      timeoutMs: 1000,
      limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 1 }),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    nock('https://target.test').matchHeader('authorization', 'Bearer t1').get('/scim/v2/Users/1').times(2).reply(200, { id: '1' });
    await c.request('GET', '/Users/1');
    await c.request('GET', '/Users/1');
    nock('https://target.test').matchHeader('authorization', 'Bearer t1').get('/scim/v2/Users/2').reply(401);
    nock('https://target.test').matchHeader('authorization', 'Bearer t2').get('/scim/v2/Users/2').reply(200, { id: '2' });
    expect((await c.request('GET', '/Users/2')).data).toEqual({ id: '2' });
    expect(tokens.isDone()).toBe(true);
  });

  it('never puts the credential in an error message', async () => {
    scim().get('/scim/v2/Users/1').reply(403, { detail: 'forbidden' });
    const err = (await client().request('GET', '/Users/1').catch((e: unknown) => e)) as Error;
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain('tok');
  });

  it('stops retrying once the total wait would pass maxTotalWaitMs', async () => {
    scim().get('/scim/v2/Users/x').times(2).reply(503, '{}');
    const c = client({ retry: { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 1000, maxTotalWaitMs: 1500 }, random: () => 0.99 });
    const started = Date.now();
    const err = await c.request('GET', '/Users/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect((err as ScimHttpError & { attempts: number }).attempts).toBe(2); // one wait of ~990 ms, the next would pass 1500
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('does not repeat a request after a lost answer when told it is unsafe to', async () => {
    scim().patch('/scim/v2/Groups/g').replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const c = client();
    const err = await c.patch('Groups', 'g', [{ op: 'add', path: 'members', value: [{ value: 'u' }] }], { lostAnswer: 'throw' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'transient', attempts: 1 });
    expect(nock.isDone()).toBe(true);
  });
});


describe('listAll', () => {
  const list = (ids: string[], extra: Record<string, unknown> = {}) => ({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
    Resources: ids.map((id) => ({ id, userName: `${id}@x` })),
    ...extra,
  });

  it('reads past a totalResults that under-reports, drops repeated entries, and stops at an empty page', async () => {
    scim().get('/scim/v2/Users?startIndex=1&count=2').reply(200, list(['a', 'b'], { totalResults: 2 }));
    scim().get('/scim/v2/Users?startIndex=3&count=2').reply(200, list(['b', 'c'], { totalResults: 2 }));
    scim().get('/scim/v2/Users?startIndex=5&count=2').reply(200, list([], { totalResults: 2 }));
    const res = await client().listAll('Users', { pageSize: 2 });
    expect(res.resources.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(res).toMatchObject({ complete: true, requests: 3 });
  });

  it('stops when a server ignores startIndex and repeats its first page', async () => {
    scim().get(/\/scim\/v2\/Users\?startIndex=\d+&count=2/).times(2).reply(200, list(['a', 'b'], { totalResults: 40 }));
    const res = await client().listAll('Users', { pageSize: 2 });
    expect(res.resources.map((r) => r.id)).toEqual(['a', 'b']);
    expect(res.requests).toBe(2);
  });

  it('follows nextCursor where the target offers cursor paging', async () => {
    scim().get('/scim/v2/Users?startIndex=1&count=2').reply(200, list(['a', 'b'], { nextCursor: 'k1' }));
    scim().get('/scim/v2/Users?cursor=k1&count=2').reply(200, list(['c', 'd'], { nextCursor: 'k2' }));
    scim().get('/scim/v2/Users?cursor=k2&count=2').reply(200, list(['e']));
    const res = await client().listAll('Users', { pageSize: 2 });
    expect(res.resources.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(res.requests).toBe(3);
  });

  it('gives up after a page budget chosen from the first totalResults', async () => {
    scim().get('/scim/v2/Users?startIndex=1&count=2').reply(200, list(['a', 'b'], { totalResults: 1000 }));
    const res = await client().listAll('Users', { pageSize: 2, maxPages: (total) => (total !== undefined && total > 10 ? 1 : 100) });
    expect(res).toMatchObject({ complete: false, requests: 1, totalResults: 1000 });
  });
});

describe('limiter', () => {
  const inFlightPeak = async (rateLimit: { requestsPerSecond: number; maxConcurrent: number }, n: number) => {
    let now = 0;
    let peak = 0;
    scim()
      .get(/\/scim\/v2\/Users\/\d+/)
      .times(n)
      .reply(() => {
        now++;
        peak = Math.max(peak, now);
        return new Promise((resolve) => setTimeout(() => {
          now--;
          resolve([200, { id: 'x' }]);
        }, 20));
      });
    const c = client({ limiter: targetLimiter(rateLimit) });
    const started = Date.now();
    await Promise.all(Array.from({ length: n }, (_, i) => c.request('GET', `/Users/${i}`)));
    return { peak, ms: Date.now() - started };
  };

  it('keeps maxConcurrent when no request rate is to be kept (1,000 requests/s and more)', async () => {
    const { peak } = await inFlightPeak({ requestsPerSecond: 100_000, maxConcurrent: 3 }, 12);
    expect(peak).toBe(3);
  });

  it('spaces requests to the configured rate below 1,000 requests/s', async () => {
    const { ms } = await inFlightPeak({ requestsPerSecond: 20, maxConcurrent: 10 }, 6);
    expect(ms).toBeGreaterThanOrEqual(5 * 50 - 10); // six requests 50 ms apart
  });
});

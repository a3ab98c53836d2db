import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScimHttpError } from '../../src/errors.js';
import { ScimClient } from '../../src/scim/client.js';
import { MIN_REFUSALS, parseRateLimitWait, RefusalStreak } from '../../src/scim/retry.js';
import { targetLimiter } from '../../src/delivery/rate.js';
import { adaptiveLimiter, type LearnedRate } from '../../src/delivery/adaptive-rate.js';

const now = Date.parse('2026-01-01T00:00:00Z');

describe('parseRateLimitWait', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRateLimitWait({ 'retry-after': '3' }, now)).toBe(3000);
    expect(parseRateLimitWait({ 'retry-after': '1.5' }, now)).toBe(1500);
    expect(parseRateLimitWait({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now)).toBe(5000);
  });

  it('reads X-Retry-After, as seconds or an HTTP date', () => {
    expect(parseRateLimitWait({ 'x-retry-after': '2' }, now)).toBe(2000);
    expect(parseRateLimitWait({ 'x-retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }, now)).toBe(7000);
  });

  it('reads RateLimit-Reset and X-RateLimit-Reset as seconds to wait', () => {
    expect(parseRateLimitWait({ 'ratelimit-reset': '7' }, now)).toBe(7000);
    expect(parseRateLimitWait({ 'x-ratelimit-reset': '12' }, now)).toBe(12000);
  });

  it('reads a reset past 10^9 as an epoch time in seconds, past 10^12 in milliseconds', () => {
    expect(parseRateLimitWait({ 'x-ratelimit-reset': String(now / 1000 + 30) }, now)).toBe(30_000);
    expect(parseRateLimitWait({ 'ratelimit-reset': String(now / 1000 + 4) }, now)).toBe(4000);
    expect(parseRateLimitWait({ 'x-ratelimit-reset': String(now + 2500) }, now)).toBe(2500);
    expect(parseRateLimitWait({ 'x-ratelimit-reset': String(now / 1000 - 60) }, now)).toBe(0); // already past
  });

  it('prefers Retry-After, skips a header it cannot read, and answers undefined when none says anything', () => {
    expect(parseRateLimitWait({ 'retry-after': '1', 'x-retry-after': '9', 'x-ratelimit-reset': '9' }, now)).toBe(1000);
    expect(parseRateLimitWait({ 'retry-after': 'later', 'x-ratelimit-reset': '4' }, now)).toBe(4000);
    expect(parseRateLimitWait({ 'content-type': 'text/html' }, now)).toBeUndefined();
    expect(parseRateLimitWait({ 'retry-after': '' }, now)).toBeUndefined();
  });
});

describe('a 429 with a non-SCIM body', () => {
  const BASE = 'https://target.test/scim/v2';
  const html = '<html><body><h1>429 Too Many Requests</h1></body></html>';
  const client = (maxRateLimitWaits?: number, onRetry?: () => void) =>
    new ScimClient({
      ...(onRetry ? { onRetry } : {}),
      baseUrl: BASE,
      auth: { type: 'bearer', token: 'tok' },
      timeoutMs: 2000,
      limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 4 }),
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, ...(maxRateLimitWaits !== undefined ? { maxRateLimitWaits } : {}) },
    });

  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());

  const cases: { label: string; header: string; value: () => string; atLeast: number; atMost: number }[] = [
    { label: 'X-Retry-After in seconds', header: 'X-Retry-After', value: () => '5', atLeast: 4900, atMost: 5000 },
    { label: 'RateLimit-Reset in seconds', header: 'RateLimit-Reset', value: () => '6', atLeast: 5900, atMost: 6000 },
    { label: 'X-RateLimit-Reset as epoch seconds', header: 'X-RateLimit-Reset', value: () => String(Math.ceil(Date.now() / 1000) + 8), atLeast: 7000, atMost: 9000 },
    { label: 'X-RateLimit-Reset as epoch milliseconds', header: 'X-RateLimit-Reset', value: () => String(Date.now() + 9000), atLeast: 8000, atMost: 9000 },
  ];
  it.each(cases)('carries the wait of $label', async ({ header, value, atLeast, atMost }) => {
    nock('https://target.test').get('/scim/v2/Users/1').reply(429, html, { 'Content-Type': 'text/html', [header]: value() });
    const err = await client(0).request('GET', '/Users/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'rate-limited', status: 429 });
    expect((err as ScimHttpError).retryAfterMs).toBeGreaterThanOrEqual(atLeast);
    expect((err as ScimHttpError).retryAfterMs).toBeLessThanOrEqual(atMost);
  });

  it('pauses the whole target for X-Retry-After, then goes on', async () => {
    nock('https://target.test').get('/scim/v2/Users/1').reply(429, html, { 'Content-Type': 'text/html', 'X-Retry-After': '2' });
    nock('https://target.test').get('/scim/v2/Users/1').reply(200, { id: '1' });
    nock('https://target.test').get('/scim/v2/Users/2').reply(200, { id: '2' });
    let paused: () => void = () => undefined;
    const pausing = new Promise<void>((resolve) => (paused = resolve));
    const c = client(undefined, () => paused());
    const started = Date.now();
    const first = c.request('GET', '/Users/1');
    await pausing;
    const second = await c.request('GET', '/Users/2');
    // Sent after the 429: it waited with the rest of the target.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(second.data).toEqual({ id: '2' });
    expect(await first).toMatchObject({ data: { id: '1' }, attempts: 1 });
  });
});

describe('the adaptive limiter on a 429', () => {
  const BASE = 'https://adaptive.test/scim/v2';

  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());

  it('holds every request of the target for X-Retry-After, cuts its rate, counts the wait, and saves what it learned at close', async () => {
    const saved: LearnedRate[] = [];
    const limiter = adaptiveLimiter({ maxConcurrent: 4, memory: { load: () => ({ requestsPerSecond: 40 }), save: (r) => saved.push(r) } });
    const c = new ScimClient({ baseUrl: BASE, auth: { type: 'bearer', token: 'tok' }, timeoutMs: 2000, limiter, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
    const sentAt: number[] = [];
    nock('https://adaptive.test').get('/scim/v2/Users/1').reply(429, { status: '429' }, { 'X-Retry-After': '1' });
    nock('https://adaptive.test')
      .get(/\/scim\/v2\/Users\/\d/)
      .times(3)
      .reply(() => {
        sentAt.push(Date.now());
        return [200, { id: 'x' }];
      });
    const started = Date.now();
    const first = c.request('GET', '/Users/1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(limiter.rateLimitWaits).toBe(1);
    expect(limiter.rate).toBe(20); // the first 429 halves the rate
    const others = [c.request('GET', '/Users/2'), c.request('GET', '/Users/3')];
    await Promise.all([first, ...others]);
    // Nothing went out before the wait the target asked for was over.
    expect(Math.min(...sentAt) - started).toBeGreaterThanOrEqual(950);
    await c.close();
    expect(saved.at(-1)).toEqual(limiter.learned);
    expect(saved.at(-1)?.ceiling).toBe(40);
  });
});

describe('RefusalStreak: a target that refuses everything, told from a busy one', () => {
  it('refuses everything once MIN_REFUSALS 429s in a row cover the window, from the first to the end of the last wait asked', () => {
    const streak = new RefusalStreak(60_000);
    for (let i = 0; i < MIN_REFUSALS; i++) streak.refused(i * 1000, 1000);
    // 10 refusals, 1 s apart: 10 s covered, not 60.
    expect(streak.refusing).toBeUndefined();
    for (let i = MIN_REFUSALS; i < 60; i++) streak.refused(i * 1000, 1000);
    expect(streak.refusing).toMatchObject({ since: 0, count: 60, until: 60_000, lastWaitMs: 1000 });
  });

  it('is ended by any other answer: a target that answers some requests is busy', () => {
    const streak = new RefusalStreak(10_000);
    for (let i = 0; i < 100; i++) {
      if (i % 30 === 29) streak.answered();
      else streak.refused(i * 500, 1000);
    }
    expect(streak.refusing).toBeUndefined();
  });

  it('a wait asked far past the window counts, but only once enough 429s came in a row', () => {
    const streak = new RefusalStreak(60_000);
    streak.refused(0, 1e12);
    expect(streak.refusing).toBeUndefined();
    for (let i = 1; i < MIN_REFUSALS; i++) streak.refused(i, 1e12);
    expect(streak.refusing?.count).toBe(MIN_REFUSALS);
  });
});

describe('an absurd wait with an adaptive rate', () => {
  const BASE = 'https://absurd.test/scim/v2';

  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());

  it.each([
    { header: 'Retry-After', value: '1000000000' },
    { header: 'Retry-After', value: 'Fri, 31 Dec 9999 23:59:59 GMT' },
    { header: 'X-Retry-After', value: 'Fri, 31 Dec 9999 23:59:59 GMT' },
  ])('$header: $value fails its request at once and pauses nothing: the next request goes', async ({ header, value }) => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const limiter = adaptiveLimiter({ maxConcurrent: 4, maxPauseMs: 300_000, memory: { load: () => ({ requestsPerSecond: 40 }), save: () => undefined } });
    const c = new ScimClient({ baseUrl: BASE, auth: { type: 'bearer', token: 'tok' }, timeoutMs: 2000, limiter, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, maxTotalWaitMs: 300_000 } });
    nock('https://absurd.test').get('/scim/v2/Users/1').reply(429, { status: '429' }, { [header]: value });
    nock('https://absurd.test').get('/scim/v2/Users/2').reply(200, { id: '2' });
    try {
      const started = Date.now();
      const err = await c.request('GET', '/Users/1').catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'rate-limited', status: 429 });
      expect((await c.request('GET', '/Users/2')).data).toEqual({ id: '2' });
      await c.close();
      expect(Date.now() - started).toBeLessThan(1500);
      expect(limiter.rate).toBe(40);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  }, 10_000);
});

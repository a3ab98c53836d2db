import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScimClient } from '../../src/scim/client.js';
import { targetLimiter } from '../../src/delivery/rate.js';

const client = () =>
  new ScimClient({
    baseUrl: 'https://target.test/scim/v2',
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 2000,
    limiter: targetLimiter({ requestsPerSecond: 100_000, maxConcurrent: 4 }),
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });

/**
 * A target that answers every page with resources never seen before, for at
 * most `pages` pages (past them nock refuses: a read that does not stop fails).
 */
function endlessPages(pages: number, totalResults: unknown) {
  let served = 0;
  const scope = nock('https://target.test')
    .get('/scim/v2/Users')
    .query(true)
    .times(pages)
    .reply(200, (uri) => {
      const count = Number(new URL(uri, 'https://target.test').searchParams.get('count'));
      const ids = Array.from({ length: count }, () => `u${++served}`);
      return {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        ...(totalResults !== undefined ? { totalResults } : {}),
        Resources: ids.map((id) => ({ id, userName: `${id}@example.com` })),
      };
    });
  return { scope, served: () => served };
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

describe('listAll against a target that pages forever', () => {
  it.each([
    ['a number', 5],
    ['a string of digits', '5'],
  ])('stops past max(2 × totalResults, totalResults + 10 pages) when totalResults is %s', async (_label, total) => {
    const target = endlessPages(100, total);
    const res = await client().listAll('Users', { pageSize: 2 });
    // 5 + 10 pages of 2 = 25 entries: the 13th page (26 entries) is the last read.
    expect(res).toMatchObject({ complete: false, requests: 13, totalResults: 5 });
    expect(res.resources).toHaveLength(26);
    expect(!res.complete && res.stoppedBecause).toBe('the target said it holds 5 resources (totalResults) but kept answering past 26: the read stopped there');
    expect(target.served()).toBe(26);
  });

  it('stops at twice totalResults where that is the larger bound', async () => {
    endlessPages(100, 40);
    const res = await client().listAll('Users', { pageSize: 2 });
    expect(res).toMatchObject({ complete: false, requests: 41 });
    expect(res.resources).toHaveLength(82);
  });

  it('stops at maxResources when the target gives no totalResults', async () => {
    endlessPages(100, undefined);
    const res = await client().listAll('Users', { pageSize: 10, maxResources: 45 });
    expect(res).toMatchObject({ complete: false, requests: 5, totalResults: undefined });
    expect(res.resources).toHaveLength(45);
    expect(!res.complete && res.stoppedBecause).toBe('the read stopped at 45 resources (maxResources)');
  });

  it('says why when a page budget ends the read', async () => {
    endlessPages(100, 1000);
    const res = await client().listAll('Users', { pageSize: 2, maxPages: 3 });
    expect(res).toMatchObject({ complete: false, requests: 3, stoppedBecause: 'the read stopped at its budget of 3 pages' });
  });

  it('still reads a target whose totalResults is right to its end', async () => {
    const list = (ids: string[]) => ({ totalResults: '5', Resources: ids.map((id) => ({ id })) });
    nock('https://target.test').get('/scim/v2/Users?startIndex=1&count=2').reply(200, list(['a', 'b']));
    nock('https://target.test').get('/scim/v2/Users?startIndex=3&count=2').reply(200, list(['c', 'd']));
    nock('https://target.test').get('/scim/v2/Users?startIndex=5&count=2').reply(200, list(['e']));
    nock('https://target.test').get('/scim/v2/Users?startIndex=6&count=2').reply(200, list([]));
    const res = await client().listAll('Users', { pageSize: 2 });
    expect(res).toMatchObject({ complete: true, requests: 4, totalResults: 5 });
    expect(res.resources.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

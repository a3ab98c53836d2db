import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ScimHttpError } from '../../src/errors.js';
import { ScimClient, type ScimClientOptions } from '../../src/scim/client.js';
import { targetLimiter } from '../../src/delivery/rate.js';

const BASE = 'https://target.test/scim/v2';
const scim = () => nock('https://target.test');
const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

function client(over: Partial<ScimClientOptions> = {}): ScimClient {
  return new ScimClient({
    baseUrl: BASE,
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 2000,
    limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 4 }),
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...over,
  });
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});

/** Sends a create whose first answer is `first`, and a good answer after it; the second must never be asked for. */
async function createAfter(first: (scope: nock.Interceptor) => nock.Scope, over: Partial<ScimClientOptions> = {}) {
  first(scim().post('/scim/v2/Users'));
  const second = scim().post('/scim/v2/Users').reply(201, { id: 'second' });
  // The error thrown, or the result where the create went through.
  const err: unknown = await client(over).createUser({ userName: 'ada@example.com' }).catch((e: unknown) => e);
  return { err, repeated: second.isDone() };
}

describe('a create is never repeated after an answer that may hide its success', () => {
  it('a 5xx', async () => {
    const { err, repeated } = await createAfter((i) => i.reply(503, { detail: 'busy' }));
    expect(repeated).toBe(false);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'transient', status: 503, attempts: 1 });
  });

  it('a reset after the request was sent', async () => {
    const { err, repeated } = await createAfter((i) => i.replyWithError(reset()));
    expect(repeated).toBe(false);
    expect(err).toMatchObject({ kind: 'transient', detail: 'ECONNRESET', attempts: 1 });
  });

  it('no answer in time', async () => {
    const { err, repeated } = await createAfter((i) => i.delay(300).reply(201, { id: 'late' }), { timeoutMs: 100 });
    expect(repeated).toBe(false);
    expect(err).toMatchObject({ kind: 'transient', detail: 'no answer within 100 ms', attempts: 1 });
  });

  it('a 2xx whose body is an HTML page', async () => {
    const { err, repeated } = await createAfter((i) => i.reply(201, '<html><body>Created</body></html>', { 'Content-Type': 'text/html' }));
    expect(repeated).toBe(false);
    expect(err).toMatchObject({ kind: 'transient', status: 201, detail: 'the target answered with a malformed JSON body', attempts: 1 });
  });

  it('a 2xx with no id', async () => {
    const { err, repeated } = await createAfter((i) => i.reply(201, { userName: 'ada@example.com' }));
    expect(repeated).toBe(false);
    expect(err).toMatchObject({ kind: 'transient', status: 201, detail: 'the target answered without a resource id', attempts: 1 });
  });
});

describe('a create is still sent again where it cannot have been applied', () => {
  it('after a connection refused', async () => {
    const { err, repeated } = await createAfter((i) => i.replyWithError(refused()));
    expect(repeated).toBe(true);
    expect(err).toEqual({ resource: { id: 'second' }, attempts: 2 });
  });

  it('after a 429, waited out and not counted as an attempt', async () => {
    scim().post('/scim/v2/Users').reply(429, '', { 'Retry-After': '0' });
    scim().post('/scim/v2/Users').reply(201, { id: 'n1' });
    expect(await client().createUser({ userName: 'ada@example.com' })).toEqual({ resource: { id: 'n1' }, attempts: 1 });
  });

  it('against a port where nothing listens, up to maxAttempts', async () => {
    nock.enableNetConnect('127.0.0.1');
    // A port just freed: connecting to it is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    try {
      const c = client({ baseUrl: `http://127.0.0.1:${port}/scim/v2` });
      await expect(c.createUser({ userName: 'ada@example.com' })).rejects.toMatchObject({ kind: 'transient', detail: 'ECONNREFUSED', attempts: 3 });
    } finally {
      nock.disableNetConnect();
    }
  });
});

describe("lostAnswer: 'throw' on any request", () => {
  const addMember = [{ op: 'add' as const, path: 'members', value: [{ value: 'u1' }] }];

  it('gives up on a member add at the first 5xx, and retries it by default', async () => {
    scim().patch('/scim/v2/Groups/g').reply(502);
    const again = scim().patch('/scim/v2/Groups/g').reply(204);
    await expect(client().patch('Groups', 'g', addMember, { lostAnswer: 'throw' })).rejects.toMatchObject({ kind: 'transient', status: 502, attempts: 1 });
    expect(again.isDone()).toBe(false);

    nock.cleanAll();
    scim().patch('/scim/v2/Groups/g').reply(502);
    scim().patch('/scim/v2/Groups/g').reply(204);
    expect(await client().patch('Groups', 'g', addMember)).toEqual({ attempts: 2 });
  });

  it('still retries a connection that was never made', async () => {
    scim().patch('/scim/v2/Groups/g').replyWithError(refused());
    scim().patch('/scim/v2/Groups/g').reply(204);
    expect(await client().patch('Groups', 'g', addMember, { lostAnswer: 'throw' })).toEqual({ attempts: 2 });
  });
});

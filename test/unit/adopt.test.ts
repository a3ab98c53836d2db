import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IntegrationConfig } from '../../src/config/schema.js';
import { integrationSchema } from '../../src/config/schema.js';
import { runCycle } from '../../src/engine/cycle.js';
import { createLogger } from '../../src/log.js';
import { openStateStore } from '../../state/index.js';

const integration: IntegrationConfig = integrationSchema.parse({
  name: 'app',
  source: { type: 'file', path: '/unused.json' },
  target: {
    url: 'https://target.test/scim/v2',
    auth: { type: 'bearer', token: 'tok' },
    rateLimit: { requestsPerSecond: 1000, maxConcurrent: 2 },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  },
});
const source = {
  kind: 'test',
  snapshot: async () => ({
    snapshot: { users: [{ id: 'u1', active: true, attributes: { userName: 'Ada@Example.com', givenName: 'Ada', familyName: 'L', email: 'ada@example.com' } }], groups: [] },
    problems: [],
  }),
};

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

describe('409 on create', () => {
  it('looks the user up again and adopts the existing account', async () => {
    const t = nock('https://target.test');
    t.get('/scim/v2/Users').query({ filter: 'userName eq "Ada@Example.com"' }).reply(200, { totalResults: 0, Resources: [] });
    t.post('/scim/v2/Users').reply(409, { status: '409', scimType: 'uniqueness' });
    t.get('/scim/v2/Users').query({ filter: 'userName eq "Ada@Example.com"' }).reply(200, { Resources: [] });
    t.get('/scim/v2/Users').query({ filter: 'userName eq "ada@example.com"' }).reply(200, {
      Resources: [{ id: 'existing', userName: 'ada@example.com', name: { givenName: 'Ada', familyName: 'L' }, active: true }],
    });
    let patch: unknown;
    t.patch('/scim/v2/Users/existing', (b: unknown) => ((patch = b), true)).reply(204);
    const store = openStateStore(':memory:');
    const report = await runCycle({ integration, store, logger: createLogger({ level: 'error', format: 'json', silent: true }), source });
    expect(report.counts).toMatchObject({ created: 0, adopted: 1, failed: 0 });
    expect(nock.isDone()).toBe(true);
    const operations = (patch as { Operations: { op: string; path: string; value: unknown }[] }).Operations;
    // userName differs in case only, and is not caseExact (RFC 7643 §4.1.1): the same name, not changed.
    expect(operations.map((o) => o.path).sort()).toEqual(['displayName', 'emails', 'externalId', 'name.formatted']);
    // The account has no work email: it is added whole, not replaced (RFC 7644 §3.5.2.3).
    expect(operations.find((o) => o.path === 'emails')).toEqual({ op: 'add', path: 'emails', value: [{ type: 'work', value: 'ada@example.com' }] });
    expect(store.loadUsers('app')).toMatchObject([{ sourceId: 'u1', targetId: 'existing', status: 'active' }]);
    const events = store.queryEvents({ type: 'user_create_provision' });
    expect(events[0]).toMatchObject({ result: 'success', targetId: 'existing', detail: { adopted: true } });
  });

  it('holds a user whose lookup matches two accounts', async () => {
    const t = nock('https://target.test');
    t.get('/scim/v2/Users').query(true).reply(200, { Resources: [{ id: 'a', userName: 'Ada@Example.com' }, { id: 'b', userName: 'Ada@Example.com' }] });
    const store = openStateStore(':memory:');
    const report = await runCycle({ integration, store, logger: createLogger({ level: 'error', format: 'json', silent: true }), source });
    expect(report.counts).toMatchObject({ created: 0, adopted: 0, held: 1 });
    expect(report.exitCode).toBe(1);
    expect(store.queryEvents({ type: 'user_lookup_provision' })[0]).toMatchObject({ result: 'failure', detail: { candidates: ['a', 'b'] } });
    expect(store.loadUsers('app')).toEqual([]);
  });
});

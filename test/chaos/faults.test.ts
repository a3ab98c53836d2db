import { afterEach, describe, expect, it } from 'vitest';
import { armChaos, CHAOS_FAULTS, disarmChaos, type ChaosContext, type ChaosFaultKind } from '../support/devtarget/chaos.js';
import { startDevTarget, type BulkOptions, type DevTarget } from '../support/devtarget/server.js';

/**
 * Every fault of the chaos plan fires: armed alone on a real devtarget, it makes
 * the lie a client can see. A fault that never triggers would be a harness defect.
 */
const TOKEN = 'chaos-faults-token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
const TIMEOUT_MS = 300;
/** Requests a probe sends at most, for faults that hit a share of them (the target's draw is seeded). */
const TRIES = 60;

interface Probe {
  target: DevTarget;
  ctx: ChaosContext;
}

let running: DevTarget | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function armed(kind: ChaosFaultKind): Promise<Probe> {
  const bulk: BulkOptions = {};
  const target = await startDevTarget({ token: TOKEN, seed: 7, etags: true, bulk });
  running = target;
  for (let i = 0; i < 5; i++) target.seedUser({ userName: `seed${i}@example.com`, externalId: `S${i}` });
  // random() = 0: the first choice of each fault (a trickle of 1 ms a byte, the first item of a page).
  const ctx: ChaosContext = { target, timeoutMs: TIMEOUT_MS, random: () => 0, bulk };
  armChaos(ctx, [kind]);
  return { target, ctx };
}

const url = (t: DevTarget, path: string) => `${t.url}${path}`;
const get = (t: DevTarget, path: string, init: RequestInit = {}) => fetch(url(t, path), { headers, ...init });
const post = (t: DevTarget, path: string, body: unknown, init: RequestInit = {}) => fetch(url(t, path), { method: 'POST', headers, body: JSON.stringify(body), ...init });
const create = (t: DevTarget, userName: string, init: RequestInit = {}) => post(t, '/Users', { schemas: [USER], userName }, init);
const lookup = async (t: DevTarget, userName: string) =>
  ((await (await get(t, `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`)).json()) as { Resources: { id: string; userName: string }[] }).Resources;

/** Sends up to TRIES requests; resolves with the first outcome `hit` accepts. */
async function untilHit<T>(send: (i: number) => Promise<T>, hit: (r: T) => boolean): Promise<T | undefined> {
  for (let i = 0; i < TRIES; i++) {
    const r = await send(i);
    if (hit(r)) return r;
  }
  return undefined;
}

const settle = <T>(p: Promise<T>): Promise<{ ok: T } | { error: unknown }> => p.then((ok) => ({ ok }), (error: unknown) => ({ error }));

const bulkOfTwo = {
  schemas: [BULK],
  Operations: [
    { method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER], userName: 'ada@example.com' } },
    { method: 'POST', path: '/Users', bulkId: 'b', data: { schemas: [USER], userName: 'bob@example.com' } },
    {
      method: 'POST',
      path: '/Groups',
      bulkId: 'g',
      data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Sales', members: [{ value: 'bulkId:a' }, { value: 'bulkId:b' }] },
    },
  ],
};

async function refused(kind: ChaosFaultKind, status: number): Promise<void> {
  const { target } = await armed(kind);
  expect((await post(target, '/Bulk', bulkOfTwo)).status).toBe(status);
  const config = (await (await get(target, '/ServiceProviderConfig')).json()) as { bulk: { supported: boolean } };
  expect(config.bulk.supported).toBe(true);
  expect(target.users.size).toBe(5);
}

async function rateLimited(kind: ChaosFaultKind, retryAfter: (value: string | null) => boolean): Promise<void> {
  const { target } = await armed(kind);
  const res = await untilHit((i) => create(target, `u${i}@example.com`), (r) => r.status === 429);
  expect(res?.status).toBe(429);
  expect(retryAfter(res!.headers.get('retry-after'))).toBe(true);
}

const probes: Record<ChaosFaultKind, () => Promise<void>> = {
  'lost-late': async () => {
    const { target } = await armed('lost-late');
    let last = '';
    const lost = await untilHit((i) => settle(create(target, (last = `u${i}@example.com`), { signal: AbortSignal.timeout(TIMEOUT_MS) })), (r) => 'error' in r);
    expect(lost).toBeDefined();
    // The create whose answer came too late was applied.
    expect([...target.users.values()].map((u) => u.userName)).toContain(last);
  },
  'lost-502': async () => {
    const { target } = await armed('lost-502');
    const res = await untilHit((i) => create(target, `u${i}@example.com`), (r) => r.status === 502);
    expect(res?.status).toBe(502);
    expect(target.requests.filter((r) => r.method === 'POST').length).toBe(target.users.size - 5);
  },
  'lost-reset': async () => {
    const { target } = await armed('lost-reset');
    const reset = await untilHit((i) => settle(create(target, `u${i}@example.com`)), (r) => 'error' in r);
    expect(reset).toBeDefined();
    expect(target.requests.filter((r) => r.method === 'POST').length).toBe(target.users.size - 5);
  },
  'filter-ignored': async () => {
    const { target } = await armed('filter-ignored');
    expect((await lookup(target, 'nobody@example.com')).length).toBe(5);
  },
  'filter-first': async () => {
    const { target } = await armed('filter-first');
    expect((await lookup(target, 'seed3@example.com')).map((u) => u.userName)).toEqual(['seed0@example.com']);
  },
  'filter-case': async () => {
    const { target } = await armed('filter-case');
    expect(await lookup(target, 'SEED3@example.com')).toEqual([]);
    expect((await create(target, 'SEED3@example.com')).status).toBe(409);
  },
  'conflict-bare': async () => {
    const { target } = await armed('conflict-bare');
    const res = await untilHit((i) => create(target, `u${i}@example.com`), (r) => r.status === 409);
    expect(res?.status).toBe(409);
    expect(await res!.text()).toBe('');
  },
  'retry-after-absurd': () => rateLimited('retry-after-absurd', (v) => v === '1000000000'),
  'retry-after-missing': () => rateLimited('retry-after-missing', (v) => v === null),
  'retry-after-date': () => rateLimited('retry-after-date', (v) => v !== null && Math.abs(Date.parse(v) - Date.now()) < 5000),
  'retry-after-far-date': () => rateLimited('retry-after-far-date', (v) => v !== null && new Date(v).getUTCFullYear() === 9999),
  trickle: async () => {
    const { target } = await armed('trickle');
    const chunks = await untilHit(
      async () => {
        const res = await get(target, '/Users?count=1');
        let n = 0;
        const reader = res.body!.getReader();
        while (!(await reader.read()).done) n++;
        return n;
      },
      (n) => n > 20,
    );
    expect(chunks).toBeGreaterThan(20);
  },
  'schema-lies': async () => {
    const { target } = await armed('schema-lies');
    const schemas = (await (await get(target, '/Schemas')).json()) as { Resources: { id: string; attributes: { name: string; caseExact?: boolean; required?: boolean }[] }[] };
    const user = schemas.Resources.find((s) => s.id === USER)!;
    expect(user.attributes.find((a) => a.name === 'displayName')!.caseExact).toBe(true);
    expect(user.attributes.find((a) => a.name === 'nickName')).toMatchObject({ required: true });
  },
  'discovery-hangs': async () => {
    const { target } = await armed('discovery-hangs');
    const answer = await settle(get(target, '/ServiceProviderConfig', { signal: AbortSignal.timeout(TIMEOUT_MS) }));
    expect('error' in answer).toBe(true);
  },
  'etag-moves': async () => {
    const { target } = await armed('etag-moves');
    const [one] = [...target.users.values()];
    const res = await untilHit(
      async () => {
        const read = (await (await get(target, `/Users/${one!.id}`)).json()) as { meta: { version: string } };
        return fetch(url(target, `/Users/${one!.id}`), {
          method: 'PATCH',
          headers: { ...headers, 'If-Match': read.meta.version },
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'x' }] }),
        });
      },
      (r) => r.status === 412,
    );
    expect(res?.status).toBe(412);
  },
  'page-repeats': async () => {
    const { target } = await armed('page-repeats');
    const page = await untilHit(async () => ((await (await get(target, '/Users')).json()) as { Resources: { id: string }[] }).Resources, (r) => r.length > 5);
    expect(new Set(page!.map((u) => u.id)).size).toBe(5);
    expect(page!.length).toBe(6);
  },
  'page-skips': async () => {
    const { target } = await armed('page-skips');
    const page = await untilHit(async () => ((await (await get(target, '/Users')).json()) as { Resources: unknown[]; totalResults: number }), (r) => r.Resources.length < 5);
    expect(page!.Resources.length).toBe(4);
    expect(page!.totalResults).toBe(5);
  },
  'other-users-resource': async () => {
    const { target } = await armed('other-users-resource');
    const [one] = [...target.users.values()];
    const res = await untilHit(async () => ((await (await get(target, `/Users/${one!.id}`)).json()) as { id: string }), (r) => r.id !== one!.id);
    expect(res!.id).not.toBe(one!.id);
    expect(target.users.has(res!.id)).toBe(true);
  },
  'bulk-one-reference': async () => {
    const { target } = await armed('bulk-one-reference');
    expect((await post(target, '/Bulk', bulkOfTwo)).status).toBe(200);
    const group = [...target.groups.values()][0]!;
    expect((group.members as { value: string }[]).map((m) => m.value)).toContain('bulkId:a');
  },
  'bulk-mislabel': async () => {
    const { target } = await armed('bulk-mislabel');
    const answer = (await (await post(target, '/Bulk', { ...bulkOfTwo, Operations: bulkOfTwo.Operations.slice(0, 2) })).json()) as { Operations: { bulkId: string; location: string }[] };
    const ada = answer.Operations.find((o) => o.bulkId === 'a')!;
    expect(target.users.get(ada.location.split('/').pop()!)!.userName).toBe('bob@example.com');
  },
  'bulk-refused-404': () => refused('bulk-refused-404', 404),
  'bulk-refused-403': () => refused('bulk-refused-403', 403),
  'bulk-refused-501': () => refused('bulk-refused-501', 501),
};

describe('the chaos plan: every fault fires', () => {
  it('names a probe for every fault kind, and every kind has a rate', () => {
    expect(Object.keys(probes).sort()).toEqual(CHAOS_FAULTS.map((f) => f.kind).sort());
    for (const f of CHAOS_FAULTS) expect(f.rate, f.kind).toBeGreaterThan(0);
  });

  it.each(CHAOS_FAULTS.map((f) => [f.kind, f.what] as const))('%s: %s', async (kind) => {
    await probes[kind]();
  });

  it('disarmed, the target answers honestly again', async () => {
    const { target, ctx } = await armed('bulk-refused-501');
    armChaos(ctx, ['filter-ignored', 'lost-502']);
    disarmChaos(ctx);
    expect((await lookup(target, 'nobody@example.com')).length).toBe(0);
    expect((await post(target, '/Bulk', bulkOfTwo)).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await create(target, `u${i}@example.com`)).status).toBe(201);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { startDevTarget, type DevTarget, type DevTargetOptions } from '../support/devtarget/server.js';

const TOKEN = 'devtarget-token';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const started: DevTarget[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

async function start(options: Partial<DevTargetOptions> = {}): Promise<DevTarget> {
  const target = await startDevTarget({ token: TOKEN, ...options });
  started.push(target);
  return target;
}

const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
const get = (target: DevTarget, path: string, init: RequestInit = {}) => fetch(`${target.url}${path}`, { headers, ...init });
const createUser = (target: DevTarget, userName: string, init: RequestInit = {}) =>
  fetch(`${target.url}/Users`, { method: 'POST', headers, body: JSON.stringify({ schemas: [USER], userName }), ...init });
const userNames = (target: DevTarget) => [...target.users.values()].map((u) => u.userName);
const filtered = async (target: DevTarget, userName: string) => {
  const res = await get(target, `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
  return ((await res.json()) as { Resources: { id: string; userName: string }[] }).Resources;
};

describe('answers lost or mangled after the write was applied', () => {
  it('a 502 after apply leaves the user stored and answers a SCIM error', async () => {
    const target = await start();
    target.inject({ method: 'POST', path: /\/Users$/, afterApply: { status: 502 }, times: 1 });
    const res = await createUser(target, 'ada');
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/application\/scim\+json/);
    expect(await res.json()).toMatchObject({ status: '502', schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'] });
    expect(userNames(target)).toEqual(['ada']);
    expect(target.requests).toEqual([{ method: 'POST', path: '/scim/v2/Users', status: 502, body: { schemas: [USER], userName: 'ada' } }]);
    // Spent after one: the next create is answered normally.
    expect((await createUser(target, 'bob')).status).toBe(201);
  });

  it('a proxy HTML page answered 200 after apply: text/html, and the change stands', async () => {
    const target = await start();
    const ada = target.seedUser({ userName: 'ada', title: 'Engineer' });
    target.inject({ method: 'PATCH', path: /\/Users\//, afterApply: { html: true } });
    const res = await get(target, `/Users/${ada.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Manager' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/^<!DOCTYPE html>/);
    expect(target.users.get(ada.id)!.title).toBe('Manager');
  });

  it('a replaced body after apply is sent with its own content type', async () => {
    const target = await start();
    target.inject({ method: 'POST', path: /\/Users$/, afterApply: { status: 503, body: 'upstream timed out' } });
    const res = await createUser(target, 'ada');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('upstream timed out');
    expect(userNames(target)).toEqual(['ada']);
  });

  it('a delayed answer reaches a patient client late, and is lost by an impatient one while the write stands', async () => {
    const target = await start();
    target.inject({ method: 'POST', path: /\/Users$/, afterApply: { delayMs: 300 } });
    const began = Date.now();
    const patient = await createUser(target, 'ada');
    expect(patient.status).toBe(201);
    expect(((await patient.json()) as { userName: string }).userName).toBe('ada');
    expect(Date.now() - began).toBeGreaterThanOrEqual(290);

    // The client gives up once the write is applied and the answer still held back.
    const abort = new AbortController();
    const impatient = createUser(target, 'bob', { signal: abort.signal });
    await vi.waitFor(() => expect(userNames(target)).toEqual(['ada', 'bob']));
    abort.abort();
    await expect(impatient).rejects.toThrow(/aborted/i);
    await vi.waitFor(() => expect(target.requests.at(-1)).toMatchObject({ method: 'POST', status: 0, body: { userName: 'bob' } }));
    // The delayed answer's timer ended with the client.
    expect(target.pendingTimers()).toBe(0);
  });

  it('a connection dropped after apply still leaves the user stored', async () => {
    const target = await start();
    target.inject({ method: 'POST', path: /\/Users$/, reset: 'after', times: 1 });
    await expect(createUser(target, 'ada')).rejects.toThrow();
    expect(userNames(target)).toEqual(['ada']);
  });
});

describe('error answers that are not SCIM', () => {
  it('a 429 with X-Retry-After and a text/plain body, and nothing stored', async () => {
    const target = await start();
    target.inject({ method: 'POST', path: /\/Users$/, status: 429, headers: { 'X-Retry-After': '1' }, responseBody: 'Too many requests, slow down', times: 1 });
    const res = await createUser(target, 'ada');
    expect(res.status).toBe(429);
    expect(res.headers.get('x-retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('Too many requests, slow down');
    expect(target.users.size).toBe(0);
  });
});

describe('targets with loose rules', () => {
  it('a target without unique userNames stores two users with the same userName; the default one answers 409', async () => {
    const loose = await start({ uniqueUserNames: false });
    expect((await createUser(loose, 'ada@example.com')).status).toBe(201);
    expect((await createUser(loose, 'ADA@example.com')).status).toBe(201);
    expect(loose.users.size).toBe(2);

    const strict = await start();
    expect((await createUser(strict, 'ada@example.com')).status).toBe(201);
    expect((await createUser(strict, 'ADA@example.com')).status).toBe(409);
    expect(strict.users.size).toBe(1);
  });

  it("filters: 'first' answers the same account for every userName, 'ignore' lists them all, the default honours them", async () => {
    const first = await start({ filters: 'first' });
    const ignore = await start({ filters: 'ignore' });
    const honour = await start();
    for (const t of [first, ignore, honour]) for (const userName of ['ada', 'bob', 'cy']) t.seedUser({ userName });

    const [ada, bob] = [await filtered(first, 'ada'), await filtered(first, 'bob')];
    expect(ada).toHaveLength(1);
    expect(bob.map((u) => u.id)).toEqual(ada.map((u) => u.id));
    expect((await filtered(ignore, 'bob')).map((u) => u.userName).sort()).toEqual(['ada', 'bob', 'cy']);
    expect((await filtered(honour, 'bob')).map((u) => u.userName)).toEqual(['bob']);
  });

  it("filters: the default keeps case, 'caseless' finds a userName in another case", async () => {
    const honour = await start();
    const caseless = await start({ filters: 'caseless' });
    for (const t of [honour, caseless]) for (const userName of ['Ada@Example.com', 'bob']) t.seedUser({ userName });
    expect(await filtered(honour, 'ada@example.com')).toEqual([]);
    expect((await filtered(honour, 'Ada@Example.com')).map((u) => u.userName)).toEqual(['Ada@Example.com']);
    expect((await filtered(caseless, 'ADA@EXAMPLE.COM')).map((u) => u.userName)).toEqual(['Ada@Example.com']);
    expect(await filtered(caseless, 'carol')).toEqual([]);
  });
});

describe('slow, huge and endless answers', () => {
  it('a trickled answer sends its headers at once, then one byte per interval, a well-formed list in the end', async () => {
    const target = await start();
    const intervalMs = 4;
    target.inject({ method: 'GET', path: /\/Users\?/, trickle: { intervalMs } });
    const began = Date.now();
    const res = await get(target, '/Users?count=0');
    const headersAfter = Date.now() - began;
    expect(res.status).toBe(200);
    const body = await res.text();
    const took = Date.now() - began;
    expect(JSON.parse(body)).toMatchObject({ totalResults: 0, Resources: [] });
    expect(headersAfter).toBeLessThan(took / 4);
    expect(took).toBeGreaterThanOrEqual((body.length - 1) * intervalMs * 0.9);
  });

  it('stops trickling when the client goes away, and stop() ends promptly with a trickle in flight', async () => {
    const target = await start();
    target.seedUser({ userName: 'ada' });
    target.inject({ method: 'GET', path: /\/Users/, trickle: { intervalMs: 50 } });
    const abort = new AbortController();
    const res = await get(target, '/Users', { signal: abort.signal });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    expect(value!.length).toBeGreaterThan(0);
    expect(target.pendingTimers()).toBe(1);
    abort.abort();
    await vi.waitFor(() => expect(target.concurrency.now).toBe(0));
    expect(target.pendingTimers()).toBe(0);
    expect(target.requests).toEqual([{ method: 'GET', path: '/scim/v2/Users', status: 200 }]);

    const slow = await get(target, '/Users');
    expect(slow.status).toBe(200);
    const stopping = Date.now();
    await target.stop();
    expect(Date.now() - stopping).toBeLessThan(500);
    expect(target.pendingTimers()).toBe(0);
    await expect(slow.text()).rejects.toThrow();
  });

  it('a padded answer is valid JSON of at least padBytes, streamed without a Content-Length', async () => {
    const target = await start();
    const padBytes = 3 * 1024 * 1024;
    target.inject({ method: 'GET', path: /\/Users/, padBytes });
    const res = await get(target, '/Users');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const body = await res.text();
    expect(body.length).toBeGreaterThanOrEqual(padBytes);
    expect(JSON.parse(body)).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'] });
  });

  it('endless pages are full of ids never seen before, on page 1 as on page 50, out of a billion', async () => {
    const target = await start();
    target.seedUser({ userName: 'ada' });
    target.inject({ path: /\/Users/, endlessPages: true });
    type Page = { totalResults: number; startIndex: number; itemsPerPage: number; Resources: { id: string; userName: string }[] };
    const page = async (n: number) => (await (await get(target, `/Users?startIndex=${1 + (n - 1) * 20}&count=20`)).json()) as Page;
    const [one, fifty, oneAgain] = [await page(1), await page(50), await page(1)];
    expect(one).toMatchObject({ totalResults: 1_000_000_000, startIndex: 1, itemsPerPage: 20 });
    expect(fifty).toMatchObject({ totalResults: 1_000_000_000, startIndex: 981, itemsPerPage: 20 });
    // Even page 1 read again holds accounts never seen before.
    const ids = [...one.Resources, ...fifty.Resources, ...oneAgain.Resources].map((r) => r.id);
    expect(new Set(ids).size).toBe(60);
    for (const id of ids) expect(target.users.has(id)).toBe(false);
    // Only list reads page forever: a create is served.
    expect((await createUser(target, 'bob')).status).toBe(201);
  });
});

describe('several targets in one process', () => {
  it('keeps each target its own store and rules, under concurrent writes', async () => {
    const a = await start({ basePath: '/a/v2' });
    const b = await start({ uniqueUserNames: false });
    const answers = await Promise.all([createUser(a, 'ada'), createUser(b, 'ada'), createUser(b, 'ada'), createUser(a, 'bob'), createUser(a, 'ada')]);
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 409]);
    expect(userNames(a).sort()).toEqual(['ada', 'bob']);
    expect(userNames(b)).toEqual(['ada', 'ada']);
    expect(b.writes().map((r) => (r.body as { userName: string }).userName)).toEqual(['ada', 'ada']);
  });
});

describe('versions and Bulk, where the target is started with them', () => {
  it('says what it supports in /ServiceProviderConfig, per target (scimmy configures the process)', async () => {
    const plain = await start();
    const full = await start({ etags: true, bulk: { maxOperations: 7 } });
    const spc = async (t: DevTarget) => (await (await get(t, '/ServiceProviderConfig')).json()) as { bulk: unknown; etag: unknown };
    expect(await spc(plain)).toMatchObject({ bulk: { supported: false }, etag: { supported: false } });
    expect(await spc(full)).toMatchObject({ bulk: { supported: true, maxOperations: 7 }, etag: { supported: true } });
    expect((await fetch(`${plain.url}/Bulk`, { method: 'POST', headers, body: '{}' })).status).toBe(501);
  });

  it('keeps meta.version, moves it on every write (an admin edit included), and answers a stale If-Match with 412', async () => {
    const target = await start({ etags: true });
    const created = (await (await createUser(target, 'ada')).json()) as { id: string; meta: { version: string } };
    expect(created.meta.version).toBe('W/"1"');
    target.editUser(created.id, { title: 'set in the app' });
    const put = (version: string) =>
      fetch(`${target.url}/Users/${created.id}`, { method: 'PUT', headers: { ...headers, 'If-Match': version }, body: JSON.stringify({ schemas: [USER], userName: 'ada' }) });
    expect((await put('W/"1"')).status).toBe(412);
    expect(target.users.get(created.id)!.title).toBe('set in the app');
    const ok = await put('W/"2"');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { meta: { version: string } }).meta.version).toBe('W/"3"');
  });

  it('applies a Bulk request in order, resolving bulkId references, within maxOperations', async () => {
    const target = await start({ bulk: { maxOperations: 3 } });
    const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
    const bulk = (Operations: unknown[]) =>
      fetch(`${target.url}/Bulk`, { method: 'POST', headers, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations }) });
    const res = await bulk([
      { method: 'POST', path: '/Users', bulkId: 'a', data: { schemas: [USER], userName: 'ada' } },
      { method: 'POST', path: '/Users', bulkId: 'b', data: { schemas: [USER], userName: 'bob' } },
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP], displayName: 'Sales', members: [{ value: 'bulkId:a' }, { value: 'bulkId:b' }] } },
    ]);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { Operations: { bulkId: string; status: string; location: string }[] };
    expect(answer.Operations.map((o) => `${o.bulkId} ${o.status}`)).toEqual(['a 201', 'b 201', 'g 201']);
    const ids = [...target.users.values()].map((u) => u.id).sort();
    expect(([...target.groups.values()][0]!.members as { value: string }[]).map((m) => m.value).sort()).toEqual(ids);
    expect((await bulk([1, 2, 3, 4].map((i) => ({ method: 'DELETE', path: `/Users/${i}` })))).status).toBe(413);
  });
});

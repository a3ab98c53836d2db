import { beforeAll, describe, expect, it } from 'vitest';
import { createConsoleApp } from '../../src/console/app.js';
import { safeNext } from '../../src/console/auth.js';
import { httpConfigSchema, type HttpConfig } from '../../src/config/http.js';
import { hashPassword, hashToken } from '../../src/console/passwords.js';
import { TestBrowser, fieldValue } from './support/client.js';
import { FakeBackend } from './support/fake-backend.js';
import { SecretScanner } from './support/secret-scan.js';

const TARGET_TOKEN = 'target-bearer-token-7f3a9c';
const ADA_PASSWORD = 'ada-password-correct';
const BOB_PASSWORD = 'bob-password-correct';
const CI_TOKEN = 'scimsync_ci-token-for-tests-0001';
const READER_TOKEN = 'scimsync_reader-token-for-tests-02';

let http: HttpConfig;

beforeAll(async () => {
  http = httpConfigSchema.parse({
    listen: '0.0.0.0:9464',
    auth: {
      users: [
        { name: 'ada', passwordHash: await hashPassword(ADA_PASSWORD), role: 'admin' },
        { name: 'bob', passwordHash: await hashPassword(BOB_PASSWORD), role: 'viewer' },
      ],
      apiTokens: [
        { name: 'ci', hash: hashToken(CI_TOKEN), role: 'admin' },
        { name: 'reader', hash: hashToken(READER_TOKEN), role: 'viewer' },
      ],
    },
  });
});

function setup(options: { now?: () => number } = {}) {
  const backend = new FakeBackend();
  const scanner = new SecretScanner([TARGET_TOKEN, ADA_PASSWORD, BOB_PASSWORD, CI_TOKEN, READER_TOKEN, ...http.auth!.users.map((u) => u.passwordHash), ...http.auth!.apiTokens.map((t) => t.hash)]);
  const app = createConsoleApp({ backend, http, secrets: () => [TARGET_TOKEN], ...(options.now ? { now: options.now } : {}) });
  return { backend, scanner, app, browser: new TestBrowser(app, scanner) };
}

describe('the console without a session', () => {
  it('sends pages to the login form and answers the API with 401', async () => {
    const { browser, scanner } = setup();
    for (const path of ['/', '/integrations/app', '/logs?user=u1', '/users/app/u1']) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(302);
      expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    for (const path of ['/api/integrations', '/api/events', '/api/integrations/app/plan']) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(await res.json()).toHaveProperty('error');
    }
    const post = await browser.request('/api/integrations/app/approve', { method: 'POST' });
    expect(post.status).toBe(401);
    expect(scanner.leaks).toEqual([]);
  });

  it('refuses a wrong password and sets no session', async () => {
    const { browser } = setup();
    const res = await browser.login('ada', 'not-the-password');
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('Wrong user or password');
    expect(browser.cookies.has('scimsync_session')).toBe(false);
    expect((await browser.get('/')).status).toBe(302);
  });

  it('refuses a login form posted without the token of the page that shows it', async () => {
    const { browser } = setup();
    const res = await browser.post('/login', { _csrf: 'guessed', next: '/', name: 'ada', password: ADA_PASSWORD });
    expect(res.status).toBe(403);
    expect(browser.cookies.has('scimsync_session')).toBe(false);
  });

  it('makes a user wait after five wrong passwords in a row', async () => {
    const { browser } = setup();
    for (let i = 0; i < 5; i++) expect((await browser.login('bob', `wrong-${i}-password`)).status).toBe(401);
    const res = await browser.login('bob', BOB_PASSWORD);
    expect(res.status).toBe(429);
    expect(await res.text()).toContain('Too many failed logins');
  });
});

describe('a login session', () => {
  it('is an HttpOnly, SameSite=Strict cookie with an expiry, and returns to the page asked for', async () => {
    const { browser } = setup();
    const res = await browser.login('ada', ADA_PASSWORD, '/logs?user=u1');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/logs?user=u1');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('scimsync_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Max-Age=43200/);
    expect(cookie).toMatch(/Path=\//);
    expect((await browser.get('/')).status).toBe(200);
  });

  it('never sends the browser to another site after login', async () => {
    const { browser } = setup();
    const res = await browser.login('ada', ADA_PASSWORD, '//evil.example/x');
    expect(res.headers.get('location')).toBe('/');
    for (const next of ['/\\evil.example', 'https://evil.example/', '/x\r\nSet-Cookie: a=b']) expect(safeNext(next), next).toBe('/');
    expect(safeNext('/logs?user=u1')).toBe('/logs?user=u1');
  });

  it('ends when its time is up', async () => {
    let now = Date.parse('2025-01-01T00:00:00Z');
    const { browser } = setup({ now: () => now });
    await browser.login('ada', ADA_PASSWORD);
    expect((await browser.get('/')).status).toBe(200);
    now += 12 * 3_600_000 + 1;
    expect((await browser.get('/')).status).toBe(302);
  });

  it('ends at logout, for a viewer too', async () => {
    const { browser } = setup();
    await browser.login('bob', BOB_PASSWORD);
    const csrf = await browser.csrf();
    const res = await browser.post('/logout', { _csrf: csrf });
    expect(res.status).toBe(303);
    expect((await browser.get('/')).status).toBe(302);
  });
});

describe('state-changing requests', () => {
  it('lets an admin approve, naming the admin to the backend', async () => {
    const { browser, backend } = setup();
    await browser.login('ada', ADA_PASSWORD);
    const res = await browser.post('/integrations/app/approve', { _csrf: await browser.csrf() });
    expect(res.status).toBe(303);
    expect(backend.actions).toEqual([{ action: 'approve', integration: 'app', actor: 'ada' }]);
    const page = await (await browser.get('/integrations/app')).text();
    expect(page).toContain('approved');
  });

  it('refuses a POST without the CSRF token (403), and the backend is not called', async () => {
    const { browser, backend } = setup();
    await browser.login('ada', ADA_PASSWORD);
    expect((await browser.post('/integrations/app/approve', {})).status).toBe(403);
    expect((await browser.post('/integrations/app/approve', { _csrf: 'wrong' })).status).toBe(403);
    const api = await browser.request('/api/integrations/app/approve', { method: 'POST', headers: { origin: browser.origin, 'content-type': 'application/json' }, body: '{}' });
    expect(api.status).toBe(403);
    expect(backend.actions).toEqual([]);
  });

  it('accepts the token in the X-CSRF-Token header (htmx and scripts with a session)', async () => {
    const { browser, backend } = setup();
    await browser.login('ada', ADA_PASSWORD);
    const csrf = await browser.csrf();
    const res = await browser.request('/api/integrations/app/approve', { method: 'POST', headers: { origin: browser.origin, 'x-csrf-token': csrf } });
    expect(res.status).toBe(200);
    expect(backend.actions.map((a) => a.actor)).toEqual(['ada']);
  });

  it('refuses a form posted from another site, even with the token', async () => {
    const { browser, backend } = setup();
    await browser.login('ada', ADA_PASSWORD);
    const csrf = await browser.csrf();
    const res = await browser.post('/integrations/app/approve', { _csrf: csrf }, { origin: 'http://evil.example' });
    expect(res.status).toBe(403);
    expect(backend.actions).toEqual([]);
  });

  it("refuses a viewer's approve (403)", async () => {
    const { browser, backend } = setup();
    await browser.login('bob', BOB_PASSWORD);
    const res = await browser.post('/integrations/app/approve', { _csrf: await browser.csrf() });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('bob is a viewer');
    expect(backend.actions).toEqual([]);
    const page = await (await browser.get('/integrations/app')).text();
    expect(page).not.toContain('/integrations/app/approve');
  });
});

describe('API tokens', () => {
  it('let a script read with a viewer token and act with an admin token, named in the action', async () => {
    const { browser, backend } = setup();
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    expect((await browser.get('/api/integrations', as(READER_TOKEN))).status).toBe(200);
    expect((await browser.request('/api/integrations/app/approve', { method: 'POST', headers: as(READER_TOKEN) })).status).toBe(403);
    expect((await browser.get('/api/integrations', as('scimsync_not-a-configured-token'))).status).toBe(401);
    const res = await browser.request('/api/integrations/app/approve', { method: 'POST', headers: as(CI_TOKEN) });
    expect(res.status).toBe(200);
    expect(backend.actions).toEqual([{ action: 'approve', integration: 'app', actor: 'ci' }]);
    expect(await (await browser.get('/api/whoami', as(CI_TOKEN))).json()).toEqual({ name: 'ci', role: 'admin', via: 'token' });
  });
});

describe('what the console sends', () => {
  it('has a strict CSP, no inline script or style, and secure headers', async () => {
    const { browser } = setup();
    await browser.login('ada', ADA_PASSWORD);
    for (const path of ['/', '/integrations/app', '/logs', '/logs?event=7', '/users/app/u1', '/integrations/app/plan', '/integrations/app/reconcile']) {
      const res = await browser.get(path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html, path).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html, path).not.toMatch(/\sstyle=/);
      expect(html, path).not.toMatch(/\son[a-z]+=/);
    }
  });

  it('hides a configured secret that slipped into an event, in pages and API answers', async () => {
    const { browser, backend, scanner } = setup();
    backend.leakyText = `Authorization: Bearer ${TARGET_TOKEN}`;
    await browser.login('ada', ADA_PASSWORD);
    const page = await (await browser.get('/logs?event=3')).text();
    expect(page).toContain('Authorization: Bearer ***');
    const api = await (await browser.get('/api/events?limit=5')).text();
    expect(api).toContain('Bearer ***');
    expect(scanner.leaks).toEqual([]);
  });

  it('escapes what the source and the target wrote', async () => {
    const { browser, backend } = setup();
    backend.eventList[0] = { ...backend.eventList[0]!, summary: '<img src=x onerror=alert(1)>', detail: { scimDetail: '"><script>alert(2)</script>' } };
    await browser.login('ada', ADA_PASSWORD);
    const html = await (await browser.get('/logs?event=1')).text();
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<script>alert(2)');
  });

  it('pages the logs newest first with a keyset cursor and filters them', async () => {
    const { browser } = setup();
    await browser.login('bob', BOB_PASSWORD);
    const first = await (await browser.get('/api/events?limit=50')).json();
    expect(first.events[0].id).toBe(120);
    expect(first.next).toBe(71);
    const second = await (await browser.get(`/api/events?limit=50&after=${first.next}`)).json();
    expect(second.events[0].id).toBe(70);
    const failures = await (await browser.get('/api/events?result=failure&user=u2')).json();
    expect(failures.events.map((e: { id: number }) => e.id)).toEqual([112, 77, 42, 7]);
    expect((await browser.get('/api/events?type=not_a_type')).status).toBe(400);
    const html = await (await browser.get(`/logs?after=${first.next}`)).text();
    expect(html).toContain('data-event="70"');
    expect(html).toContain('id="older"');
  });
});

describe('a console on loopback without http.auth', () => {
  const open = () => {
    const backend = new FakeBackend();
    const app = createConsoleApp({ backend, http: httpConfigSchema.parse({ listen: '127.0.0.1:9464' }), secrets: () => [] });
    return { backend, app };
  };

  it('lets this machine in as the local admin, with a CSRF token all the same', async () => {
    const { backend, app } = open();
    const browser = new TestBrowser(app, undefined, 'http://127.0.0.1:9464');
    const page = await browser.get('/integrations/app');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('local access (admin)');
    expect((await browser.post('/integrations/app/approve', {})).status).toBe(403);
    expect((await browser.post('/integrations/app/approve', { _csrf: fieldValue(await (await browser.get('/integrations/app')).text(), '_csrf') })).status).toBe(303);
    expect(backend.actions).toEqual([{ action: 'approve', integration: 'app', actor: 'local' }]);
  });

  it('answers no other host name (DNS rebinding) and no page of another site', async () => {
    const { backend, app } = open();
    expect((await new TestBrowser(app, undefined, 'http://rebound.example:9464').get('/')).status).toBe(403);
    const script = new TestBrowser(app, undefined, 'http://localhost:9464');
    const res = await script.request('/api/integrations/app/approve', { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    expect((await script.request('/api/integrations/app/approve', { method: 'POST' })).status).toBe(200);
    expect(backend.actions.map((a) => a.actor)).toEqual(['local']);
  });

  it('lets this machine only look when it is read-only (the demo): no action, from a page or a script', async () => {
    const backend = new FakeBackend();
    const app = createConsoleApp({ backend, http: httpConfigSchema.parse({ listen: '127.0.0.1:9464' }), secrets: () => [], loopbackRole: 'viewer' });
    const browser = new TestBrowser(app, undefined, 'http://127.0.0.1:9464');
    const page = await (await browser.get('/integrations/app')).text();
    expect(page).toContain('local access (viewer)');
    expect(page).not.toContain('Approve');
    for (const path of ['/', '/logs', '/users/app/u1', '/integrations/app/plan']) expect((await browser.get(path)).status, path).toBe(200);
    const csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec(page)![1]!;
    expect((await browser.post('/integrations/app/approve', { _csrf: csrf })).status).toBe(403);
    expect((await browser.post('/users/app/u1/provision', { _csrf: csrf })).status).toBe(403);
    const script = await app.request('http://127.0.0.1:9464/api/integrations/app/approve', { method: 'POST' });
    expect(script.status).toBe(403);
    expect(await script.json()).toEqual({ error: 'local is a viewer: only an admin may do this' });
    expect((await app.request('http://127.0.0.1:9464/api/integrations')).status).toBe(200);
    expect(backend.actions).toEqual([]);
  });
});


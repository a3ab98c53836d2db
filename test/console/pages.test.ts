import { describe, expect, it } from 'vitest';
import { createConsoleApp } from '../../src/console/app.js';
import { httpConfigSchema } from '../../src/config/http.js';
import { CycleProgressBoard } from '../../src/console/progress.js';
import { TestBrowser, fieldValue } from './support/client.js';
import { FakeBackend } from './support/fake-backend.js';

/** The console open on loopback (no logins), over the in-memory backend. */
function open() {
  const backend = new FakeBackend();
  const app = createConsoleApp({ backend, http: httpConfigSchema.parse({}), secrets: () => [] });
  return { backend, browser: new TestBrowser(app, undefined, 'http://127.0.0.1:9464') };
}

describe('live progress', () => {
  it('polls quickly while a cycle runs and shows the counts move, then slows down when it ends', async () => {
    const { backend, browser } = open();
    const fragment = async () => (await browser.get('/integrations/app/progress', { 'hx-request': 'true' })).text();
    const progress = (done: number) => ({ cycleId: 'c1', startedAt: '2025-01-01T00:00:00.000Z', done, total: 200, failed: 2, rateLimitWaits: 3, etaMs: 45_000, source: 'live' as const });

    backend.progressNow = progress(20);
    const first = await fragment();
    expect(first).toContain('hx-trigger="every 1s"');
    expect(first).toContain('<progress value="20" max="200">');
    expect(first).toContain('20 / 200 operations');
    expect(first).toContain('3 waits on 429');
    expect(first).toContain('about 45.0 s left');

    backend.progressNow = progress(150);
    expect(await fragment()).toContain('<progress value="150" max="200">');

    backend.progressNow = null;
    const idle = await fragment();
    expect(idle).toContain('hx-trigger="every 2s"');
    expect(idle).toContain('No cycle running');
    // The overview's state cell polls its own fragment the same way.
    expect(await (await browser.get('/integrations/app/state')).text()).toContain('hx-get="/integrations/app/state"');
  });

  it('measures the pace from the first settled operation and tells the time left', () => {
    let now = 1_000_000;
    const board = new CycleProgressBoard(() => now);
    board.start('app');
    expect(board.get('app')).toMatchObject({ done: 0, total: null, etaMs: null });
    now += 5_000; // planning and matching: not part of the pace
    board.update('app', { done: 1, total: 101, failed: 0 });
    now += 10_000;
    board.update('app', { done: 51, total: 101, failed: 1 });
    expect(board.get('app')).toMatchObject({ done: 51, total: 101, failed: 1, etaMs: 10_000 });
    board.finish('app');
    expect(board.get('app')).toBeUndefined();
  });
});

describe('pages and actions', () => {
  it('shows a Provision now result on the user page after the POST', async () => {
    const { backend, browser } = open();
    const page = await (await browser.get('/users/app/u7')).text();
    const res = await browser.post('/users/app/u7/provision', { _csrf: fieldValue(page, '_csrf') });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/users/app/u7');
    const after = await (await browser.get('/users/app/u7')).text();
    expect(after).toContain('id="provision-result"');
    expect(after).toContain('Found in the source');
    expect(backend.actions).toEqual([{ action: 'provision', integration: 'app', actor: 'local' }]);
  });

  it('tells an action the backend refuses as a message on the next page, not an error page', async () => {
    const { browser } = open();
    const page = await (await browser.get('/integrations/app')).text();
    const res = await browser.post('/integrations/app/lift-quarantine', { _csrf: fieldValue(page, '_csrf') });
    expect(res.status).toBe(303);
    expect(await (await browser.get('/integrations/app')).text()).toContain('<div class="flash error" role="status">app is not quarantined</div>');
  });

  it('answers 404 for an integration that does not exist, in pages and the API', async () => {
    const { browser } = open();
    expect((await browser.get('/integrations/nope')).status).toBe(404);
    expect((await browser.get('/users/nope/u1')).status).toBe(404);
    expect((await browser.get('/api/integrations/nope')).status).toBe(404);
    // A script on loopback: no cookie, no CSRF token needed.
    browser.cookies.clear();
    expect((await browser.request('/api/integrations/nope/approve', { method: 'POST' })).status).toBe(404);
  });

  it('refuses a bad filter with the reason, naming the parameter', async () => {
    const { browser } = open();
    const res = await browser.get('/logs?since=yesterday');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('since yesterday: expected a duration (30m, 2h, 7d) or an ISO date');
    expect((await (await browser.get('/api/events?limit=9999')).json()).error).toBe('limit 9999: expected a whole number from 1 to 500');
  });

  it('serves the vendored htmx and uPlot and its own assets, cached and revalidated', async () => {
    const { browser } = open();
    for (const [name, type] of [
      ['htmx.min.js', 'text/javascript'],
      ['uPlot.iife.min.js', 'text/javascript'],
      ['uPlot.min.css', 'text/css'],
      ['console.css', 'text/css'],
      ['console.js', 'text/javascript'],
    ] as const) {
      const res = await browser.get(`/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
      expect((await browser.get(`/assets/${name}`, { 'if-none-match': res.headers.get('etag')! })).status).toBe(304);
    }
    expect(await (await browser.get('/assets/htmx.min.js')).text()).toContain('htmx');
    expect((await browser.get('/assets/../package.json')).status).toBe(404);
  });
});

describe('/healthz and /metrics', () => {
  const serve = (listen: string, openMetrics = false) => {
    const app = createConsoleApp({
      backend: new FakeBackend(),
      http: httpConfigSchema.parse({ listen, openMetrics, ...(listen.startsWith('127.') ? {} : { auth: { apiTokens: [{ name: 'prom', hash: `sha256$${'a'.repeat(64)}` }] } }) }),
      secrets: () => [],
      health: async () => ({ status: 200, body: { healthy: true } }),
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'scimsync_up 1\n' }),
    });
    return new TestBrowser(app, undefined, 'http://127.0.0.1:9464');
  };

  it('stay open on loopback, and need a login or a token elsewhere unless openMetrics', async () => {
    expect((await serve('127.0.0.1:9464').get('/healthz')).status).toBe(200);
    expect(await (await serve('127.0.0.1:9464').get('/metrics')).text()).toBe('scimsync_up 1\n');
    expect((await serve('0.0.0.0:9464').get('/healthz')).status).toBe(401);
    expect((await serve('0.0.0.0:9464').get('/metrics')).status).toBe(401);
    expect((await serve('0.0.0.0:9464', true).get('/metrics')).status).toBe(200);
  });
});

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createConsoleApp } from '../../src/console/app.js';
import { httpConfigSchema } from '../../src/config/http.js';
import { hashPassword, hashToken } from '../../src/console/passwords.js';
import { CycleProgressBoard } from '../../src/console/progress.js';
import { configSecrets } from '../../src/console/secrets.js';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { createEngineConsoleBackend } from '../../src/engine/console-backend.js';
import { runCycle } from '../../src/engine/cycle.js';
import { leaseOwner, withLease } from '../../src/engine/lease.js';
import { createLogger } from '../../src/log.js';
import { openStateStore, type StateStore } from '../../state/index.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { CHROMIUM_ARGS, watchPage, type PageWatch } from './support/browser-watch.js';
import { browserSuite } from './support/chromium.js';
import { SecretScanner } from './support/secret-scan.js';

// Without Chromium these tests are skipped, loudly; under CI they fail.
const chromiumSuite = browserSuite('the console end-to-end tests');
const TARGET_TOKEN = 'e2e-target-token-5d1c0b9a77';
const ADA_PASSWORD = 'ada-console-password';
const BOB_PASSWORD = 'bob-console-password';
const CI_TOKEN = 'scimsync_e2e-ci-token-0000000000000001';
const SHOTS = join(process.cwd(), 'test-results', 'console');

let target: DevTarget;
let ws: Workspace;
let directory: Directory;
let config: Config;
let store: StateStore;
let board: CycleProgressBoard;
let server: ConsoleServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let scanner: SecretScanner;
/** What the browser saw go wrong; of the answers of 400 and more, only the one wrong password is expected. */
let watch: PageWatch;
/** Errors the console's server met. */
const problems: string[] = [];
const logger = createLogger({ level: 'error', format: 'json', silent: true });

const byExternalId = (id: string) => [...target.users.values()].find((u) => u.externalId === id);
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const api = async (path: string) => {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${CI_TOKEN}` } });
  await scanner.response(`API ${path}`, res);
  expect(res.status, path).toBe(200);
  return res.json();
};

beforeAll(async () => {
  const executablePath = chromiumSuite.executablePath();
  mkdirSync(SHOTS, { recursive: true });
  target = await startDevTarget({ token: TARGET_TOKEN, strict: true });
  ws = workspace(target.url, TARGET_TOKEN);
  ws.writeConfig({ integrationYaml: 'safety: { maxDeletes: 1 }' });
  directory = makeDirectory(20);
  ws.writeDirectory(directory);
  expect((await ws.run(['sync'])).code).toBe(0);

  config = loadConfig(ws.configPath, { TEST_TOKEN: TARGET_TOKEN }).config;
  store = openStateStore(config.state.path);
  board = new CycleProgressBoard();
  const backend = createEngineConsoleBackend({ config: () => config, store, logger, progress: board });
  const http = httpConfigSchema.parse({
    listen: '127.0.0.1:0',
    auth: {
      users: [
        { name: 'ada', passwordHash: await hashPassword(ADA_PASSWORD), role: 'admin' },
        { name: 'bob', passwordHash: await hashPassword(BOB_PASSWORD), role: 'viewer' },
      ],
      apiTokens: [{ name: 'ci', hash: hashToken(CI_TOKEN), role: 'admin' }],
    },
  });
  scanner = new SecretScanner([TARGET_TOKEN, ADA_PASSWORD, BOB_PASSWORD, CI_TOKEN, ...configSecrets({ config, http })]);
  const app = createConsoleApp({ backend, http, secrets: () => configSecrets(config), onError: (err) => problems.push(`server: ${String(err)}`) });
  server = await startConsoleServer({ app, listen: http.listen });

  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  watch = watchPage(page, scanner);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  store?.close();
  await target?.stop();
});

chromiumSuite.describe('the console in a real browser', () => {
  it('sends a visitor to log in, then shows the overview', async () => {
    await page.goto(`${server.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#name', 'ada');
    await page.fill('#password', 'not-her-password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.flash.error')).toContain('Wrong user or password');
    await page.fill('#password', ADA_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/`);
    const row = page.locator('tr[data-integration="app"]');
    await expect.poll(() => row.textContent()).toContain('healthy');
    expect(await row.locator('td').nth(4).textContent()).toBe('20');
    const cookie = (await context.cookies()).find((c) => c.name === 'scimsync_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookie.expires).toBeGreaterThan(Date.now() / 1000 + 11 * 3600);
    await shot('overview');
  });

  it('filters the logs to one user and opens an event in the detail pane, with the target\'s answer', async () => {
    // One update the target refuses, so that the log holds a failure with an HTTP status and a SCIM error.
    directory.users[3]!.title = 'Chief Everything Officer';
    ws.writeDirectory(directory);
    target.inject({ method: 'PATCH', path: /\/Users\//, status: 400, scimType: 'invalidValue', detail: 'title is too long for this tenant', times: 1 });
    expect((await ws.run(['sync'])).code).toBe(1);

    await page.click('text=Provisioning logs');
    await page.fill('input[name=user]', 'user3@example.com');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/user=user3%40example.com/);
    const rows = page.locator('#events tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.locator('td:nth-child(5)').allTextContents()).toEqual(['u00003', 'u00003']);
    expect(await rows.first().textContent()).toContain('failure');
    await rows.first().locator('a').click();
    await page.waitForSelector('#event-detail');
    const detail = await page.textContent('#event-detail');
    expect(detail).toContain('user_update_provision');
    expect(detail).toMatch(/HTTP status\s*400/);
    expect(detail).toMatch(/scimType\s*invalidValue/);
    expect(detail).toContain('title is too long for this tenant');
    expect(detail).toContain('every event of this user');
    expect(page.url()).toMatch(/event=\d+/);
    await shot('logs');
  });

  it('runs Provision now for one user and shows its steps', async () => {
    directory.users[5]!.title = 'Director';
    ws.writeDirectory(directory);
    await page.goto(`${server.url}/users/app/u00005`);
    expect(await page.textContent('#source-attributes')).toContain('Director');
    await page.click('button:has-text("Provision now")');
    await page.waitForSelector('#provision-result');
    const steps = page.locator('#provision-result li[data-step]');
    expect(await steps.evaluateAll((els) => els.map((e) => `${e.getAttribute('data-step')}:${e.getAttribute('data-status')}`))).toEqual([
      'source:ok',
      'scope:ok',
      'match:ok',
      'attributes:ok',
      'result:ok',
    ]);
    expect(await page.textContent('#provision-result')).toContain('title: Engineer → Director');
    expect(byExternalId('u00005')!.title).toBe('Director');
    // Only that user was sent: another user's change waits for the next cycle.
    await shot('user-provision-now');
  });

  it("watches a running cycle's progress move on the integration page", async () => {
    for (let i = 0; i < 40; i++) directory.users.push({ ...makeDirectory(1).users[0]!, id: `n${i}`, userName: `new${i}@example.com`, email: `new${i}@example.com` });
    ws.writeDirectory(directory);
    target.inject({ method: 'POST', path: /\/Users$/, status: 429, headers: { 'Retry-After': '1' }, times: 1 });
    target.inject({ method: 'POST', path: /\/Users$/, stallMs: 700 });
    await page.goto(`${server.url}/integrations/app`);
    await page.waitForSelector('#history-chart[data-ready] canvas');
    // The daemon's way: the cycle under the lease, its progress fed to the board the console reads.
    const cycle = withLease({ store, integration: 'app', owner: leaseOwner() }, async (lease) => {
      board.start('app');
      try {
        return await runCycle({
          integration: config.integrations[0]!,
          store,
          logger,
          signal: lease.signal,
          onProgress: (done, total, failed) => board.update('app', { done, total, failed }),
          onRateLimit: () => board.rateLimited('app'),
        });
      } finally {
        board.finish('app');
      }
    });
    const done = async () => Number((await page.getAttribute('#progress .progress-count', 'data-done', { timeout: 20_000 })) ?? -1);
    await expect.poll(done, { timeout: 20_000 }).toBeGreaterThan(0);
    const first = await done();
    await expect.poll(done, { timeout: 20_000 }).toBeGreaterThan(first);
    // 40 creates, and the update the target refused earlier, retried from escrow.
    const text = await page.textContent('#progress');
    expect(text).toMatch(/ \/ 41 operations/);
    await shot('integration-progress');
    const report = await cycle;
    target.clearFaults();
    expect(report.outcome).toBe('success');
    await expect.poll(() => page.textContent('#progress'), { timeout: 15_000 }).toContain('No cycle running');
    expect(byExternalId('n39')?.active).toBe(true);
  });

  it('approves a held mass deprovision; the next cycle applies it and the audit names the console user', async () => {
    const leavers = directory.users.splice(0, 3);
    ws.writeDirectory(directory);
    expect((await ws.run(['sync'])).code).toBe(3);
    await page.goto(`${server.url}/integrations/app/plan`);
    expect(await page.textContent('main')).toContain('Held: the plan would deprovision 3 users');
    expect(await page.locator('h2[data-kind="user.deactivate"]').textContent()).toContain('(3)');
    await shot('plan-preview');

    await page.goto(`${server.url}/integrations/app`);
    const held = await page.textContent('#held');
    for (const u of leavers) expect(held).toContain(u.id);
    await shot('integration-held');
    await page.click('button:has-text("Approve 3 deprovisions")');
    await page.waitForSelector('.flash.ok');
    expect(await page.textContent('.flash.ok')).toContain('the next cycle of app deprovisions up to these 3 users');
    expect(await page.textContent('#held')).toContain('approved');

    expect((await ws.run(['sync'])).code).toBe(0);
    for (const u of leavers) expect(byExternalId(u.id)!.active).toBe(false);
    const audit = await api('/api/events?type=idm_integration_update&limit=20');
    const approval = audit.events.find((e: { summary: string }) => e.summary.startsWith('mass deprovision of 3 users approved'));
    expect(approval.summary).toMatch(/by ada \(console\)$/);
    expect(approval.detail.console).toEqual({ user: 'ada', via: 'session' });
    const applied = await api('/api/events?type=user_deprovision&result=success&limit=20');
    expect(applied.events.map((e: { sourceId: string | null }) => e.sourceId)).toEqual(expect.arrayContaining(leavers.map((u) => u.id)));

    await page.goto(`${server.url}/logs?type=idm_integration_update`);
    expect(await page.textContent('#events')).toContain('approved for the next cycle');
    await shot('logs-audit');
  });

  it('shows the reconcile report, and a viewer sees no action', async () => {
    byExternalId('u00010')!.title = 'Changed in the app';
    await page.goto(`${server.url}/integrations/app/reconcile`);
    await page.click('button:has-text("Read the target and compare")');
    await page.waitForSelector('#drift');
    expect(await page.textContent('#drift')).toContain('Changed in the app');
    await shot('reconcile');

    const viewer = await (await browser.newContext()).newPage();
    watchPage(viewer, scanner, watch);
    await viewer.goto(`${server.url}/login`);
    await viewer.fill('#name', 'bob');
    await viewer.fill('#password', BOB_PASSWORD);
    await viewer.click('button[type=submit]');
    await viewer.waitForURL(`${server.url}/`);
    await viewer.goto(`${server.url}/integrations/app/reconcile?run=1`);
    expect(await viewer.textContent('main')).toContain('An admin can apply or adopt');
    expect(await viewer.locator('form[action$="/reconcile/apply"]').count()).toBe(0);
    await viewer.context().close();
  });

  it('answers the API for scripts, and no page, asset or answer holds a secret', async () => {
    for (const path of ['/api/integrations', '/api/integrations/app', '/api/integrations/app/history?cycles=10', '/api/integrations/app/plan', '/api/integrations/app/users/u00005', '/api/events?user=u00005']) await api(path);
    await page.goto(`${server.url}/`);
    await shot('overview-after');
    // Every answer the browsers got, and every API answer, has been read and scanned.
    await watch.settled();
    expect(scanner.scanned.length).toBeGreaterThan(30);
    expect(scanner.leaks).toEqual([]);
    expect(problems).toEqual([]);
    expect(watch.problems).toEqual([]);
    expect(watch.failed).toEqual(['POST /login 401']);
  });
});


import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashPassword } from '../../src/console/passwords.js';
import { configSecrets } from '../../src/console/secrets.js';
import { loadConfig } from '../../src/config/load.js';
import { runDaemon } from '../../src/daemon/daemon.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Directory, type Workspace } from '../support/harness.js';
import { CHROMIUM_ARGS, watchPage, type PageWatch } from './support/browser-watch.js';
import { browserSuite } from './support/chromium.js';
import { SecretScanner } from './support/secret-scan.js';

// Without Chromium these tests are skipped, loudly; under CI they fail.
const chromiumSuite = browserSuite("the daemon's console end-to-end tests");

/**
 * The console as the daemon serves it, on its http.listen, next to its own
 * cycles: an admin logs in with Chromium, opens the integration page, and
 * watches a cycle of the daemon's schedule move against a slowed target until it ends.
 */
const TARGET_TOKEN = 'daemon-e2e-target-token-7f3a91c2';
const ADA_PASSWORD = 'ada-daemon-console-password';
const SHOTS = join(process.cwd(), 'test-results', 'console');
/** New users of the slow cycle; each create stalls STALL_MS at the target, 8 at a time (the workspace's maxConcurrent): about 5 s. */
const NEW_USERS = 48;
const STALL_MS = 800;

type DaemonIo = Parameters<typeof runDaemon>[0]['io'];

let target: DevTarget;
let ws: Workspace;
let directory: Directory;
let url: string;
let stop: AbortController;
let daemon: Promise<number>;
const daemonErr: string[] = [];
let browser: Browser;
let page: Page;
let scanner: SecretScanner;
let watch: PageWatch;

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `daemon-${name}.png`), fullPage: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const executablePath = chromiumSuite.executablePath();
  mkdirSync(SHOTS, { recursive: true });
  target = await startDevTarget({ token: TARGET_TOKEN, strict: true });
  ws = workspace(target.url, TARGET_TOKEN);
  ws.writeConfig({ integrationYaml: 'schedule: { every: 2s }' });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const http = ['http:', `  listen: "127.0.0.1:${port}"`, '  auth:', '    users:', `      - { name: ada, passwordHash: "${await hashPassword(ADA_PASSWORD)}", role: admin }`, ''].join('\n');
  writeFileSync(ws.configPath, http + readFileSync(ws.configPath, 'utf8'));
  directory = makeDirectory(10);
  ws.writeDirectory(directory);

  const { config } = loadConfig(ws.configPath, { TEST_TOKEN: TARGET_TOKEN });
  scanner = new SecretScanner([TARGET_TOKEN, ADA_PASSWORD, ...configSecrets(config)]);
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
  watch = watchPage(page, scanner);

  stop = new AbortController();
  const io: DaemonIo = { out: () => undefined, err: (l) => daemonErr.push(l), isTty: false, env: { TEST_TOKEN: TARGET_TOKEN } };
  daemon = runDaemon({ config: ws.configPath, io, signal: stop.signal });
  // Up once /healthz answers (open on loopback).
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/healthz`).catch(() => undefined);
    if (res) {
      await scanner.response('GET /healthz', res);
      break;
    }
    if (i > 100) throw new Error(`the daemon did not serve ${url}: ${daemonErr.join('\n')}`);
    await sleep(100);
  }
}, 60_000);

afterAll(async () => {
  stop?.abort();
  await daemon;
  await browser?.close();
  await target?.stop();
});

/** The progress block as the page shows it now. */
async function progressNow(): Promise<{ done: number | null; text: string }> {
  // One read of the block: htmx may swap it between two reads.
  return page.evaluate(() => {
    const block = document.querySelector('#progress');
    const count = block?.querySelector('.progress-count');
    const done = count ? Number(count.getAttribute('data-done')) : NaN;
    return { done: Number.isFinite(done) ? done : null, text: block?.textContent ?? '' };
  });
}

chromiumSuite.describe('the console the daemon serves', () => {
  it('lets an admin log in and shows the integration the daemon runs', async () => {
    await page.goto(`${url}/integrations/app`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#name', 'ada');
    await page.fill('#password', ADA_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${url}/integrations/app`);
    await page.goto(`${url}/`);
    // The daemon's first cycle created the 10 users.
    const row = page.locator('tr[data-integration="app"]');
    await expect.poll(() => row.locator('td').nth(4).textContent(), { timeout: 20_000 }).toBe('10');
    expect(target.users.size).toBe(10);
    await shot('overview');
  });

  it("watches a cycle's progress move on the integration page, then its end", async () => {
    await page.goto(`${url}/integrations/app`);
    await page.waitForSelector('#history-chart[data-ready] canvas');
    // The next scheduled cycle (every 2 s) finds 48 new users, and the target answers each create late.
    target.inject({ method: 'POST', path: /\/Users$/, stallMs: STALL_MS });
    for (let i = 0; i < NEW_USERS; i++) directory.users.push({ ...makeDirectory(1).users[0]!, id: `n${i}`, userName: `new${i}@example.com`, email: `new${i}@example.com` });
    ws.writeDirectory(directory);

    // The page polls on its own (htmx): what it shows is sampled until the slow cycle has been seen to end.
    const seen = new Set<number>();
    let shotTaken = false;
    let finished = false;
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline) {
      const p = await progressNow();
      if (p.done !== null && p.text.includes(`/ ${NEW_USERS} operations`)) {
        seen.add(p.done);
        if (!shotTaken && p.done > 0) {
          await shot('integration-progress');
          shotTaken = true;
        }
      } else if (seen.size > 0 && p.text.includes('No cycle running')) {
        finished = true;
        break;
      }
      await sleep(200);
    }
    expect([...seen].filter((d) => d > 0 && d < NEW_USERS).length, `done-counts seen: ${[...seen].join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(finished).toBe(true);
    target.clearFaults();
    expect(await page.textContent('#progress')).toMatch(/Last cycle: success/);
    await shot('integration-finished');
    expect([...target.users.values()].filter((u) => String(u.userName).startsWith('new'))).toHaveLength(NEW_USERS);

    // The history has the cycle that created them.
    await page.reload();
    await page.waitForSelector('#history-chart[data-ready] canvas');
    const created = await page.locator('#cycles tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[3]?.textContent ?? ''));
    expect(created).toContain(String(NEW_USERS));
    await shot('integration-history');
  });

  it('shows the logs of that cycle, and no answer holds a secret', async () => {
    await page.click('text=Provisioning logs');
    await page.fill('input[name=user]', 'new7@example.com');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/user=new7%40example.com/);
    expect(await page.locator('#events tbody tr').count()).toBe(1);
    expect(await page.textContent('#events')).toContain('user_create_provision');
    await shot('logs');

    await watch.settled();
    expect(scanner.scanned.length).toBeGreaterThan(20);
    expect(scanner.leaks).toEqual([]);
    expect(watch.problems).toEqual([]);
    expect(watch.failed).toEqual([]);
  });
});

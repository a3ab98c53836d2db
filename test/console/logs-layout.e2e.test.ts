import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { consoleCommand } from '../../src/console/command.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { makeDirectory, workspace, type Workspace } from '../support/harness.js';
import { CHROMIUM_ARGS, watchPage, type PageWatch } from './support/browser-watch.js';
import { browserSuite } from './support/chromium.js';
import { SecretScanner } from './support/secret-scan.js';

// Without Chromium these tests are skipped, loudly; under CI they fail.
const chromiumSuite = browserSuite('the logs page layout tests');

/**
 * The logs page of `scimsync console` in Chromium at 1280 px wide, after a sync
 * of 50 people whose userNames are 40 characters long (and, for some, their
 * source ids too): each event is one line.
 */
const TARGET_TOKEN = 'logs-layout-target-token-51c9e2';
const SHOTS = join(process.cwd(), 'test-results', 'console');
const USERS = 50;
const WIDTH = 1280;

let target: DevTarget;
let ws: Workspace;
let url: string;
let stop: AbortController;
let served: Promise<void>;
let browser: Browser;
let page: Page;
let watch: PageWatch;

/** `user050.firstname-lastname@example-corp.com`, padded to 40 characters. */
const userName = (i: number) => {
  const name = `user${String(i).padStart(3, '0')}.`;
  const domain = '@example-corp.com';
  return `${name}${'x'.repeat(40 - name.length - domain.length)}${domain}`;
};

beforeAll(async () => {
  const executablePath = chromiumSuite.executablePath();
  mkdirSync(SHOTS, { recursive: true });
  target = await startDevTarget({ token: TARGET_TOKEN, strict: true });
  ws = workspace(target.url, TARGET_TOKEN);
  ws.writeConfig();
  const directory = makeDirectory(USERS);
  for (const [i, u] of directory.users.entries()) {
    u.userName = userName(i);
    u.email = userName(i);
    // Some sources key people by their email: a source id as long as the userName, on the same row.
    if (i % 5 === 3) u.id = userName(i);
  }
  ws.writeDirectory(directory);
  expect((await ws.run(['sync'])).code).toBe(0);
  writeFileSync(ws.configPath, `http: { listen: "127.0.0.1:0" }\n${readFileSync(ws.configPath, 'utf8')}`);

  stop = new AbortController();
  let printed: (line: string) => void = () => undefined;
  const line = new Promise<string>((resolve) => (printed = resolve));
  served = consoleCommand({ config: ws.configPath, env: { TEST_TOKEN: TARGET_TOKEN }, out: (l) => printed(l), signal: stop.signal });
  url = /on (http:\/\/\S+?)\/? /.exec(await line)![1]!;

  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  page = await (await browser.newContext({ viewport: { width: WIDTH, height: 900 } })).newPage();
  watch = watchPage(page, new SecretScanner([TARGET_TOKEN]));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  stop?.abort();
  await served;
  await target?.stop();
});

/** Each row of the events table: its height, and how many lines its summary and source id take. */
async function rows(): Promise<{ summary: string; height: number; summaryLines: number; sourceLines: number; lineHeight: number }[]> {
  return page.locator('#events tbody tr').evaluateAll((trs) =>
    trs.map((tr) => {
      const cells = tr.querySelectorAll('td');
      const lines = (td: Element) => {
        // A text that wraps is one line box per line.
        const range = document.createRange();
        range.selectNodeContents(td);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      };
      return {
        summary: cells[5]!.textContent ?? '',
        height: tr.getBoundingClientRect().height,
        summaryLines: lines(cells[5]!),
        sourceLines: lines(cells[4]!),
        lineHeight: parseFloat(getComputedStyle(cells[5]!).lineHeight),
      };
    }),
  );
}

chromiumSuite.describe('the logs page at 1280 px', () => {
  it('shows 50 events with 40-character userNames one line each, on a page of reasonable height', async () => {
    await page.goto(`${url}/logs?type=user_create_provision`);
    const all = await rows();
    expect(all).toHaveLength(USERS);
    for (const row of all) {
      expect(row.summary).toMatch(/^created user\d{3}\.x+@example-corp\.com$/);
      expect(row.summary.length - 'created '.length).toBe(40);
      expect({ summary: row.summary, summaryLines: row.summaryLines, sourceLines: row.sourceLines }).toEqual({ summary: row.summary, summaryLines: 1, sourceLines: 1 });
      // One line of text and the cell's padding: no room for a second line.
      expect(row.height, row.summary).toBeLessThan(row.lineHeight * 2);
    }
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    expect(height).toBeLessThan(USERS * all[0]!.lineHeight * 2 + 600);
    await page.screenshot({ path: join(SHOTS, `logs-${WIDTH}.png`), fullPage: true });
  });

  it("opens an event's detail without squeezing the table", async () => {
    const before = await rows();
    const third = page.locator('#events tbody tr').nth(2);
    const summary = (await third.locator('td').nth(5).textContent())!;
    await third.locator('a').click();
    await page.waitForSelector('#event-detail');
    expect(await page.textContent('#event-detail')).toContain(summary);
    expect(await third.getAttribute('class')).toBe('selected');
    expect(await page.isVisible('#event-detail')).toBe(true);
    expect((await rows()).map((r) => r.summaryLines)).toEqual(before.map(() => 1));
    await page.screenshot({ path: join(SHOTS, `logs-${WIDTH}-detail.png`) });
    await page.click('#event-detail [data-close-detail]');
    await expect.poll(() => page.isVisible('#event-detail')).toBe(false);
    expect(new URL(page.url()).searchParams.has('event')).toBe(false);
    await watch.settled();
    expect(watch.problems).toEqual([]);
    expect(watch.failed).toEqual([]);
  });
});

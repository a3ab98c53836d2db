import type { Page } from 'playwright-core';
import type { SecretScanner } from './secret-scan.js';

/** What a watched browser page saw go wrong, and the secret scans still reading a body. */
export interface PageWatch {
  /** Console errors and warnings, script errors. */
  problems: string[];
  /** Answers of 400 and more: `METHOD /path STATUS`. */
  failed: string[];
  /** Resolves once every answer seen so far has been scanned. */
  settled(): Promise<void>;
}

/** Chromium's switches for a headless run in a container. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Watches a page: accepts its dialogs, lists its console errors and failed
 * loads, and scans every answer it gets for secrets: the headers of every
 * answer (a redirect's Location included) and the body of every answer that has
 * one, whatever its type (pages, JSON, scripts, styles, images).
 */
export function watchPage(page: Page, scanner: SecretScanner, into: PageWatch = { problems: [], failed: [], settled: async () => undefined }): PageWatch {
  const pending: Promise<void>[] = [];
  page.on('dialog', (d) => void d.accept());
  page.on('console', (m) => {
    // A failed load is listed with its URL below; anything else logged (a CSP refusal, a script error) is a problem.
    if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) into.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => into.problems.push(`page: ${e.message}`));
  page.on('response', (r) => {
    const where = `${r.request().method()} ${r.url()}`;
    if (r.status() >= 400) into.failed.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
    pending.push(
      r.allHeaders().then((headers) => scanner.scan(`${where} (headers)`, Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n'))),
    );
    // A redirect has no body to read.
    if (r.status() >= 300 && r.status() < 400) return;
    pending.push(
      r
        .body()
        .then((body) => scanner.scan(where, body.toString('latin1')))
        // A page navigated away before its answer was read: nothing was shown of it.
        .catch(() => undefined),
    );
  });
  const previous = into.settled;
  into.settled = async () => {
    await previous();
    for (;;) {
      const n = pending.length;
      await Promise.allSettled(pending);
      if (pending.length === n) return;
    }
  };
  return into;
}

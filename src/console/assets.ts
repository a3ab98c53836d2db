import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Hono } from 'hono';
import type { ConsoleEnv } from './env.js';
import { CONSOLE_JS } from './static/client.js';
import { CONSOLE_CSS } from './static/style.js';

/** One file served under /assets/, read once at start. */
interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

const require = createRequire(import.meta.url);

/** The vendored libraries, from their packages' own dist folders. */
const VENDOR: Readonly<Record<string, { module: string; contentType: string }>> = {
  'htmx.min.js': { module: 'htmx.org/dist/htmx.min.js', contentType: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { module: 'uplot/dist/uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { module: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
};

function asset(body: string, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

let loaded: ReadonlyMap<string, Asset> | undefined;

/** Every asset by file name; the vendored ones are read from node_modules the first time. */
export function consoleAssets(): ReadonlyMap<string, Asset> {
  if (loaded) return loaded;
  const map = new Map<string, Asset>();
  for (const [name, v] of Object.entries(VENDOR)) map.set(name, asset(readFileSync(require.resolve(v.module), 'utf8'), v.contentType));
  map.set('console.css', asset(CONSOLE_CSS, 'text/css; charset=utf-8'));
  map.set('console.js', asset(CONSOLE_JS, 'text/javascript; charset=utf-8'));
  loaded = map;
  return map;
}

/** Serves /assets/<name>: public, cached for an hour, revalidated by ETag. */
export function mountAssets(app: Hono<ConsoleEnv>): void {
  const assets = consoleAssets();
  app.get('/assets/:name', (c) => {
    const a = assets.get(c.req.param('name'));
    if (!a) return c.text('Not found', 404);
    if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, { ETag: a.etag });
    return c.body(a.body, 200, { 'Content-Type': a.contentType, 'Cache-Control': 'public, max-age=3600', ETag: a.etag });
  });
}

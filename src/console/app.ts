import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { redactSecrets } from '../redact.js';
import { mountApi } from './api.js';
import { mountAssets } from './assets.js';
import { allows, Authenticator, CSRF_FIELD, CSRF_HEADER, LoginThrottle, SESSION_COOKIE, SessionStore, sameSecret, type Session } from './auth.js';
import { ConsoleActionError, parseDuration } from '../engine/index.js';
import type { Actor, ConsoleBackend, Role } from '../engine/index.js';
import { isLoopback, parseListen, type HttpConfig } from '../config/http.js';
import type { ConsoleEnv } from './env.js';
import { errorPage } from './pages/login.js';
import { mountPages } from './page-routes.js';
import { cookieOptions, mountLogout, mountSessionRoutes } from './session-routes.js';

export interface ConsoleAppOptions {
  backend: ConsoleBackend;
  /** The `http` block (listen, auth, openMetrics). */
  http: HttpConfig;
  /** Values never shown (configSecrets of the loaded config): hidden if they slip into an answer. */
  secrets: () => readonly string[];
  /** The daemon's /healthz: status and JSON body. Not served when absent. */
  health?: () => Promise<{ status: number; body: unknown }>;
  /** The daemon's /metrics in the Prometheus text format. Not served when absent. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Told of an error no route handled (the daemon logs it); the browser gets a plain 500. */
  onError?: (err: unknown) => void;
  /** The clock of sessions and pages (tests). */
  now?: () => number;
  /**
   * The role of whoever uses the console on loopback without `http.auth`:
   * `admin` (the default), or `viewer` for a console that only shows (the demo).
   */
  loopbackRole?: Role;
}

/** Methods that change nothing: no Origin check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Secrets shorter than this are not hidden from texts: they would mangle ordinary words, and config validation refuses such tokens anyway. */
const MIN_SECRET_LENGTH = 6;

/**
 * The console: pages, /api/, /assets/, and the daemon's /healthz and
 * /metrics. Strict CSP (scripts and styles from /assets only), secure
 * headers, Origin checks and a per-session CSRF token on every POST (whatever
 * its content type), and no configured secret in any answer.
 */
export function createConsoleApp(options: ConsoleAppOptions): Hono<ConsoleEnv> {
  const { backend, http } = options;
  const now = options.now ?? Date.now;
  const authenticator = new Authenticator(http.auth);
  const sessions = new SessionStore({ ttlMs: parseDuration(http.auth?.sessionTtl ?? '12h') ?? 12 * 3_600_000, now });
  const throttle = new LoginThrottle(now);
  const loopbackOnly = isLoopback(parseListen(http.listen).host);
  const loopbackRole = options.loopbackRole ?? 'admin';
  const secretValues = () =>
    [...options.secrets(), ...(http.auth?.users.map((u) => u.passwordHash) ?? []), ...(http.auth?.apiTokens.map((t) => t.hash) ?? [])].filter(
      (s) => s.length >= MIN_SECRET_LENGTH,
    );
  const app = new Hono<ConsoleEnv>();

  app.onError((err, c) => {
    // An answer a middleware or a body parser decided.
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof ConsoleActionError) {
      const status = err.code === 'NOT_FOUND' ? 404 : 409;
      return isApi(c) ? c.json({ error: err.message }, status) : c.html(errorPage(status === 404 ? 'Not found' : 'Not done', err.message), status);
    }
    options.onError?.(err);
    return isApi(c) ? c.json({ error: 'internal error' }, 500) : c.html(errorPage('Error', 'The console met an internal error; the daemon log says more.'), 500);
  });
  app.notFound((c) => (isApi(c) ? c.json({ error: 'not found' }, 404) : c.html(errorPage('Not found', 'There is no such page.'), 404)));

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      strictTransportSecurity: false,
      xFrameOptions: 'DENY',
      referrerPolicy: 'same-origin',
    }),
  );
  // Last before the answer leaves: a secret that slipped into a text (an error's detail) is hidden.
  app.use(async (c, next) => {
    await next();
    const type = c.res.headers.get('content-type') ?? '';
    if (!/^(text\/html|application\/json|text\/plain)/.test(type)) return;
    const secrets = secretValues();
    if (secrets.length === 0) return;
    const text = await c.res.clone().text();
    const clean = redactSecrets(text, secrets);
    if (clean === text) return;
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    c.res = new Response(clean, { status: c.res.status, headers });
  });
  app.use(async (c, next) => {
    await next();
    if (!c.req.path.startsWith('/assets/')) c.header('Cache-Control', 'no-store');
  });
  // Open on loopback without logins: only loopback host names, so that a page elsewhere cannot rebind its name to 127.0.0.1.
  app.use(async (c, next) => {
    if (!authenticator.required && !isLoopback(new URL(c.req.url).hostname.replace(/^\[(.*)\]$/, '$1'))) return c.text('Forbidden: this console answers only on loopback names', 403);
    await next();
  });
  // A state-changing request must come from this console's pages (its Origin, or else Sec-Fetch-Site, says so), unless it carries a bearer token or no cookie, Origin or Sec-Fetch-Site at all (a script: browsers send Origin on every POST).
  app.use(async (c, next) => {
    if (SAFE_METHODS.has(c.req.method) || /^Bearer\s/i.test(c.req.header('authorization') ?? '')) return next();
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    if (origin === undefined && site === undefined && c.req.header('cookie') === undefined) return next();
    if (site === 'same-origin' || origin === new URL(c.req.url).origin) return next();
    return forbidden(c, origin === undefined ? 'this request did not come from a page of this console (no Origin)' : `requests from ${origin} are not accepted`);
  });

  /** The actor of a bearer token or a session cookie; on loopback without logins, everyone is the local user (an admin unless told otherwise). */
  const identify = (c: Context<ConsoleEnv>): Actor | undefined => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (bearer) return authenticator.bearer(bearer[1]!);
    const session = sessions.get(getCookie(c, SESSION_COOKIE));
    if (session) {
      c.set('session', session);
      return { name: session.user, role: session.role, via: session.via };
    }
    if (authenticator.required) return undefined;
    if (isApi(c) && !getCookie(c, SESSION_COOKIE)) return { name: 'local', role: loopbackRole, via: 'loopback' };
    // A browser on loopback gets a session of its own, for the CSRF token its forms carry.
    const created = sessions.create('local', loopbackRole, 'loopback');
    setCookie(c, SESSION_COOKIE, created.token, cookieOptions(c, sessions.ttlMs));
    c.set('session', created.session);
    return { name: 'local', role: loopbackRole, via: 'loopback' };
  };

  mountAssets(app);
  // Browsers ask for it on every site: no login redirect for it.
  app.get('/favicon.ico', (c) => c.body(null, 204));
  const serveOpen = loopbackOnly || http.openMetrics;
  if (options.health) {
    const health = options.health;
    app.get('/healthz', async (c) => {
      if (!serveOpen && !identify(c)) return unauthorized(c);
      const h = await health();
      return c.json(h.body as object, h.status === 200 ? 200 : 503);
    });
  }
  if (options.metrics) {
    const metrics = options.metrics;
    app.get('/metrics', async (c) => {
      if (!serveOpen && !identify(c)) return unauthorized(c);
      const m = await metrics();
      return c.body(m.body, 200, { 'Content-Type': m.contentType });
    });
  }
  mountSessionRoutes(app, { authenticator, sessions, throttle, now });

  app.use('*', async (c, next) => {
    const actor = identify(c);
    if (!actor) {
      if (isApi(c)) return unauthorized(c);
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`, 302);
    }
    c.set('actor', actor);
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const session = c.get('session');
      if (session && !(await csrfTokenOk(c, session))) return forbidden(c, 'missing or wrong CSRF token: reload the page and try again');
      if (c.req.path !== '/logout' && !allows(actor.role, 'admin')) return forbidden(c, `${actor.name} is a viewer: only an admin may do this`);
    }
    await next();
  });

  mountLogout(app, sessions);
  mountApi(app, backend);
  mountPages(app, { backend, authRequired: authenticator.required, now });
  return app;
}

export function isApi(c: Context): boolean {
  return c.req.path === '/api' || c.req.path.startsWith('/api/');
}

function unauthorized(c: Context<ConsoleEnv>): Response {
  c.header('WWW-Authenticate', 'Bearer realm="scimsync"');
  return c.json({ error: 'log in, or send Authorization: Bearer <token> (http.auth.apiTokens)' }, 401);
}

function forbidden(c: Context<ConsoleEnv>, message: string): Response {
  return isApi(c) ? c.json({ error: message }, 403) : c.html(errorPage('Forbidden', message), 403);
}

/** The session's CSRF token, from the X-CSRF-Token header (htmx, scripts) or the form's _csrf field. */
async function csrfTokenOk(c: Context<ConsoleEnv>, session: Session): Promise<boolean> {
  const header = c.req.header(CSRF_HEADER);
  if (header !== undefined) return sameSecret(header, session.csrf);
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return false;
  const body = await c.req.parseBody();
  const field = body[CSRF_FIELD];
  return typeof field === 'string' && sameSecret(field, session.csrf);
}

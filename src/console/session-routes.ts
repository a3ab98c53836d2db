import { randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE, safeNext, sameSecret, type Authenticator, type LoginThrottle, type SessionStore } from './auth.js';
import type { ConsoleEnv } from './env.js';
import { loginPage } from './pages/login.js';

export interface SessionRoutesOptions {
  authenticator: Authenticator;
  sessions: SessionStore;
  throttle: LoginThrottle;
  now: () => number;
}

/** How long a login form may wait before it is sent. */
const LOGIN_FORM_TTL_MS = 30 * 60_000;

/** GET and POST /login, POST /logout. */
export function mountSessionRoutes(app: Hono<ConsoleEnv>, options: SessionRoutesOptions): void {
  const { authenticator, sessions, throttle } = options;

  const form = (c: Context<ConsoleEnv>, input: { next: string; error?: string; name?: string; status?: 401 | 403 | 429 }) => {
    // The form's token is also set as a cookie: a form posted from another site cannot know it (login CSRF).
    // One token per browser, kept across loads: two tabs (or a favicon's redirect) must not void each other's form.
    const kept = getCookie(c, LOGIN_COOKIE);
    const token = kept && /^[A-Za-z0-9_-]{32}$/.test(kept) ? kept : randomBytes(24).toString('base64url');
    setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, LOGIN_FORM_TTL_MS));
    return c.html(loginPage({ token, next: input.next, error: input.error, name: input.name ?? '' }), input.status ?? 200);
  };

  app.get('/login', (c) => {
    const next = safeNext(c.req.query('next'));
    if (!authenticator.required) return c.redirect(next, 302);
    return form(c, { next });
  });

  app.post('/login', async (c) => {
    if (!authenticator.required) return c.redirect('/', 303);
    const body = await c.req.parseBody();
    const text = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : '');
    const next = safeNext(text('next'));
    const name = text('name').trim();
    const expected = getCookie(c, LOGIN_COOKIE);
    if (!expected || !sameSecret(text(CSRF_FIELD), expected)) return form(c, { next, name, error: 'The login form expired: please log in again.', status: 403 });
    const waitMs = throttle.waitMs(name);
    if (waitMs > 0) return form(c, { next, name, error: `Too many failed logins for this user: try again in ${Math.ceil(waitMs / 60_000)} min.`, status: 429 });
    const user = await authenticator.login(name, text('password'));
    if (!user) {
      throttle.failed(name);
      return form(c, { next, name, error: 'Wrong user or password.', status: 401 });
    }
    throttle.succeeded(name);
    sessions.destroy(getCookie(c, SESSION_COOKIE));
    const { token } = sessions.create(user.user, user.role, 'session');
    deleteCookie(c, LOGIN_COOKIE, { path: '/' });
    setCookie(c, SESSION_COOKIE, token, cookieOptions(c, sessions.ttlMs));
    return c.redirect(next, 303);
  });
}

/** POST /logout, behind the CSRF check like every POST. */
export function mountLogout(app: Hono<ConsoleEnv>, sessions: SessionStore): void {
  app.post('/logout', (c) => {
    sessions.destroy(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });
}

/** HttpOnly, SameSite=Strict, for the whole console; Secure when it is reached over HTTPS (directly or through a proxy). */
export function cookieOptions(c: Context, ttlMs: number) {
  const https = new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
  return { httpOnly: true, sameSite: 'Strict' as const, path: '/', secure: https, maxAge: Math.floor(ttlMs / 1000) };
}

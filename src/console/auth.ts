import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Actor, ProvisionResult, Role } from '../engine/index.js';
import type { HttpAuthConfig } from '../config/http.js';
import { tokenMatches, verifyPassword } from './passwords.js';

/** A console login, kept in memory: a restart logs everyone out. */
export interface Session {
  user: string;
  role: Role;
  via: 'session' | 'loopback';
  /** Sent back with every state-changing request (a form field or the X-CSRF-Token header). */
  csrf: string;
  expiresAt: number;
  /** A message for the next page shown (after an action's redirect). */
  flash: Flash | undefined;
  /** The steps of the last Provision now, shown on that user's page. */
  lastProvision: ProvisionResult | undefined;
}

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export const SESSION_COOKIE = 'scimsync_session';
/** Ties the login form to the browser that loaded it (login CSRF). */
export const LOGIN_COOKIE = 'scimsync_login';
export const CSRF_HEADER = 'X-CSRF-Token';
export const CSRF_FIELD = '_csrf';

const randomToken = () => randomBytes(32).toString('base64url');
/** Sessions are looked up by a digest of the cookie: the map holds nothing that could be replayed. */
const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Whether two texts are equal, in time that depends only on their length. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface SessionStoreOptions {
  ttlMs: number;
  now?: () => number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;
  constructor(private readonly options: SessionStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  /** A new session; the token goes in the cookie and is not kept. */
  create(user: string, role: Role, via: Session['via']): { token: string; session: Session } {
    this.prune();
    const token = randomToken();
    const session: Session = { user, role, via, csrf: randomToken(), expiresAt: this.now() + this.options.ttlMs, flash: undefined, lastProvision: undefined };
    this.sessions.set(digest(token), session);
    return { token, session };
  }

  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const key = digest(token);
    const session = this.sessions.get(key);
    if (session && session.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  destroy(token: string | undefined): void {
    if (token) this.sessions.delete(digest(token));
  }

  private prune(): void {
    const now = this.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
  }
}

/** Failed logins per user name: past MAX_FAILURES in the window, that name waits until the window ends. */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 5 * 60_000;

export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds this name must wait before trying again; 0 when it may try now. */
  waitMs(name: string): number {
    const f = this.failures.get(name.toLowerCase());
    if (!f) return 0;
    const left = f.since + FAILURE_WINDOW_MS - this.now();
    if (left <= 0) {
      this.failures.delete(name.toLowerCase());
      return 0;
    }
    return f.count >= MAX_FAILURES ? left : 0;
  }

  failed(name: string): void {
    const key = name.toLowerCase();
    const f = this.failures.get(key);
    if (!f || f.since + FAILURE_WINDOW_MS <= this.now()) this.failures.set(key, { count: 1, since: this.now() });
    else f.count++;
  }

  succeeded(name: string): void {
    this.failures.delete(name.toLowerCase());
  }
}

/** A scrypt hash checked when the name is unknown, so that a wrong name takes as long as a wrong password. */
const DECOY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** Checks logins and API tokens against `http.auth`. */
export class Authenticator {
  constructor(private readonly auth: HttpAuthConfig | undefined) {}

  /** Whether anyone must log in: `http.auth` lists a user or a token. */
  get required(): boolean {
    return this.auth !== undefined && (this.auth.users.length > 0 || this.auth.apiTokens.length > 0);
  }

  async login(name: string, password: string): Promise<{ user: string; role: Role } | undefined> {
    const user = this.auth?.users.find((u) => u.name === name);
    const ok = await verifyPassword(password, user?.passwordHash ?? DECOY_HASH);
    return user && ok ? { user: user.name, role: user.role } : undefined;
  }

  /** The actor of an `Authorization: Bearer` token; undefined when no configured token matches. */
  bearer(token: string): Actor | undefined {
    let found: Actor | undefined;
    // Every token is compared, so that the time taken does not tell which one came close.
    for (const t of this.auth?.apiTokens ?? []) if (tokenMatches(token, t.hash)) found = { name: t.name, role: t.role, via: 'token' };
    return found;
  }
}

/** Whether `role` may do what `needed` allows. */
export function allows(role: Role, needed: Role): boolean {
  return needed === 'viewer' || role === 'admin';
}

/** A relative path to return to after login; anything else (another site, `//host`) goes to the overview. */
export function safeNext(next: string | undefined): string {
  // eslint-disable-next-line no-control-regex -- a line break in a Location header would end it
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\u0000-\u001f\u007f]/.test(next)) return '/';
  return next;
}

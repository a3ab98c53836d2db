import type { Hono } from 'hono';
import type { ConsoleEnv } from '../../../src/console/env.js';
import type { SecretScanner } from './secret-scan.js';

/** The value of a hidden field in a page. */
export function fieldValue(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no field ${name} in the page`);
  return m[1]!;
}

/**
 * A browser of sorts over `app.request`: it keeps cookies, sends the console's
 * own Origin on POSTs, and scans every answer for secrets.
 */
export class TestBrowser {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly app: Hono<ConsoleEnv>,
    private readonly scanner?: SecretScanner,
    readonly origin = 'http://localhost',
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await this.app.request(`${this.origin}${path}`, { ...init, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...rest] = pair!.split('=');
      const value = rest.join('=');
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    await this.scanner?.response(`${init.method ?? 'GET'} ${path}`, res);
    return res;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, { headers });
  }

  /** A form POST, as a browser sends it from one of the console's pages. */
  post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin, ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Logs in through the login form; returns the POST's answer. */
  async login(name: string, password: string, next = '/'): Promise<Response> {
    const form = await (await this.get(`/login?next=${encodeURIComponent(next)}`)).text();
    return this.post('/login', { _csrf: fieldValue(form, '_csrf'), next, name, password });
  }

  /** The session's CSRF token, read from a page's form. */
  async csrf(): Promise<string> {
    return fieldValue(await (await this.get('/integrations/app')).text(), '_csrf');
  }
}

import type { AuthConfig } from '../core/config-values.js';
import { ScimHttpError } from '../errors.js';

type OAuth2 = Extract<AuthConfig, { type: 'oauth2' }>;

/** What a token endpoint answered: its status and its JSON body, when it had one. */
export interface TokenAnswer {
  status: number;
  body: Record<string, unknown> | undefined;
}

/** Whether an OAuth token still valid may be used, or a new one must be fetched (after a 401). */
export type TokenFreshness = 'cached' | 'renew';

/** A token is fetched again this long before it expires, so that no request carries one about to lapse. */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * The Authorization header of a target's credential: built once for bearer and
 * basic, and for OAuth 2.0 client credentials (RFC 6749 §4.4) a token fetched
 * through `requestToken` and kept until shortly before it expires.
 */
export class AuthHeaders {
  private fixed: string | undefined;
  private token: { value: string; expiresAt: number } | undefined;

  constructor(
    private readonly auth: AuthConfig,
    private readonly requestToken: (form: string, basic: string, tokenUrl: string) => Promise<TokenAnswer>,
  ) {}

  /** A string at once for static credentials, a promise where an OAuth token may be fetched. */
  header(freshness: TokenFreshness): string | Promise<string> {
    const auth = this.auth;
    switch (auth.type) {
      case 'bearer':
        return (this.fixed ??= `Bearer ${auth.token}`);
      case 'basic':
        return (this.fixed ??= `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
      case 'oauth2':
        if (freshness === 'cached' && this.token && this.token.expiresAt > Date.now() + EXPIRY_MARGIN_MS) return `Bearer ${this.token.value}`;
        return this.fetch(auth);
    }
  }

  private async fetch(auth: OAuth2): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`;
    const { status, body } = await this.requestToken(form.toString(), basic, auth.tokenUrl);
    if (status !== 200 || typeof body?.access_token !== 'string') {
      throw new ScimHttpError({ kind: 'fatal', status, method: 'POST', path: 'token endpoint', detail: 'token request refused' });
    }
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    this.token = { value: body.access_token, expiresAt: Date.now() + ttl * 1000 };
    return `Bearer ${this.token.value}`;
  }
}

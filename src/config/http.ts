import { isIP } from 'node:net';
import { z } from 'zod';
import { DAY_MS, parseDuration } from '../core/duration.js';
import { ConfigError } from '../errors.js';

/** Where the daemon and `scimsync console` listen when `http.listen` is not set. */
export const DEFAULT_LISTEN = '127.0.0.1:9464';

const sessionTtl = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) ctx.addIssue({ code: 'custom', message: `expected a duration such as 12h, 30m or 7d, got ${JSON.stringify(text)}` });
  else if (ms < 60_000 || ms > 30 * DAY_MS) ctx.addIssue({ code: 'custom', message: `expected a duration from 1m to 30d, got ${text}` });
});

const roleSchema = z.enum(['viewer', 'admin']);
const name = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'expected 1 to 64 letters, digits, "_", ".", "@" or "-"');

/** `scrypt$N$r$p$salt$hash` from `scimsync console hash-password`. The value is never echoed: it is close to a secret. */
const passwordHash = z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=_-]+\$[A-Za-z0-9+/=_-]+$/, 'expected a hash from scimsync console hash-password (scrypt$...)');

/** `sha256$<64 hex>` of a token (scimsync console hash-password --token prints a token and its hash). */
const tokenHash = z.string().regex(/^sha256\$[0-9a-f]{64}$/, 'expected sha256$ and 64 hex digits (scimsync console hash-password --token prints one)');

export const consoleUserSchema = z.strictObject({ name, passwordHash, role: roleSchema.default('viewer') });
export const apiTokenSchema = z.strictObject({ name, hash: tokenHash, role: roleSchema.default('viewer') });

/**
 * The `http` block: where the daemon serves /healthz, /metrics and the console,
 * and who may use the console. Merged into the main config schema as `http`.
 */
export const httpConfigSchema = z.strictObject({
  /** host:port; a host other than loopback requires `auth`. */
  listen: z.string().default(DEFAULT_LISTEN),
  auth: z
    .strictObject({
      users: z.array(consoleUserSchema).default([]),
      apiTokens: z.array(apiTokenSchema).default([]),
      /** How long a login lasts. */
      sessionTtl: sessionTtl.default('12h'),
    })
    .optional(),
  /** Leave /metrics and /healthz open without auth off loopback too (for a scraper on the network). */
  openMetrics: z.boolean().default(false),
});

export type HttpConfig = z.infer<typeof httpConfigSchema>;
export type HttpAuthConfig = NonNullable<HttpConfig['auth']>;
export type ConsoleUserConfig = z.infer<typeof consoleUserSchema>;
export type ApiTokenConfig = z.infer<typeof apiTokenSchema>;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `:9464` (loopback). ConfigError naming http.listen otherwise. */
export function parseListen(listen: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw new ConfigError(`http.listen ${listen}: expected host:port, e.g. ${DEFAULT_LISTEN}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Whether only this machine can reach an address: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

/** Whether the console has anyone to let in: a user or an API token. */
export function hasAuth(http: HttpConfig): boolean {
  return http.auth !== undefined && (http.auth.users.length > 0 || http.auth.apiTokens.length > 0);
}

/**
 * What the schema cannot see: a console reachable from the network without
 * anyone to log in, and a name used twice. One line naming the key, or
 * undefined when the block is sound (config loading reports it with the file's name).
 */
export function httpConfigProblem(http: HttpConfig): string | undefined {
  let host: string;
  try {
    host = parseListen(http.listen).host;
  } catch {
    return `http.listen ${http.listen}: expected host:port, e.g. ${DEFAULT_LISTEN}`;
  }
  if (!isLoopback(host) && !hasAuth(http)) {
    return `http.listen ${http.listen}: listening beyond loopback requires http.auth with at least one user or API token (scimsync console hash-password makes a password hash)`;
  }
  const seen = new Set<string>();
  for (const [key, list] of [
    ['users', http.auth?.users ?? []],
    ['apiTokens', http.auth?.apiTokens ?? []],
  ] as const) {
    for (const [i, entry] of list.entries()) {
      if (seen.has(entry.name)) return `http.auth.${key}[${i}].name: ${JSON.stringify(entry.name)} is used twice`;
      seen.add(entry.name);
    }
  }
  return undefined;
}

/** httpConfigProblem as a ConfigError (exit 2): the daemon and `scimsync console` refuse to start. */
export function checkHttpConfig(http: HttpConfig): void {
  const problem = httpConfigProblem(http);
  if (problem) throw new ConfigError(problem);
}

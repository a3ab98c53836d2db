/**
 * Values the config's keys share, as zod schemas: bounded numbers, durations, URLs without
 * credentials, SCIM auth. Pure; config and every plug-in's options schema build on them.
 */
import { z } from 'zod';
import { DAY_MS, parseDuration } from './duration.js';

const grouped = (n: number): string => n.toLocaleString('en-US');

interface Bounds {
  min: number;
  max: number;
  /** What the number counts, said in the message: "milliseconds", "bytes". */
  unit?: string;
  /** Said after the bounds, e.g. "(1 hour)". */
  note?: string;
}

/**
 * A number from `min` to `max`, whole unless `fraction` is set. The message says
 * the bounds and the value received: Node clamps a timer past 2^31-1 ms to 1 ms,
 * so an unbounded duration silently becomes a tight loop.
 */
export function bounded(bounds: Bounds, shape: { fraction?: true } = {}) {
  const what = shape.fraction ? 'a number' : 'a whole number';
  const unit = bounds.unit ? ` of ${bounds.unit}` : '';
  const note = bounds.note ? ` ${bounds.note}` : '';
  const expected = `expected ${what}${unit} from ${grouped(bounds.min)} to ${grouped(bounds.max)}${note}`;
  return z.number().superRefine((value, ctx) => {
    if ((!shape.fraction && !Number.isInteger(value)) || value < bounds.min || value > bounds.max) {
      ctx.addIssue({ code: 'custom', message: `${expected}, got ${value}` });
    }
  });
}

/** Milliseconds for a timer: at most an hour, far below what Node's timers can hold. */
export const milliseconds = (min: number, max = 3_600_000) =>
  bounded({ min, max, unit: 'milliseconds', ...(max === 3_600_000 ? { note: '(1 hour)' } : {}) });

/** `40m`, `30s`, `1h`: from 100ms (a busy test daemon) to 30d. */
export const durationText = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 40m, 30s or 1h' });
    return;
  }
  if (ms < 100 || ms > 30 * DAY_MS) ctx.addIssue({ code: 'custom', message: `expected a duration from 100ms to 30d, got ${text}` });
});

/** `URL.parse` is Node 22's. */
function parseUrl(text: string): URL | null {
  return URL.canParse(text) ? new URL(text) : null;
}

/**
 * Userinfo in a URL would be printed, logged and stored with it. A text that does
 * not parse but has an `@` after `scheme://` counts too: a password with a `/` or
 * `#` in it breaks the parse, and the message must still point at auth.
 */
function hasUserinfo(text: string): boolean {
  const scheme = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text);
  if (!scheme) return false;
  if (/^[^/?#\\]*@/.test(text.slice(scheme[0].length))) return true;
  const url = parseUrl(text);
  if (url === null) return text.includes('@', scheme[0].length);
  return url.username !== '' || url.password !== '';
}

interface UrlRule {
  /** Allowed protocols, with their colon: `https:`. */
  protocols: readonly string[];
  /** Where the credentials go instead, for the message. */
  credentials: string;
  example: string;
}

/**
 * A URL of one of `rule.protocols`, without user or password. No message echoes
 * the value: it may hold a password.
 */
export function urlString(rule: UrlRule) {
  const names = rule.protocols.join(' or ');
  return z.string().superRefine((text, ctx) => {
    if (hasUserinfo(text)) {
      ctx.addIssue({ code: 'custom', message: `a user or password in the URL is not allowed (it would be logged); ${rule.credentials}` });
      return;
    }
    const url = parseUrl(text);
    if (url === null) ctx.addIssue({ code: 'custom', message: `expected a URL such as ${rule.example}` });
    // `admin:pw@host` parses with the protocol `admin:`: name the protocol only when no `@` says it may be a user.
    else if (!rule.protocols.includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `expected an ${names} URL${text.includes('@') ? '' : `, not ${url.protocol}`}` });
    }
  });
}

export const httpUrl = (credentials: string) =>
  urlString({ protocols: ['http:', 'https:'], credentials, example: 'https://app.example.com/scim/v2' });

export const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: z.string().min(1) }),
  z.strictObject({
    type: z.literal('oauth2'),
    tokenUrl: httpUrl('put the client credentials in clientId and clientSecret'),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    scope: z.string().optional(),
  }),
]);

export type AuthConfig = z.infer<typeof authSchema>;

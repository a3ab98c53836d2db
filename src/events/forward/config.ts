/**
 * The `events.forward` configuration: one entry per sink. Messages name the
 * rule broken and never echo a value that may hold a secret (a URL, a token).
 */
import { z } from 'zod';

/** A whole number from `min` to `max`; the message says the bounds and the value received. */
export function wholeNumber(min: number, max: number, unit = '') {
  const of = unit ? ` of ${unit}` : '';
  return z.number().superRefine((value, ctx) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number${of} from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${value}` });
    }
  });
}

/** Userinfo (`user:pw@`) in a URL would be printed and stored with it; an unparsable URL with an `@` after `scheme://` counts too. */
export function hasUserinfo(text: string): boolean {
  const scheme = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text);
  if (!scheme) return false;
  if (/^[^/?#\\]*@/.test(text.slice(scheme[0].length))) return true;
  if (!URL.canParse(text)) return text.includes('@', scheme[0].length);
  const url = new URL(text);
  return url.username !== '' || url.password !== '';
}

export interface UrlRule {
  /** With their colon: `https:`. */
  protocols: readonly string[];
  example: string;
  /** Where credentials go instead, said when a URL carries some. */
  credentials: string;
  /** Only `scheme://host[:port]`, no path (syslog). */
  hostOnly?: true;
}

/** A URL of one of `rule.protocols`, without credentials. No message shows the value: a webhook URL is itself a secret. */
export function urlText(rule: UrlRule) {
  const names = rule.protocols.map((p) => `${p.slice(0, -1)}://`).join(' or ');
  return z.string().superRefine((text, ctx) => {
    if (hasUserinfo(text)) {
      ctx.addIssue({ code: 'custom', message: `a user or password in the URL is not allowed (it would be logged); ${rule.credentials}` });
      return;
    }
    const url = URL.canParse(text) ? new URL(text) : undefined;
    if (!url || url.hostname === '') ctx.addIssue({ code: 'custom', message: `expected a URL such as ${rule.example}` });
    else if (!rule.protocols.includes(url.protocol)) ctx.addIssue({ code: 'custom', message: `expected a ${names} URL, not ${url.protocol}//` });
    else if (rule.hostOnly && ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '')) {
      ctx.addIssue({ code: 'custom', message: `expected ${names}host:port with nothing after the port, such as ${rule.example}` });
    }
  });
}

/** The key of a sink's position in state: renaming a sink starts it over from the oldest retained event. */
const sinkName = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected 1 to 64 letters, digits, "-", "_", "." or ":"');

/** An HTTP header name (RFC 9110 token), for the signature. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'expected an HTTP header name such as X-Scimsync-Signature');

const delivery = {
  name: sinkName.optional(),
  /** Bounds one send, connection and answer included. */
  timeoutMs: wholeNumber(100, 300_000, 'milliseconds').default(10_000),
  /** How long a batch that is not full waits for more events. */
  flushMs: wholeNumber(0, 60_000, 'milliseconds').default(1000),
  retry: z
    .strictObject({
      baseDelayMs: wholeNumber(10, 600_000, 'milliseconds').default(500),
      maxDelayMs: wholeNumber(10, 3_600_000, 'milliseconds').default(60_000),
    })
    .default({ baseDelayMs: 500, maxDelayMs: 60_000 }),
};

const tlsOptions = {
  /** A PEM file of the CA that issued the receiver's certificate. */
  caFile: z.string().min(1).optional(),
  /** Leave on: off accepts any certificate, a man in the middle's included. */
  rejectUnauthorized: z.boolean().default(true),
};

export const httpSinkSchema = z.strictObject({
  type: z.literal('http'),
  url: urlText({ protocols: ['http:', 'https:'], example: 'https://siem.example.com/ingest', credentials: 'use auth: { type: bearer, token } or hmac:' }),
  auth: z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }).optional(),
  hmac: z
    .strictObject({
      secret: z.string().min(16, 'expected a secret of at least 16 characters'),
      header: headerName.default('X-Scimsync-Signature'),
    })
    .optional(),
  batchSize: wholeNumber(1, 10_000).default(500),
  ...delivery,
  ...tlsOptions,
});

export const syslogSinkSchema = z.strictObject({
  type: z.literal('syslog'),
  url: urlText({ protocols: ['tcp:', 'tls:'], example: 'tls://siem.example.com:6514', credentials: 'syslog takes no credentials', hostOnly: true }),
  /** 13 is "log audit"; 16-23 are local0-local7. */
  facility: wholeNumber(0, 23).default(13),
  batchSize: wholeNumber(1, 10_000).default(100),
  ...delivery,
  ...tlsOptions,
});

export type HttpSinkConfig = z.infer<typeof httpSinkSchema>;
export type SyslogSinkConfig = z.infer<typeof syslogSinkSchema>;
export type ForwardSinkConfig = HttpSinkConfig | SyslogSinkConfig;

/** The name a sink's position is kept under: its own, or its type and endpoint (no path: it may hold a token). */
export function sinkKey(sink: ForwardSinkConfig): string {
  if (sink.name) return sink.name;
  const url = URL.canParse(sink.url) ? new URL(sink.url) : undefined;
  return `${sink.type}:${url?.host ?? 'unknown'}`;
}

/** https, or http to the loopback interface. */
export function secureOrLoopback(text: string): boolean {
  if (!URL.canParse(text)) return true;
  const url = new URL(text);
  return url.protocol !== 'http:' || url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/** `events.forward`: every sink under a name of its own, since its position in state is kept by name. */
export const forwardSchema = z
  .array(z.discriminatedUnion('type', [httpSinkSchema, syslogSinkSchema]))
  .max(16, 'expected at most 16 sinks')
  .superRefine((sinks, ctx) => {
    const seen = new Map<string, number>();
    sinks.forEach((sink, i) => {
      const key = sinkKey(sink);
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `sinks ${first} and ${i} would both be named ${key}; give one a name: of its own` });
      }
      seen.set(key, i);
      // A bearer token over plain HTTP can be read on the wire, except on this machine's loopback.
      if (sink.type === 'http' && sink.auth && !secureOrLoopback(sink.url)) {
        ctx.addIssue({ code: 'custom', path: [i, 'url'], message: 'a bearer token is only sent over https:// (or http:// to this machine)' });
      }
      if (sink.retry.maxDelayMs < sink.retry.baseDelayMs) {
        ctx.addIssue({ code: 'custom', path: [i, 'retry', 'maxDelayMs'], message: `expected at least retry.baseDelayMs (${sink.retry.baseDelayMs}), got ${sink.retry.maxDelayMs}` });
      }
    });
  });

export type ForwardConfig = z.infer<typeof forwardSchema>;

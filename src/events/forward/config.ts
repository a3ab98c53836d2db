/**
 * The `events.forward` keys every sink shares, and what a sink plug-in is (sinks.ts registers them). Messages name the
 * rule broken and never echo a value that may hold a secret (a URL, a token).
 */
import { z } from 'zod';
import type { ForwardSink } from './forwarder.js';

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

export const delivery = {
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

export const tlsOptions = {
  /** A PEM file of the CA that issued the receiver's certificate. */
  caFile: z.string().min(1).optional(),
  /** Leave on: off accepts any certificate, a man in the middle's included. */
  rejectUnauthorized: z.boolean().default(true),
};

/** A forward sink as the registry (sinks.ts) holds it: its options and its factory. */
export interface SinkPlugin<S extends SinkOptionsSchema = SinkOptionsSchema> {
  /** `type:` of its `events.forward` entries, read from the schema's literal so that the name is written once. */
  readonly type: z.output<S>['type'];
  readonly options: S;
  create(options: z.output<S>, where: SinkPlace): ForwardSink;
  /** A rule across its keys that the schema cannot say: the key at fault and the message. */
  problem?(options: z.output<S>): { key: string; message: string } | undefined;
}

/** The options schema of a sink: an object whose `type` literal names it, with the shared delivery and TLS keys. */
export type SinkOptionsSchema = z.ZodObject<{ type: z.ZodLiteral<string> } & z.ZodRawShape>;

/** What every sink is given besides its options: the key of its position, and its CA file read. */
export interface SinkPlace {
  name: string;
  ca?: Buffer;
}

export function defineSink<S extends SinkOptionsSchema>(plugin: Omit<SinkPlugin<S>, 'type'>): SinkPlugin<S> {
  return { ...plugin, type: plugin.options.shape.type.value as z.output<S>['type'] };
}

/** The name a sink's position is kept under: its own, or its type and endpoint (no path: it may hold a token). */
export function sinkKey(sink: { name?: string | undefined; type: string; url: string }): string {
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

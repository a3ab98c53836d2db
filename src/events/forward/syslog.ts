/**
 * The syslog forward sink: RFC 5424 messages, framed by octet counting
 * (RFC 6587 3.4.1), over TCP or over TLS (RFC 5425) with the server's
 * certificate verified.
 *
 * The at-least-once limit of syslog over TCP: the protocol has no
 * acknowledgement. A batch counts as delivered once the socket has taken it
 * and has not failed; a receiver that dies with bytes still unread in its
 * socket loses them without telling. A receiver that closes its connections
 * (a restart, a graceful stop) is noticed and the batch sent again.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import tls from 'node:tls';
import { z } from 'zod';
import type { EventRecord, EventResult } from '../types.js';
import { defineSink, delivery, tlsOptions, urlText, wholeNumber } from './config.js';
import { ForwardError, describeFailure, type ForwardSink } from './forwarder.js';

/** The private enterprise number in the structured data id `scimsync@32473` (32473 is RFC 5612's number for documentation). */
export const SD_ID = 'scimsync@32473';

/** RFC 5424 severities: a failure is an error, a skip a notice, a success informational. */
const SEVERITY: Record<EventResult, number> = { failure: 3, skipped: 5, success: 6 };

export interface SyslogFormat {
  /** 0-23; 13 is "log audit". @default 13 */
  facility: number;
  /** HOSTNAME: printable ASCII without spaces, at most 255 characters; otherwise `-`. */
  hostname: string;
  procId: string;
  /** A message longer than this, in bytes, has its text cut (RFC 5425 receivers must take 2048 and should take 8192). @default 8192 */
  maxMessageBytes: number;
}

export const defaultSyslogFormat = (): SyslogFormat => ({ facility: 13, hostname: hostname(), procId: String(process.pid), maxMessageBytes: 8192 });

/** An RFC 5424 header field: printable US-ASCII without spaces, bounded, or the NILVALUE `-`. */
function headerField(value: string, max: number): string {
  return value !== '' && value.length <= max && /^[\x21-\x7e]+$/.test(value) ? value : '-';
}

// C0 and C1 controls, DEL and the Unicode line separators: a message must stay on one line.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const oneLine = (text: string) => text.replace(CONTROL, ' ');

/** RFC 5424 6.3.3: `"`, `\` and `]` are escaped with a backslash inside a PARAM-VALUE. */
export function sdValue(value: string): string {
  return oneLine(value).replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** The timestamp of the event, or the NILVALUE when the stored time cannot be read. */
function timestamp(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? '-' : new Date(ms).toISOString();
}

/** Cuts `text` to at most `bytes` UTF-8 bytes without splitting a character. */
function cutUtf8(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  if (buf.length <= bytes) return text;
  let end = Math.max(0, bytes);
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString();
}

/**
 * `<PRI>1 TIMESTAMP HOSTNAME scimsync PROCID type - [scimsync@32473 id=".." integration=".." ...] summary`:
 * one event, one line. MSGID is the event type, so a SIEM filters on it as on the event log's type.
 */
export function syslogMessage(r: EventRecord, format: SyslogFormat): string {
  const pri = format.facility * 8 + SEVERITY[r.result];
  const params: [string, string | null | undefined][] = [
    ['id', String(r.id)],
    ['integration', r.integration],
    ['cycleId', r.cycleId],
    ['result', r.result],
    ['sourceId', r.sourceId],
    ['targetId', r.targetId],
  ];
  const sd = `[${SD_ID}${params
    .filter((p): p is [string, string] => typeof p[1] === 'string' && p[1] !== '')
    .map(([k, v]) => ` ${k}="${sdValue(v)}"`)
    .join('')}]`;
  const head = `<${pri}>1 ${timestamp(r.time)} ${headerField(format.hostname, 255)} scimsync ${headerField(format.procId, 128)} ${headerField(r.type, 32)} ${sd}`;
  const msg = oneLine(r.summary);
  if (msg === '') return head;
  const room = format.maxMessageBytes - Buffer.byteLength(head) - 1;
  return `${head} ${cutUtf8(msg, room)}`;
}

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function frame(message: string): Buffer {
  const body = Buffer.from(message);
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}

/** `events.forward: [{ type: syslog, url: tls://host:port }]`. */
export const syslogSinkPlugin = defineSink({
  options: z.strictObject({
    type: z.literal('syslog'),
    url: urlText({ protocols: ['tcp:', 'tls:'], example: 'tls://siem.example.com:6514', credentials: 'syslog takes no credentials', hostOnly: true }),
    /** 13 is "log audit"; 16-23 are local0-local7. */
    facility: wholeNumber(0, 23).default(13),
    batchSize: wholeNumber(1, 10_000).default(100),
    ...delivery,
    ...tlsOptions,
  }),
  create: (c, { name, ca }) => syslogSink({ name, url: c.url, ...(ca ? { ca } : {}), rejectUnauthorized: c.rejectUnauthorized, format: { facility: c.facility } }),
});

export interface SyslogSinkOptions {
  name: string;
  /** `tcp://host:port` or `tls://host:port` (default ports 514 and 6514). */
  url: string;
  /** A PEM file of the CA that issued the receiver's certificate; the system's CAs otherwise. */
  caFile?: string;
  /** PEM text instead of a file (tests). */
  ca?: string | Buffer;
  /** Verify the receiver's certificate and name. @default true */
  rejectUnauthorized?: boolean;
  format?: Partial<SyslogFormat>;
}

export interface SyslogEndpoint {
  tls: boolean;
  host: string;
  port: number;
}

export function syslogEndpoint(url: string): SyslogEndpoint {
  const u = new URL(url);
  const secure = u.protocol === 'tls:';
  if (!secure && u.protocol !== 'tcp:') throw new Error(`expected a tcp:// or tls:// URL, not ${u.protocol}`);
  // An IPv6 literal comes bracketed from the URL parser; the socket wants it bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { tls: secure, host, port: u.port ? Number(u.port) : secure ? 6514 : 514 };
}

export function syslogSink(options: SyslogSinkOptions): ForwardSink {
  const endpoint = syslogEndpoint(options.url);
  const where = `${endpoint.tls ? 'tls' : 'tcp'}://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  const format = { ...defaultSyslogFormat(), ...options.format };
  const ca = options.ca ?? (options.caFile ? readFileSync(options.caFile) : undefined);
  let socket: net.Socket | undefined;
  /** Why the current socket can no longer be written to, once it cannot. */
  let broken: Error | undefined;

  const fail = (message: string) => new ForwardError(options.name, `${where}: ${message}`);

  function connect(signal: AbortSignal): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = endpoint.tls
        ? tls.connect({
            host: endpoint.host,
            port: endpoint.port,
            // SNI takes a name, never an address.
            ...(net.isIP(endpoint.host) ? {} : { servername: endpoint.host }),
            rejectUnauthorized: options.rejectUnauthorized ?? true,
            minVersion: 'TLSv1.2',
            ...(ca ? { ca } : {}),
          })
        : net.connect({ host: endpoint.host, port: endpoint.port });
      const onAbort = () => {
        s.destroy();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const onError = (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        s.destroy();
        reject(err);
      };
      s.once('error', onError);
      s.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
        signal.removeEventListener('abort', onAbort);
        s.off('error', onError);
        const lost = (why: Error) => {
          if (socket === s) broken ??= why;
        };
        s.on('error', lost);
        // The receiver closing its end (a restart) shows as `end`: nothing written after it would arrive.
        s.on('end', () => lost(new Error('the receiver closed the connection')));
        s.on('close', () => lost(new Error('connection closed')));
        // A syslog receiver sends nothing; whatever it does send is read and dropped.
        s.resume();
        socket = s;
        broken = undefined;
        resolve(s);
      });
    });
  }

  function write(s: net.Socket, payload: Buffer, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        s.destroy();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      s.write(payload, (err) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        // The callback means the bytes reached the kernel; a failure noticed by then means they did not arrive.
        else setImmediate(() => (broken && socket === s ? reject(broken) : resolve()));
      });
    });
  }

  function drop(): void {
    socket?.destroy();
    socket = undefined;
    broken = undefined;
  }

  return {
    name: options.name,
    async send(batch: readonly EventRecord[], signal: AbortSignal): Promise<void> {
      if (socket && (broken || socket.destroyed || !socket.writable)) drop();
      const payload = Buffer.concat(batch.map((r) => frame(syslogMessage(r, format))));
      try {
        const s = socket ?? (await connect(signal));
        await write(s, payload, signal);
      } catch (err) {
        // Whatever failed, this connection is done with: the next send opens a new one.
        drop();
        if (signal.aborted) throw err;
        throw fail(describeFailure(err, []));
      }
    },
    async close(): Promise<void> {
      const s = socket;
      socket = undefined;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => (s.destroy(), resolve()), 1000).unref();
      });
    },
  };
}

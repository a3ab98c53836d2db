/** A notification by SMTP email, sent with nodemailer (loaded at the first message, so a config without email needs no nodemailer). */
import { readFileSync } from 'node:fs';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { z } from 'zod';
import { ConfigError, importOptional } from '../../errors.js';
import { wholeNumber } from '../forward/config.js';
import { defineDestination, destinationId } from './destination.js';
import type { Notification, NotificationKind } from './rules.js';

/** An address as SMTP takes it: `ops@example.com`, nothing that could end a header. */
const address = z.string().regex(/^[^\s@<>,;"]+@[^\s@<>,;"]+$/, 'expected an email address such as ops@example.com');

/** A host name, an IPv4 address or a bare IPv6 address: no scheme, no port, no path. */
const hostName = z
  .string()
  .regex(/^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/, 'expected a host name such as smtp.example.com (the port goes in port:)');

const smtpSchema = z.strictObject({
  host: hostName,
  port: wholeNumber(1, 65_535).optional(),
  /** TLS from the first byte (465); otherwise STARTTLS. */
  secure: z.boolean().default(false),
  /** Refuse a server without STARTTLS; on by default when auth is set and secure is not. */
  requireTLS: z.boolean().optional(),
  auth: z.strictObject({ user: z.string().min(1), password: z.string().min(1) }).optional(),
  caFile: z.string().min(1).optional(),
  rejectUnauthorized: z.boolean().default(true),
});

/** `notify: [{ email: { to, from, smtp } }]`; the SMTP password never appears in a message. */
export const emailDestination = defineDestination({
  options: {
    email: z
      .strictObject({
        to: z.union([address, z.array(address).min(1).max(50)]).transform((to) => (typeof to === 'string' ? [to] : to)),
        from: address,
        smtp: smtpSchema,
      })
      .optional(),
  },
  create(rule, where) {
    if (!rule.email) return undefined;
    const { smtp } = rule.email;
    let ca: Buffer | undefined;
    if (smtp.caFile) {
      try {
        ca = readFileSync(smtp.caFile);
      } catch (err) {
        throw new ConfigError(`${where}.email.smtp.caFile: ${smtp.caFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      }
    }
    const mail = email({
      to: rule.email.to,
      from: rule.email.from,
      timeoutMs: rule.timeoutMs,
      who: `${where}.email`,
      smtp: {
        host: smtp.host,
        secure: smtp.secure,
        rejectUnauthorized: smtp.rejectUnauthorized,
        ...(smtp.port !== undefined ? { port: smtp.port } : {}),
        ...(smtp.requireTLS !== undefined ? { requireTLS: smtp.requireTLS } : {}),
        ...(smtp.auth ? { auth: smtp.auth } : {}),
        ...(ca ? { ca } : {}),
      },
    });
    return {
      id: destinationId('email', `${rule.email.to.join(',')} ${smtp.host}`),
      label: mail.label,
      secrets: smtp.auth ? [smtp.auth.password] : [],
      send: mail.send,
      close: mail.close,
    };
  },
});

type Nodemailer = typeof import('nodemailer');

export interface SmtpOptions {
  host: string;
  /** @default 587, or 465 when `secure` */
  port?: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. @default false */
  secure?: boolean;
  /** Refuse a server that does not offer STARTTLS. @default true when `auth` is set and `secure` is not */
  requireTLS?: boolean;
  auth?: { user: string; password: string };
  /** PEM text of the CA that issued the server's certificate. */
  ca?: string | Buffer;
  /** @default true */
  rejectUnauthorized?: boolean;
}

export interface EmailOptions {
  to: readonly string[];
  from: string;
  smtp: SmtpOptions;
  /** Bounds connecting, the greeting and each exchange with the server. @default 10000 */
  timeoutMs?: number;
  /** Who sends, for the message when nodemailer is not installed. @default 'email notifications' */
  who?: string;
  /** How nodemailer is loaded. @default () => import('nodemailer') */
  loadNodemailer?: () => Promise<Nodemailer>;
}

const TITLES: Record<NotificationKind, string> = {
  quarantineEntered: 'integration quarantined',
  quarantineLifted: 'quarantine lifted',
  held: 'mass deprovision held',
  givenUp: 'operations given up',
  cycleFailed: 'cycle failed',
  sourceShrank: 'source shrank past its guard',
};

export function emailSubject(n: Notification): string {
  return `[scimsync] ${n.integration}: ${TITLES[n.kind]}`;
}

/** The text of the mail: the line, then each fact on a line of its own. */
export function emailBody(n: Notification): string {
  const facts = Object.entries(n)
    .filter(([k]) => k !== 'text')
    .map(([k, v]) => `${k}: ${String(v)}`);
  return `${n.text}\n\n${facts.join('\n')}\n`;
}

export interface Email {
  /** `email to ops@example.com via smtp.example.com:587`. */
  label: string;
  /** Sends `n`; `signal` aborts it and closes its connection (a server that answers a byte at a time outlasts every socket timeout). */
  send(n: Notification, signal: AbortSignal): Promise<void>;
  close(): void;
}

export function email(options: EmailOptions): Email {
  const { smtp } = options;
  const secure = smtp.secure ?? false;
  const port = smtp.port ?? (secure ? 465 : 587);
  const timeout = options.timeoutMs ?? 10_000;
  const transportOptions: SMTPTransport.Options = {
    host: smtp.host,
    port,
    secure,
    requireTLS: smtp.requireTLS ?? (smtp.auth !== undefined && !secure),
    ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.password } } : {}),
    tls: { rejectUnauthorized: smtp.rejectUnauthorized ?? true, ...(smtp.ca ? { ca: smtp.ca } : {}), minVersion: 'TLSv1.2' },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    // Closing destroys the socket: a server that never closes its side (a tarpit) must not hold the process.
    socketCloseTimeout: 0,
    // nodemailer's own logging could print the AUTH exchange.
    logger: false,
    debug: false,
  };
  let transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;
  let closed = false;
  return {
    label: `email to ${options.to.join(', ')} via ${smtp.host}:${port}`,
    async send(n, signal) {
      if (!transport) {
        const nodemailer = await importOptional('nodemailer', options.who ?? 'email notifications', options.loadNodemailer ?? (() => import('nodemailer')));
        // A close while nodemailer loaded: no transport is left open behind it.
        if (closed) throw new Error('closed');
        transport = (nodemailer.default ?? nodemailer).createTransport(transportOptions);
      }
      await transport.sendMail({ from: options.from, to: [...options.to], subject: emailSubject(n), text: emailBody(n), signal });
    },
    close: () => {
      closed = true;
      transport?.close();
    },
  };
}

/** A notification by SMTP email, sent with nodemailer. */
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Notification, NotificationKind } from './rules.js';

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
  const transport = nodemailer.createTransport(transportOptions);
  return {
    label: `email to ${options.to.join(', ')} via ${smtp.host}:${port}`,
    async send(n, signal) {
      await transport.sendMail({ from: options.from, to: [...options.to], subject: emailSubject(n), text: emailBody(n), signal });
    },
    close: () => transport.close(),
  };
}

/**
 * The `notify:` configuration: rules, each with what it is about (`on`) and
 * where it goes (a webhook, an email, or both). The webhook URL, the SMTP
 * password: no message echoes them.
 */
import { z } from 'zod';
import { DAY_MS, parseDuration } from '../../core/duration.js';
import { urlText, wholeNumber } from '../forward/config.js';
import { NOTIFY_ON } from './rules.js';

/** `30m`, `24h`, `7d`, as milliseconds: from one minute to 30 days. */
const repeatAfter = z
  .string()
  .superRefine((text, ctx) => {
    const ms = parseDuration(text) ?? NaN;
    if (!(ms >= 60_000 && ms <= 30 * DAY_MS)) ctx.addIssue({ code: 'custom', message: `expected a duration from 1m to 30d such as 24h, got ${text}` });
  })
  .transform((text) => parseDuration(text)!);

/** An address as SMTP takes it: `ops@example.com`, nothing that could end a header. */
const address = z.string().regex(/^[^\s@<>,;"]+@[^\s@<>,;"]+$/, 'expected an email address such as ops@example.com');

/** A host name, an IPv4 address or a bare IPv6 address: no scheme, no port, no path. */
const hostName = z
  .string()
  .regex(/^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/, 'expected a host name such as smtp.example.com (the port goes in port:)');

export const smtpSchema = z.strictObject({
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

export const notifyRuleSchema = z
  .strictObject({
    on: z.array(z.enum(NOTIFY_ON)).min(1).default([...NOTIFY_ON]),
    webhook: urlText({ protocols: ['http:', 'https:'], example: 'https://hooks.slack.com/services/…', credentials: 'the webhook URL is its own credential' }).optional(),
    /** json: `{ kind, integration, time, text, … }`; slack: `{ text }` escaped for Slack; teams: `{ text }` escaped for Teams' Markdown. */
    format: z.enum(['json', 'slack', 'teams']).default('json'),
    email: z
      .strictObject({
        to: z.union([address, z.array(address).min(1).max(50)]).transform((to) => (typeof to === 'string' ? [to] : to)),
        from: address,
        smtp: smtpSchema,
      })
      .optional(),
    /** A condition still there (a held deprovision, a failing cycle) is told again after this long. */
    repeatAfter: repeatAfter.default(DAY_MS),
    /** Bounds one delivery attempt. */
    timeoutMs: wholeNumber(100, 120_000, 'milliseconds').default(10_000),
  })
  .superRefine((rule, ctx) => {
    if (!rule.webhook && !rule.email) ctx.addIssue({ code: 'custom', message: 'expected webhook:, email: or both' });
  });

export const notifySchema = z.array(notifyRuleSchema).max(32, 'expected at most 32 rules');

export type NotifyRuleConfig = z.infer<typeof notifyRuleSchema>;
export type NotifyConfig = z.infer<typeof notifySchema>;

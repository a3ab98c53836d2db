/**
 * The `notify:` configuration: rules, each with what it is about (`on`) and
 * where it goes (the destinations of destinations.ts, one or several). The webhook
 * URL, the SMTP password: no message echoes them.
 */
import { z } from 'zod';
import { DAY_MS, parseDuration } from '../../core/duration.js';
import { wholeNumber } from '../forward/config.js';
import { DESTINATIONS, destinationKeys } from './destinations.js';
import { NOTIFY_ON } from './rules.js';

/** `webhook:, email: or both`: the keys that name a destination. */
const ONE_OF = `${DESTINATIONS.map((d) => `${d.key}:`).join(', ')} ${DESTINATIONS.length === 2 ? 'or both' : 'or several'}`;

/** `30m`, `24h`, `7d`, as milliseconds: from one minute to 30 days. */
const repeatAfter = z
  .string()
  .superRefine((text, ctx) => {
    const ms = parseDuration(text) ?? NaN;
    if (!(ms >= 60_000 && ms <= 30 * DAY_MS)) ctx.addIssue({ code: 'custom', message: `expected a duration from 1m to 30d such as 24h, got ${text}` });
  })
  .transform((text) => parseDuration(text)!);

export const notifyRuleSchema = z
  .strictObject({
    on: z.array(z.enum(NOTIFY_ON)).min(1).default([...NOTIFY_ON]),
    /** Where it goes: each destination's keys (destinations.ts). */
    ...destinationKeys,
    /** A condition still there (a held deprovision, a failing cycle) is told again after this long. */
    repeatAfter: repeatAfter.default(DAY_MS),
    /** Bounds one delivery attempt. */
    timeoutMs: wholeNumber(100, 120_000, 'milliseconds').default(10_000),
  })
  .superRefine((rule, ctx) => {
    if (!DESTINATIONS.some((d) => (rule as Record<string, unknown>)[d.key] !== undefined)) ctx.addIssue({ code: 'custom', message: `expected ${ONE_OF}` });
  });

export const notifySchema = z.array(notifyRuleSchema).max(32, 'expected at most 32 rules');

export type NotifyRuleConfig = z.infer<typeof notifyRuleSchema>;
export type NotifyConfig = z.infer<typeof notifySchema>;

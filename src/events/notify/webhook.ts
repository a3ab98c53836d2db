/**
 * A notification as a webhook POST: the generic JSON object, or the
 * `{ "text": "…" }` that Slack and Microsoft Teams incoming webhooks accept,
 * escaped as each reads it.
 * The URL of such a webhook is its credential: it is never logged, only its host.
 */
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { urlText } from '../forward/config.js';
import { endpointOf, post } from '../forward/http.js';
import { defineDestination, destinationId } from './destination.js';
import type { Notification } from './rules.js';

/** json: `{ kind, integration, time, text, … }`; slack: `{ text }` escaped for Slack; teams: `{ text }` escaped for Teams' Markdown. */
const webhookFormat = z.enum(['json', 'slack', 'teams']);

/** `notify: [{ webhook: URL, format: json | slack | teams }]`. */
export const webhookDestination = defineDestination({
  options: {
    webhook: urlText({ protocols: ['http:', 'https:'], example: 'https://hooks.slack.com/services/…', credentials: 'the webhook URL is its own credential' }).optional(),
    format: webhookFormat.default('json'),
  },
  create(rule) {
    if (!rule.webhook) return undefined;
    const hook = webhook({ url: rule.webhook, format: rule.format });
    return { id: destinationId('webhook', `${rule.webhook} ${rule.format}`), label: hook.label, secrets: [rule.webhook], send: hook.send, close: hook.close };
  },
});

export type WebhookFormat = z.infer<typeof webhookFormat>;

/**
 * Text as Slack shows it literally: `&`, `<` and `>` are its control characters
 * (api.slack.com/reference/surfaces/formatting#escaping), so a target's or a
 * source's text can neither mention `<!channel>` nor disguise a link as `<url|label>`.
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Text as Teams shows it literally: its cards read Markdown and show HTML as typed
 * (learn.microsoft.com, "Create an Incoming Webhook"), so Markdown's characters are
 * escaped with a backslash: a link cannot be disguised as `[label](url)`.
 */
export function teamsEscape(text: string): string {
  // One line that starts with "scimsync:": only inline Markdown can act (emphasis, code, links, autolinks).
  return text.replace(/[\\`*_[\]<>~]/g, '\\$&');
}

/** The body of a webhook for `n`: JSON values as they are (JSON's own escaping), chat text escaped for its reader. */
export function webhookBody(n: Notification, format: WebhookFormat): Record<string, unknown> {
  switch (format) {
    case 'slack':
      return { text: slackEscape(n.text) };
    case 'teams':
      return { text: teamsEscape(n.text) };
    case 'json':
      return { source: 'scimsync', ...n };
    default: {
      const never: never = format;
      throw new Error(`unknown webhook format ${String(never)}`);
    }
  }
}

export interface WebhookOptions {
  url: string;
  format: WebhookFormat;
}

export interface Webhook {
  /** `webhook https://hooks.slack.com`: where it goes, without the path that holds its token. */
  label: string;
  send(n: Notification, signal: AbortSignal): Promise<void>;
  close(): void;
}

export function webhook(options: WebhookOptions): Webhook {
  const url = new URL(options.url);
  const label = `webhook ${endpointOf(url)}`;
  const agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  return {
    label,
    async send(n, signal) {
      const body = Buffer.from(JSON.stringify(webhookBody(n, options.format)));
      const { status } = await post(url, { headers: { 'content-type': 'application/json', 'user-agent': 'scimsync' }, body, signal, agent });
      if (status < 200 || status > 299) throw new Error(`HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`);
    },
    close: () => agent.destroy(),
  };
}

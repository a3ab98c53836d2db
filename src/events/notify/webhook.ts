/**
 * A notification as a webhook POST: the generic JSON object, or the
 * `{ "text": "…" }` that Slack and Microsoft Teams incoming webhooks accept.
 * The URL of such a webhook is its credential: it is never logged, only its host.
 */
import http from 'node:http';
import https from 'node:https';
import { endpointOf, post } from '../forward/http.js';
import type { Notification } from './rules.js';

export type WebhookFormat = 'json' | 'slack';

/** The body of a webhook for `n`. */
export function webhookBody(n: Notification, format: WebhookFormat): Record<string, unknown> {
  switch (format) {
    case 'slack':
      return { text: n.text };
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

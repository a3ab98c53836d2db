/** The HTTP receiver of test/events/support.ts as a webhook of the notify destination contract (JSON, Slack, Teams). */
import { startHttpReceiver, type HttpReceiver } from '../events/support.js';
import type { NotifyDestinationRunner, NotifyReceiver } from './notify-destination.contract.js';

/** A chat webhook's URL is its credential: the token is in its path. */
const TOKEN = 'XyZsecretPathToken7q';
const hookUrl = (r: HttpReceiver) => `http://127.0.0.1:${r.port}/services/T0001/B0002/${TOKEN}`;

export interface WebhookReceiver extends NotifyReceiver {
  http: HttpReceiver;
}

export interface WebhookKind {
  /** `format:` of the rule. */
  format: string;
  /** What the reader of one request body sees. */
  read(body: string): string;
  literal: NotifyDestinationRunner<WebhookReceiver>['literal'];
}

const answering = (status: number) => ({
  begin: async (r: WebhookReceiver) => void (r.http.status = status),
  end: async (r: WebhookReceiver) => void (r.http.status = 200),
});

export function webhookRunner(kind: WebhookKind): NotifyDestinationRunner<WebhookReceiver> {
  return {
    async start() {
      const http = await startHttpReceiver();
      return {
        http,
        destination: { webhook: hookUrl(http), format: kind.format },
        messages: () => http.requests.map((q) => kind.read(q.body)),
        close: () => http.stop().catch(() => undefined),
      };
    },
    secrets: [TOKEN],
    failures: {
      'is down': { begin: (r) => r.http.stop(), end: (r) => r.http.restart(), error: /ECONNREFUSED/ },
      'answers 503 Service Unavailable': { ...answering(503), error: /HTTP 503/, attempts: (r) => r.http.answered.filter((s) => s === 503).length },
      'answers 404 Not Found (a webhook that was removed)': { ...answering(404), error: /HTTP 404/ },
      'answers with a redirect': { ...answering(302), error: /HTTP 302 \(redirects are not followed\)/ },
    },
    async hanging() {
      const http = await startHttpReceiver();
      http.delayMs = 600_000;
      return { destination: { webhook: hookUrl(http), format: kind.format }, open: () => http.connections(), close: () => http.stop().catch(() => undefined) };
    },
    literal: kind.literal,
  };
}

/** The `text` of a chat webhook's `{ "text": … }`. */
export const chatText = (body: string): string => {
  const parsed = JSON.parse(body) as { text?: unknown };
  return typeof parsed.text === 'string' ? parsed.text : `no text in ${body}`;
};

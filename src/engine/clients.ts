import type { IntegrationConfig } from '../config/schema.js';
import { deliveryLimiter, targetLimiter } from '../delivery/rate.js';
import type { Logger } from '../log.js';
import { ScimClient } from '../scim/client.js';

export interface ClientOptions {
  logger: Logger;
  /** `delivery`: the delivery's queue bounds concurrency, the client keeps the rate; `reads`: the client keeps both. */
  use: 'delivery' | 'reads';
  /** Called when the target answers 429 and the client waits (metrics). */
  onRateLimit?: (() => void) | undefined;
  /** Attempts per request, when not the integration's (test-connection tries fewer). */
  maxAttempts?: number | undefined;
}

/** The SCIM client of an integration's target, with the limiter its use calls for. */
export function clientFor(integration: IntegrationConfig, options: ClientOptions): ScimClient {
  const t = integration.target;
  const { logger, onRateLimit } = options;
  return new ScimClient({
    baseUrl: t.url,
    auth: t.auth,
    timeoutMs: t.timeoutMs,
    maxResponseBytes: t.maxResponseBytes,
    limiter: options.use === 'delivery' ? deliveryLimiter(t.rateLimit) : targetLimiter(t.rateLimit),
    retry: options.maxAttempts !== undefined ? { ...t.retry, maxAttempts: options.maxAttempts } : t.retry,
    onRetry: (r) => {
      if (r.reason === 'HTTP 429') onRateLimit?.();
      logger.debug(`retry ${r.attempt} of ${r.method} ${r.path} in ${r.delayMs} ms (${r.reason})`, { integration: integration.name });
    },
  });
}

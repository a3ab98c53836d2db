import type { TargetFactStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { adaptiveLimiter, type LearnedRate, type RateMemory } from '../delivery/adaptive-rate.js';
import { deliveryLimiter, rateModeOf, targetLimiter, type RateLimitConfig } from '../delivery/rate.js';
import type { Logger } from '../log.js';
import { ScimClient, type Limiter } from '../scim/client.js';

export type { RateMemory } from '../delivery/adaptive-rate.js';

export interface ClientOptions {
  logger: Logger;
  /** `delivery`: the delivery's queue bounds concurrency, the client keeps the rate; `reads`: the client keeps both. */
  use: 'delivery' | 'reads';
  /** Called when the target answers 429 and the client waits (metrics, the cycle's count of waits). */
  onRateLimit?: (() => void) | undefined;
  /** Attempts per request, when not the integration's (test-connection tries fewer). */
  maxAttempts?: number | undefined;
  /** Time one attempt may take, when shorter than the integration's `target.timeoutMs` (discovery reads). */
  timeoutMs?: number | undefined;
  /**
   * Where an adaptive rate (no `requestsPerSecond` configured, or `adaptive: true`)
   * starts from and is saved to when the client closes (`rateMemoryFor`). Without
   * one, an adaptive rate starts afresh.
   */
  rateMemory?: RateMemory | undefined;
}

/** The SCIM client of an integration's target, with the limiter its use calls for. */
export function clientFor(integration: IntegrationConfig, options: ClientOptions): ScimClient {
  const t = integration.target;
  const { logger, onRateLimit } = options;
  return new ScimClient({
    baseUrl: t.url,
    auth: t.auth,
    timeoutMs: options.timeoutMs !== undefined ? Math.min(options.timeoutMs, t.timeoutMs) : t.timeoutMs,
    maxResponseBytes: t.maxResponseBytes,
    limiter: limiterFor(t.rateLimit, t.retry.maxTotalWaitMs, options),
    retry: options.maxAttempts !== undefined ? { ...t.retry, maxAttempts: options.maxAttempts } : t.retry,
    onRetry: (r) => {
      if (r.reason === 'HTTP 429') onRateLimit?.();
      logger.debug(`retry ${r.attempt} of ${r.method} ${r.path} in ${r.delayMs} ms (${r.reason})`, { integration: integration.name });
    },
  });
}

/** `maxPauseMs` bounds every 429 pause as it bounds one request's waits, whatever the rate mode. */
function limiterFor(rateLimit: RateLimitConfig, maxPauseMs: number, options: ClientOptions): Limiter {
  const mode = rateModeOf(rateLimit);
  if (mode.kind === 'adaptive') return adaptiveLimiter({ maxConcurrent: mode.maxConcurrent, maxRate: mode.maxRate, memory: options.rateMemory, maxPauseMs });
  return options.use === 'delivery' ? deliveryLimiter(mode.rateLimit) : targetLimiter(mode.rateLimit);
}

/** The name of the target fact that holds the learned rate. */
export const LEARNED_RATE_FACT = 'adaptive-rate';

/**
 * The learned rate of an integration's target, kept in state as a target fact.
 * A fact that cannot be read is ignored (the rate is found again); a save that
 * fails is logged and the cycle goes on.
 */
export function rateMemoryFor(store: { readonly targetFacts: TargetFactStore }, integration: string, logger?: Logger): RateMemory {
  return {
    load: () => parseLearnedRate(store.targetFacts.get(integration, LEARNED_RATE_FACT)?.value),
    save: (rate) => {
      try {
        store.targetFacts.put(integration, LEARNED_RATE_FACT, JSON.stringify(rate));
      } catch (e) {
        logger?.warn(`could not keep the learned request rate: ${(e as Error).message}`, { integration });
      }
    },
  };
}

function parseLearnedRate(text: string | undefined): LearnedRate | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { requestsPerSecond, ceiling, refused, limitedAt } = value as Record<string, unknown>;
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
  if (!positive(requestsPerSecond)) return undefined;
  if (!positive(ceiling)) return { requestsPerSecond };
  return { requestsPerSecond, ceiling, ...(positive(refused) ? { refused } : {}), ...(positive(limitedAt) ? { limitedAt } : {}) };
}

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CycleRecord, EscrowEntry, Quarantine } from '../../state/index.js';

/** The daemon's Prometheus metrics, in a registry of their own. */
export class Metrics {
  readonly registry = new Registry();
  readonly operations = new Counter({
    name: 'scimsync_operations_total',
    help: 'Provisioning events written, by integration, event type and result',
    labelNames: ['integration', 'type', 'result'] as const,
    registers: [this.registry],
  });
  readonly cycleDuration = new Histogram({
    name: 'scimsync_cycle_duration_seconds',
    help: 'Duration of provisioning cycles',
    labelNames: ['integration', 'outcome'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'scimsync_queue_depth',
    help: 'Operations of the running cycle not yet settled',
    labelNames: ['integration'] as const,
    registers: [this.registry],
  });
  readonly rateLimitWaits = new Counter({
    name: 'scimsync_rate_limit_waits_total',
    help: 'Times the target answered 429 and requests were paused',
    labelNames: ['integration'] as const,
    registers: [this.registry],
  });
  readonly quarantined = new Gauge({
    name: 'scimsync_quarantined',
    help: '1 while the integration is quarantined',
    labelNames: ['integration'] as const,
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'scimsync_last_success_timestamp_seconds',
    help: 'When the last cycle that completed without failures ended (Unix time)',
    labelNames: ['integration'] as const,
    registers: [this.registry],
  });
}

/** What `/healthz` says of one integration. */
export interface IntegrationHealth {
  healthy: boolean;
  /** Why it is unhealthy; null when healthy. */
  reason: string | null;
  lastOutcome: string | null;
  lastCycleEndedAt: string | null;
  quarantinedUntil: string | null;
  /** Failed operations kept for a later cycle, and of those, the ones given up after escrow.maxCycles. */
  escrow: { size: number; givenUp: number };
}

export interface HealthInput {
  /** The last finished cycle, if any. */
  last: CycleRecord | undefined;
  quarantine: Quarantine | undefined;
  escrow: readonly EscrowEntry[];
  now: number;
}

/** The counters of operations that got through (CycleCounts). */
const SUCCESSES = ['created', 'adopted', 'updated', 'deactivated', 'reactivated', 'deleted', 'groupsCreated', 'groupsAdopted', 'groupsUpdated', 'groupsDeleted'];

/**
 * Unhealthy while quarantined, when the last cycle failed or was aborted, or
 * when it had failed operations and not one that got through (a target that
 * refuses every write, though too few to quarantine it).
 */
export function healthOf(input: HealthInput): IntegrationHealth {
  const { last, quarantine, now } = input;
  const quarantined = quarantine !== undefined && Date.parse(quarantine.until) > now;
  const outcome = last?.outcome ?? null;
  const failed = last?.counts.failed ?? 0;
  const succeeded = SUCCESSES.reduce((n, k) => n + (last?.counts[k] ?? 0), 0);
  let reason: string | null = null;
  if (quarantined) reason = `quarantined until ${quarantine.until}: ${quarantine.reason}`;
  else if (outcome === 'failed') reason = 'the last cycle failed (the target refused us or was unreachable)';
  else if (outcome === 'aborted') reason = 'the last cycle was aborted by a safety rule';
  else if (failed > 0 && succeeded === 0) reason = `every operation of the last cycle failed (${failed})`;
  return {
    healthy: reason === null,
    reason,
    lastOutcome: outcome,
    lastCycleEndedAt: last?.endedAt ?? null,
    quarantinedUntil: quarantined ? quarantine.until : null,
    escrow: { size: input.escrow.length, givenUp: input.escrow.filter((e) => e.givenUp).length },
  };
}

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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

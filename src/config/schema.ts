import { profileOptionsSchema } from '../../connectors/profiles/profile.js';
import { PROFILE_NAMES } from '../../connectors/profiles/registry.js';
import { sourceSchema } from '../../connectors/registry.js';
import { SCOPE_OPERATORS } from '../core/scope.js';
import { authSchema, bounded, durationText, httpUrl, milliseconds, type AuthConfig } from '../core/config-values.js';
import { z } from 'zod';
import { forwardSchema } from '../events/forward/sinks.js';
import { notifySchema } from '../events/notify/config.js';
import { httpConfigSchema } from './http.js';

const mappingEntry = z.strictObject({
  from: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  join: z.array(z.string().min(1)).min(1).optional(),
  separator: z.string().optional(),
  expr: z.string().optional(),
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
  apply: z.enum(['always', 'onCreate']).default('always'),
  required: z.boolean().optional(),
  keepOnEmpty: z.boolean().optional(),
  reference: z.literal('user').optional(),
});

const scopeClause = z.array(
  z.strictObject({
    attribute: z.string().min(1),
    op: z.enum(SCOPE_OPERATORS),
    value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()]))]).optional(),
  }),
);

export const integrationSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, "-", "_" or "."'),
  source: sourceSchema,
  target: z.strictObject({
    url: httpUrl('put credentials under auth:'),
    profile: z.enum(PROFILE_NAMES).default(PROFILE_NAMES[0]),
    auth: authSchema,
    rateLimit: z
      .strictObject({
        /** Without it (or with adaptive: true) the rate is found from the target's 429s and kept in state. */
        requestsPerSecond: bounded({ min: 0.01, max: 1_000_000 }, { fraction: true }).optional(),
        maxConcurrent: bounded({ min: 1, max: 1000 }).default(4),
        burst: bounded({ min: 1, max: 100_000 }).optional(),
        /** true: adaptive even with requestsPerSecond (which then bounds it); false: never (10 requests/s without a rate). */
        adaptive: z.boolean().optional(),
      })
      .default({ maxConcurrent: 4 }),
    /** `off`: never SCIM Bulk; `auto`: when /ServiceProviderConfig says bulk.supported and /Bulk takes it. */
    bulk: z.enum(['auto', 'off']).default('auto'),
    /** Operations per Bulk request, instead of the target's declared bulk.maxOperations. */
    bulkMaxOperations: bounded({ min: 2, max: 1000 }).optional(),
    /** Per request. */
    timeoutMs: milliseconds(1).default(60_000),
    /** The cap on one response's size, in bytes; a larger response fails the request. */
    maxResponseBytes: bounded({ min: 1024, max: 1024 ** 3, unit: 'bytes', note: '(1 KiB to 1 GiB)' }).default(8 * 1024 ** 2),
    retry: z
      .strictObject({
        maxAttempts: bounded({ min: 1, max: 100 }).default(5),
        baseDelayMs: milliseconds(0).default(500),
        maxDelayMs: milliseconds(0).default(30_000),
        /** Bounds the waiting of one request, Retry-After included. */
        maxTotalWaitMs: milliseconds(0, 86_400_000).default(300_000),
        /** The target answering every request with 429 this long (10 or more in a row) stops the cycle: a quota spent. */
        maxRefusedMs: milliseconds(1000, 86_400_000).default(60_000),
      })
      .default({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxTotalWaitMs: 300_000, maxRefusedMs: 60_000 }),
    /** Profile options: adjust a profile to what this tenant of the target accepts. */
    options: profileOptionsSchema.optional(),
  }),
  schedule: z
    .union([z.strictObject({ every: durationText }), z.strictObject({ cron: z.string() })])
    .default({ every: '40m' }),
  scope: z
    .strictObject({
      groups: z.array(z.string()).optional(),
      filters: z.array(scopeClause).optional(),
      skipOutOfScopeDeletions: z.boolean().default(false),
    })
    .optional(),
  deprovision: z
    .strictObject({ action: z.enum(['deactivate', 'delete', 'none']).default('deactivate') })
    .default({ action: 'deactivate' }),
  safety: z
    .strictObject({
      maxDeletes: bounded({ min: 0, max: 10_000_000 }).default(50),
      minSourceRatio: bounded({ min: 0, max: 1 }, { fraction: true }).default(0.8),
      /** Hold a cycle that would deprovision more than this percentage of the managed users. */
      maxDeletePercent: bounded({ min: 0, max: 100 }, { fraction: true }).optional(),
    })
    .default({ maxDeletes: 50, minSourceRatio: 0.8 }),
  mappings: z
    .strictObject({
      user: z.record(z.string(), mappingEntry).optional(),
      matching: z.array(z.enum(['userName', 'externalId', 'emails'])).min(1).optional(),
    })
    .default({}),
  groups: z
    .strictObject({
      deprovision: z.enum(['delete', 'none']).default('delete'),
      /** Unset: the profile's limit (100 for most). */
      membersPerRequest: bounded({ min: 1, max: 10_000 }).optional(),
      nested: z.enum(['flatten', 'ignore']).default('flatten'),
      /** Members of a managed group that are accounts scimsync does not manage: kept, or taken out by `reconcile --apply`. */
      foreignMembers: z.enum(['keep', 'remove']).default('keep'),
    })
    .default({ deprovision: 'delete', nested: 'flatten', foreignMembers: 'keep' }),
  /** Failing cycles before an operation is given up. */
  escrow: z.strictObject({ maxCycles: bounded({ min: 1, max: 10_000 }).default(5) }).optional(),
  /** userName or displayName globs of accounts scimsync never modifies or deprovisions (the app's admin, break-glass accounts). */
  protect: z.array(z.string().min(1)).optional(),
});

export const configSchema = z.strictObject({
  state: z.strictObject({ path: z.string().min(1) }).default({ path: './data/scimsync.db' }),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
      format: z.enum(['pretty', 'json']).default('pretty'),
    })
    .default({ level: 'info', format: 'pretty' }),
  integrations: z.array(integrationSchema).min(1),
  events: z
    .strictObject({
      retainDays: bounded({ min: 1, max: 36_500, unit: 'days' }).default(90),
      /** A safety valve on the event table: past it the oldest events are pruned, in bounded batches. */
      maxRows: bounded({ min: 1_000, max: 1_000_000_000 }).optional(),
      /** Sinks every new event is sent to, at least once and in order (src/events/forward/sinks.ts). */
      forward: forwardSchema.default([]),
    })
    .default({ retainDays: 90, forward: [] }),
  /** Who is told of quarantines, held deprovisions, given-up operations, failed cycles and shrunken sources (src/events/notify/config.ts). */
  notify: notifySchema.default([]),
  /** The daemon's and `scimsync console`'s HTTP side: /healthz, /metrics and the console (src/config/http.ts). */
  http: httpConfigSchema.optional(),
  /**
   * On SIGINT/SIGTERM, how long the requests in flight may take to finish before they
   * are cut off (they stay recorded as in flight and are checked at the next cycle).
   */
  shutdown: z.strictObject({ graceMs: bounded({ min: 0, max: 600_000, unit: 'milliseconds' }).default(30_000) }).default({ graceMs: 30_000 }),
});

export type Config = z.infer<typeof configSchema>;
export type IntegrationConfig = z.infer<typeof integrationSchema>;
export type { AuthConfig };
export type SourceConfig = IntegrationConfig['source'];

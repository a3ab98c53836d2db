import { SCOPE_OPERATORS } from '../core/scope.js';
import { DAY_MS, parseDuration } from '../core/duration.js';
import { z } from 'zod';
import { forwardSchema } from '../events/forward/config.js';
import { notifySchema } from '../events/notify/config.js';
import { httpConfigSchema } from './http.js';

const grouped = (n: number): string => n.toLocaleString('en-US');

interface Bounds {
  min: number;
  max: number;
  /** What the number counts, said in the message: "milliseconds", "bytes". */
  unit?: string;
  /** Said after the bounds, e.g. "(1 hour)". */
  note?: string;
}

/**
 * A number from `min` to `max`, whole unless `fraction` is set. The message says
 * the bounds and the value received: Node clamps a timer past 2^31-1 ms to 1 ms,
 * so an unbounded duration silently becomes a tight loop.
 */
function bounded(bounds: Bounds, shape: { fraction?: true } = {}) {
  const what = shape.fraction ? 'a number' : 'a whole number';
  const unit = bounds.unit ? ` of ${bounds.unit}` : '';
  const note = bounds.note ? ` ${bounds.note}` : '';
  const expected = `expected ${what}${unit} from ${grouped(bounds.min)} to ${grouped(bounds.max)}${note}`;
  return z.number().superRefine((value, ctx) => {
    if ((!shape.fraction && !Number.isInteger(value)) || value < bounds.min || value > bounds.max) {
      ctx.addIssue({ code: 'custom', message: `${expected}, got ${value}` });
    }
  });
}

/** Milliseconds for a timer: at most an hour, far below what Node's timers can hold. */
const milliseconds = (min: number, max = 3_600_000) =>
  bounded({ min, max, unit: 'milliseconds', ...(max === 3_600_000 ? { note: '(1 hour)' } : {}) });

/** `40m`, `30s`, `1h`: from 100ms (a busy test daemon) to 30d. */
const duration = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 40m, 30s or 1h' });
    return;
  }
  if (ms < 100 || ms > 30 * DAY_MS) ctx.addIssue({ code: 'custom', message: `expected a duration from 100ms to 30d, got ${text}` });
});

/** `URL.parse` is Node 22's. */
function parseUrl(text: string): URL | null {
  return URL.canParse(text) ? new URL(text) : null;
}

/**
 * Userinfo in a URL would be printed, logged and stored with it. A text that does
 * not parse but has an `@` after `scheme://` counts too: a password with a `/` or
 * `#` in it breaks the parse, and the message must still point at auth.
 */
function hasUserinfo(text: string): boolean {
  const scheme = /^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text);
  if (!scheme) return false;
  if (/^[^/?#\\]*@/.test(text.slice(scheme[0].length))) return true;
  const url = parseUrl(text);
  if (url === null) return text.includes('@', scheme[0].length);
  return url.username !== '' || url.password !== '';
}

interface UrlRule {
  /** Allowed protocols, with their colon: `https:`. */
  protocols: readonly string[];
  /** Where the credentials go instead, for the message. */
  credentials: string;
  example: string;
}

/**
 * A URL of one of `rule.protocols`, without user or password. No message echoes
 * the value: it may hold a password.
 */
function urlString(rule: UrlRule) {
  const names = rule.protocols.join(' or ');
  return z.string().superRefine((text, ctx) => {
    if (hasUserinfo(text)) {
      ctx.addIssue({ code: 'custom', message: `a user or password in the URL is not allowed (it would be logged); ${rule.credentials}` });
      return;
    }
    const url = parseUrl(text);
    if (url === null) ctx.addIssue({ code: 'custom', message: `expected a URL such as ${rule.example}` });
    // `admin:pw@host` parses with the protocol `admin:`: name the protocol only when no `@` says it may be a user.
    else if (!rule.protocols.includes(url.protocol)) {
      ctx.addIssue({ code: 'custom', message: `expected an ${names} URL${text.includes('@') ? '' : `, not ${url.protocol}`}` });
    }
  });
}

const httpUrl = (credentials: string) =>
  urlString({ protocols: ['http:', 'https:'], credentials, example: 'https://app.example.com/scim/v2' });

/** `ldap://host[:port]` or `ldaps://host[:port]`, nothing else. */
const ldapUrl = urlString({ protocols: ['ldap:', 'ldaps:'], credentials: 'use bindDN and bindPassword', example: 'ldaps://dc1.example.com' }).regex(
  /^ldaps?:\/\/[^/\s@]+\/?$/,
  'expected ldap://host[:port] or ldaps://host[:port]',
);

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: z.string().min(1) }),
  z.strictObject({
    type: z.literal('oauth2'),
    tokenUrl: httpUrl('put the client credentials in clientId and clientSecret'),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    scope: z.string().optional(),
  }),
]);

const fileSource = z.strictObject({
  type: z.literal('file'),
  path: z.string().min(1),
  groupsPath: z.string().min(1).optional(),
});

const ldapSource = z.strictObject({
  type: z.literal('ldap'),
  url: ldapUrl,
  startTls: z.boolean().optional(),
  tls: z.strictObject({ caFile: z.string().optional(), rejectUnauthorized: z.boolean().default(true) }).optional(),
  bindDN: z.string().min(1),
  bindPassword: z.string(),
  users: z.strictObject({
    base: z.string().min(1),
    filter: z.string().default('(objectClass=inetOrgPerson)'),
    /** entryUUID (OpenLDAP), objectGUID (Active Directory) or any unique, stable attribute. */
    id: z.string().default('entryUUID'),
  }),
  groups: z
    .strictObject({
      base: z.string().min(1),
      filter: z.string().default('(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))'),
      /** member, uniqueMember, memberUid, or memberOf (read from the users). */
      memberAttribute: z.string().default('member'),
      nameAttribute: z.string().default('cn'),
    })
    .optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  pageSize: bounded({ min: 1, max: 10_000 }).default(500),
  timeoutMs: milliseconds(1).default(30_000),
});

const scimSource = z.strictObject({
  type: z.literal('scim'),
  url: httpUrl('put credentials under auth:'),
  auth: authSchema,
  pageSize: bounded({ min: 1, max: 10_000 }).default(100),
  timeoutMs: milliseconds(1).default(60_000),
});

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
  source: z.discriminatedUnion('type', [fileSource, ldapSource, scimSource]),
  target: z.strictObject({
    url: httpUrl('put credentials under auth:'),
    profile: z.enum(['generic', 'gong', 'strongdm']).default('generic'),
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
    options: z
      .strictObject({
        emailDomains: z.array(z.string().min(1)).optional(),
        membersPerRequest: bounded({ min: 1, max: 10_000 }).optional(),
        multipleOperations: z.boolean().optional(),
        memberRemoval: z.enum(['path', 'value-array', 'replace']).optional(),
        createWithMembers: z.boolean().optional(),
        inactiveMembers: z.enum(['keep', 'remove']).optional(),
        readsMembers: z.boolean().optional(),
        updateVerb: z.enum(['patch', 'put']).optional(),
      })
      .optional(),
  }),
  schedule: z
    .union([z.strictObject({ every: duration }), z.strictObject({ cron: z.string() })])
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
      /** Sinks every new event is sent to, at least once and in order (src/events/forward/config.ts). */
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
export type AuthConfig = z.infer<typeof authSchema>;
export type SourceConfig = IntegrationConfig['source'];

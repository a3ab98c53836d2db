import { SCOPE_OPERATORS } from '../mapping/scope.js';
import { z } from 'zod';

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 40m, 30s or 1h');

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: z.string().min(1) }),
  z.strictObject({
    type: z.literal('oauth2'),
    tokenUrl: z.string().url(),
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
  url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/, 'expected ldap://host[:port] or ldaps://host[:port]'),
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
  pageSize: z.number().int().positive().default(500),
  timeoutMs: z.number().int().positive().default(30_000),
});

const scimSource = z.strictObject({
  type: z.literal('scim'),
  url: z.string().url(),
  auth: authSchema,
  pageSize: z.number().int().positive().default(100),
  timeoutMs: z.number().int().positive().default(60_000),
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
    url: z.string().url(),
    profile: z.enum(['generic', 'gong', 'strongdm']).default('generic'),
    auth: authSchema,
    rateLimit: z
      .strictObject({
        requestsPerSecond: z.number().positive().default(10),
        maxConcurrent: z.number().int().positive().default(4),
        burst: z.number().int().positive().optional(),
      })
      .default({ requestsPerSecond: 10, maxConcurrent: 4 }),
    timeoutMs: z.number().int().positive().default(60_000),
    retry: z
      .strictObject({
        maxAttempts: z.number().int().min(1).default(5),
        baseDelayMs: z.number().int().min(0).default(500),
        maxDelayMs: z.number().int().min(0).default(30_000),
        maxTotalWaitMs: z.number().int().min(0).default(300_000),
      })
      .default({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxTotalWaitMs: 300_000 }),
    /** Profile options: adjust a profile to what this tenant of the target accepts. */
    options: z
      .strictObject({
        emailDomains: z.array(z.string().min(1)).optional(),
        membersPerRequest: z.number().int().positive().optional(),
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
      maxDeletes: z.number().int().min(0).default(50),
      minSourceRatio: z.number().min(0).max(1).default(0.8),
      /** Hold a cycle that would deprovision more than this percentage of the managed users. */
      maxDeletePercent: z.number().min(0).max(100).optional(),
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
      membersPerRequest: z.number().int().positive().optional(),
      nested: z.enum(['flatten', 'ignore']).default('flatten'),
    })
    .default({ deprovision: 'delete', nested: 'flatten' }),
  escrow: z.strictObject({ maxCycles: z.number().int().positive().default(5) }).optional(),
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
  events: z.strictObject({ retainDays: z.number().int().positive().default(90) }).optional(),
  http: z.strictObject({ listen: z.string() }).optional(),
});

export type Config = z.infer<typeof configSchema>;
export type IntegrationConfig = z.infer<typeof integrationSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
export type SourceConfig = IntegrationConfig['source'];

/**
 * The target's schema as cycles, reconcile and rebuild use it: read from the target
 * (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`) at most once a day, kept in
 * state as target facts with the time each was read, and RFC 7643's where the target
 * says nothing or cannot be read. Each endpoint is read on its own, once, with a short
 * deadline; a failed one is remembered and not asked again for an hour.
 */
import { resolveProfile, type ResolvedProfile } from '../../connectors/profiles/index.js';
import type { StateStore, TargetFact } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { checkMappings, parseTargetSchema, RFC_SCHEMA, schemaFromText, schemaToText, type SchemaProblem, type TargetSchema } from '../core/target-schema.js';
import type { Logger } from '../log.js';
import type { ScimClient } from '../scim/client.js';
import { answerData, readDiscovery, type DiscoveryEndpoint, type DiscoveryRead } from '../scim/discovery.js';
import { clientFor } from './clients.js';

export { probeEndpoint, readDiscovery, type EndpointProbe } from '../scim/discovery.js';
export type { SchemaProblem, TargetSchema } from '../core/target-schema.js';

/** The name of the fact the schema is kept under (state/facts.ts). */
export const SCHEMA_FACT = 'schema';
/** The name of the fact the target's `/ServiceProviderConfig` answer is kept under, as JSON (`null`: not published). */
export const SERVICE_PROVIDER_CONFIG_FACT = 'serviceProviderConfig';
/** The name of the fact that remembers the discovery endpoints whose last read failed, and when. */
export const DISCOVERY_FAILURES_FACT = 'discoveryFailures';
/** How long a schema read from the target is used before it is read again. */
export const SCHEMA_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** The deadline of one discovery read, when `target.timeoutMs` is longer: a hung endpoint must not cost a cycle minutes. */
export const DISCOVERY_TIMEOUT_MS = 10_000;
/** How long a discovery endpoint that failed is left alone before it is read again. */
export const DISCOVERY_RETRY_MS = 60 * 60 * 1000;

export interface SchemaOptions {
  integration: IntegrationConfig;
  logger: Logger;
  /** Where the schema is kept between runs; without one it is read every time. */
  store?: StateStore | undefined;
  /** The client to read with; without one, a client for reads (one attempt, the discovery deadline) is made for it and closed. */
  client?: ScimClient | undefined;
  /** `keep`: a schema read is kept in state; `kept-only`: nothing is read or written, the kept schema or RFC 7643's is used (a dry run). @default 'keep' */
  cache?: 'keep' | 'kept-only';
  /** How old a kept schema may be; a failed read is remembered no longer than this either. @default SCHEMA_MAX_AGE_MS */
  maxAgeMs?: number;
  /** Aborted by a shutdown: the reads under way are cut at once, and their failure is not remembered. */
  signal?: AbortSignal | undefined;
  now?: () => Date;
}

/** What a discovery endpoint's last failed read said, and when (the fact DISCOVERY_FAILURES_FACT). */
type DiscoveryFailures = Partial<Record<DiscoveryEndpoint, { error: string; at: string }>>;

function keptFailures(store: StateStore | undefined, integration: string): DiscoveryFailures {
  const text = store?.targetFacts.get(integration, DISCOVERY_FAILURES_FACT)?.value;
  if (text === undefined) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as DiscoveryFailures) : {};
  } catch {
    return {};
  }
}

/** The endpoints of each kept fact: a fact is read again when it is stale or its last read failed. */
const PARTS: readonly { fact: string; endpoints: readonly DiscoveryEndpoint[] }[] = [
  { fact: SCHEMA_FACT, endpoints: ['/Schemas', '/ResourceTypes'] },
  { fact: SERVICE_PROVIDER_CONFIG_FACT, endpoints: ['/ServiceProviderConfig'] },
];

/**
 * The target's schema: the one kept in state while it is fresh, else read now. A read
 * that fails keeps to the schema kept before, however old, or RFC 7643's. Each endpoint
 * is read at most once here (the delivery then uses the `/ServiceProviderConfig` kept,
 * or none: keptServiceProviderConfig); one that failed is not asked again before
 * DISCOVERY_RETRY_MS, so a hung endpoint costs one short deadline an hour, not every cycle.
 */
export async function targetSchema(options: SchemaOptions): Promise<TargetSchema> {
  const { integration, store, logger } = options;
  const name = integration.name;
  const now = options.now ?? (() => new Date());
  const maxAgeMs = options.maxAgeMs ?? SCHEMA_MAX_AGE_MS;
  const ageOf = (iso: string) => now().getTime() - Date.parse(iso);
  const fresh = (fact: TargetFact | undefined) => fact !== undefined && ageOf(fact.learnedAt) >= 0 && ageOf(fact.learnedAt) < maxAgeMs;
  const kept = store?.targetFacts.get(name, SCHEMA_FACT);
  const cached = kept ? schemaFromText(kept.value) : undefined;
  const failures = keptFailures(store, name);
  const retryMs = Math.min(maxAgeMs, DISCOVERY_RETRY_MS);
  const failedLately = (e: DiscoveryEndpoint) => {
    const at = failures[e]?.at;
    return at !== undefined && ageOf(at) >= 0 && ageOf(at) < retryMs;
  };
  const due = PARTS.filter(({ fact, endpoints }) => {
    if (endpoints.some(failedLately)) return false;
    const current = fact === SCHEMA_FACT ? (cached ? kept : undefined) : store?.targetFacts.get(name, fact);
    return !fresh(current) || endpoints.some((e) => failures[e] !== undefined);
  });
  if (due.length === 0 || options.cache === 'kept-only') return cached ?? RFC_SCHEMA;
  const client = options.client ?? clientFor(integration, { logger, use: 'reads', maxAttempts: 1, timeoutMs: DISCOVERY_TIMEOUT_MS });
  // A shutdown cuts the reads of our own client at once; a caller's client is the caller's to stop.
  const stop = () => client.abort();
  if (!options.client) options.signal?.addEventListener('abort', stop, { once: true });
  let read: DiscoveryRead;
  try {
    read = options.signal?.aborted ? {} : await readDiscovery(client, due.flatMap((p) => p.endpoints));
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (!options.client) await client.close();
  }
  const stopped = options.signal?.aborted ?? false;
  const failedNow = new Map<DiscoveryEndpoint, string>();
  for (const [endpoint, answer] of Object.entries(read) as [DiscoveryEndpoint, DiscoveryRead[DiscoveryEndpoint]][]) {
    if (answer?.kind === 'failed') failedNow.set(endpoint, answer.error);
  }
  let schema = cached ?? RFC_SCHEMA;
  const schemas = read['/Schemas'];
  if (schemas && schemas.kind !== 'failed') {
    // /ResourceTypes names the User schema and its extensions; without it every schema published counts.
    schema = parseTargetSchema({ schemas: answerData(schemas), resourceTypes: answerData(read['/ResourceTypes']) });
    store?.targetFacts.put(name, SCHEMA_FACT, schemaToText(schema), now());
    logger.debug(`target schema read (${schema.origin === 'target' ? `${Object.keys(schema.attributes).length} attributes` : 'not published: RFC 7643 assumed'})`, { integration: name });
  } else if (schemas) {
    const fallback = cached ? `the one read at ${kept!.learnedAt}` : "RFC 7643's";
    logger.warn(`the target's schema could not be read (${schemas.error}): using ${fallback}${stopped ? '' : `; read again in ${minutes(retryMs)}`}`, { integration: name });
  }
  const config = read['/ServiceProviderConfig'];
  if (config && config.kind !== 'failed') {
    store?.targetFacts.put(name, SERVICE_PROVIDER_CONFIG_FACT, JSON.stringify(answerData(config) ?? null), now());
  } else if (config) {
    const keptConfig = store?.targetFacts.get(name, SERVICE_PROVIDER_CONFIG_FACT);
    const fallback = keptConfig ? `the answer read at ${keptConfig.learnedAt}` : 'single requests (no Bulk)';
    logger.warn(`the target's Bulk support could not be read (${config.error}): using ${fallback}${stopped ? '' : `; read again in ${minutes(retryMs)}`}`, { integration: name });
  }
  if (store) rememberFailures(store, name, failures, read, stopped ? new Map() : failedNow, now());
  return schema;
}

/** Forgets the failures of the endpoints that answered, and remembers the ones that failed now (not those a shutdown cut). */
function rememberFailures(store: StateStore, integration: string, before: DiscoveryFailures, read: DiscoveryRead, failedNow: ReadonlyMap<DiscoveryEndpoint, string>, now: Date): void {
  const after: DiscoveryFailures = { ...before };
  for (const [endpoint, answer] of Object.entries(read) as [DiscoveryEndpoint, DiscoveryRead[DiscoveryEndpoint]][]) {
    if (answer?.kind !== 'failed') delete after[endpoint];
  }
  for (const [endpoint, error] of failedNow) after[endpoint] = { error, at: now.toISOString() };
  if (JSON.stringify(after) === JSON.stringify(before)) return;
  if (Object.keys(after).length === 0) store.targetFacts.forget(integration, DISCOVERY_FAILURES_FACT);
  else store.targetFacts.put(integration, DISCOVERY_FAILURES_FACT, JSON.stringify(after), now);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/**
 * The target's `/ServiceProviderConfig` answer kept with its schema (null: not published,
 * or its last read failed and nothing was kept: single requests, and no second read this
 * cycle), or undefined when none is kept: the delivery then reads it itself when Bulk could pay.
 */
export function keptServiceProviderConfig(store: StateStore, integration: string): unknown {
  const kept = store.targetFacts.get(integration, SERVICE_PROVIDER_CONFIG_FACT);
  if (!kept) return keptFailures(store, integration)['/ServiceProviderConfig'] !== undefined ? null : undefined;
  try {
    return JSON.parse(kept.value) as unknown;
  } catch {
    return undefined;
  }
}

/** The profile's mappings, with the integration's, checked against the target's schema (core/target-schema.ts). */
export function mappingProblems(profile: ResolvedProfile, schema: TargetSchema): SchemaProblem[] {
  return checkMappings(schema, profile.mapper.entries);
}

/** An integration's mappings checked against the target's schema. */
export function integrationMappingProblems(integration: IntegrationConfig, schema: TargetSchema): SchemaProblem[] {
  return mappingProblems(resolveProfile(integration), schema);
}

/** What test-connection needs of an integration's target profile. */
export interface ProfileHints {
  name: string;
  /** Where the target's SCIM service usually lives. */
  basePath?: string | undefined;
  /** The target answers a lookup that finds nothing with 404. */
  notFoundMeansNoMatch: boolean;
}

export function profileHints(integration: IntegrationConfig): ProfileHints {
  const p = resolveProfile(integration);
  return { name: p.name, basePath: p.basePath, notFoundMeansNoMatch: p.notFoundMeansNoMatch ?? false };
}

/** One line per problem: `mappings.user.title: the target's schema has no attribute title (GET /Schemas)`. */
export function problemLine(p: SchemaProblem): string {
  return `${p.key}: ${p.message}`;
}

/** Logs the mapping problems: an error for a required mismatch, a warning for the others. */
export function logMappingProblems(problems: readonly SchemaProblem[], logger: Logger, integration: string): void {
  for (const p of problems) {
    if (p.severity === 'error') logger.error(problemLine(p), { integration });
    else logger.warn(problemLine(p), { integration });
  }
}

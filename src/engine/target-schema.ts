/**
 * The target's schema as cycles, reconcile and rebuild use it: read from the target
 * (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`) at most once a day, kept in
 * state as a target fact with the time it was read, and RFC 7643's where the target
 * says nothing or cannot be read.
 */
import { resolveProfile, type ResolvedProfile } from '../../connectors/profiles/index.js';
import type { StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { checkMappings, parseTargetSchema, RFC_SCHEMA, schemaFromText, schemaToText, type SchemaProblem, type TargetSchema } from '../core/target-schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ScimClient } from '../scim/client.js';
import { readDiscovery } from '../scim/discovery.js';
import { clientFor } from './clients.js';

export { probeEndpoint, readDiscovery, type EndpointProbe } from '../scim/discovery.js';
export type { SchemaProblem, TargetSchema } from '../core/target-schema.js';

/** The name of the fact the schema is kept under (state/facts.ts). */
export const SCHEMA_FACT = 'schema';
/** The name of the fact the target's `/ServiceProviderConfig` answer is kept under, as JSON (`null`: not published). */
export const SERVICE_PROVIDER_CONFIG_FACT = 'serviceProviderConfig';
/** How long a schema read from the target is used before it is read again. */
export const SCHEMA_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export interface SchemaOptions {
  integration: IntegrationConfig;
  logger: Logger;
  /** Where the schema is kept between runs; without one it is read every time. */
  store?: StateStore | undefined;
  /** The client to read with; without one, a client for reads is made for it and closed. */
  client?: ScimClient | undefined;
  /** `keep`: a schema read is kept in state; `kept-only`: nothing is read or written, the kept schema or RFC 7643's is used (a dry run). @default 'keep' */
  cache?: 'keep' | 'kept-only';
  /** How old a kept schema may be. @default SCHEMA_MAX_AGE_MS */
  maxAgeMs?: number;
  now?: () => Date;
}

/**
 * The target's schema: the one kept in state while it is fresh, else read now. A read
 * that fails keeps to the schema kept before, however old, or RFC 7643's.
 */
export async function targetSchema(options: SchemaOptions): Promise<TargetSchema> {
  const { integration, store, logger } = options;
  const name = integration.name;
  const now = options.now ?? (() => new Date());
  const kept = store?.targetFacts.get(name, SCHEMA_FACT);
  const cached = kept ? schemaFromText(kept.value) : undefined;
  const age = kept ? now().getTime() - Date.parse(kept.learnedAt) : Number.POSITIVE_INFINITY;
  if (cached && age >= 0 && age < (options.maxAgeMs ?? SCHEMA_MAX_AGE_MS)) return cached;
  if (options.cache === 'kept-only') return cached ?? RFC_SCHEMA;
  const client = options.client ?? clientFor(integration, { logger, use: 'reads', maxAttempts: 1 });
  try {
    const read = await readDiscovery(client);
    const schema = parseTargetSchema({ schemas: read.schemas, resourceTypes: read.resourceTypes });
    if (store) {
      store.targetFacts.put(name, SCHEMA_FACT, schemaToText(schema), now());
      store.targetFacts.put(name, SERVICE_PROVIDER_CONFIG_FACT, JSON.stringify(read.serviceProviderConfig ?? null), now());
    }
    logger.debug(`target schema read (${schema.origin === 'target' ? `${Object.keys(schema.attributes).length} attributes` : 'not published: RFC 7643 assumed'})`, { integration: name });
    return schema;
  } catch (err) {
    const fallback = cached ? `the one read at ${kept!.learnedAt}` : "RFC 7643's";
    logger.warn(`the target's schema could not be read (${errorMessage(err)}): using ${fallback}`, { integration: name });
    return cached ?? RFC_SCHEMA;
  } finally {
    if (!options.client) await client.close();
  }
}

/**
 * The target's `/ServiceProviderConfig` answer kept with its schema (null: not published),
 * or undefined when none is kept: the delivery then reads it itself when Bulk could pay.
 */
export function keptServiceProviderConfig(store: StateStore, integration: string): unknown {
  const kept = store.targetFacts.get(integration, SERVICE_PROVIDER_CONFIG_FACT);
  if (!kept) return undefined;
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

import { randomUUID } from 'node:crypto';
import type { IntegrationConfig } from '../config/schema.js';
import { loadConnected, probeFilterCase } from '../engine/index.js';
import type { EndpointProbe, FilterCaseProbe, ProfileHints } from '../engine/index.js';
import { ScimHttpError, errorMessage, type ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { openContext, selectIntegrations, type Io } from './context.js';

export interface TestConnectionOptions {
  config?: string;
  integration?: string;
}

interface Supported {
  supported?: unknown;
  maxOperations?: unknown;
  maxPayloadSize?: unknown;
  maxResults?: unknown;
}

const yes = (v: Supported | undefined) => (v?.supported === true || v?.supported === 'true' ? 'yes' : v ? 'no' : 'not said');

function problem(err: unknown, url: string): string {
  if (err instanceof ScimHttpError) {
    if (err.status === 401 || err.status === 403) return `the target refused the credentials (HTTP ${err.status}${err.detail ? `: ${err.detail}` : ''})`;
    if (err.status === undefined) return `cannot reach ${url}: ${err.detail ?? 'network error'}`;
    return `HTTP ${err.status} at ${err.method} ${err.path}${err.scimType ? ` (${err.scimType})` : ''}${err.detail ? `: ${err.detail}` : ''}`;
  }
  return errorMessage(err);
}

/** Why an endpoint probe says the resource endpoint is not there, or undefined when it is. */
function missing(type: 'Users' | 'Groups', probe: EndpointProbe, profile: ProfileHints): string | undefined {
  const hint = profile.basePath ? ` (this target's SCIM service usually lives under ${profile.basePath})` : '';
  if (probe.kind === 'missing') return `GET /${type}: HTTP ${probe.status}: the endpoint does not exist; check target.url${hint}`;
  if (probe.kind === 'not-scim') return `GET /${type}: HTTP ${probe.status}, ${probe.detail}: this is not a SCIM endpoint; check target.url${hint}`;
  return undefined;
}

/** Whether the filter honours `caseExact: false` on userName, told from an existing account looked up in another case. */
function reportFilterCase(probe: FilterCaseProbe, io: Io): void {
  switch (probe.kind) {
    case 'untested':
      io.out(`  lookup by userName in another case: not tried (${probe.reason})`);
      return;
    case 'ignores-case':
      io.out(`  lookup by userName in another case: ${probe.asked} finds ${probe.userName} (the filter ignores case, as caseExact: false asks)`);
      return;
    case 'keeps-case':
      if (probe.caseExact) io.out(`  lookup by userName in another case: ${probe.asked} does not find ${probe.userName} (userName is caseExact in the target's schema)`);
      else {
        io.out(
          `  warning: the filter keeps case: userName eq "${probe.asked}" does not find ${probe.userName}, though userName is caseExact: false; ` +
            `a source userName in another case than its account's is found only after its create answers 409, by lookups in other cases and a read of every account, so the first run reads more`,
        );
      }
      return;
  }
}

/** One integration: each check on its line; true when nothing is wrong. */
async function testOne(integration: IntegrationConfig, store: ReturnType<typeof openContext>['store'], logger: Logger, io: Io): Promise<boolean> {
  const url = integration.target.url;
  const { bulkUseLine, clientFor, integrationMappingProblems, probeEndpoint, problemLine, profileHints, targetSchema } = await loadConnected();
  const profile = profileHints(integration);
  const client = clientFor(integration, { logger, use: 'reads', maxAttempts: 2 });
  io.out(`[integration ${integration.name}] ${url}`);
  let ok = true;
  const fail = (message: string) => {
    io.out(`  problem: ${message}`);
    ok = false;
  };
  try {
    let config: Record<string, Supported> | undefined;
    try {
      const res = await client.request<Record<string, Supported>>('GET', '/ServiceProviderConfig');
      config = res.data;
    } catch (err) {
      if (!(err instanceof ScimHttpError && (err.kind === 'not-found' || err.kind === 'bad-request'))) throw err;
      io.out('  /ServiceProviderConfig: not published (HTTP ' + String(err.status) + '); assuming RFC 7644 defaults');
    }
    if (config) {
      io.out(`  PATCH: ${yes(config.patch)}`);
      io.out(`  bulk: ${yes(config.bulk)}${config.bulk?.maxOperations ? ` (max ${String(config.bulk.maxOperations)} operations)` : ''}`);
      io.out(`  ${bulkUseLine(integration, store, config, new Date())}`);
      io.out(`  filter: ${yes(config.filter)}${config.filter?.maxResults ? ` (max ${String(config.filter.maxResults)} results)` : ''}`);
      io.out(`  ETag: ${yes(config.etag)}`);
      io.out(`  sort: ${yes(config.sort)}`);
      if (config.patch && yes(config.patch) === 'no') io.out('  problem: the target says it does not support PATCH; updates will fail');
    }

    // A wrong base URL answers 404 everywhere: a list read of the endpoint itself tells it from "no match".
    const users = await probeEndpoint(client, 'Users');
    const usersMissing = missing('Users', users, profile);
    if (usersMissing) fail(usersMissing);
    else if (users.kind === 'list') io.out(`  /Users: a SCIM ListResponse${users.totalResults !== undefined ? ` (${users.totalResults} accounts)` : ''}`);
    const groups = await probeEndpoint(client, 'Groups');
    const groupsMissing = missing('Groups', groups, profile);
    if (groupsMissing) fail(groupsMissing);
    else if (groups.kind === 'list') io.out(`  /Groups: a SCIM ListResponse${groups.totalResults !== undefined ? ` (${groups.totalResults} groups)` : ''}`);

    if (!usersMissing) {
      const probe = `scimsync-test-connection-${randomUUID()}@invalid`;
      const found = await probeEndpoint(client, 'Users', { attribute: 'userName', value: probe });
      if (found.kind === 'list') {
        io.out(`  lookup by userName: works (${found.resources} matches for a name that should not exist)`);
        if (found.resources > 0) io.out('  problem: the target ignores the filter and returns users anyway');
      } else if (found.kind === 'missing' && profile.notFoundMeansNoMatch) {
        io.out(`  lookup by userName: works (HTTP 404 for no match, as the ${profile.name} profile expects)`);
      } else if (found.kind === 'missing') {
        fail(`GET /Users?filter=userName eq "…": HTTP 404 for a lookup that finds nothing, where /Users itself answers: the target answers "no match" with 404, which the ${profile.name} profile does not expect`);
      } else {
        fail(`GET /Users?filter=userName eq "…": HTTP ${found.status}, ${found.detail}`);
      }

      // The mappings against the schema the target publishes (read now, and kept for the cycles).
      const schema = await targetSchema({ integration, logger, store, client, maxAgeMs: 0 });
      if (schema.origin === 'rfc') io.out('  schema: not published (/Schemas); RFC 7643 assumed');
      else io.out(`  schema: ${Object.keys(schema.attributes).length} User attributes read from /Schemas`);
      for (const p of integrationMappingProblems(integration, schema)) {
        if (p.severity === 'error') fail(problemLine(p));
        else io.out(`  warning: ${problemLine(p)}`);
      }
      if (found.kind === 'list' ? found.resources === 0 : found.kind === 'missing' && profile.notFoundMeansNoMatch) reportFilterCase(await probeFilterCase(client, schema), io);
    }
    if (ok) io.out('  OK');
  } catch (err) {
    fail(problem(err, url));
  } finally {
    await client.close();
  }
  return ok;
}

/** `scimsync test-connection`: authenticate, read what the target supports, check its endpoints and schema, try one harmless lookup. */
export async function testConnectionCommand(options: TestConnectionOptions, io: Io): Promise<ExitCode> {
  const ctx = openContext(options.config, io, { log: 'silent' });
  let exit: ExitCode = 0;
  try {
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      if (!(await testOne(integration, ctx.store, ctx.logger, io))) exit = 1;
    }
  } finally {
    ctx.store.close();
  }
  return exit;
}

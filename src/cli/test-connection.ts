import { randomUUID } from 'node:crypto';
import { clientFor } from '../engine/cycle.js';
import { ScimHttpError, errorMessage, type ExitCode } from '../errors.js';
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

/** `scimsync test-connection`: authenticate, read what the target supports, try one harmless lookup. */
export async function testConnectionCommand(options: TestConnectionOptions, io: Io): Promise<ExitCode> {
  const ctx = openContext(options.config, io, true);
  let exit: ExitCode = 0;
  try {
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      const url = integration.target.url;
      const client = clientFor(integration, { logger: ctx.logger, use: 'reads', maxAttempts: 2 });
      io.out(`[integration ${integration.name}] ${url}`);
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
          io.out(`  filter: ${yes(config.filter)}${config.filter?.maxResults ? ` (max ${String(config.filter.maxResults)} results)` : ''}`);
          io.out(`  ETag: ${yes(config.etag)}`);
          io.out(`  sort: ${yes(config.sort)}`);
          if (config.patch && yes(config.patch) === 'no') io.out('  problem: the target says it does not support PATCH; updates will fail');
        }
        const probe = `scimsync-test-connection-${randomUUID()}@invalid`;
        const found = await client.findUsers('userName', probe);
        io.out(`  lookup by userName: works (${found.resources.length} matches for a name that should not exist)`);
        if (found.resources.length > 0) io.out('  problem: the target ignores the filter and returns users anyway');
        io.out('  OK');
      } catch (err) {
        io.out(`  problem: ${problem(err, url)}`);
        exit = 1;
      } finally {
        await client.close();
      }
    }
  } finally {
    ctx.store.close();
  }
  return exit;
}

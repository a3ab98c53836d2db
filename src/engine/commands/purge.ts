import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../errors.js';
import { recordAdminAction } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { PurgeResult } from '../../../state/index.js';
import { leaseOwner, withLease } from '../lease.js';
import { openState } from '../state-access.js';
import { leaseFor, type LeaseWait } from './lease-wait.js';

export type { PurgeResult } from '../../../state/index.js';

/**
 * Drops the state of an integration that was removed from the config (objects,
 * memberships, escrow), keeping its audit events, and writes `idm_integration_delete`.
 * Accounts in the app are not touched. One still configured, or unknown to the state: a ConfigError.
 * It holds the integration's lease, as every writer of it does (a daemon with an older config may still run it).
 */
export async function purgeRemovedIntegration(config: Config, logger: Logger, name: string, wait: LeaseWait = {}): Promise<PurgeResult> {
  if (config.integrations.some((i) => i.name === name)) {
    throw new ConfigError(`state purge ${name}: the integration is still configured; remove it from the config first`);
  }
  const store = openState(config);
  try {
    const known = store.knownIntegrations();
    if (!known.includes(name)) {
      throw new ConfigError(`state purge ${name}: the state holds no integration of that name (it has: ${known.join(', ') || 'none'})`);
    }
    return await withLease(leaseFor(store, name, leaseOwner(), wait), async () => {
      const result = store.purgeIntegration(name);
      recordAdminAction(
        { integration: name, logger, store },
        {
          type: 'idm_integration_delete',
          result: 'success',
          summary: `integration ${name} removed: its state (${result.objects} objects) was purged; accounts in the app were not touched`,
          detail: { objects: result.objects },
        },
      );
      return result;
    });
  } finally {
    store.close();
  }
}

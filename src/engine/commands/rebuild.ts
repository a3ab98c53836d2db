import { resolveProfile } from '../../../connectors/profiles/index.js';
import type { Config, IntegrationConfig } from '../../config/schema.js';
import { recordAdminAction } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { StateStore } from '../../../state/index.js';
import { clientFor } from '../clients.js';
import { leaseOwner, withLease } from '../lease.js';
import { rebuildState, type RebuildResult } from '../rebuild.js';
import { loadDesired, readTarget, type TargetInventory } from '../reconcile.js';
import { openState } from '../state-access.js';
import { leaseFor, type LeaseWait } from './lease-wait.js';

export { rebuildSummary, type RebuildResult } from '../rebuild.js';

export interface RebuildOptions extends LeaseWait {
  config: Config;
  logger: Logger;
  integration: IntegrationConfig;
}

async function rebuildOne(integration: IntegrationConfig, store: StateStore, logger: Logger): Promise<RebuildResult> {
  const name = integration.name;
  const profile = resolveProfile(integration);
  const desired = await loadDesired(integration, profile, { store, logger });
  const names = new Set(desired.groups.map((g) => g.displayName.toLowerCase()));
  const ids = new Set(desired.groups.map((g) => g.sourceId));
  const client = clientFor(integration, { logger, use: 'reads' });
  let target: TargetInventory;
  try {
    target = await readTarget(client, profile, (g) => names.has(String(g.displayName ?? '').toLowerCase()) || ids.has(String(g.externalId ?? '')));
  } finally {
    await client.close();
  }
  const r = rebuildState(store, integration, desired, target, profile.matching);
  recordAdminAction(
    { integration: name, logger, store },
    {
      type: 'idm_integration_update',
      result: 'success',
      summary: `state rebuilt from the target: ${r.users} users, ${r.groups} groups, ${r.memberships} memberships linked; nothing sent`,
      detail: { rebuild: r },
    },
  );
  return r;
}

/**
 * Rebuilds an integration's state from the target and the source with reads only,
 * holding its lease (it rewrites the integration's state: not while a cycle writes it).
 */
export async function rebuildIntegrationState(options: RebuildOptions): Promise<RebuildResult> {
  const { integration, logger } = options;
  const store = openState(options.config);
  try {
    return await withLease(leaseFor(store, integration.name, leaseOwner(), options), () => rebuildOne(integration, store, logger));
  } finally {
    store.close();
  }
}

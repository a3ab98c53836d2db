import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import { ConfigError, type ExitCode } from '../errors.js';
import { StateStore } from '../../state/store.js';
import type { Io } from './context.js';

export interface PurgeOptions {
  config?: string;
}

/**
 * `scimsync state purge NAME`: drops the state of an integration that was
 * removed from the config (objects, memberships, escrow), keeping its audit
 * events, and writes `idm_integration_delete`. Accounts in the app are not touched.
 */
export function purgeCommand(name: string, options: PurgeOptions, io: Io): ExitCode {
  const { config } = loadConfig(options.config, io.env);
  if (config.integrations.some((i) => i.name === name)) {
    throw new ConfigError(`state purge ${name}: the integration is still configured; remove it from the config first`);
  }
  const store = StateStore.open(config.state.path);
  try {
    if (!store.knownIntegrations().includes(name)) {
      throw new ConfigError(`state purge ${name}: the state holds no integration of that name (it has: ${store.knownIntegrations().join(', ') || 'none'})`);
    }
    const { objects } = store.purgeIntegration(name);
    store.insertEvent({
      time: new Date().toISOString(),
      integration: name,
      cycleId: randomUUID(),
      type: 'idm_integration_delete',
      result: 'success',
      summary: `integration ${name} removed: its state (${objects} objects) was purged; accounts in the app were not touched`,
      detail: { objects },
    });
    io.out(`[integration ${name}] state purged (${objects} objects); its events are kept`);
    return 0;
  } finally {
    store.close();
  }
}

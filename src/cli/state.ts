import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import { ConfigError, UsageError, type ExitCode } from '../errors.js';
import { isUserRef } from '../core/attributes.js';
import { openStateStore } from '../../state/index.js';
import { openContext, type Io } from './context.js';

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
  const store = openStateStore(config.state.path);
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

export interface ShowOptions {
  config?: string;
  integration?: string;
  json?: boolean;
}

/** `scimsync state show USER|GROUP`: what state holds for one object (by source id, target id, userName or displayName). */
export function showCommand(key: string, options: ShowOptions, io: Io): ExitCode {
  const ctx = openContext(options.config, io, true);
  try {
    const found = ctx.store.findObjects(options.integration, key);
    if (found.length === 0) {
      throw new UsageError(`state show ${key}: no user or group with this source id, target id, userName or displayName${options.integration ? ` in integration ${options.integration}` : ''}`);
    }
    for (const o of found) {
      if (options.json) {
        io.out(JSON.stringify(o));
        continue;
      }
      io.out(`[integration ${o.integration}] ${o.kind} ${o.sourceId}`);
      io.out(`  target id: ${o.targetId ?? '(none)'}`);
      io.out(`  status:    ${o.status}`);
      io.out(`  first:     ${o.createdAt}`);
      io.out(`  changed:   ${o.updatedAt}`);
      io.out(o.kind === 'user' ? '  last pushed:' : '  attributes:');
      for (const [path, v] of Object.entries(o.attrs)) io.out(`    ${path}: ${isUserRef(v) ? `<user ${v.userRef}>` : JSON.stringify(v)}`);
      if (o.groups) io.out(`  groups (${o.groups.length}): ${o.groups.join(', ') || '-'}`);
      if (o.members) {
        const shown = o.members.slice(0, 50);
        io.out(`  members (${o.members.length}): ${shown.join(', ') || '-'}${o.members.length > shown.length ? ', ...' : ''}`);
      }
      for (const e of o.escrow) {
        io.out(`  failing: ${e.kind} for ${e.cycles} cycles${e.givenUp ? ' (given up)' : ''}: ${e.lastError}`);
      }
    }
    return 0;
  } finally {
    ctx.store.close();
  }
}

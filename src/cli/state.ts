import { findStoredObjects, parseWait, purgeRemovedIntegration, valueJson } from '../engine/index.js';
import type { StoredObject } from '../engine/index.js';
import { UsageError, type ExitCode } from '../errors.js';
import { commandConfig, type Io } from './context.js';

export interface PurgeOptions {
  config?: string;
  /** How long to wait for another scimsync process running the integration (`5m`); by default, exit 4 at once. */
  wait?: string;
}

/**
 * `scimsync state purge NAME`: drops the state of an integration that was
 * removed from the config (objects, memberships, escrow), keeping its audit
 * events, and writes `idm_integration_delete`. Accounts in the app are not touched.
 */
export async function purgeCommand(name: string, options: PurgeOptions, io: Io): Promise<ExitCode> {
  const waitMs = parseWait(options.wait);
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  const { objects } = await purgeRemovedIntegration(config, logger, name, { waitMs, waitText: options.wait, onWait: io.err });
  io.out(`[integration ${name}] state purged (${objects} objects); its events are kept`);
  return 0;
}

export interface ShowOptions {
  config?: string;
  integration?: string;
  json?: boolean;
}

function print(o: StoredObject, io: Io): void {
  io.out(`[integration ${o.integration}] ${o.kind} ${o.sourceId}`);
  io.out(`  target id: ${o.targetId ?? '(none)'}`);
  io.out(`  status:    ${o.status}`);
  io.out(`  first:     ${o.createdAt}`);
  io.out(`  changed:   ${o.updatedAt}`);
  io.out(o.kind === 'user' ? '  last pushed:' : '  attributes:');
  for (const [path, v] of Object.entries(o.attrs)) io.out(`    ${path}: ${valueJson(v)}`);
  if (o.groups) io.out(`  groups (${o.groups.length}): ${o.groups.join(', ') || '-'}`);
  if (o.members) {
    const shown = o.members.slice(0, 50);
    io.out(`  members (${o.members.length}): ${shown.join(', ') || '-'}${o.members.length > shown.length ? ', ...' : ''}`);
  }
  for (const e of o.escrow) io.out(`  failing: ${e.kind} for ${e.cycles} cycles${e.givenUp ? ' (given up)' : ''}: ${e.lastError}`);
}

/** `scimsync state show USER|GROUP`: what state holds for one object (by source id, target id, userName or displayName). */
export function showCommand(key: string, options: ShowOptions, io: Io): ExitCode {
  const { config } = commandConfig(options.config, io, { log: 'silent' });
  const found = findStoredObjects(config, { key, integration: options.integration });
  if (found.length === 0) {
    throw new UsageError(`state show ${key}: no user or group with this source id, target id, userName or displayName${options.integration ? ` in integration ${options.integration}` : ''}`);
  }
  for (const o of found) {
    if (options.json) io.out(JSON.stringify(o));
    else print(o, io);
  }
  return 0;
}

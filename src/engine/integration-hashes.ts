import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IntegrationConfig } from '../config/schema.js';
import type { EventSink } from '../events/sink.js';

/**
 * Fingerprints of an integration's settings, kept in state to tell a credential change
 * (`idm_integration_reauth`, which also lifts a quarantine) from a config change.
 */
export interface IntegrationHashes {
  configHash: string;
  authHash: string;
}

/** Marks a keyed fingerprint; a stored value without it is a legacy unkeyed sha256. */
const KEYED = 'v2:';

/**
 * Keyed fingerprints (HMAC-SHA256 with the state's key, StateStore.fingerprintKey): one who
 * reads the state cannot test a guessed token against them without the key, and the
 * same token gives different fingerprints in two states.
 */
export function integrationHashes(integration: IntegrationConfig, key: Buffer): IntegrationHashes {
  const { config, auth } = partsOf(integration);
  return { configHash: keyed('config', config, key), authHash: keyed('auth', auth, key) };
}

/** Whether the credentials differ from the stored fingerprint, keyed or legacy (an upgrade is no credential change). */
export function credentialsChanged(stored: string, integration: IntegrationConfig, key: Buffer): boolean {
  const { auth } = partsOf(integration);
  return !sameFingerprint(stored, stored.startsWith(KEYED) ? keyed('auth', auth, key) : legacy(auth));
}

/** Whether the settings other than the credentials differ from the stored fingerprint, keyed or legacy. */
export function configChanged(stored: string, integration: IntegrationConfig, key: Buffer): boolean {
  const { config } = partsOf(integration);
  return !sameFingerprint(stored, stored.startsWith(KEYED) ? keyed('config', config, key) : legacy(config));
}

/** The credentials apart from the rest: the same split, and the same JSON, as the legacy fingerprints. */
function partsOf(integration: IntegrationConfig): { config: unknown; auth: unknown } {
  const { auth, ...target } = integration.target;
  return { config: { ...integration, target }, auth };
}

function keyed(label: 'config' | 'auth', value: unknown, key: Buffer): string {
  // The label keeps the two fingerprints of one state from ever being compared with each other.
  return KEYED + createHmac('sha256', key).update(`${label}\0`).update(JSON.stringify(value)).digest('hex');
}

/** The fingerprint written before the keyed ones: compared with, never written. */
function legacy(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function sameFingerprint(stored: string, current: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(current);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Records what changed in an integration since its last cycle (activated, new
 * credentials, new settings), as events; true when its credentials changed.
 */
export function recordIntegrationChange(integration: IntegrationConfig, store: IntegrationRecords, sink: EventSink): boolean {
  let reauth = false;
  const key = store.fingerprintKey();
  const known = store.getIntegration(integration.name);
  if (!known) {
    sink.emit({ type: 'idm_integration_activate', result: 'success', summary: `integration ${integration.name} activated` });
  } else {
    // A fingerprint stored before the state had a key compares with its legacy form: an upgrade is no new credential.
    if (credentialsChanged(known.authHash, integration, key)) {
      sink.emit({ type: 'idm_integration_reauth', result: 'success', summary: 'target credentials changed' });
      reauth = true;
    }
    if (configChanged(known.configHash, integration, key)) {
      sink.emit({ type: 'idm_integration_update', result: 'success', summary: 'integration configuration changed' });
    }
  }
  store.putIntegration({ name: integration.name, ...integrationHashes(integration, key) });
  return reauth;
}

/** What recording an integration's changes needs of the state. */
export interface IntegrationRecords {
  fingerprintKey(): Buffer;
  getIntegration(name: string): { configHash: string; authHash: string } | undefined;
  putIntegration(record: { name: string; configHash: string; authHash: string }): void;
}

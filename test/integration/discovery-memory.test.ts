/**
 * What the discovery reads remember, against the devtarget and a real state:
 * an endpoint that failed is left alone for DISCOVERY_RETRY_MS and then read
 * again on its own; the answers of the others are kept meanwhile.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore, type StateStore } from '../../state/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { IntegrationConfig } from '../../src/config/schema.js';
import { DISCOVERY_RETRY_MS, keptServiceProviderConfig, SCHEMA_MAX_AGE_MS, targetSchema } from '../../src/engine/target-schema.js';
import { createLogger } from '../../src/log.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';

const TOKEN = 'discovery-memory-token';
const logger = createLogger({ level: 'error', format: 'pretty', silent: true });
const DISCOVERY = /\/(Schemas|ResourceTypes|ServiceProviderConfig)$/;

let target: DevTarget;
let store: StateStore;

beforeEach(async () => {
  target = await startDevTarget({ token: TOKEN, strict: true, bulk: {} });
  store = openStateStore(':memory:');
});
afterEach(async () => {
  store.close();
  await target.stop();
});

function integration(): IntegrationConfig {
  const config = parseConfig(
    ['integrations:', '  - name: app', '    source: { type: file, path: ./directory.json }', '    target:', `      url: ${target.url}`, `      auth: { type: bearer, token: ${TOKEN} }`, ''].join('\n'),
    join('/tmp', 'scimsync.yaml'),
  );
  return config.integrations[0]!;
}

const reads = () => target.requests.filter((r) => DISCOVERY.test(r.path)).map((r) => r.path.replace(/^.*\//, '/'));

describe('the discovery reads', () => {
  it('leave a failed /ServiceProviderConfig alone for an hour, then read it alone; the schema read beside it is kept', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const at = (ms: number) => () => new Date(start + ms);
    target.inject({ method: 'GET', path: /\/ServiceProviderConfig$/, status: 503, times: 1 });

    const first = await targetSchema({ integration: integration(), logger, store, now: at(0) });
    expect(first.origin).toBe('target');
    expect(reads().sort()).toEqual(['/ResourceTypes', '/Schemas', '/ServiceProviderConfig']);
    // No answer kept, a failure remembered: the delivery sends single requests and does not ask again.
    expect(keptServiceProviderConfig(store, 'app')).toBeNull();

    target.requests.length = 0;
    const later = await targetSchema({ integration: integration(), logger, store, now: at(DISCOVERY_RETRY_MS - 60_000) });
    expect(later).toEqual(first);
    expect(reads()).toEqual([]);

    const retried = await targetSchema({ integration: integration(), logger, store, now: at(DISCOVERY_RETRY_MS + 60_000) });
    expect(retried).toEqual(first);
    expect(reads()).toEqual(['/ServiceProviderConfig']);
    expect(keptServiceProviderConfig(store, 'app')).toMatchObject({ bulk: { supported: true } });

    // Then nothing until the day is over.
    target.requests.length = 0;
    await targetSchema({ integration: integration(), logger, store, now: at(SCHEMA_MAX_AGE_MS - 60_000) });
    expect(reads()).toEqual([]);
  });

  it('reads everything each time without a state, and a test-connection (maxAgeMs 0) ignores what failed before', async () => {
    target.inject({ method: 'GET', path: /\/ServiceProviderConfig$/, status: 503, times: 1 });
    await targetSchema({ integration: integration(), logger, store });
    target.requests.length = 0;
    await targetSchema({ integration: integration(), logger, store, maxAgeMs: 0 });
    expect(reads().sort()).toEqual(['/ResourceTypes', '/Schemas', '/ServiceProviderConfig']);
    target.requests.length = 0;
    await targetSchema({ integration: integration(), logger });
    expect(reads()).toHaveLength(3);
  });
});

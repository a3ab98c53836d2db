import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateStore, type StateStore } from '../../state/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { IntegrationConfig } from '../../src/config/schema.js';
import { adaptiveLimiter } from '../../src/delivery/adaptive-rate.js';
import { clientFor, LEARNED_RATE_FACT, rateMemoryFor } from '../../src/engine/clients.js';
import { createLogger } from '../../src/log.js';
import type { ScimClient } from '../../src/scim/client.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { startTokenBucketTarget, type TokenBucketTarget } from '../support/token-bucket-target.js';

/** The target's limit, unknown to scimsync (the dev target itself takes some 50 creates/s at 4 at once). */
const R = 20;
const TOKEN = 'adaptive-rate-token';
const logger = createLogger({ level: 'error', format: 'pretty', silent: true });

let dev: DevTarget;
let bucket: TokenBucketTarget;
let dir: string;

beforeAll(async () => {
  dev = await startDevTarget({ token: TOKEN });
  bucket = await startTokenBucketTarget({ upstream: dev.url, ratePerSecond: R });
  dir = mkdtempSync(join(tmpdir(), 'scimsync-adaptive-'));
});

afterAll(async () => {
  await bucket.stop();
  await dev.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The integration as configured without `requestsPerSecond`: its rate is found. */
function integration(): IntegrationConfig {
  const config = parseConfig(
    [
      'integrations:',
      '  - name: app',
      `    source: { type: file, path: ${join(dir, 'directory.json')} }`,
      '    target:',
      `      url: ${bucket.url}`,
      `      auth: { type: bearer, token: ${TOKEN} }`,
      '      rateLimit: { maxConcurrent: 4 }',
      '',
    ].join('\n'),
    join(dir, 'scimsync.yaml'),
  );
  const app = config.integrations[0]!;
  // `requestsPerSecond` has had a default of 10: leave it out, as a config that sets none does.
  const { maxConcurrent } = app.target.rateLimit;
  return { ...app, target: { ...app.target, rateLimit: { maxConcurrent } as IntegrationConfig['target']['rateLimit'] } };
}

let next = 0;
/** Creates users from `workers` loops for `ms`; answers the users created. */
async function push(client: ScimClient, ms: number, workers = 4): Promise<number> {
  const until = performance.now() + ms;
  let created = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        const n = next++;
        await client.request('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `user${n}@example.com`, active: true });
        created++;
      }
    }),
  );
  await client.close();
  return created;
}

const share429 = () => bucket.counts.limited / (bucket.counts.limited + bucket.counts.answered);
const goodput = (ms: number) => bucket.counts.succeeded / (ms / 1000) / R;

describe('an adaptive rate against a target that enforces a token bucket', () => {
  let store: StateStore;
  let waits = 0;

  it('finds the limit with few 429s, waits on each, and keeps what it learned in state', async () => {
    store = openStateStore(join(dir, 'state.db'));
    bucket.reset();
    const client = clientFor(integration(), { logger, use: 'delivery', rateMemory: rateMemoryFor(store, 'app', logger), onRateLimit: () => waits++ });
    const created = await push(client, 8000);

    expect(bucket.counts.limited).toBeGreaterThan(0); // it did find the limit
    expect(share429()).toBeLessThan(0.2);
    expect(created).toBe(bucket.counts.succeeded);
    // Every 429 was waited out and its request sent again, none lost.
    expect(waits).toBe(bucket.counts.limited);
    store.close();

    const reopened = openStateStore(join(dir, 'state.db'));
    const fact = reopened.targetFacts.get('app', LEARNED_RATE_FACT);
    reopened.close();
    const learned = JSON.parse(fact!.value) as { requestsPerSecond: number; ceiling: number };
    expect(learned.requestsPerSecond).toBeGreaterThan(R * 0.5);
    expect(learned.requestsPerSecond).toBeLessThan(R * 1.1);
    expect(learned.ceiling).toBeGreaterThan(learned.requestsPerSecond);
  }, 30_000);

  it('starts the next client near the learned rate: goodput near the limit from the start', async () => {
    store = openStateStore(join(dir, 'state.db'));
    const memory = rateMemoryFor(store, 'app', logger);
    const learned = memory.load()!;
    expect(adaptiveLimiter({ maxConcurrent: 4, memory }).rate).toBe(learned.requestsPerSecond);

    bucket.reset();
    const client = clientFor(integration(), { logger, use: 'delivery', rateMemory: memory });
    const started = performance.now();
    await push(client, 4000);
    const elapsed = performance.now() - started;
    store.close();

    // A limiter that started afresh spends its first second or two probing from 10 requests/s.
    expect(goodput(elapsed)).toBeGreaterThan(0.6);
    expect(share429()).toBeLessThan(0.2);
  }, 30_000);

  it('a fixed rate under the limit is left alone: nothing learned, nothing saved', async () => {
    const path = join(dir, 'fixed.db');
    store = openStateStore(path);
    const fixed = integration();
    const client = clientFor(
      { ...fixed, target: { ...fixed.target, rateLimit: { requestsPerSecond: 20, maxConcurrent: 4 } } },
      { logger, use: 'delivery', rateMemory: rateMemoryFor(store, 'app', logger) },
    );
    bucket.reset();
    await push(client, 1000);
    expect(bucket.counts.limited).toBe(0);
    expect(store.targetFacts.get('app', LEARNED_RATE_FACT)).toBeUndefined();
    store.close();
  }, 30_000);
});

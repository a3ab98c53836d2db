import type { AccountIndex } from '../../core/matching.js';
import { readAccountIndex } from '../../delivery/accounts.js';
import { Delivery } from '../../delivery/delivery.js';
import { TargetState } from '../../delivery/target-state.js';
import { UNRESOLVED_CONFLICT } from '../../delivery/users.js';
import { bulkSettings, keepBulkLessons } from '../bulk-facts.js';
import { clientFor, rateMemoryFor } from '../clients.js';
import { managedPaths } from '../reconcile.js';
import type { ScimClient } from '../../scim/client.js';
import { keptServiceProviderConfig } from '../target-schema.js';
import type { OpenCycle } from './open.js';
import type { PreparedPlan } from './prepare.js';

/** What the delivery of a plan came to, for `close`. */
export interface Delivered {
  /** Why the target stopped the cycle (credentials refused, unreachable). */
  fatal: string | undefined;
  succeeded: number;
  /** Why operations were given up this cycle, one line each. */
  givenUp: readonly string[];
  deliveryMs: number;
}

/** Sends the plan: requests through the delivery, each result committed and told as an event. */
export async function deliver(run: OpenCycle, plan: PreparedPlan): Promise<Delivered> {
  const { options, counts } = run;
  const { integration, store, logger } = options;
  const name = integration.name;
  const { basis, operations } = plan;
  const started = Date.now();
  // SQLite writes move to a thread of their own for the delivery, beside the HTTP loop.
  store.startBackgroundWrites();
  const onRateLimit = () => {
    counts.rateLimitWaits++;
    options.onRateLimit?.();
  };
  const client = options.client ?? clientFor(integration, { logger, use: 'delivery', onRateLimit, rateMemory: rateMemoryFor(store, name, logger) });
  let delivery: Delivery;
  try {
    // Many new users (a first run against an app that already has accounts): one paginated
    // read of the target matches them all, instead of a lookup per user.
    const creates = operations.filter((op) => op.kind === 'user.create').length;
    let accounts: AccountIndex | undefined;
    if (creates > 1 && !options.signal?.aborted) {
      const index = await readAccountIndex(client, creates, basis.profile.matching, basis.schema);
      accounts = index.index;
      if (index.requests > 0) logger.info(`bulk matching of ${creates} new users: ${index.reason}`, { integration: name });
    }
    delivery = newDelivery(run, plan, client, accounts);
    await delivery.run(operations);
    // A /Bulk refusal is the target's Bulk only where single requests got through after it.
    if (!delivery.fatal) keepBulkLessons(store, name, delivery.bulkLessons, run.now());
  } finally {
    try {
      await store.stopBackgroundWrites();
    } finally {
      if (!options.client) await client.close();
    }
  }
  const deliveryMs = Date.now() - started;
  store.pruneEscrow(name, new Set(plan.planned.map((op) => op.key)));
  return { fatal: delivery.fatal, succeeded: delivery.succeeded, givenUp: delivery.givenUp, deliveryMs };
}

/** The delivery of a plan: the state it commits to, and the limits it keeps. */
function newDelivery(run: OpenCycle, plan: PreparedPlan, client: ScimClient, accounts: AccountIndex | undefined): Delivery {
  const { options, counts, sink, cycleId } = run;
  const { integration, store } = options;
  const name = integration.name;
  const { basis, escrow } = plan;
  return new Delivery(
    {
      integration: name,
      cycleId,
      client,
      target: basis.profile,
      retry: integration.target.retry,
      state: new TargetState(store, name, { users: basis.users, groups: basis.groups, desired: basis.desired, held: basis.held }),
      counts,
      protect: basis.protect,
      accounts,
      schema: basis.schema,
      managed: managedPaths(basis.profile, basis.schema),
      signal: options.signal,
      dirtyGroups: new Set(run.interrupted.filter((e) => e.key.startsWith('group:')).map((e) => e.sourceId)),
      keepInflight: new Set(),
      knownConflicts: new Set(escrow.filter((e) => e.kind === 'user.create' && e.lastError.includes(UNRESOLVED_CONFLICT)).map((e) => e.sourceId)),
      quirks: {},
    },
    {
      store,
      sink,
      maxConcurrent: integration.target.rateLimit.maxConcurrent,
      fingerprints: plan.fingerprints,
      maxCycles: integration.escrow?.maxCycles ?? 5,
      escrowKeys: new Set(escrow.map((e) => e.key)),
      graceMs: options.shutdownGraceMs ?? 30_000,
      onProgress: options.onProgress,
      targetUrl: integration.target.url,
      // Read with the schema (at most once a day): the delivery need not ask again whether Bulk pays.
      serviceProviderConfig: keptServiceProviderConfig(store, name),
      bulk: bulkSettings(integration, store, run.now()),
    },
  );
}

import { randomUUID } from 'node:crypto';
import { createSource } from '../../connectors/index.js';
import { resolveProfile } from '../../connectors/profiles/index.js';
import type { SourceConnector } from '../../connectors/source.js';
import type { InflightEntry, StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { desiredState, isGroupRow } from '../core/desired.js';
import { protectRule, type AccountIndex } from '../core/matching.js';
import { concerns, fingerprint, type Operation } from '../core/operations.js';
import { planCycle } from '../core/plan-users.js';
import type { StateUser } from '../core/records.js';
import { groupShrinkage, QUARANTINE_MIN_FAILURES, quarantineUntil, userShrinkage } from '../core/safety.js';
import { strayRemovals, type StrayMember } from '../core/stray-members.js';
import { readAccountIndex } from '../delivery/accounts.js';
import { emptyCounts } from '../delivery/counts.js';
import { Delivery } from '../delivery/delivery.js';
import { TargetState } from '../delivery/target-state.js';
import { UNRESOLVED_CONFLICT } from '../delivery/users.js';
import { EventSink } from '../events/sink.js';
import type { Notification, NotifyOn } from '../events/notify/rules.js';
import { cycleFailed, givenUp as givenUpNotice, held as heldNotice, quarantineEntered, quarantineLifted, sourceShrank } from '../events/notify/rules.js';
import type { NewEvent } from '../events/types.js';
import { SafetyAbortError, SourceError, TargetUnavailableError, errorMessage, type ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ScimClient } from '../scim/client.js';
import { clientFor, rateMemoryFor } from './clients.js';
import { bulkSettings, keepBulkLessons } from './bulk-facts.js';
import { checkMassDeprovision } from './held-plans.js';
import { recordIntegrationChange } from './integration-hashes.js';
import { keptServiceProviderConfig, logMappingProblems, mappingProblems, targetSchema } from './target-schema.js';
import type { CycleReport } from './report.js';
import { managedPaths } from './reconcile.js';
import { reportUnwritable } from './unwritable.js';

export type { CycleCounts, CycleReport, MassDeprovision } from './report.js';
export { clientFor } from './clients.js';

export interface CycleOptions {
  integration: IntegrationConfig;
  store: StateStore;
  logger: Logger;
  /** `dryRun`: plan and report, write nothing and send nothing. */
  dryRun?: boolean;
  /** Overrides for tests: a prepared source or client. */
  source?: SourceConnector;
  client?: ScimClient;
  /** Called after each operation settles (progress display). */
  onProgress?: (done: number, total: number, failed: number) => void;
  /** Run even if the integration is quarantined (and lift the quarantine), or its source shrank. */
  force?: boolean;
  /** Aborted on SIGINT/SIGTERM: no new operations start; requests in flight finish within the grace. */
  signal?: AbortSignal;
  /** How long to wait for requests in flight once `signal` is aborted; then they are cut off. */
  shutdownGraceMs?: number;
  /** The clock, for quarantine times (tests). */
  now?: () => Date;
  /** Only this source user's operations (sync --user, plan --user). */
  onlyUser?: string;
  /** Called for every event written (metrics). */
  onEvent?: (event: NewEvent) => void;
  /** Called when the target answers 429 and the client waits (metrics). */
  onRateLimit?: () => void;
  /** Tells admins of quarantines, held deprovisions, given-up operations, failed cycles and shrunken sources. */
  notifier?: CycleNotifier | undefined;
  /** Member values reconcile found in managed groups that are not managed accounts: those it takes out are sent too (`reconcile --apply`). */
  strays?: readonly StrayMember[] | undefined;
}

/** What a cycle needs of the notifier (src/events/notify): news to tell, and conditions that ended. */
export interface CycleNotifier {
  notify(n: Notification): unknown;
  clear(integration: string, topic: Exclude<NotifyOn, 'quarantine'>): void;
}

/**
 * One cycle, with the failed-cycle notification: a cycle that stops on an error other
 * than a safety rule is told once; one that completes ends that condition.
 */
export async function runCycle(options: CycleOptions): Promise<CycleReport> {
  const notifier = options.dryRun ? undefined : options.notifier;
  const name = options.integration.name;
  try {
    const report = await cycle(options);
    if (report.outcome !== 'aborted') notifier?.clear(name, 'cycleFailed');
    return report;
  } catch (err) {
    if (!(err instanceof SafetyAbortError)) notifier?.notify(cycleFailed({ integration: name, error: errorMessage(err) }));
    throw err;
  }
}

/**
 * One cycle of one integration: snapshot, scope and map, plan, deliver, commit,
 * events (DESIGN.md, "The pipeline"). The decisions are core's; the requests are
 * the delivery's; this function puts them in order and says when to stop.
 */
async function cycle(options: CycleOptions): Promise<CycleReport> {
  const { integration, store, logger } = options;
  const name = integration.name;
  const started = Date.now();
  const cycleId = randomUUID();
  const counts = emptyCounts();
  const dryRun = options.dryRun ?? false;
  const profile = resolveProfile(integration);
  const sink = new EventSink({ integration: name, cycleId, logger, store: dryRun ? undefined : store, onEvent: options.onEvent });
  const now = options.now ?? (() => new Date());
  const notifier = dryRun ? undefined : options.notifier;
  const timing: { deliveryMs?: number } = {};
  const finish = (outcome: CycleReport['outcome'], exitCode: ExitCode, operations: Operation[], error?: string): CycleReport => {
    if (!dryRun) store.finishCycle(cycleId, outcome === 'dry-run' ? 'success' : outcome, { ...counts });
    return {
      cycleId,
      integration: name,
      outcome,
      counts,
      operations,
      durationMs: Date.now() - started,
      ...(timing.deliveryMs !== undefined ? { deliveryMs: timing.deliveryMs } : {}),
      exitCode,
      ...(error ? { error } : {}),
    };
  };
  const abort = (message: string, event: Omit<NewEvent, 'time' | 'integration' | 'cycleId' | 'result'>, operations: Operation[] = []): never => {
    sink.emit({ ...event, result: 'skipped' });
    finish('aborted', 3, operations);
    throw new SafetyAbortError(name, message);
  };

  let interrupted: InflightEntry[] = [];
  if (!dryRun) {
    store.startCycle(cycleId, name, dryRun);
    interrupted = openCycle(options, sink, now, () => finish('aborted', 3, []), cycleId);
    // The writer thread of the delivery boots while the source is read and the plan made.
    store.prepareBackgroundWrites();
  }

  // 1. Snapshot. An unreadable source throws SourceError (exit 2) and never deprovisions.
  let read;
  try {
    read = await (options.source ?? createSource(integration)).snapshot();
  } catch (err) {
    if (!dryRun) {
      // Said where it happened: /healthz names the source, not the target, as the reason.
      sink.emit({ type: 'idm_integration_update', result: 'failure', summary: `the source could not be read: ${err instanceof SourceError ? err.reason : errorMessage(err)}; nothing was sent`, detail: { source: 'unreadable' } });
      store.finishCycle(cycleId, 'failed', { ...counts });
    }
    throw err;
  }
  for (const p of read.problems) {
    counts.skippedRows++;
    sink.emit({
      type: isGroupRow(p.location) ? 'group_create_provision' : 'user_create_provision',
      result: 'skipped',
      sourceId: p.sourceId ?? null,
      summary: `source row skipped: ${p.location}: ${p.message}`,
      detail: { location: p.location, reason: p.message },
    });
  }
  // A source that shrank past safety.minSourceRatio, or returned nobody, is an outage, not a mass leave.
  const ratio = integration.safety.minSourceRatio;
  const sourceCount = read.snapshot.users.length;
  const lastGood = store.lastSourceUsers(name);
  const usersShrank = options.force ? undefined : userShrinkage(sourceCount, lastGood, ratio);
  if (usersShrank) {
    notifier?.notify(sourceShrank({ integration: name, sourceUsers: sourceCount, lastGood: lastGood ?? 0, reason: usersShrank }));
    abort(`${usersShrank}: cycle aborted, nothing sent; sync --force to accept it`, {
      type: 'user_deprovision',
      summary: `${usersShrank}: cycle aborted, nothing sent; sync --force to accept it`,
      detail: { sourceUsers: sourceCount, lastGood, minSourceRatio: ratio },
    });
  }

  // 2. Scope and map: the one scoping path (plan, reconcile and rebuild take the same).
  const protect = protectRule(integration.protect);
  const allState = store.loadUsers(name);
  const protectedInState = new Set<string>();
  if (protect.active) for (const u of store.loadUserNames(name)) if (protect.covers(u.names)) protectedInState.add(u.sourceId);
  const desired = await desiredState({
    snapshot: read.snapshot,
    problems: read.problems,
    state: allState,
    scope: { groups: integration.scope?.groups, filters: integration.scope?.filters, skipOutOfScopeDeletions: integration.scope?.skipOutOfScopeDeletions ?? false, nested: integration.groups.nested },
    protect,
    protectedInState,
    mapper: profile.mapper,
  });
  for (const p of desired.scopeProblems) {
    sink.emit({ type: 'group_create_provision', result: 'skipped', summary: `${p.location}: ${p.message}`, detail: { location: p.location, reason: p.message } });
  }
  const groupState = store.loadGroups(name);
  let managed = 0;
  for (const s of allState) if (s.targetId !== null && s.status !== 'deleted') managed++;
  if (desired.inScope === 0 && managed > 0) {
    const msg = `the source returned no users in scope while ${managed} are provisioned: cycle aborted, nothing sent`;
    notifier?.notify(sourceShrank({ integration: name, sourceUsers: 0, lastGood: managed, reason: 'no users in scope' }));
    abort(msg, { type: 'user_deprovision', summary: msg, detail: { sourceUsers: sourceCount, inScope: 0, managed } });
  }
  // Groups and memberships that vanish or shrink past the ratio are an outage too (a failed group search).
  const groupsShrank = options.force ? undefined : groupShrinkage(desired.groups, { groups: groupState, memberships: store.membershipCount(name) }, ratio);
  if (groupsShrank) {
    const msg = `${groupsShrank}: cycle aborted, nothing sent; sync --force to accept it`;
    notifier?.notify(sourceShrank({ integration: name, sourceUsers: sourceCount, lastGood: lastGood ?? sourceCount, reason: groupsShrank }));
    abort(msg, { type: 'group_delete_provision', summary: msg, detail: { minSourceRatio: ratio } });
  }
  notifier?.clear(name, 'sourceShrank');
  let stateIndex: Map<string, StateUser> | undefined;
  const stateOf = (id: string) => (stateIndex ??= new Map(allState.map((s) => [s.sourceId, s]))).get(id);
  for (const [sourceId, problems] of desired.invalid) {
    const known = stateOf(sourceId);
    const linked = known && known.targetId !== null && known.status !== 'deleted' ? known : undefined;
    counts.invalid++;
    sink.emit({
      type: linked ? 'user_update_provision' : 'user_create_provision',
      result: 'failure',
      sourceId,
      targetId: linked?.targetId ?? null,
      summary: `${sourceId} not sent: ${problems.map((p) => p.message).join('; ')}`,
      detail: { problems },
    });
  }
  for (const [sourceId, notes] of desired.notes) logger.info(`${sourceId}: ${notes.join('; ')}`, { integration: name });

  // The target's schema (read at most once a day): how values compare, what may be written, mappings it lacks.
  const schema = await targetSchema({ integration, logger, store, client: options.client, cache: dryRun ? 'kept-only' : 'keep', signal: options.signal, now });
  logMappingProblems(mappingProblems(profile, schema), logger, name);

  // 3. Plan: held users are neither sent nor deprovisioned, and frozen ones keep their memberships.
  const held = desired.held;
  const planState = held.size > 0 ? allState.filter((s) => !held.has(s.sourceId)) : allState;
  const plan = planCycle(
    held.size > 0 ? desired.users.filter((d) => !held.has(d.sourceId)) : desired.users,
    planState,
    { deprovision: integration.deprovision.action, schema, matching: profile.matching },
    {
      desired: desired.groups,
      state: groupState,
      held: new Map(held.size > 0 ? allState.filter((s) => held.has(s.sourceId)).map((s) => [s.sourceId, s]) : []),
      ...(desired.frozen.size > 0 ? { frozen: desired.frozen } : {}),
      ...(desired.heldGroups.size > 0 ? { heldGroups: desired.heldGroups } : {}),
      options: {
        behaviour: profile.groups,
        membersPerRequest: integration.groups.membersPerRequest ?? profile.groups.membersPerRequest,
        groupDeprovision: integration.groups.deprovision,
        userDeprovision: integration.deprovision.action,
      },
    },
  );
  if (options.strays) {
    const limits = { memberRemoval: profile.groups.memberRemoval, membersPerRequest: integration.groups.membersPerRequest ?? profile.groups.membersPerRequest };
    plan.operations.push(...strayRemovals(options.strays, plan.operations, limits));
  }
  // A mass deprovision is held until an admin approves it (scimsync approve).
  const hold = checkMassDeprovision({ integration, operations: plan.operations, managed, stateOf, store, mode: dryRun ? 'preview' : 'record' });
  if (hold && !hold.approved) {
    if (dryRun) {
      sink.emit({ type: 'user_deprovision', result: 'skipped', summary: hold.message, detail: { deprovisions: hold.deprovisions, managed, reason: hold.reason } });
      return { ...finish('dry-run', 3, plan.operations), hold };
    }
    notifier?.notify(heldNotice({ integration: name, deprovisions: hold.deprovisions, reason: hold.reason }));
    abort(hold.message, { type: 'user_deprovision', summary: hold.message, detail: { deprovisions: hold.deprovisions, managed, reason: hold.reason } }, plan.operations);
  }
  if (hold?.approved && !dryRun) {
    notifier?.clear(name, 'held');
    sink.emit({ type: 'user_deprovision', result: 'success', summary: `approved mass deprovision applied: ${hold.message}`, detail: { deprovisions: hold.deprovisions, approved: true } });
  }
  // Escrow: an operation that failed escrow.maxCycles cycles running is given up until it changes.
  const escrowed = dryRun ? [] : store.loadEscrow(name);
  const givenUp = new Map(escrowed.filter((e) => e.givenUp).map((e) => [e.key, e.fingerprint]));
  const fingerprints = new Map(plan.operations.map((op) => [op.key, fingerprint(op)]));
  const isGivenUp = (op: Operation) => givenUp.get(op.key) === fingerprints.get(op.key);
  const operations = plan.operations.filter((op) => !isGivenUp(op) && (options.onlyUser === undefined || concerns(op, options.onlyUser)));
  counts.givenUp = plan.operations.filter(isGivenUp).length;
  counts.planned = operations.length;
  const unwritable = plan.unwritable.filter((v) => options.onlyUser === undefined || v.sourceId === options.onlyUser);
  reportUnwritable(sink, unwritable, stateOf);
  if (dryRun) return { ...finish('dry-run', 0, operations), ...(hold ? { hold } : {}), ...(unwritable.length > 0 ? { unwritable } : {}) };

  // 4. Deliver, 5. commit each result, 6. events.
  const deliveryStarted = Date.now();
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
      const index = await readAccountIndex(client, creates, profile.matching, schema);
      accounts = index.index;
      if (index.requests > 0) logger.info(`bulk matching of ${creates} new users: ${index.reason}`, { integration: name });
    }
    delivery = new Delivery(
      {
        integration: name,
        cycleId,
        client,
        target: profile,
        retry: integration.target.retry,
        state: new TargetState(store, name, { users: planState, groups: groupState, desired: desired.users, held: allState.filter((s) => held.has(s.sourceId)) }),
        counts,
        protect,
        accounts,
        schema,
        managed: managedPaths(profile, schema),
        signal: options.signal,
        dirtyGroups: new Set(interrupted.filter((e) => e.key.startsWith('group:')).map((e) => e.sourceId)),
        keepInflight: new Set(),
        knownConflicts: new Set(escrowed.filter((e) => e.kind === 'user.create' && e.lastError.includes(UNRESOLVED_CONFLICT)).map((e) => e.sourceId)),
        quirks: {},
      },
      {
        store,
        sink,
        maxConcurrent: integration.target.rateLimit.maxConcurrent,
        fingerprints,
        maxCycles: integration.escrow?.maxCycles ?? 5,
        escrowKeys: new Set(escrowed.map((e) => e.key)),
        graceMs: options.shutdownGraceMs ?? 30_000,
        onProgress: options.onProgress,
        targetUrl: integration.target.url,
        // Read with the schema (at most once a day): the delivery need not ask again whether Bulk pays.
        serviceProviderConfig: keptServiceProviderConfig(store, name),
        bulk: bulkSettings(integration, store, now()),
      },
    );
    await delivery.run(operations);
    // A /Bulk refusal is the target's Bulk only where single requests got through after it.
    if (!delivery.fatal) keepBulkLessons(store, name, delivery.bulkLessons, now());
  } finally {
    try {
      await store.stopBackgroundWrites();
    } finally {
      if (!options.client) await client.close();
    }
  }
  timing.deliveryMs = Date.now() - deliveryStarted;
  store.pruneEscrow(name, new Set(plan.operations.map((op) => op.key)));

  // Quarantine: a target that refuses us, or fails every request, is left alone for a while.
  const everythingFailed = counts.failed >= QUARANTINE_MIN_FAILURES && delivery.succeeded === 0;
  if (delivery.fatal || everythingFailed) {
    const reason = delivery.fatal ?? `all ${counts.failed} operations failed`;
    const level = store.quarantineLevel(name) + 1;
    const until = quarantineUntil(level, now());
    store.setQuarantine(name, { until, level, reason });
    sink.emit({ type: 'idm_integration_update', result: 'failure', summary: `integration quarantined until ${until}: ${reason}`, detail: { quarantine: { until, level, reason } } });
    notifier?.notify(quarantineEntered({ integration: name, until, reason }));
  } else if (delivery.succeeded > 0 && store.quarantineLevel(name) > 0) {
    store.setQuarantine(name, undefined);
    notifier?.notify(quarantineLifted({ integration: name, reason: 'a request succeeded' }));
  }
  if (delivery.givenUp.length > 0) {
    notifier?.notify(givenUpNotice({ integration: name, operations: delivery.givenUp.length, reason: delivery.givenUp[0]! }));
  } else {
    notifier?.clear(name, 'givenUp');
  }
  if (delivery.fatal) {
    // Nothing is lost: what failed or was not sent is planned again by the next cycle.
    const message = `${delivery.fatal}; ${counts.failed} operations failed and ${counts.notStarted} were not sent, left for the next cycle`;
    finish('failed', 1, operations, message);
    throw new TargetUnavailableError(name, message);
  }
  store.setLastSourceUsers(name, sourceCount);
  // An approval is good for one cycle; a plan that no longer holds drops the held one.
  if (hold?.approved || !hold) store.clearHeldPlan(name);
  if (options.signal?.aborted) return finish('interrupted', 1, operations, 'stopped by a signal');
  const partial = counts.failed > 0 || counts.held > 0 || counts.invalid > 0;
  return finish(partial ? 'partial' : 'success', partial ? 1 : 0, operations);
}

/**
 * The start of a cycle that writes: what changed in the integration, its
 * quarantine (lifted by new credentials or --force, else the cycle stops), and the
 * operations a previous cycle left in flight.
 */
function openCycle(options: CycleOptions, sink: EventSink, now: () => Date, aborted: () => void, cycleId: string): InflightEntry[] {
  const { integration, store, logger } = options;
  const name = integration.name;
  const reauth = recordIntegrationChange(integration, store, sink);
  const quarantine = store.getQuarantine(name);
  if (quarantine && (reauth || options.force)) {
    // New credentials start the back-off afresh; a forced run that fails again backs off further.
    store.setQuarantine(name, undefined, { keepLevel: !reauth });
    sink.emit({
      type: 'idm_integration_update',
      result: 'success',
      summary: `quarantine lifted (${reauth ? 'credentials changed' : 'sync --force'})`,
      detail: { quarantine: { lifted: true, was: quarantine } },
    });
    options.notifier?.notify(quarantineLifted({ integration: name, reason: reauth ? 'credentials changed' : 'sync --force' }));
  } else if (quarantine && Date.parse(quarantine.until) > now().getTime()) {
    const msg = `quarantined until ${quarantine.until} (${quarantine.reason}); run scimsync sync --force to try now`;
    logger.warn(msg, { integration: name });
    // Told once when it began; the notifier's memory makes this a no-op unless that message failed.
    options.notifier?.notify(quarantineEntered({ integration: name, until: quarantine.until, reason: quarantine.reason }));
    aborted();
    throw new SafetyAbortError(name, msg);
  }
  const interrupted = store.takeInterrupted(name, cycleId);
  if (interrupted.length > 0) {
    logger.warn(`the previous cycle was interrupted with ${interrupted.length} operations in flight; they are checked against the target before anything is sent again`, { integration: name });
  }
  return interrupted;
}

import { createHash, randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import { createSource } from '../../connectors/index.js';
import { resolveProfile, type ResolvedProfile } from '../../connectors/profiles/index.js';
import type { RuleProblem } from '../core/map.js';
import { inScope } from '../core/scope.js';
import type { SourceUser } from '../core/records.js';
import type { SourceConnector } from '../../connectors/source.js';
import type { InflightEntry, StateStore } from '../../state/store.js';
import type { IntegrationConfig } from '../config/schema.js';
import { SafetyAbortError, ScimHttpError, TargetUnavailableError, errorMessage, type ExitCode } from '../errors.js';
import type { EventResult, EventType, NewEvent } from '../events/types.js';
import type { Logger } from '../log.js';
import { CORE_GROUP_SCHEMA, hasChanges, diffAttrs, isUserRef, type AttrChanges, type ScimAttrs } from '../core/attributes.js';
import { applyToResource, buildPatchOps, buildResource, type PatchOperation } from '../scim/bodies.js';
import { ScimClient, backoffDelay, filterValue, type ScimResource } from '../scim/client.js';
import { readPath } from '../core/paths.js';
import { scopeSnapshot } from '../core/scope.js';
import { type StateGroup } from '../core/records.js';
import { AccountIndex } from '../core/matching.js';
import { readAccountIndex } from './inventory.js';
import { configChanged, credentialsChanged, integrationHashes } from './integration-hashes.js';
import { matchKeys, protectRule, resourceMatches, type MatchKey, type ProtectRule } from '../core/matching.js';
import { planCycle } from '../core/plan-users.js';
import { type DesiredUser, type StateUser } from '../core/records.js';
import { type GroupChange, type GroupOperation, type Operation } from '../core/operations.js';

export interface CycleCounts {
  planned: number;
  created: number;
  adopted: number;
  updated: number;
  deactivated: number;
  reactivated: number;
  deleted: number;
  failed: number;
  held: number;
  /** Users not sent because a profile rule or required mapping failed. */
  invalid: number;
  skippedRows: number;
  groupsCreated: number;
  groupsAdopted: number;
  groupsUpdated: number;
  groupsDeleted: number;
  membersAdded: number;
  membersRemoved: number;
  /** Failed operations kept for the next cycle. */
  escrowed: number;
  /** Operations given up after `escrow.maxCycles` failing cycles (not sent). */
  givenUp: number;
  /** Operations not started because of a shutdown. */
  notStarted: number;
}

export interface CycleReport {
  cycleId: string;
  integration: string;
  outcome: 'success' | 'partial' | 'aborted' | 'failed' | 'interrupted' | 'dry-run';
  counts: CycleCounts;
  operations: Operation[];
  durationMs: number;
  /** Of durationMs, the delivery: from the first request to the last result committed. */
  deliveryMs?: number;
  exitCode: ExitCode;
  /** Why the cycle stopped early, when it did. */
  error?: string;
  /** A mass deprovision held for approval (or approved and applied). */
  hold?: MassDeprovision;
}

export interface MassDeprovision {
  deprovisions: number;
  reason: string;
  message: string;
  /** An admin approved it (scimsync approve) and this cycle applies it. */
  approved: boolean;
}

export interface CycleOptions {
  integration: IntegrationConfig;
  store: StateStore;
  logger: Logger;
  dryRun?: boolean;
  /** Overrides for tests: a prepared source or client. */
  source?: SourceConnector;
  client?: ScimClient;
  /** Called after each operation settles (progress display). */
  onProgress?: (done: number, total: number, failed: number) => void;
  /** Run even if the integration is quarantined (and lift the quarantine). */
  force?: boolean;
  /** Aborted on SIGINT/SIGTERM: no new operations start; requests in flight finish. */
  signal?: AbortSignal;
  /** How long to wait for requests in flight once `signal` is aborted. */
  shutdownGraceMs?: number;
  /** The clock, for quarantine times (tests). */
  now?: () => Date;
  /** Only this source user's operations (sync --user, plan --user). */
  onlyUser?: string;
  /** Called for every event written (metrics). */
  onEvent?: (event: NewEvent) => void;
  /** Called when the target answers 429 and the client waits (metrics). */
  onRateLimit?: () => void;
}

const HOUR_MS = 3_600_000;
/** Marks an operation that has started (Delivery's tickets). */
const STARTED = -1;
/** Operations recorded as in flight per commit, ahead of their requests. */
const INFLIGHT_WINDOW = 256;
/** Network errors that mean no connection could be made at all (a reset or a timeout may be one request's bad luck). */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;
/** Failures in one cycle, with no success at all, that quarantine the integration. */
const QUARANTINE_MIN_FAILURES = 10;

/** A stable digest of what an operation would send (its dependencies aside). */
export function fingerprint(op: Operation): string {
  const content = JSON.stringify(op, (k, v: unknown) => (k === 'dependsOn' ? undefined : v));
  return createHash('sha256').update(content).digest('hex').slice(0, 32);
}

const emptyCounts = (): CycleCounts => ({
  planned: 0,
  created: 0,
  adopted: 0,
  updated: 0,
  deactivated: 0,
  reactivated: 0,
  deleted: 0,
  failed: 0,
  held: 0,
  invalid: 0,
  skippedRows: 0,
  groupsCreated: 0,
  groupsAdopted: 0,
  groupsUpdated: 0,
  groupsDeleted: 0,
  membersAdded: 0,
  membersRemoved: 0,
  escrowed: 0,
  givenUp: 0,
  notStarted: 0,
});

export function clientFor(integration: IntegrationConfig, logger: Logger, onRateLimit?: () => void, boundedByCaller = false): ScimClient {
  const t = integration.target;
  return new ScimClient({
    boundedByCaller,
    baseUrl: t.url,
    auth: t.auth,
    timeoutMs: t.timeoutMs,
    maxResponseBytes: t.maxResponseBytes,
    rateLimit: t.rateLimit,
    retry: t.retry,
    onRetry: (r) => {
      if (r.reason === 'HTTP 429') onRateLimit?.();
      logger.debug(`retry ${r.attempt} of ${r.method} ${r.path} in ${r.delayMs} ms (${r.reason})`, {
        integration: integration.name,
      });
    },
  });
}

export interface MappedUsers {
  desired: DesiredUser[];
  /** Users a profile rule or a required mapping keeps from being sent, with why. */
  invalid: Map<string, RuleProblem[]>;
  /** Notes per user (e.g. a manager left empty because out of scope). */
  notes: Map<string, string[]>;
}

/**
 * Maps source users to what the target should hold, and checks the profile's
 * rules. A reference to a user who is not provisioned (out of scope, or not in
 * the source) is left empty, with a note.
 */
export async function mapUsers(users: readonly SourceUser[], profile: ResolvedProfile, provisioned: ReadonlySet<string>): Promise<MappedUsers> {
  const out: MappedUsers = { desired: [], invalid: new Map(), notes: new Map() };
  const sync = !profile.mapper.hasExpressions;
  const references = profile.mapper.referencePaths;
  for (const u of users) {
    const m = sync ? profile.mapper.mapSync(u) : await profile.mapper.map(u);
    if (m.problems.length > 0) {
      out.invalid.set(u.id, m.problems);
      continue;
    }
    for (const path of references) {
      for (const bucket of [m.attrs, m.createOnly]) {
        const v = bucket[path];
        if (v !== undefined && isUserRef(v) && !provisioned.has(v.userRef)) {
          delete bucket[path];
          out.notes.set(u.id, [...(out.notes.get(u.id) ?? []), `${path} left empty: user ${v.userRef} is not provisioned (out of scope or not in the source)`]);
        }
      }
    }
    out.desired.push({
      sourceId: u.id,
      attrs: m.attrs,
      active: u.active,
      ...(hasKeys(m.createOnly) ? { createOnly: m.createOnly } : {}),
      ...(m.keep.length ? { keep: m.keep } : {}),
    });
  }
  return out;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * One cycle of one integration: snapshot, map, plan, deliver, commit, events.
 * Each operation is recorded as in flight before its request, and its result
 * committed within a few milliseconds of completing.
 */
export async function runCycle(options: CycleOptions): Promise<CycleReport> {
  const { integration, store, logger } = options;
  const name = integration.name;
  const started = Date.now();
  const cycleId = randomUUID();
  const counts = emptyCounts();
  const dryRun = options.dryRun ?? false;
  const profile = resolveProfile(integration);

  const emit = (e: Omit<NewEvent, 'time' | 'integration' | 'cycleId'>) => {
    // Field by field, not spread: one event per operation, and a spread of varied shapes is slow.
    const event: NewEvent = {
      time: new Date().toISOString(),
      integration: name,
      cycleId,
      type: e.type,
      result: e.result,
      sourceId: e.sourceId ?? null,
      targetId: e.targetId ?? null,
      summary: e.summary,
    };
    if (e.detail !== undefined) event.detail = e.detail;
    if (!dryRun) store.insertEvent(event);
    if (!dryRun) options.onEvent?.(event);
    const level = e.result === 'failure' ? 'warn' : 'info';
    // Formatting a line nobody will see costs more than the event itself: ask first.
    if (!logger.silent && logger.isLevelEnabled(level)) {
      logger.log(level, `${e.type} ${e.result}: ${e.summary}`, { integration: name, cycleId, event: e.type });
    }
  };

  const now = options.now ?? (() => new Date());
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
  let interrupted: InflightEntry[] = [];
  const timing: { deliveryMs?: number } = {};
  if (!dryRun) {
    store.startCycle(cycleId, name, dryRun);
    const reauth = recordIntegrationChange(integration, store, emit);
    const quarantine = store.getQuarantine(name);
    if (quarantine && (reauth || options.force)) {
      store.setQuarantine(name, undefined, !reauth);
      emit({
        type: 'idm_integration_update',
        result: 'success',
        summary: `quarantine lifted (${reauth ? 'credentials changed' : 'sync --force'})`,
        detail: { quarantine: { lifted: true, was: quarantine } },
      });
    } else if (quarantine && Date.parse(quarantine.until) > now().getTime()) {
      const msg = `quarantined until ${quarantine.until} (${quarantine.reason}); run scimsync sync --force to try now`;
      logger.warn(msg, { integration: name });
      finish('aborted', 3, []);
      throw new SafetyAbortError(name, msg);
    }
    interrupted = store.takeInterrupted(name, cycleId);
    if (interrupted.length > 0) {
      logger.warn(`the previous cycle was interrupted with ${interrupted.length} operations in flight; they are checked against the target before anything is sent again`, { integration: name });
    }
  }

  // The writer thread of the delivery boots while the source is read and the plan made.
  if (!dryRun) store.prepareBackgroundWrites();

  // 1. Snapshot. An unreadable source throws SourceError (exit 2) and never deprovisions.
  const source = options.source ?? createSource(integration);
  let snapshotResult;
  try {
    snapshotResult = await source.snapshot();
  } catch (err) {
    if (!dryRun) store.finishCycle(cycleId, 'failed', { ...counts });
    throw err;
  }
  const { snapshot, problems } = snapshotResult;
  // A row that cannot be read names an object that is still in the source: it is held as it
  // is in the target until the row is fixed, never taken for one that left.
  const doubtfulUsers = new Set<string>();
  const doubtfulGroups = new Set<string>();
  for (const p of problems) {
    if (p.sourceId !== undefined && p.sourceId !== null) (isGroupRow(p.location) ? doubtfulGroups : doubtfulUsers).add(p.sourceId);
    counts.skippedRows++;
    emit({
      type: isGroupRow(p.location) ? 'group_create_provision' : 'user_create_provision',
      result: 'skipped',
      sourceId: p.sourceId ?? null,
      summary: `source row skipped: ${p.location}: ${p.message}`,
      detail: { location: p.location, reason: p.message },
    });
  }

  // A source that shrank past safety.minSourceRatio, or returned nobody, is an outage, not a mass leave.
  const lastGood = store.lastSourceUsers(name);
  const count = snapshot.users.length;
  const ratio = integration.safety.minSourceRatio;
  if (lastGood !== undefined && lastGood > 0 && !options.force && (count === 0 || count < ratio * lastGood)) {
    const msg =
      `the source returned ${count} users, ${count === 0 ? 'none' : `${Math.round((count / lastGood) * 100)}%`} of the ${lastGood} of the last good snapshot ` +
      `(safety.minSourceRatio ${ratio}): cycle aborted, nothing sent; sync --force to accept it`;
    emit({ type: 'user_deprovision', result: 'skipped', summary: msg, detail: { sourceUsers: count, lastGood, minSourceRatio: ratio } });
    finish('aborted', 3, []);
    throw new SafetyAbortError(name, msg);
  }

  // 2. Scope and map, 3. plan.
  const scoped = scopeSnapshot(snapshot.users, snapshot.groups, { groups: integration.scope?.groups, nested: integration.groups.nested });
  for (const p of scoped.problems) {
    emit({ type: 'group_create_provision', result: 'skipped', summary: `${p.location}: ${p.message}`, detail: { location: p.location, reason: p.message } });
  }
  // Scoping filters (OR of AND-clauses) on top of scope.groups.
  const filters = integration.scope?.filters;
  const inScopeUsers = filters && filters.length > 0 ? scoped.users.filter((u) => inScope(u, filters)) : scoped.users;
  const inScopeIds = new Set(inScopeUsers.map((u) => u.id));
  const allState = store.loadUsers(name);
  // References may point at users provisioned now, or left in place out of scope.
  let referable = inScopeIds;
  const alsoReferable = (id: string) => {
    if (referable === inScopeIds) referable = new Set(inScopeIds);
    referable.add(id);
  };
  if (integration.scope?.skipOutOfScopeDeletions) {
    for (const s of allState) if (s.targetId !== null && s.status !== 'deleted' && !referable.has(s.sourceId)) alsoReferable(s.sourceId);
  }
  const protect = protectRule(integration.protect);
  // Users in state whose pushed userName or displayName is protected (read without the rest of their attributes).
  const protectedState = new Set<string>();
  if (protect.active) for (const u of store.loadUserNames(name)) if (protect.covers(u.names)) protectedState.add(u.sourceId);
  // A protected account stays as it is, so it can still be referenced (as a manager, say).
  if (protectedState.size > 0) {
    for (const s of allState) if (s.targetId !== null && s.status !== 'deleted' && protectedState.has(s.sourceId) && !referable.has(s.sourceId)) alsoReferable(s.sourceId);
  }
  const mapped = await mapUsers(inScopeUsers, profile, referable);
  const desired = mapped.desired;
  const groupState = store.loadGroups(name);
  let managed = 0;
  for (const s of allState) if (s.targetId !== null && s.status !== 'deleted') managed++;
  if (inScopeUsers.length === 0 && managed > 0) {
    const msg = `the source returned no users in scope while ${managed} are provisioned: cycle aborted, nothing sent`;
    emit({ type: 'user_deprovision', result: 'skipped', summary: msg, detail: { sourceUsers: snapshot.users.length, inScope: 0, managed } });
    finish('aborted', 3, []);
    throw new SafetyAbortError(name, msg);
  }
  // Groups and memberships that vanish or shrink past the ratio are an outage too (a failed group search).
  if (!options.force) {
    const shrink = groupShrinkage(scoped.groups, { groups: groupState, memberships: store.membershipCount(name) }, ratio);
    if (shrink) {
      const msg = `${shrink}: cycle aborted, nothing sent; sync --force to accept it`;
      emit({ type: 'group_delete_provision', result: 'skipped', summary: msg, detail: { minSourceRatio: ratio } });
      finish('aborted', 3, []);
      throw new SafetyAbortError(name, msg);
    }
  }
  // Users who fail validation are held as they are: neither sent nor deprovisioned.
  const held = new Set(mapped.invalid.keys());
  // Looked up only for the few users that need it (invalid ones, a held plan's): built on first use.
  let stateIndex: Map<string, StateUser> | undefined;
  const stateOf = (id: string) => (stateIndex ??= new Map(allState.map((s) => [s.sourceId, s]))).get(id);
  for (const [sourceId, problems] of mapped.invalid) {
    const known = stateOf(sourceId);
    const linked = known && known.targetId !== null && known.status !== 'deleted' ? known : undefined;
    counts.invalid++;
    emit({
      type: linked ? 'user_update_provision' : 'user_create_provision',
      result: 'failure',
      sourceId,
      targetId: linked?.targetId ?? null,
      summary: `${sourceId} not sent: ${problems.map((p) => p.message).join('; ')}`,
      detail: { problems },
    });
  }
  // Protected accounts (by userName or displayName glob) are never modified or deprovisioned.
  // Their memberships stay as they are too (frozen), as do those of users whose row is in doubt.
  const frozen = new Set<string>(doubtfulUsers);
  if (protect.active) {
    for (const id of protectedState) held.add(id);
    for (const d of desired) if (protect.covers([d.attrs.userName, d.attrs.displayName])) held.add(d.sourceId);
    for (const id of held) if (!mapped.invalid.has(id)) frozen.add(id);
  }
  for (const id of doubtfulUsers) held.add(id);
  // With scope.skipOutOfScopeDeletions, users who are in the source but out of scope are left alone.
  if (integration.scope?.skipOutOfScopeDeletions) {
    for (const u of snapshot.users) if (!inScopeIds.has(u.id)) held.add(u.id);
  }
  const state = held.size > 0 ? allState.filter((s) => !held.has(s.sourceId)) : allState;
  const sendable = held.size > 0 ? desired.filter((d) => !held.has(d.sourceId)) : desired;
  for (const [sourceId, notes] of mapped.notes) logger.info(`${sourceId}: ${notes.join('; ')}`, { integration: name });
  const plan = planCycle(sendable, state, { deprovision: integration.deprovision.action }, {
    desired: scoped.groups,
    state: groupState,
    held: held.size > 0 ? new Map(allState.filter((s) => held.has(s.sourceId)).map((s) => [s.sourceId, s])) : new Map(),
    ...(frozen.size > 0 ? { frozen } : {}),
    ...(doubtfulGroups.size > 0 ? { heldGroups: doubtfulGroups } : {}),
    options: {
      behaviour: profile.groups,
      membersPerRequest: integration.groups.membersPerRequest ?? profile.groups.membersPerRequest,
      groupDeprovision: integration.groups.deprovision,
      userDeprovision: integration.deprovision.action,
    },
  });
  counts.planned = plan.operations.length;
  // A mass deprovision is held until an admin approves it (scimsync approve).
  const hold = checkMassDeprovision(integration, plan.operations, managed, stateOf, store, !dryRun);
  if (hold && !hold.approved) {
    emit({ type: 'user_deprovision', result: 'skipped', summary: hold.message, detail: { deprovisions: hold.deprovisions, managed, reason: hold.reason } });
    if (dryRun) return { ...finish('dry-run', 3, plan.operations), hold };
    finish('aborted', 3, plan.operations);
    throw new SafetyAbortError(name, hold.message);
  }
  if (hold?.approved && !dryRun) {
    emit({ type: 'user_deprovision', result: 'success', summary: `approved mass deprovision applied: ${hold.message}`, detail: { deprovisions: hold.deprovisions, approved: true } });
  }
  // Escrow: an operation that failed escrow.maxCycles cycles running is given up until it changes.
  const escrowed = dryRun ? [] : store.loadEscrow(name);
  const givenUp = new Map(escrowed.filter((e) => e.givenUp).map((e) => [e.key, e.fingerprint]));
  const fingerprints = new Map(plan.operations.map((op) => [op.key, fingerprint(op)]));
  const operations = plan.operations.filter(
    (op) => givenUp.get(op.key) !== fingerprints.get(op.key) && (options.onlyUser === undefined || concerns(op, options.onlyUser)),
  );
  counts.givenUp = plan.operations.filter((op) => givenUp.get(op.key) === fingerprints.get(op.key)).length;
  counts.planned = operations.length;
  if (dryRun) return { ...finish('dry-run', 0, operations), ...(hold ? { hold } : {}) };

  // 4. Deliver, 5. commit each result, 6. events.
  const deliveryStarted = Date.now();
  // SQLite writes move to a thread of their own for the delivery, beside the HTTP loop.
  store.startBackgroundWrites();
  // Its requests come from the delivery's queue (and, before it, the one bulk read): no second queue.
  const client = options.client ?? clientFor(integration, logger, options.onRateLimit, true);
  let delivery: Delivery;
  try {
    // Many new users (a first run against an app that already has accounts): one paginated
    // read of the target matches them all, instead of a lookup per user.
    const creates = operations.filter((op) => op.kind === 'user.create').length;
    let accounts: AccountIndex | undefined;
    if (creates > 1 && !options.signal?.aborted) {
      const read = await readAccountIndex(client, creates, profile.matching);
      accounts = read.index;
      if (read.requests > 0) logger.info(`bulk matching of ${creates} new users: ${read.reason}`, { integration: name });
    }
    delivery = new Delivery(integration, store, client, profile, state, groupState, desired, emit, counts, {
      cycleId,
      fingerprints,
      maxCycles: integration.escrow?.maxCycles ?? 5,
      escrowKeys: new Set(escrowed.map((e) => e.key)),
      dirtyGroups: new Set(interrupted.filter((e) => e.key.startsWith('group:')).map((e) => e.sourceId)),
      ...(accounts ? { accounts } : {}),
      protect,
      ...(options.signal ? { signal: options.signal } : {}),
      graceMs: options.shutdownGraceMs ?? 30_000,
    });
    await delivery.run(operations, options.onProgress);
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
    const until = new Date(now().getTime() + Math.min(2 ** (level - 1) * HOUR_MS, 24 * HOUR_MS)).toISOString();
    store.setQuarantine(name, { until, level, reason });
    emit({
      type: 'idm_integration_update',
      result: 'failure',
      summary: `integration quarantined until ${until}: ${reason}`,
      detail: { quarantine: { until, level, reason } },
    });
  } else if (delivery.succeeded > 0 && store.quarantineLevel(name) > 0) {
    store.setQuarantine(name, undefined);
  }
  if (delivery.fatal) {
    const msg = delivery.fatal;
    finish('failed', 1, operations, msg);
    throw new TargetUnavailableError(name, msg);
  }
  store.setLastSourceUsers(name, count);
  // An approval is good for one cycle.
  if (hold?.approved) store.clearHeldPlan(name);
  else if (!hold) store.clearHeldPlan(name);
  if (options.signal?.aborted) return finish('interrupted', 1, operations, 'stopped by a signal');
  const partial = counts.failed > 0 || counts.held > 0 || counts.invalid > 0;
  return finish(partial ? 'partial' : 'success', partial ? 1 : 0, operations);
}

/** A group row's problem (its location names the groups part of the source), not a user row's. */
function isGroupRow(location: string): boolean {
  return location.includes('groups');
}

/**
 * Why the source's groups or memberships look like an outage rather than a change:
 * fewer groups, or fewer memberships, than `ratio` of those last pushed. Undefined when they do not.
 */
export function groupShrinkage(
  desired: readonly { members: readonly string[] }[],
  pushed: { groups: readonly StateGroup[]; memberships: number },
  ratio: number,
): string | undefined {
  let groups = 0;
  for (const g of pushed.groups) if (g.targetId !== null && g.status !== 'deleted') groups++;
  const memberships = pushed.memberships;
  if (groups > 0 && shrank(desired.length, groups, ratio)) {
    return `the source returned ${desired.length} groups, ${percent(desired.length, groups)} of the ${groups} provisioned (safety.minSourceRatio ${ratio})`;
  }
  let wanted = 0;
  for (const g of desired) wanted += g.members.length;
  if (memberships > 0 && shrank(wanted, memberships, ratio)) {
    return `the source's groups have ${wanted} members, ${percent(wanted, memberships)} of the ${memberships} provisioned (safety.minSourceRatio ${ratio})`;
  }
  return undefined;
}

/** Losses this small are ordinary changes (a group deleted, a person moved), whatever the ratio: only the ratio's larger losses, and vanishing, hold. */
const SMALL_LOSS = 5;
const shrank = (now: number, before: number, ratio: number) => now === 0 || (now < ratio * before && before - now > SMALL_LOSS);

const percent = (n: number, of: number) => (n === 0 ? 'none' : `${Math.round((n / of) * 100)}%`);

/**
 * Whether a plan deprovisions (deactivates or deletes) more users than
 * `safety.maxDeletes`, or more than `safety.maxDeletePercent` of those managed.
 * Such a plan is recorded as held; it goes ahead only when approved and when it
 * deprovisions no one the approval did not cover.
 */
function checkMassDeprovision(
  integration: IntegrationConfig,
  operations: readonly Operation[],
  managed: number,
  stateOf: (sourceId: string) => StateUser | undefined,
  store: StateStore,
  record: boolean,
): MassDeprovision | undefined {
  const deprovs = operations.filter((op) => op.kind === 'user.deactivate' || op.kind === 'user.delete');
  const { maxDeletes, maxDeletePercent } = integration.safety;
  const n = deprovs.length;
  let reason: string | undefined;
  if (n > maxDeletes) reason = `more than safety.maxDeletes (${maxDeletes})`;
  else if (maxDeletePercent !== undefined && n > 0 && managed > 0 && (n / managed) * 100 > maxDeletePercent) {
    reason = `${Math.round((n / managed) * 1000) / 10}% of ${managed} managed, more than safety.maxDeletePercent (${maxDeletePercent}%)`;
  }
  if (reason === undefined) return undefined;
  const prior = store.getHeldPlan(integration.name);
  const approvedIds = prior?.approvedAt ? new Set(prior.objects.map((o) => o.sourceId)) : undefined;
  const approved = approvedIds !== undefined && deprovs.every((op) => approvedIds.has(op.sourceId));
  const message = approved
    ? `${n} users deprovisioned (${reason}), as approved on ${prior?.approvedAt ?? ''}`
    : `the plan would deprovision ${n} users, ${reason}: cycle held, nothing sent; review it with scimsync plan, then scimsync approve ${integration.name}`;
  if (!approved && record) {
    const objects = deprovs.map((op) => ({ kind: op.kind, sourceId: op.sourceId, userName: String(stateOf(op.sourceId)?.attrs.userName ?? '') }));
    store.holdPlan(integration.name, { reason, managed, objects });
  }
  return { deprovisions: n, reason, message, approved };
}

function recordIntegrationChange(
  integration: IntegrationConfig,
  store: StateStore,
  emit: (e: Omit<NewEvent, 'time' | 'integration' | 'cycleId'>) => void,
): boolean {
  let reauth = false;
  const key = store.fingerprintKey();
  const known = store.getIntegration(integration.name);
  if (!known) {
    emit({ type: 'idm_integration_activate', result: 'success', summary: `integration ${integration.name} activated` });
  } else {
    // A fingerprint stored before the state had a key compares with its legacy form: an upgrade is no new credential.
    if (credentialsChanged(known.authHash, integration, key)) {
      emit({ type: 'idm_integration_reauth', result: 'success', summary: 'target credentials changed' });
      reauth = true;
    }
    if (configChanged(known.configHash, integration, key)) {
      emit({ type: 'idm_integration_update', result: 'success', summary: 'integration configuration changed' });
    }
  }
  store.putIntegration({ name: integration.name, ...integrationHashes(integration, key) });
  return reauth;
}

interface DeliveryContext {
  cycleId: string;
  fingerprints: ReadonlyMap<string, string>;
  maxCycles: number;
  /** Operations held in escrow when the cycle started (cleared when they succeed). */
  escrowKeys: Set<string>;
  /** Groups whose change was in flight when a cycle was interrupted: read before changing. */
  dirtyGroups: Set<string>;
  signal?: AbortSignal;
  graceMs: number;
  /** Every account of the target, read at the start of the cycle: lookups are answered from it. */
  accounts?: AccountIndex;
  /** Accounts that are never adopted, changed or deprovisioned. */
  protect: ProtectRule;
}

type Emit = (e: Omit<NewEvent, 'time' | 'integration' | 'cycleId'>) => void;

interface Outcome {
  result: EventResult;
  type: EventType;
  summary: string;
  targetId?: string | null;
  /** Built for this outcome alone: the event completes it in place. */
  detail: Record<string, unknown>;
  /** Nothing was attempted and nothing needs saying (the cause was reported already). */
  silent?: boolean;
}

/** How an account came to be linked: found before creating, or found after a create whose answer was lost. */
type AdoptOrigin = 'existing' | 'lost-answer';

type Lookup = { kind: 'found'; resources: ScimResource[] } | { kind: 'failed'; outcome: Outcome };

type CreateResult = { kind: 'created'; outcome: Outcome } | { kind: 'found'; resources: ScimResource[]; origin: AdoptOrigin };

/** A key, and its lower-cased spelling where that differs (targets that fold case on write but filter with it). */
function lookupVariants(keys: readonly MatchKey[]): MatchKey[] {
  const out: MatchKey[] = [];
  for (const k of keys) {
    out.push(k);
    const lower = k.value.toLowerCase();
    if (lower !== k.value && k.attribute !== 'externalId') out.push({ attribute: k.attribute, value: lower });
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function errorDetail(err: unknown): Record<string, unknown> {
  if (err instanceof ScimHttpError) {
    return {
      error: err.message,
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.scimType ? { scimType: err.scimType } : {}),
      ...(err.detail ? { scimDetail: err.detail } : {}),
      ...(err.requestId ? { requestId: err.requestId } : {}),
      attempts: (err as ScimHttpError & { attempts?: number }).attempts ?? 1,
    };
  }
  return { error: errorMessage(err) };
}

/** Carries out one plan against one target. */
class Delivery {
  /** Set when the target refused us outright (401/403): the cycle stops taking operations. */
  fatal: string | undefined;
  /** Operations that succeeded this cycle. */
  succeeded = 0;
  private readonly targetIds = new Map<string, string>();
  private readonly stateById = new Map<string, StateUser>();
  private readonly desiredById = new Map<string, DesiredUser>();
  private readonly groups = new Map<string, { sourceId: string; targetId: string | null; status: StateGroup['status']; displayName: string; members: Set<string> }>();
  private readonly updatedGroups = new Set<string>();
  private readonly keepInflight = new Set<string>();
  private scanIndex: Promise<AccountIndex> | undefined;
  /** Set once the target is seen ignoring a lookup filter: why no lookup is trusted for the rest of the cycle. */
  private filterIgnored: string | undefined;
  /**
   * Operations recorded as in flight (a window at a time, ahead of their start): the commit
   * (markInflight's ticket) that holds each record, STARTED once the operation has started.
   */
  private readonly tickets = new Map<string, number>();
  /** Operations recorded ahead and not started yet. */
  private ahead = 0;
  private done = 0;
  private onProgress: ((done: number, total: number, failed: number) => void) | undefined;
  private total = 0;
  /** Operations in the order they became ready to start (their dependencies settled): the queue starts them in this order. */
  private readonly ready: Operation[] = [];
  private nextToMark = 0;

  constructor(
    private readonly integration: IntegrationConfig,
    private readonly store: StateStore,
    private readonly client: ScimClient,
    private readonly profile: ResolvedProfile,
    state: StateUser[],
    groupState: StateGroup[],
    desired: DesiredUser[],
    private readonly emit: Emit,
    private readonly counts: CycleCounts,
    private readonly cycle: DeliveryContext,
  ) {
    for (const g of groupState) this.groups.set(g.sourceId, { ...g, members: new Set(g.members) });
    for (const s of state) {
      this.stateById.set(s.sourceId, s);
      if (s.targetId !== null && s.status !== 'deleted') this.targetIds.set(s.sourceId, s.targetId);
    }
    for (const d of desired) this.desiredById.set(d.sourceId, d);
  }

  private readonly resolve = (sourceId: string) => this.targetIds.get(sourceId);

  async run(operations: Operation[], onProgress?: (done: number, total: number, failed: number) => void): Promise<void> {
    // An operation sends its requests one after the other: maxConcurrent operations at once are
    // maxConcurrent requests at most, what the target allows.
    const queue = new PQueue({ concurrency: this.integration.target.rateLimit.maxConcurrent });
    const settled = new Map<string, Promise<unknown>>();
    const signal = this.cycle.signal;
    this.onProgress = onProgress;
    this.total = operations.length;
    const start = (op: Operation) => {
      this.ready.push(op);
      return queue.add(() => this.execute(op));
    };
    const none = Promise.resolve();
    for (const op of operations) {
      const deps: Promise<unknown>[] = [];
      for (const k of op.dependsOn) {
        const d = settled.get(k);
        if (d) deps.push(d);
      }
      // Started once what it depends on has settled (at the earliest, after this loop has queued everything).
      const after = deps.length === 0 ? none : deps.length === 1 ? deps[0]! : Promise.all(deps);
      settled.set(op.key, after.then(() => start(op)));
    }
    const all = Promise.all(settled.values()).then(() => undefined);
    let onAbort: (() => void) | undefined;
    try {
      if (!signal) return await all;
      // On a shutdown, wait for the requests in flight, but not forever: at the end of the
      // grace they are cut off, stay recorded as in flight, and are checked at the next cycle.
      const grace = new Promise<void>((resolve) => {
        onAbort = () => {
          const timer = setTimeout(() => {
            this.client.abort();
            resolve();
          }, this.cycle.graceMs);
          timer.unref();
          void all.then(() => clearTimeout(timer));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([all, grace]);
    } finally {
      // The signal outlives the cycle (the daemon's): a listener left on it would pile up, cycle after cycle.
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      // Recorded ahead, never started (a shutdown, a refused credential): not in flight after all.
      for (const [key, ticket] of this.tickets) if (ticket !== STARTED) this.store.clearInflight(this.integration.name, key);
    }
  }

  /**
   * Records `op` as in flight, with the operations queued after it: one commit
   * covers a window of requests. A crash leaves the window's records behind,
   * and the next cycle checks those operations against the target: safe, if a
   * little more reading than needed. Returns once `op`'s record is committed.
   */
  private markInflight(op: Operation): void {
    let ticket = this.tickets.get(op.key);
    if (ticket === undefined) ticket = this.markWindow(op);
    this.tickets.set(op.key, STARTED);
    this.ahead--;
    // With the writer thread, the next window is recorded ahead, so that its
    // commit is done by the time its requests go out: the HTTP loop never waits.
    if (this.store.writesInBackground && this.ahead < INFLIGHT_WINDOW && this.nextToMark < this.ready.length) this.markWindow();
    this.store.awaitInflight(ticket);
  }

  /** Records a window of ready operations (`first` first) as in flight; returns its ticket. */
  private markWindow(first?: Operation): number {
    const window: Operation[] = first ? [first] : [];
    while (window.length < INFLIGHT_WINDOW && this.nextToMark < this.ready.length) {
      const next = this.ready[this.nextToMark++]!;
      if (next === first || this.tickets.has(next.key)) continue;
      window.push(next);
    }
    if (window.length === 0) return 0;
    const ticket = this.store.markInflight(this.integration.name, window, this.cycle.cycleId);
    for (const o of window) this.tickets.set(o.key, ticket);
    this.ahead += window.length;
    return ticket;
  }

  private async execute(op: Operation): Promise<void> {
    if (this.fatal) return;
    if (this.cycle.signal?.aborted) {
      this.counts.notStarted++;
      return;
    }
    const started = Date.now();
    const name = this.integration.name;
    this.markInflight(op);
    let outcome: Outcome;
    try {
      outcome = await this.apply(op);
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'fatal') {
        this.fatal = `the target refused our credentials (HTTP ${err.status ?? '?'}) at ${err.method} ${err.path}; the cycle stopped`;
      } else if (err instanceof ScimHttpError && err.status === undefined && this.succeeded === 0 && UNREACHABLE.test(err.detail ?? '')) {
        // Nothing has got through yet and no connection can be made: the target is down, not this object.
        this.fatal = `the target is unreachable (${err.detail ?? 'network error'}) at ${this.integration.target.url}; the cycle stopped`;
      }
      this.counts.failed++;
      outcome = {
        result: 'failure',
        type: eventTypeOf(op),
        summary: `${op.kind} ${op.sourceId} failed: ${errorMessage(err)}`,
        targetId: 'targetId' in op ? op.targetId : null,
        detail: errorDetail(err),
      };
    }
    if (!this.keepInflight.has(op.key)) this.store.clearInflight(name, op.key);
    if (outcome.result === 'success') {
      this.succeeded++;
      if (this.cycle.escrowKeys.delete(op.key)) this.store.clearEscrow(name, op.key);
    }
    if (outcome.silent) return this.progress();
    // The outcome's detail is its own (built for this event): completed in place.
    const detail = outcome.detail;
    detail.operation = op.kind;
    detail.durationMs = Date.now() - started;
    this.emit({ type: outcome.type, result: outcome.result, sourceId: op.sourceId, targetId: outcome.targetId ?? null, summary: outcome.summary, detail });
    if (outcome.result === 'failure' && !this.fatal) this.escrow(op, outcome);
    this.progress();
  }

  private progress(): void {
    this.onProgress?.(++this.done, this.total, this.counts.failed);
  }

  /** Keeps a failed operation for the next cycle, or gives it up after escrow.maxCycles. */
  private escrow(op: Operation, outcome: Outcome): void {
    const attempts = typeof outcome.detail.attempts === 'number' ? outcome.detail.attempts : 1;
    const entry = this.store.recordFailure(
      this.integration.name,
      { key: op.key, fingerprint: this.cycle.fingerprints.get(op.key) ?? '', kind: op.kind, sourceId: op.sourceId },
      { error: outcome.summary, attempts, cycleId: this.cycle.cycleId },
      this.cycle.maxCycles,
    );
    this.cycle.escrowKeys.add(op.key);
    if (!entry.givenUp) {
      this.counts.escrowed++;
      return;
    }
    this.emit({
      type: outcome.type,
      result: 'failure',
      sourceId: op.sourceId,
      targetId: outcome.targetId ?? null,
      summary: `${op.kind} ${op.sourceId} given up after failing ${entry.cycles} cycles (escrow.maxCycles): ${outcome.summary}`,
      detail: { givenUp: true, cycles: entry.cycles, attempts: entry.attempts, firstFailedAt: entry.firstFailedAt, reason: outcome.summary },
    });
  }

  private save(sourceId: string, targetId: string | null, status: StateUser['status'], attrs: ScimAttrs): void {
    const user: StateUser = { sourceId, targetId, status, attrs };
    this.store.saveUser(this.integration.name, user);
    this.stateById.set(sourceId, user);
    if (targetId !== null && status !== 'deleted') this.targetIds.set(sourceId, targetId);
    else this.targetIds.delete(sourceId);
  }

  private apply(op: Operation): Promise<Outcome> {
    switch (op.kind) {
      case 'user.create':
        return this.createOrAdopt(op.sourceId, op.attrs);
      case 'user.update':
      case 'user.reactivate':
      case 'user.deactivate':
        return this.patch(op);
      case 'user.delete':
        return this.delete(op.sourceId, op.targetId);
      case 'group.create':
        return this.createGroup(op);
      case 'group.update':
      case 'group.members.add':
      case 'group.members.remove':
        return this.changeGroup(op);
      case 'group.delete':
        return this.deleteGroup(op);
      default: {
        const never: never = op;
        throw new Error(`unknown operation ${JSON.stringify(never)}`);
      }
    }
  }

  /** Look up, then create or adopt. A match found before or after a 409, or after a lost answer, is linked, never duplicated. */
  private async createOrAdopt(sourceId: string, attrs: ScimAttrs): Promise<Outcome> {
    const keys = matchKeys(this.profile.matching, attrs);
    const first = keys[0];
    if (!first) {
      this.counts.failed++;
      return { result: 'failure', type: 'user_create_provision', summary: `${sourceId} has none of the matching attributes (${this.profile.matching.join(', ')})`, detail: {} };
    }
    const looked = await this.lookupUser(keys, 'planned');
    if (looked.kind === 'failed') return looked.outcome;
    let found = looked.resources;
    let origin: AdoptOrigin = 'existing';
    if (found.length === 0) {
      const created = await this.createUser(sourceId, attrs, keys);
      if (created.kind === 'created') return created.outcome;
      found = created.resources;
      origin = created.origin;
    }
    if (found.length > 1) {
      this.counts.held++;
      return {
        result: 'failure',
        type: 'user_lookup_provision',
        summary: `${first.value} matches ${found.length} accounts in the target: held, not created or adopted`,
        detail: { candidates: found.map((r) => r.id) },
      };
    }
    return this.adopt(sourceId, attrs, found[0]!, origin);
  }

  /**
   * The target's accounts for the first matching key that finds any. Every returned
   * account is checked against the filter: a target that ignores filters answers with
   * accounts that do not match, and none of them is adopted. `fresh` reads the target
   * even when the cycle's bulk read could answer (after a write whose answer was lost).
   */
  private async lookupUser(keys: readonly MatchKey[], when: 'planned' | 'fresh'): Promise<Lookup> {
    let found: ScimResource[] = [];
    for (const key of keys) {
      if (this.cycle.accounts && when === 'planned') {
        found = this.cycle.accounts.find(key.attribute, key.value);
      } else {
        if (this.filterIgnored) return { kind: 'failed', outcome: this.lookupRefused(key, this.filterIgnored) };
        let resources: ScimResource[];
        try {
          resources = (await this.client.findUsers(key.attribute, key.value)).resources;
        } catch (err) {
          // A refused credential or a dead network is the target's problem, not this user's.
          if (err instanceof ScimHttpError && (err.kind === 'fatal' || err.status === undefined)) throw err;
          this.counts.failed++;
          return { kind: 'failed', outcome: { result: 'failure', type: 'user_lookup_provision', summary: `lookup of ${key.attribute} eq ${key.value} failed: ${errorMessage(err)}`, detail: errorDetail(err) } };
        }
        found = resources.filter((r) => resourceMatches(r, key));
        if (found.length < resources.length) {
          // Remembered for the cycle: no other user is looked up, or adopted, through this filter.
          this.filterIgnored = `the target ignored the filter ${key.attribute} eq ${filterValue(key.value)}: it answered ${resources.length} accounts, ${resources.length - found.length} of which do not match`;
          return { kind: 'failed', outcome: this.lookupRefused(key, this.filterIgnored) };
        }
      }
      if (found.length > 0) break;
    }
    return { kind: 'found', resources: found };
  }

  private lookupRefused(key: MatchKey, why: string): Outcome {
    this.counts.failed++;
    return {
      result: 'failure',
      type: 'user_lookup_provision',
      summary: `${key.value} not created or adopted: ${why}; lookups are off for the rest of this cycle (check the target's filter support)`,
      detail: { reason: 'filter-ignored' },
    };
  }

  /**
   * POSTs the user. A create is never repeated blindly: when its answer is lost (no
   * answer, 5xx, an answer that is not SCIM, a 201 without an id) it may have been
   * applied, so the target is read first, and the account adopted if it is there.
   */
  private async createUser(sourceId: string, attrs: ScimAttrs, keys: readonly MatchKey[]): Promise<CreateResult> {
    const { body, sent } = buildResource(attrs, true, this.resolve);
    const policy = this.integration.target.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        const { resource, attempts } = await this.client.createUser(body);
        this.save(sourceId, resource.id, 'active', sent);
        this.counts.created++;
        const detail = { attempts: attempt - 1 + attempts, attributes: Object.keys(sent).length };
        return { kind: 'created', outcome: { result: 'success', type: 'user_create_provision', summary: `created ${keys[0]!.value}`, targetId: resource.id, detail } };
      } catch (err) {
        if (!(err instanceof ScimHttpError)) throw err;
        if (err.kind === 'conflict') {
          // 409: it exists under a spelling the filter missed (case-sensitive filters): find it and adopt.
          const found = await this.findAfterConflict(keys[0]!);
          if (found.length === 0) throw err;
          return { kind: 'found', resources: found, origin: 'existing' };
        }
        if (err.kind !== 'transient') throw err;
        // Whether it was applied is unknown. The next cycle looks the user up before any create, so a
        // failure here is kept in escrow like any other; within this cycle, the target is read first.
        // The read comes after the backoff, so that a request still being served has landed by then.
        if (this.cycle.signal?.aborted) throw err;
        await sleep(backoffDelay(attempt, policy) + policy.baseDelayMs);
        const looked = await this.lookupUser(lookupVariants(keys), 'fresh');
        if (looked.kind === 'failed') return { kind: 'created', outcome: looked.outcome };
        if (looked.resources.length > 0) return { kind: 'found', resources: looked.resources, origin: 'lost-answer' };
        if (attempt >= policy.maxAttempts) throw err;
      }
    }
  }

  private async findAfterConflict(key: MatchKey): Promise<ScimResource[]> {
    for (const variant of lookupVariants([key])) {
      const { resources } = await this.client.findUsers(variant.attribute, variant.value);
      const exact = resources.filter((r) => resourceMatches(r, key));
      if (exact.length > 0) return exact;
    }
    // Last resort: one paginated read of all users per cycle, matched case-insensitively.
    this.scanIndex ??= this.client.listAll('Users').then((r) => new AccountIndex(r.resources, this.profile.matching));
    return (await this.scanIndex).find(key.attribute, key.value);
  }

  /** Links an existing account and brings it to the desired values (one PATCH, or none if equal). A protected account is never adopted. */
  private async adopt(sourceId: string, attrs: ScimAttrs, resource: ScimResource, origin: AdoptOrigin): Promise<Outcome> {
    if (this.cycle.protect.covers([resource.userName, resource.displayName])) {
      this.counts.held++;
      return {
        result: 'failure',
        type: 'user_lookup_provision',
        summary: `${String(attrs.userName ?? sourceId)} matches the protected account ${String(resource.userName ?? resource.id)} (protect): not adopted or changed`,
        targetId: resource.id,
        detail: { protected: true },
      };
    }
    const current: ScimAttrs = {};
    for (const [path, v] of Object.entries(attrs)) {
      const actual = readPath(resource, path);
      if (isUserRef(v)) {
        const id = (actual as { value?: unknown } | undefined)?.value;
        if (typeof id === 'string' && id === this.resolve(v.userRef)) current[path] = v;
      } else if (actual !== undefined && actual !== null) {
        current[path] = actual as ScimAttrs[string];
      }
    }
    const changes = diffAttrs(current, attrs);
    changes.remove = [];
    const { ops, sent } = buildPatchOps(changes, this.resolve);
    if (resource.active !== true) ops.push({ op: 'replace', path: 'active', value: true });
    let attempts = 0;
    if (ops.length > 0) attempts = (await this.client.patchUser(resource.id, ops)).attempts;
    this.save(sourceId, resource.id, 'active', { ...current, ...sent });
    const name = String(attrs.userName ?? sourceId);
    if (origin === 'lost-answer') {
      this.counts.created++;
      return {
        result: 'success',
        type: 'user_create_provision',
        summary: `created ${name} (the answer to the create was lost; the account was found in the target and linked)`,
        targetId: resource.id,
        detail: { recovered: true, attempts, changed: ops.map((o) => o.path) },
      };
    }
    this.counts.adopted++;
    return {
      result: 'success',
      type: 'user_create_provision',
      summary: `adopted existing account ${name}`,
      targetId: resource.id,
      detail: { adopted: true, attempts, changed: ops.map((o) => o.path) },
    };
  }

  private async patch(op: Extract<Operation, { kind: 'user.update' | 'user.reactivate' | 'user.deactivate' }>): Promise<Outcome> {
    const usePut = this.profile.updateVerb === 'put' && hasChanges(op.changes);
    const patch = buildPatchOps(op.changes, this.resolve);
    const removed = patch.removed;
    let { ops, sent } = patch;
    const status: StateUser['status'] = op.kind === 'user.deactivate' ? 'inactive' : 'active';
    const activeOps: PatchOperation[] = [];
    if (op.kind === 'user.deactivate') activeOps.push({ op: 'replace', path: 'active', value: false });
    if (op.kind === 'user.reactivate') activeOps.push({ op: 'replace', path: 'active', value: true });
    const type: EventType = op.kind === 'user.deactivate' ? 'user_deprovision' : 'user_update_provision';
    const prior = this.stateById.get(op.sourceId);
    if (ops.length + activeOps.length === 0) {
      return { result: 'skipped', type, summary: `${op.sourceId}: nothing to send yet (a reference is not resolvable)`, targetId: op.targetId, detail: {} };
    }
    let attempts = 0;
    try {
      if (usePut && ops.length > 0) {
        // Okta-style targets: read the resource, change what we manage, PUT it whole; `active` goes by PATCH.
        const { resource, attempts: read } = await this.client.get('Users', op.targetId);
        const put = applyToResource(resource, op.changes, this.resolve);
        sent = put.sent;
        attempts += read + (await this.client.request('PUT', `/Users/${encodeURIComponent(op.targetId)}`, put.body)).attempts;
        if (activeOps.length > 0) attempts += (await this.client.patchUser(op.targetId, activeOps)).attempts;
      } else {
        ops = [...ops, ...activeOps];
        attempts = (await this.client.patchUser(op.targetId, ops)).attempts;
      }
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'not-found') return this.relink(op, prior);
      throw err;
    }
    if (usePut) ops = [...ops, ...activeOps];
    const attrs: ScimAttrs = { ...(prior?.attrs ?? {}), ...sent };
    for (const path of removed) delete attrs[path];
    this.save(op.sourceId, op.targetId, status, attrs);
    if (op.kind === 'user.deactivate') this.counts.deactivated++;
    else if (op.kind === 'user.reactivate') this.counts.reactivated++;
    else this.counts.updated++;
    const verb = op.kind === 'user.deactivate' ? 'deactivated' : op.kind === 'user.reactivate' ? 'reactivated' : 'updated';
    return {
      result: 'success',
      type,
      summary: `${verb} ${String(attrs.userName ?? op.sourceId)}${changedList(ops)}`,
      targetId: op.targetId,
      detail: { attempts, changed: ops.map((o) => o.path), ...(op.kind === 'user.deactivate' ? { reason: op.reason } : {}) },
    };
  }

  /** 404 on a stored id: the account was removed in the target. Unlink, then re-match (Entra: InvalidAnchor). */
  private async relink(op: Extract<Operation, { kind: 'user.update' | 'user.reactivate' | 'user.deactivate' }>, prior: StateUser | undefined): Promise<Outcome> {
    this.save(op.sourceId, null, 'deleted', {});
    this.forgetMemberships(op.sourceId);
    const desired = this.desiredById.get(op.sourceId);
    if (op.kind === 'user.deactivate' || !desired) {
      this.counts.deactivated++;
      return { result: 'success', type: 'user_deprovision', summary: `${String(prior?.attrs.userName ?? op.sourceId)} no longer exists in the target: unlinked`, targetId: op.targetId, detail: { status: 404, unlinked: true } };
    }
    const outcome = await this.createOrAdopt(op.sourceId, desired.attrs);
    return { ...outcome, detail: { ...outcome.detail, relinkedFrom: op.targetId } };
  }

  private async delete(sourceId: string, targetId: string): Promise<Outcome> {
    const prior = this.stateById.get(sourceId);
    let attempts = 1;
    try {
      attempts = (await this.client.deleteUser(targetId)).attempts;
    } catch (err) {
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
    }
    this.save(sourceId, null, 'deleted', {});
    this.forgetMemberships(sourceId);
    this.counts.deleted++;
    return { result: 'success', type: 'user_delete_provision', summary: `deleted ${String(prior?.attrs.userName ?? sourceId)}`, targetId, detail: { attempts } };
  }
  // ----- groups -----

  /** A user's account is gone from the target: it is in no group there any more. */
  private forgetMemberships(userId: string): void {
    this.store.dropMemberships(this.integration.name, userId);
    for (const g of this.groups.values()) g.members.delete(userId);
  }

  private saveGroup(
    sourceId: string,
    record: { targetId: string | null; status: StateGroup['status']; displayName: string },
    change: { add?: string[]; remove?: string[]; members?: string[] },
  ): void {
    this.store.saveGroup(this.integration.name, { sourceId, ...record }, change);
    const existing = this.groups.get(sourceId);
    const members = change.members ? new Set(change.members) : new Set(existing?.members ?? []);
    for (const u of change.remove ?? []) members.delete(u);
    for (const u of change.add ?? []) members.add(u);
    this.groups.set(sourceId, { sourceId, ...record, members });
  }

  /** Members with a target account, as `[sourceId, targetId]`; the others wait for a later cycle. */
  private resolved(userIds: readonly string[]): [string, string][] {
    const out: [string, string][] = [];
    for (const u of userIds) {
      const t = this.resolve(u);
      if (t !== undefined) out.push([u, t]);
    }
    return out;
  }

  /** Groups named `displayName` in the target; undefined when the target answered with groups of other names (it ignores filters). */
  private async findGroups(displayName: string): Promise<ScimResource[] | undefined> {
    const { resources } = await this.client.find('Groups', 'displayName', displayName, { excludeMembers: true });
    const key = { attribute: 'displayName', value: displayName };
    const found = resources.filter((r) => resourceMatches(r, key));
    return found.length === resources.length ? found : undefined;
  }

  private groupLookupRefused(displayName: string): Outcome {
    this.counts.failed++;
    return {
      result: 'failure',
      type: 'group_create_provision',
      summary: `group ${displayName} not created or adopted: the target ignored the filter displayName eq ${filterValue(displayName)} (it answered groups of other names)`,
      detail: { reason: 'filter-ignored' },
    };
  }

  private async createGroup(op: Extract<GroupOperation, { kind: 'group.create' }>): Promise<Outcome> {
    let found: ScimResource[] | undefined;
    try {
      found = await this.findGroups(op.displayName);
    } catch (err) {
      if (err instanceof ScimHttpError && (err.kind === 'fatal' || err.status === undefined)) throw err;
      this.counts.failed++;
      return { result: 'failure', type: 'group_create_provision', summary: `lookup of group ${op.displayName} failed: ${errorMessage(err)}`, detail: errorDetail(err) };
    }
    if (found === undefined) return this.groupLookupRefused(op.displayName);
    if (found.length === 0) {
      const members = this.resolved(op.members);
      const body: Record<string, unknown> = {
        schemas: [CORE_GROUP_SCHEMA],
        displayName: op.displayName,
        externalId: op.sourceId,
        ...(members.length > 0 ? { members: members.map(([, value]) => ({ value })) } : {}),
      };
      try {
        // Never repeated blindly after a lost answer: group names need not be unique in a target.
        const { resource, attempts } = await this.client.create('Groups', body);
        this.saveGroup(op.sourceId, { targetId: resource.id, status: 'active', displayName: op.displayName }, { members: members.map(([u]) => u) });
        this.counts.groupsCreated++;
        this.counts.membersAdded += members.length;
        return {
          result: 'success',
          type: 'group_create_provision',
          summary: `created group ${op.displayName} with ${members.length} members`,
          targetId: resource.id,
          detail: { attempts, added: members.length },
        };
      } catch (err) {
        // 409, or an answer lost (none, 5xx, not SCIM, no id): it may exist now. Look again and adopt.
        if (!(err instanceof ScimHttpError && (err.kind === 'conflict' || err.kind === 'transient'))) throw err;
        found = await this.findGroups(op.displayName);
        if (found === undefined) return this.groupLookupRefused(op.displayName);
        if (found.length === 0) throw err;
      }
    }
    if (found.length > 1) {
      this.counts.held++;
      return {
        result: 'failure',
        type: 'group_create_provision',
        summary: `group ${op.displayName} matches ${found.length} groups in the target: held, not created or adopted`,
        detail: { candidates: found.map((r) => r.id) },
      };
    }
    return this.adoptGroup(op, found[0]!);
  }

  /** Links an existing group. Members already in it are learnt first, so none is added twice. */
  private async adoptGroup(op: Extract<GroupOperation, { kind: 'group.create' }>, resource: ScimResource): Promise<Outcome> {
    const present = new Set<string>();
    let attempts = 0;
    if (this.profile.groups.readsMembers) {
      const read = await this.client.get('Groups', resource.id, 'attributes=members');
      attempts += read.attempts;
      const bySourceTarget = new Map<string, string>();
      for (const [u, t] of this.targetIds) bySourceTarget.set(t, u);
      const members = Array.isArray(read.resource.members) ? (read.resource.members as { value?: unknown }[]) : [];
      for (const m of members) {
        const u = typeof m.value === 'string' ? bySourceTarget.get(m.value) : undefined;
        if (u !== undefined) present.add(u);
      }
    }
    const ops: PatchOperation[] = [];
    if (resource.displayName !== op.displayName) ops.push({ op: 'replace', path: 'displayName', value: op.displayName });
    const add = this.resolved(op.members.filter((u) => !present.has(u)));
    if (add.length > 0) ops.push({ op: 'add', path: 'members', value: add.map(([, value]) => ({ value })) });
    attempts += await this.sendGroupPatch(resource.id, ops);
    this.saveGroup(op.sourceId, { targetId: resource.id, status: 'active', displayName: op.displayName }, { members: [...present, ...add.map(([u]) => u)] });
    this.counts.groupsAdopted++;
    this.counts.membersAdded += add.length;
    return {
      result: 'success',
      type: 'group_create_provision',
      summary: `adopted existing group ${op.displayName} (${present.size} members already in it, ${add.length} added)`,
      targetId: resource.id,
      detail: { adopted: true, attempts, present: present.size, added: add.length },
    };
  }

  /** Sends PATCH operations, one request unless the target takes one operation a request. */
  private async sendGroupPatch(targetId: string, ops: PatchOperation[]): Promise<number> {
    if (ops.length === 0) return 0;
    // An add repeated after a lost answer would put members in twice on some targets.
    const options = { lostAnswer: ops.some((o) => o.op === 'add') ? ('throw' as const) : ('retry' as const) };
    if (this.profile.groups.multipleOperations) return (await this.client.patch('Groups', targetId, ops, options)).attempts;
    let attempts = 0;
    for (const o of ops) attempts += (await this.client.patch('Groups', targetId, [o], options)).attempts;
    return attempts;
  }

  private async changeGroup(op: GroupChange): Promise<Outcome> {
    const known = this.groups.get(op.sourceId);
    const targetId = op.targetId ?? (known && known.status !== 'deleted' ? known.targetId : null);
    if (!known || targetId === null) {
      // Its create failed and was reported; the members wait for the next cycle.
      return { result: 'skipped', type: 'group_update_provision', summary: `group ${op.displayName} is not in the target yet`, detail: {}, silent: true };
    }
    let refreshAttempts = 0;
    if (this.cycle.dirtyGroups.delete(op.sourceId)) refreshAttempts = await this.refreshMembers(op.sourceId, targetId);
    const g = this.groups.get(op.sourceId) ?? known; // the refresh replaces the record
    const add = this.resolved(op.add.filter((u) => !g.members.has(u)));
    const remove: [string, string][] = [];
    const forget: string[] = [];
    for (const u of op.remove) {
      if (!g.members.has(u)) continue;
      const t = this.stateById.get(u)?.targetId;
      if (t) remove.push([u, t]);
      else forget.push(u);
    }
    const ops: PatchOperation[] = [];
    if (op.rename !== undefined) ops.push({ op: 'replace', path: 'displayName', value: op.rename });
    let replaced: [string, string][] | undefined;
    if (op.replaceMembers) {
      replaced = this.resolved(op.replaceMembers);
      ops.push({ op: 'replace', path: 'members', value: replaced.map(([, value]) => ({ value })) });
    } else {
      if (remove.length > 0) {
        if (this.profile.groups.memberRemoval === 'value-array') {
          ops.push({ op: 'remove', path: 'members', value: remove.map(([, value]) => ({ value })) });
        } else {
          for (const [, t] of remove) ops.push({ op: 'remove', path: `members[value eq ${filterValue(t)}]` });
        }
      }
      if (add.length > 0) ops.push({ op: 'add', path: 'members', value: add.map(([, value]) => ({ value })) });
    }
    const record = { targetId, status: 'active' as const, displayName: op.rename ?? g.displayName };
    if (ops.length === 0) {
      if (forget.length > 0) this.saveGroup(op.sourceId, record, { remove: forget });
      return { result: 'skipped', type: 'group_update_provision', summary: `group ${op.displayName}: nothing to send`, detail: {}, silent: true };
    }
    let attempts: number;
    try {
      attempts = refreshAttempts + (await this.sendGroupPatch(targetId, ops));
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'transient' && op.add.length > 0 && this.profile.groups.readsMembers) {
        // The answer was lost, not necessarily the change: read the group back, so the
        // next cycle adds only who is really missing (no member twice).
        await this.refreshMembers(op.sourceId, targetId).catch(() => {
          // Unknown: leave the change marked in flight, so the next cycle reads the group first.
          this.keepInflight.add(op.key);
        });
        throw err;
      }
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
      // Removed in the target: unlink it; the next cycle creates it again with its members.
      this.saveGroup(op.sourceId, { targetId: null, status: 'deleted', displayName: g.displayName }, { members: [] });
      this.counts.failed++;
      return {
        result: 'failure',
        type: 'group_update_provision',
        summary: `group ${g.displayName} no longer exists in the target: unlinked, it is created again next cycle`,
        targetId,
        detail: { status: 404, unlinked: true },
      };
    }
    let added = add.length;
    let removedCount = remove.length + forget.length;
    if (replaced) {
      const next = replaced.map(([u]) => u);
      const nextSet = new Set(next);
      added = next.filter((u) => !g.members.has(u)).length;
      removedCount = [...g.members].filter((u) => !nextSet.has(u)).length;
      this.saveGroup(op.sourceId, record, { members: next });
    } else {
      this.saveGroup(op.sourceId, record, { add: add.map(([u]) => u), remove: [...remove.map(([u]) => u), ...forget] });
    }
    this.counts.membersAdded += added;
    this.counts.membersRemoved += removedCount;
    this.updatedGroups.add(op.sourceId);
    this.counts.groupsUpdated = this.updatedGroups.size;
    const renamed = op.rename !== undefined ? `renamed from ${g.displayName}; ` : '';
    return {
      result: 'success',
      type: 'group_update_provision',
      summary: `group ${record.displayName}: ${renamed}${added} members added, ${removedCount} removed`,
      targetId,
      detail: { attempts, added, removed: removedCount, ...(op.rename !== undefined ? { renamedFrom: g.displayName } : {}), request: op.key },
    };
  }

  /**
   * Reads a group's members from the target into state, when a change to it may
   * or may not have been applied (interrupted cycle, lost answer), so that no
   * member is added twice.
   */
  private async refreshMembers(sourceId: string, targetId: string): Promise<number> {
    const g = this.groups.get(sourceId);
    if (!g || !this.profile.groups.readsMembers) return 0;
    const read = await this.client.get('Groups', targetId, 'attributes=members');
    const bySourceTarget = new Map<string, string>();
    for (const [u, t] of this.targetIds) bySourceTarget.set(t, u);
    for (const s of this.stateById.values()) if (s.targetId) bySourceTarget.set(s.targetId, s.sourceId);
    const members = Array.isArray(read.resource.members) ? (read.resource.members as { value?: unknown }[]) : [];
    const present: string[] = [];
    for (const m of members) {
      const u = typeof m.value === 'string' ? bySourceTarget.get(m.value) : undefined;
      if (u !== undefined) present.push(u);
    }
    this.saveGroup(sourceId, { targetId, status: g.status, displayName: g.displayName }, { members: present });
    return read.attempts;
  }

  private async deleteGroup(op: Extract<GroupOperation, { kind: 'group.delete' }>): Promise<Outcome> {
    let attempts = 1;
    try {
      attempts = (await this.client.remove('Groups', op.targetId)).attempts;
    } catch (err) {
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
    }
    this.saveGroup(op.sourceId, { targetId: null, status: 'deleted', displayName: op.displayName }, { members: [] });
    this.counts.groupsDeleted++;
    return { result: 'success', type: 'group_delete_provision', summary: `deleted group ${op.displayName}`, targetId: op.targetId, detail: { attempts } };
  }

}


/** Whether an operation is about a user: its own, or a membership change naming it. */
export function concerns(op: Operation, userId: string): boolean {
  if (op.kind.startsWith('user.')) return op.sourceId === userId;
  if (op.kind === 'group.create') return op.members.includes(userId);
  if (op.kind === 'group.update' || op.kind === 'group.members.add' || op.kind === 'group.members.remove') {
    return op.add.includes(userId) || op.remove.includes(userId);
  }
  return false;
}

function changedList(ops: PatchOperation[]): string {
  const paths = ops.map((o) => o.path).filter((p) => p !== 'active');
  return paths.length ? ` (${paths.join(', ')})` : '';
}

function eventTypeOf(op: Operation): EventType {
  switch (op.kind) {
    case 'user.create':
      return 'user_create_provision';
    case 'user.update':
    case 'user.reactivate':
      return 'user_update_provision';
    case 'user.deactivate':
      return 'user_deprovision';
    case 'user.delete':
      return 'user_delete_provision';
    case 'group.create':
      return 'group_create_provision';
    case 'group.update':
    case 'group.members.add':
    case 'group.members.remove':
      return 'group_update_provision';
    case 'group.delete':
      return 'group_delete_provision';
  }
}

export type { AttrChanges };

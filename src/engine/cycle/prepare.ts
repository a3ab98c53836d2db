import { createSource } from '../../../connectors/index.js';
import { resolveProfile, type ResolvedProfile } from '../../../connectors/profiles/index.js';
import type { SourceConnector } from '../../../connectors/source.js';
import type { EscrowEntry, NewHeldPlan, StateStore } from '../../../state/index.js';
import type { IntegrationConfig } from '../../config/schema.js';
import type { DesiredState } from '../../core/desired.js';
import { protectRule, type ProtectRule } from '../../core/matching.js';
import { concerns, fingerprint, type Operation } from '../../core/operations.js';
import { planCycle } from '../../core/plan-users.js';
import type { DesiredUser, SnapshotResult, StateGroup, StateUser } from '../../core/records.js';
import { strayRemovals, type StrayMember } from '../../core/stray-members.js';
import type { TargetSchema, UnwritableValue } from '../../core/target-schema.js';
import { emptyCounts, type CycleCounts } from '../../delivery/counts.js';
import type { EventInput } from '../../events/sink.js';
import type { ExitCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { desiredOf } from '../desired-of.js';
import { checkMassDeprovision } from '../held-plans.js';
import type { MassDeprovision } from '../report.js';
import { logMappingProblems, mappingProblems } from '../target-schema.js';
import { badRowEvents, invalidUserEvents, scopeProblemEvents, unwritableEvents } from './findings.js';
import { scopeShrank, usersShrank, type Shrinkage } from './guards.js';

/** What `prepareCycle` reads: the integration, the state (read only) and the source. */
export interface PrepareInput {
  integration: IntegrationConfig;
  /** Read, never written. */
  store: StateStore;
  logger: Logger;
  /** A prepared source (tests, Provision now); by default the integration's. */
  source?: SourceConnector | undefined;
  /** The target's schema: a cycle reads and keeps it, a preview takes what is kept. */
  schema: () => Promise<TargetSchema>;
  /** Failed operations kept for retry: those given up are left out of the plan until they change. */
  escrow: readonly EscrowEntry[];
  /** Accept a source that shrank. */
  force?: boolean | undefined;
  /** Only this source user's operations (sync --user, plan --user). */
  onlyUser?: string | undefined;
  /** Member values found in managed groups that are not managed accounts, to take out (`reconcile --apply`). */
  strays?: readonly StrayMember[] | undefined;
}

/** What a cycle found before sending: events to record, counts so far. */
interface Findings {
  events: EventInput[];
  counts: CycleCounts;
}

/** The state the plan was made against, which the delivery commits to. */
export interface PlanBasis {
  profile: ResolvedProfile;
  schema: TargetSchema;
  protect: ProtectRule;
  /** State users the plan covers (not held). */
  users: StateUser[];
  held: StateUser[];
  groups: StateGroup[];
  desired: DesiredUser[];
}

/** A plan to deliver. */
export interface PreparedPlan extends Findings {
  kind: 'plan';
  /** What to send: the plan less what is given up (and, with onlyUser, that user's). */
  operations: Operation[];
  /** The whole plan, whose keys the escrow keeps. */
  planned: Operation[];
  fingerprints: Map<string, string>;
  /** An approved mass deprovision this plan applies. */
  hold: MassDeprovision | undefined;
  unwritable: UnwritableValue[];
  /** Source users read, the next cycle's measure of shrinkage. */
  sourceUsers: number;
  escrow: readonly EscrowEntry[];
  basis: PlanBasis;
}

interface HaltBase extends Findings {
  kind: 'halt';
  message: string;
  exitCode: ExitCode;
  /** What would have been sent. */
  operations: Operation[];
}

/** Why a cycle stops before sending anything. */
export type CycleHalt =
  | (HaltBase & { reason: 'source-unreadable'; error: unknown })
  | (HaltBase & { reason: 'source-shrank'; shrank: { sourceUsers: number; lastGood: number; reason: string } })
  | (HaltBase & { reason: 'held'; hold: MassDeprovision; heldPlan: NewHeldPlan | undefined });

export type PreparedCycle = PreparedPlan | CycleHalt;

/**
 * Read, guard, desire, plan: the source is read, the safety rules run, the plan is made and
 * filtered by holds and escrow. Writes nothing; what a cycle records is in the value returned.
 */
export async function prepareCycle(input: PrepareInput): Promise<PreparedCycle> {
  const { integration, store, logger } = input;
  const name = integration.name;
  const found: Findings = { events: [], counts: emptyCounts() };
  const halted = { kind: 'halt' as const, exitCode: 3 as ExitCode, ...found, operations: [] as Operation[] };
  let read: SnapshotResult;
  try {
    read = await (input.source ?? createSource(integration)).snapshot();
  } catch (error) {
    // An unreadable source (SourceError, exit 2) never deprovisions.
    return { ...halted, exitCode: 2, reason: 'source-unreadable', error, message: 'the source could not be read' };
  }
  found.counts.skippedRows = read.problems.length;
  found.events.push(...badRowEvents(read.problems));
  const sourceUsers = read.snapshot.users.length;
  const facts = { lastGood: store.lastSourceUsers(name), managed: 0, groups: store.loadGroups(name), memberships: store.membershipCount(name) };
  const stop = (s: Shrinkage): CycleHalt => {
    found.events.push(s.event);
    return { ...halted, reason: 'source-shrank', message: s.message, shrank: s.shrank };
  };
  const users = usersShrank(input, sourceUsers, facts.lastGood);
  if (users) return stop(users);

  // Scope and map: the one scoping path (plan, reconcile and rebuild take the same).
  const profile = resolveProfile(integration);
  const protect = protectRule(integration.protect);
  const allState = store.loadUsers(name);
  const desired = await desire(input, read, allState, protect, profile);
  found.events.push(...scopeProblemEvents(desired.scopeProblems));
  for (const s of allState) if (s.targetId !== null && s.status !== 'deleted') facts.managed++;
  const scope = scopeShrank(input, desired, facts, sourceUsers);
  if (scope) return stop(scope);
  let stateIndex: Map<string, StateUser> | undefined;
  const stateOf = (id: string) => (stateIndex ??= new Map(allState.map((s) => [s.sourceId, s]))).get(id);
  found.counts.invalid = desired.invalid.size;
  found.events.push(...invalidUserEvents(desired.invalid, stateOf));
  for (const [sourceId, notes] of desired.notes) logger.info(`${sourceId}: ${notes.join('; ')}`, { integration: name });

  // The target's schema (read at most once a day): how values compare, what may be written, mappings it lacks.
  const schema = await input.schema();
  logMappingProblems(mappingProblems(profile, schema), logger, name);
  const held = desired.held;
  const basis: PlanBasis = {
    profile,
    schema,
    protect,
    users: held.size > 0 ? allState.filter((s) => !held.has(s.sourceId)) : allState,
    held: held.size > 0 ? allState.filter((s) => held.has(s.sourceId)) : [],
    groups: facts.groups,
    desired: desired.users,
  };
  return planned(input, { ...found, sourceUsers, managed: facts.managed, stateOf, basis, wanted: held.size > 0 ? desired.users.filter((d) => !held.has(d.sourceId)) : desired.users, desired });
}

interface PlanMaking extends Findings {
  sourceUsers: number;
  managed: number;
  stateOf: (sourceId: string) => StateUser | undefined;
  basis: PlanBasis;
  /** Desired users less the held ones. */
  wanted: DesiredUser[];
  desired: DesiredState;
}

/** Plan: held users are neither sent nor deprovisioned, frozen ones keep their memberships; then the hold and the escrow. */
function planned(input: PrepareInput, m: PlanMaking): PreparedCycle {
  const { integration } = input;
  const { basis, events, counts } = m;
  const plan = planCycle({ desired: m.wanted, state: basis.users, options: { deprovision: integration.deprovision.action, schema: basis.schema, matching: basis.profile.matching }, groups: groupInputs(integration, basis, m.desired) });
  if (input.strays) {
    const limits = { memberRemoval: basis.profile.groups.memberRemoval, membersPerRequest: integration.groups.membersPerRequest ?? basis.profile.groups.membersPerRequest };
    plan.operations.push(...strayRemovals(input.strays, plan.operations, limits));
  }
  // A mass deprovision is held until an admin approves it (scimsync approve).
  const found = checkMassDeprovision({ integration, operations: plan.operations, managed: m.managed, stateOf: m.stateOf, store: input.store });
  if (found && !found.hold.approved) {
    const hold = found.hold;
    events.push({ type: 'user_deprovision', result: 'skipped', summary: hold.message, detail: { deprovisions: hold.deprovisions, managed: m.managed, reason: hold.reason } });
    return { kind: 'halt', exitCode: 3, events, counts, operations: plan.operations, reason: 'held', message: hold.message, hold, heldPlan: found.record };
  }
  // Escrow: an operation that failed escrow.maxCycles cycles running is given up until it changes.
  const givenUp = new Map(input.escrow.filter((e) => e.givenUp).map((e) => [e.key, e.fingerprint]));
  const fingerprints = new Map(plan.operations.map((op) => [op.key, fingerprint(op)]));
  const isGivenUp = (op: Operation) => givenUp.get(op.key) === fingerprints.get(op.key);
  const operations = plan.operations.filter((op) => !isGivenUp(op) && (input.onlyUser === undefined || concerns(op, input.onlyUser)));
  counts.givenUp = plan.operations.filter(isGivenUp).length;
  counts.planned = operations.length;
  const unwritable = plan.unwritable.filter((v) => input.onlyUser === undefined || v.sourceId === input.onlyUser);
  events.push(...unwritableEvents(unwritable, m.stateOf));
  return { kind: 'plan', operations, planned: plan.operations, fingerprints, hold: found?.hold, unwritable, sourceUsers: m.sourceUsers, escrow: input.escrow, basis, events, counts };
}

function desire(input: PrepareInput, read: SnapshotResult, allState: StateUser[], protect: ProtectRule, profile: ResolvedProfile): Promise<DesiredState> {
  return desiredOf({ integration: input.integration, read, profile, protect, store: input.store, state: allState });
}

function groupInputs(integration: IntegrationConfig, basis: PlanBasis, desired: DesiredState) {
  const behaviour = basis.profile.groups;
  return {
    desired: desired.groups,
    state: basis.groups,
    held: new Map(basis.held.map((s) => [s.sourceId, s])),
    ...(desired.frozen.size > 0 ? { frozen: desired.frozen } : {}),
    ...(desired.heldGroups.size > 0 ? { heldGroups: desired.heldGroups } : {}),
    options: {
      behaviour,
      membersPerRequest: integration.groups.membersPerRequest ?? behaviour.membersPerRequest,
      groupDeprovision: integration.groups.deprovision,
      userDeprovision: integration.deprovision.action,
    },
  };
}

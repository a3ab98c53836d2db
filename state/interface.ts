/**
 * The StateStore interface: what scimsync keeps between cycles, whatever holds it
 * (SQLite in state/sqlite/, the default; PostgreSQL later). Every implementation
 * runs the contract suite in test/contract/state-store.contract.ts.
 */
import type { ScimAttrs } from '../src/core/attributes.js';
import type { SavedGroup, MemberChange, ObjectStatus, StateGroup, StateUser } from '../src/core/records.js';
import type { EventRecord, NewEvent } from '../src/events/types.js';
import type { EventQuery, EventsPageQuery, EventSubject, NotifyMemoryStore, PrunedEvents, PruneEvents, SinkPositionStore } from './event-queries.js';
import type { TargetFactStore } from './facts.js';

export type * from './event-queries.js';
export type { TargetFact, TargetFactStore } from './facts.js';
export type { SavedGroup, MemberChange } from '../src/core/records.js';

/** A cycle's counters as recorded, by name: what the delivery's CycleCounts held when the cycle ended. */
export interface RecordedCounts {
  [counter: string]: number;
}

export type CycleOutcome = 'success' | 'partial' | 'aborted' | 'failed' | 'interrupted' | 'quarantined';

/** What a cycle has written so far (a running cycle's progress). */
export interface CycleEvents {
  done: number;
  failed: number;
  /** The summary of the last event that did not succeed. */
  lastProblem: string | undefined;
}

export interface IntegrationRecord {
  name: string;
  configHash: string;
  authHash: string;
}

export interface Quarantine {
  until: string;
  level: number;
  reason: string;
}

/** How a quarantine is lifted (setQuarantine with no quarantine). */
export interface QuarantineLift {
  /** Keep the back-off level: a forced run that fails again backs off further. Default false. */
  keepLevel?: boolean;
}

export interface EscrowEntry {
  key: string;
  fingerprint: string;
  kind: string;
  sourceId: string;
  cycles: number;
  attempts: number;
  lastError: string;
  firstFailedAt: string;
  lastFailedAt: string;
  givenUp: boolean;
}

/** The operation a failure is recorded for (recordFailure). */
export interface EscrowOperation {
  key: string;
  fingerprint: string;
  kind: string;
  sourceId: string;
}

/** One failure of an operation in a cycle (recordFailure). */
export interface OperationFailure {
  error: string;
  attempts: number;
  cycleId: string;
}

/** An operation whose request is about to go out (markInflight). */
export interface InflightOperation {
  key: string;
  kind: string;
  sourceId: string;
}

export interface InflightEntry {
  key: string;
  kind: string;
  sourceId: string;
  cycleId: string;
  startedAt: string;
}

/** The userName and displayName last pushed for a user (loadUserNames). */
export interface UserNames {
  sourceId: string;
  names: unknown[];
}

/** One object as state holds it (`state show`). */
export interface StoredObject {
  integration: string;
  kind: 'user' | 'group';
  sourceId: string;
  targetId: string | null;
  status: ObjectStatus;
  attrs: ScimAttrs;
  createdAt: string;
  updatedAt: string;
  /** For a user: the groups (source ids) it was last pushed into. */
  groups?: string[];
  /** For a group: the members (source ids) last pushed. */
  members?: string[];
  escrow: EscrowEntry[];
}

/** Linked objects by kind and status, e.g. `{ user: { active: 10, inactive: 2 }, group: { active: 3 } }`. */
export type ObjectCounts = Record<string, Record<string, number>>;

/** What purgeIntegration removed. */
export interface PurgeResult {
  objects: number;
}

/** What a held cycle would deprovision: one entry per user. */
export interface HeldObject {
  kind: string;
  sourceId: string;
  userName: string;
}

export interface HeldPlan {
  heldAt: string;
  reason: string;
  /** Users managed when the plan was held. */
  managed: number;
  objects: HeldObject[];
  /** Set by `scimsync approve`: the next cycle may apply this plan (or less of it) once. */
  approvedAt: string | null;
}

/** A plan to hold (holdPlan): the store stamps when, and keeps or drops the approval. */
export type NewHeldPlan = Omit<HeldPlan, 'approvedAt' | 'heldAt'>;

export interface CycleRecord {
  id: string;
  integration: string;
  startedAt: string;
  endedAt: string | null;
  outcome: string | null;
  counts: Record<string, number>;
}

/**
 * What scimsync keeps between cycles: what was pushed for every object of every
 * integration, failed operations kept for retry, operations in flight, leases,
 * held plans, cycles and the audit events. Synchronous, as its callers are.
 *
 * Writes are group-committed: one made within a few milliseconds of others
 * shares their commit. Every write is durable after `flush`, `close` or
 * `stopBackgroundWrites`; in-flight records once `awaitInflight` returns; a
 * lease when `takeLease` returns; a `transaction` when it returns.
 */
export interface StateStore {
  // Objects: users, groups, memberships, digests.
  /** Every user of an integration with its attributes' digest; the attributes are read when first looked at. */
  loadUsers(integration: string): StateUser[];
  /** The userName and displayName last pushed for every user, without the rest of the attributes. */
  loadUserNames(integration: string): UserNames[];
  /** Records what was pushed for a user; the caller does not change `user.attrs` afterwards. */
  saveUser(integration: string, user: StateUser): void;
  /** Every group with its member digest; the members are read when first looked at. */
  loadGroups(integration: string): StateGroup[];
  /** Records a group and a change of its members together; the member digest follows each member added or removed. */
  saveGroup(integration: string, group: SavedGroup, change?: MemberChange, now?: Date): void;
  /** Forgets a user's memberships (its account was deleted or replaced in the target). */
  dropMemberships(integration: string, userId: string): void;
  /** Group memberships last pushed, for the shrink guard. */
  membershipCount(integration: string): number;

  // Escrow: failed operations, kept for retry until given up.
  /** The failed operations kept for an integration, by key. */
  loadEscrow(integration: string): EscrowEntry[];
  /** Records a failure: the same operation failing again counts one more cycle, given up at `maxCycles`; a changed one starts at 1. */
  recordFailure(integration: string, op: EscrowOperation, failure: OperationFailure, maxCycles: number, now?: Date): EscrowEntry;
  /** Forgets a failed operation (it succeeded). */
  clearEscrow(integration: string, key: string): void;
  /** Drops escrow entries for operations no longer planned (the source moved on). */
  pruneEscrow(integration: string, plannedKeys: ReadonlySet<string>): void;

  // In flight: operations whose request may be on the wire.
  /** Records operations as in flight; `awaitInflight` the ticket returned before sending their requests. */
  markInflight(integration: string, ops: readonly InflightOperation[], cycleId: string, now?: Date): number;
  /** Returns once the in-flight records of `ticket` (from markInflight) are durable. */
  awaitInflight(ticket: number): void;
  /** Forgets an in-flight record once its result is recorded. */
  clearInflight(integration: string, key: string): void;
  /** The in-flight records of an integration. */
  loadInflight(integration: string): InflightEntry[];
  /** Takes what an interrupted cycle left: returns and clears its in-flight records, and marks the other open cycles interrupted. */
  takeInterrupted(integration: string, currentCycleId: string): InflightEntry[];

  // Integrations: fingerprints, quarantine, the last snapshot's size.
  /** This state's key for the integrations' config and credential fingerprints, made once and kept. */
  fingerprintKey(): Buffer;
  /** The fingerprints recorded for an integration, if the state knows it. */
  getIntegration(name: string): IntegrationRecord | undefined;
  /** Records an integration's fingerprints (created, or updated). */
  putIntegration(rec: IntegrationRecord, now?: Date): void;
  /** Integrations the state knows, configured or not, by name. */
  knownIntegrations(): string[];
  /** The integration's quarantine, if one is set. */
  getQuarantine(integration: string): Quarantine | undefined;
  /** Sets a quarantine, or (undefined) lifts it, resetting the back-off level unless `keepLevel`. */
  setQuarantine(integration: string, q: Quarantine | undefined, lift?: QuarantineLift): void;
  /** How many quarantines in a row, without a good cycle between them. */
  quarantineLevel(integration: string): number;
  /** Users in the last good snapshot, for the shrink guard. */
  lastSourceUsers(integration: string): number | undefined;
  /** Records the users of a good snapshot. */
  setLastSourceUsers(integration: string, n: number): void;

  // Held plans and their approval.
  /** The plan held for deprovisioning too much, if any. */
  getHeldPlan(integration: string): HeldPlan | undefined;
  /** Holds a plan; the same deprovisions held again keep their approval, different ones lose it. */
  holdPlan(integration: string, plan: NewHeldPlan, now?: Date): HeldPlan;
  /** Approves (a date) or withdraws the approval of (null) the held plan; false when none is held. */
  setApproval(integration: string, approvedAt: string | null): boolean;
  /** Forgets the held plan. */
  clearHeldPlan(integration: string): void;

  // Cycles.
  /** Records a cycle's start. */
  startCycle(id: string, integration: string, dryRun: boolean, now?: Date): void;
  /** Records a cycle's end, outcome and counts. */
  finishCycle(id: string, outcome: CycleOutcome, counts: RecordedCounts, now?: Date): void;
  /** The last cycle that was not a dry run. */
  lastCycle(integration: string): CycleRecord | undefined;
  /** The latest cycles that were not dry runs, newest first, at most `limit`. */
  recentCycles(integration: string, limit: number): CycleRecord[];

  // Events: the audit log.
  /** Records an event; the caller does not change it afterwards. */
  insertEvent(e: NewEvent & EventSubject): void;
  /** Streams the events matching the query, in its order; a caller that stops early releases the read. */
  iterateEvents(q: EventQuery): IterableIterator<EventRecord>;
  /** The events matching the query, in its order (iterateEvents, gathered). */
  queryEvents(q: EventQuery): EventRecord[];
  /** Deletes one bounded batch of events due under retention, and says whether more are due. */
  pruneEvents(options: PruneEvents): PrunedEvents;
  /** Deletes events older than `before` (ISO time), batch after batch; returns how many. The older form: prefer the options. */
  pruneEvents(before: string): number;
  /** A page of events, newest first, after the `after` cursor, at most `limit`. */
  eventsPage(q: EventsPageQuery): EventRecord[];
  /** Up to `limit` events with an id above `id`, by id (forwarding). */
  eventsAfter(id: number, limit: number): EventRecord[];
  /** The highest event id written (0 for none). */
  lastEventId(): number;
  /** One event by id. */
  getEvent(id: number): EventRecord | undefined;
  /** How many events a cycle (started at `startedAt`) wrote so far, how many failed, and its last problem. */
  cycleEvents(cycle: { id: string; startedAt: string }): CycleEvents;
  /** Each forward sink's position, kept across restarts. */
  readonly sinkPositions: SinkPositionStore;
  /** What notifications last told, kept across restarts. */
  readonly notifyMemory: NotifyMemoryStore;
  /** What scimsync learned about each integration's target (its schema, its rate). */
  readonly targetFacts: TargetFactStore;

  // Leases: one writer of an integration at a time, across processes.
  /** Takes or renews the lease for `ttlMs`, atomically and durably; false while another owner holds it unexpired. */
  takeLease(integration: string, owner: string, ttlMs: number, now?: number): boolean;
  /** Releases the lease if `owner` holds it. */
  releaseLease(integration: string, owner: string): void;
  /** Who holds (or last held, expired) the lease, as takeLease was told. */
  leaseHolder(integration: string): string | undefined;
  /** When the lease expires (ms since the epoch), if one is recorded. */
  leaseExpiresAt(integration: string): number | undefined;

  // Inspection: what `state show` and `status` read.
  /** Objects whose source id, target id, userName or displayName (any case) is `key`, with memberships and escrow. */
  findObjects(integration: string | undefined, key: string): StoredObject[];
  /** Source ids whose last pushed userName is `userName` (any case). */
  sourceIdsByUserName(integration: string | undefined, userName: string): string[];
  /** Linked objects by kind and status. */
  objectCounts(integration: string): ObjectCounts;

  // Purge.
  /** Drops everything kept for an integration except its audit events. */
  purgeIntegration(integration: string): PurgeResult;
  /** Forgets an integration's objects, memberships, in-flight records and held plan; escrow stays (what is owed is retried after a rebuild). */
  purgeObjects(integration: string): void;

  // Commits and background writes.
  /** Runs `run` as one transaction: every write it makes is durable together when it returns, or none. */
  transaction<T>(run: () => T): T;
  /** Hands a delivery's writes to a writer of their own; true when it runs (`writesInBackground`). */
  startBackgroundWrites(): boolean;
  /** Starts the next delivery's writer now, while the cycle plans; writes stay here until startBackgroundWrites. */
  prepareBackgroundWrites(): void;
  /** Makes every write durable (the background writer's first) and stops the background writer. */
  stopBackgroundWrites(): Promise<void>;
  /** Whether writes go to the background writer (a delivery in progress). */
  readonly writesInBackground: boolean;
  /** Makes every write so far durable (waiting for the background writer too). */
  flush(): void;
  /** Flushes and closes. */
  close(): void;
}

/**
 * The SQLite state store, the default: one file in WAL mode, each concern in
 * its own module, composed here. A delivery's writes are group-committed, on a
 * writer thread of their own while the delivery runs (group-commit.ts).
 */
import type Database from 'better-sqlite3';
import type { StateGroup, StateUser } from '../../src/core/records.js';
import type { EventRecord, NewEvent } from '../../src/events/types.js';
import type {
  RecordedCounts,
  CycleOutcome,
  CycleEvents,
  CycleRecord,
  EscrowEntry,
  EscrowOperation,
  EventQuery,
  EventsPageQuery,
  EventSubject,
  SavedGroup,
  HeldPlan,
  InflightEntry,
  InflightOperation,
  IntegrationRecord,
  MemberChange,
  NewHeldPlan,
  NotifyMemoryStore,
  ObjectCounts,
  OperationFailure,
  PrunedEvents,
  PruneEvents,
  PurgeResult,
  Quarantine,
  QuarantineLift,
  SinkPositionStore,
  StateStore,
  StoredObject,
  UserNames,
} from '../interface.js';
import { SqliteCycles } from './cycles.js';
import { SqliteEscrow } from './escrow.js';
import { SqliteEvents } from './events.js';
import { SqliteTargetFacts } from './facts.js';
import { GroupCommit } from './group-commit.js';
import { SqliteHeldPlans } from './held-plans.js';
import { SqliteInflight } from './inflight.js';
import { SqliteInspection } from './inspection.js';
import { SqliteIntegrations } from './integrations.js';
import { SqliteLeases } from './leases.js';
import { SqliteObjects } from './objects.js';
import { openStateDatabase } from './open.js';
import { SqlitePurge } from './purge.js';
import type { WriteCommand } from './writes.js';

export type { WriteCommand } from './writes.js';

export class SqliteStateStore implements StateStore {
  /** The connection, for SQLite-only tools and tests; callers go through the StateStore methods. */
  readonly db: Database.Database;
  private readonly commits: GroupCommit;
  private readonly objects: SqliteObjects;
  private readonly escrow: SqliteEscrow;
  private readonly inflight: SqliteInflight;
  private readonly integrations: SqliteIntegrations;
  private readonly heldPlans: SqliteHeldPlans;
  private readonly cycles: SqliteCycles;
  private readonly events: SqliteEvents;
  private readonly leases: SqliteLeases;
  private readonly inspection: SqliteInspection;
  private readonly purge: SqlitePurge;
  readonly targetFacts: SqliteTargetFacts;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    const commits = new GroupCommit(db, path);
    const submit = (w: WriteCommand) => commits.submit(w);
    this.commits = commits;
    this.objects = new SqliteObjects(db, submit);
    this.escrow = new SqliteEscrow(db, submit);
    this.inflight = new SqliteInflight(db, commits);
    this.integrations = new SqliteIntegrations(db, path);
    this.heldPlans = new SqliteHeldPlans(db);
    this.cycles = new SqliteCycles(db);
    this.targetFacts = new SqliteTargetFacts(db);
    this.events = new SqliteEvents(db, submit);
    this.leases = new SqliteLeases(db, () => commits.flush());
    this.inspection = new SqliteInspection(db);
    this.purge = new SqlitePurge(db);
  }

  /**
   * Opens the state at `path`, creating it where there is none; a file that cannot
   * be used as a state is a StateFileError, and nothing is written.
   */
  static open(path: string): SqliteStateStore {
    return new SqliteStateStore(openStateDatabase(path), path);
  }

  /** Runs a batch of writes on this connection, as the writer thread does (the caller holds the transaction). */
  applyBatch(writes: readonly WriteCommand[]): void {
    this.commits.direct.applyBatch(writes);
  }

  /** Runs one write on this connection (the caller holds the transaction). */
  applyWrite(w: WriteCommand): void {
    this.commits.direct.apply(w);
  }

  loadUsers(integration: string): StateUser[] {
    return this.objects.loadUsers(integration);
  }
  loadUserNames(integration: string): UserNames[] {
    return this.objects.loadUserNames(integration);
  }
  saveUser(integration: string, user: StateUser): void {
    this.objects.saveUser(integration, user);
  }
  loadGroups(integration: string): StateGroup[] {
    return this.objects.loadGroups(integration);
  }
  saveGroup(integration: string, group: SavedGroup, change?: MemberChange, now?: Date): void {
    this.objects.saveGroup(integration, group, change, now);
  }
  dropMemberships(integration: string, userId: string): void {
    this.objects.dropMemberships(integration, userId);
  }
  membershipCount(integration: string): number {
    return this.objects.membershipCount(integration);
  }

  loadEscrow(integration: string): EscrowEntry[] {
    return this.escrow.loadEscrow(integration);
  }
  recordFailure(integration: string, op: EscrowOperation, failure: OperationFailure, maxCycles: number, now?: Date): EscrowEntry {
    return this.escrow.recordFailure(integration, op, failure, maxCycles, now);
  }
  clearEscrow(integration: string, key: string): void {
    this.escrow.clearEscrow(integration, key);
  }
  pruneEscrow(integration: string, plannedKeys: ReadonlySet<string>): void {
    this.escrow.pruneEscrow(integration, plannedKeys);
  }

  markInflight(integration: string, ops: readonly InflightOperation[], cycleId: string, now?: Date): number {
    return this.inflight.markInflight(integration, ops, cycleId, now);
  }
  awaitInflight(ticket: number): void {
    this.inflight.awaitInflight(ticket);
  }
  clearInflight(integration: string, key: string): void {
    this.inflight.clearInflight(integration, key);
  }
  loadInflight(integration: string): InflightEntry[] {
    return this.inflight.loadInflight(integration);
  }
  takeInterrupted(integration: string, currentCycleId: string): InflightEntry[] {
    return this.db.transaction(() => {
      const entries = this.inflight.takeAll(integration);
      this.cycles.interruptOthers(integration, currentCycleId);
      return entries;
    })();
  }

  fingerprintKey(): Buffer {
    return this.integrations.fingerprintKey();
  }
  getIntegration(name: string): IntegrationRecord | undefined {
    return this.integrations.getIntegration(name);
  }
  putIntegration(rec: IntegrationRecord, now?: Date): void {
    this.integrations.putIntegration(rec, now);
  }
  knownIntegrations(): string[] {
    return this.integrations.knownIntegrations();
  }
  getQuarantine(integration: string): Quarantine | undefined {
    return this.integrations.getQuarantine(integration);
  }
  setQuarantine(integration: string, q: Quarantine | undefined, lift?: QuarantineLift): void {
    this.integrations.setQuarantine(integration, q, lift);
  }
  quarantineLevel(integration: string): number {
    return this.integrations.quarantineLevel(integration);
  }
  lastSourceUsers(integration: string): number | undefined {
    return this.integrations.lastSourceUsers(integration);
  }
  setLastSourceUsers(integration: string, n: number): void {
    this.integrations.setLastSourceUsers(integration, n);
  }

  getHeldPlan(integration: string): HeldPlan | undefined {
    return this.heldPlans.getHeldPlan(integration);
  }
  holdPlan(integration: string, plan: NewHeldPlan, now?: Date): HeldPlan {
    return this.heldPlans.holdPlan(integration, plan, now);
  }
  setApproval(integration: string, approvedAt: string | null): boolean {
    return this.heldPlans.setApproval(integration, approvedAt);
  }
  clearHeldPlan(integration: string): void {
    this.heldPlans.clearHeldPlan(integration);
  }

  startCycle(id: string, integration: string, dryRun: boolean, now?: Date): void {
    this.cycles.startCycle(id, integration, dryRun, now);
  }
  finishCycle(id: string, outcome: CycleOutcome, counts: RecordedCounts, now?: Date): void {
    this.cycles.finishCycle(id, outcome, counts, now);
  }
  lastCycle(integration: string): CycleRecord | undefined {
    return this.cycles.lastCycle(integration);
  }
  recentCycles(integration: string, limit: number): CycleRecord[] {
    return this.cycles.recentCycles(integration, limit);
  }

  insertEvent(e: NewEvent & EventSubject): void {
    this.events.insertEvent(e);
  }
  iterateEvents(q: EventQuery): IterableIterator<EventRecord> {
    return this.events.iterateEvents(q);
  }
  queryEvents(q: EventQuery): EventRecord[] {
    return this.events.queryEvents(q);
  }
  pruneEvents(options: PruneEvents): PrunedEvents;
  pruneEvents(before: string): number;
  pruneEvents(o: string | PruneEvents): number | PrunedEvents {
    return typeof o === 'string' ? this.events.pruneAllBefore(o) : this.events.pruneBatch(o);
  }
  eventsPage(q: EventsPageQuery): EventRecord[] {
    return this.events.eventsPage(q);
  }
  eventsAfter(id: number, limit: number): EventRecord[] {
    return this.events.eventsAfter(id, limit);
  }
  lastEventId(): number {
    return this.events.lastEventId();
  }
  getEvent(id: number): EventRecord | undefined {
    return this.events.getEvent(id);
  }
  cycleEvents(cycle: { id: string; startedAt: string }): CycleEvents {
    return this.events.cycleEvents(cycle);
  }
  get sinkPositions(): SinkPositionStore {
    return this.events.sinkPositions;
  }
  get notifyMemory(): NotifyMemoryStore {
    return this.events.notifyMemory;
  }

  takeLease(integration: string, owner: string, ttlMs: number, now?: number): boolean {
    return this.leases.takeLease(integration, owner, ttlMs, now);
  }
  releaseLease(integration: string, owner: string): void {
    this.leases.releaseLease(integration, owner);
  }
  leaseHolder(integration: string): string | undefined {
    return this.leases.leaseHolder(integration);
  }
  leaseExpiresAt(integration: string): number | undefined {
    return this.leases.leaseExpiresAt(integration);
  }

  findObjects(integration: string | undefined, key: string): StoredObject[] {
    return this.inspection.findObjects(integration, key);
  }
  sourceIdsByUserName(integration: string | undefined, userName: string): string[] {
    return this.inspection.sourceIdsByUserName(integration, userName);
  }
  objectCounts(integration: string): ObjectCounts {
    return this.inspection.objectCounts(integration);
  }

  purgeIntegration(integration: string): PurgeResult {
    return this.purge.purgeIntegration(integration);
  }
  purgeObjects(integration: string): void {
    this.purge.purgeObjects(integration);
  }

  transaction<T>(run: () => T): T {
    return this.commits.transaction(run);
  }
  startBackgroundWrites(): boolean {
    return this.commits.startBackground();
  }
  prepareBackgroundWrites(): void {
    this.commits.prepareBackground();
  }
  async stopBackgroundWrites(): Promise<void> {
    this.commits.stopBackground();
  }
  get writesInBackground(): boolean {
    return this.commits.inBackground;
  }
  flush(): void {
    this.commits.flush();
  }
  close(): void {
    try {
      this.commits.shutdown();
    } finally {
      this.db.close();
    }
  }
}

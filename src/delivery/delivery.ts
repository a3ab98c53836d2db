import PQueue from 'p-queue';
import type { Operation } from '../core/operations.js';
import type { EventSink } from '../events/sink.js';
import { eventTypeOf } from '../events/types.js';
import { ScimHttpError, errorMessage } from '../errors.js';
import { bulkSupportOf, readBulkSupport } from '../scim/bulk.js';
import type { Refusal } from '../scim/client.js';
import { BulkWriter, MAX_BULK_OPERATIONS, type BulkFallback, type BulkLesson, type BulkSettings } from './bulk.js';
import type { DeliveryContext } from './context.js';
import { readBackUntouched } from './group-reads.js';
import { GroupDelivery } from './groups.js';
import { errorDetail, type Outcome } from './outcome.js';
import type { DeliveryStore } from './ports.js';
import { UserDelivery } from './users.js';

/** Marks an operation that has started (the in-flight tickets). */
const STARTED = -1;
/** Operations recorded as in flight per commit, ahead of their requests. */
const INFLIGHT_WINDOW = 256;
/** Network errors that mean no connection could be made at all (a reset or a timeout may be one request's bad luck). */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/;
/** Why a cycle stopped on a target that answers every request with 429 (its quota spent, say). */
function refusedEverything(r: Refusal): string {
  const asked = r.lastWaitMs !== undefined ? `, the last asking to wait ${describeWait(r.lastWaitMs)}` : '';
  return `the target answered every request with HTTP 429 (${r.count} in a row over ${describeWait(Date.now() - r.since)}${asked}): it refuses everything for now (a quota spent?); the cycle stopped`;
}

function describeWait(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** Operations below which Bulk is not asked about: reading /ServiceProviderConfig would cost what Bulk saves. */
const MIN_BULK_OPERATIONS = 3;

export interface DeliveryOptions {
  store: DeliveryStore;
  sink: EventSink;
  /** How many operations run at once: each sends its requests one after the other, so this bounds the requests too. */
  maxConcurrent: number;
  /** Fingerprints of the operations (escrow gives up an operation until it changes). */
  fingerprints: ReadonlyMap<string, string>;
  /** Failing cycles before an operation is given up. */
  maxCycles: number;
  /** Operations held in escrow when the cycle started (cleared when they succeed). */
  escrowKeys: Set<string>;
  /** How long requests in flight may take to finish once the signal aborts; then they are cut off. */
  graceMs: number;
  onProgress?: ((done: number, total: number, failed: number) => void) | undefined;
  /** Where the target lives, for the message when it cannot be reached. */
  targetUrl: string;
  /**
   * The target's /ServiceProviderConfig answer, when the caller has it (null: not published);
   * without it, the delivery reads it itself when it has enough to send for Bulk to pay.
   */
  serviceProviderConfig?: unknown;
  /** Whether and how Bulk requests are used. @default when the target supports them, one reference an operation */
  bulk?: BulkSettings | undefined;
}

/**
 * Carries out one plan against one target: the only owner of how many operations
 * run at once, of their order (an operation starts once what it depends on has
 * settled), of the in-flight records written before each request, of escrow, and
 * of stopping on a shutdown within its grace.
 */
export class Delivery {
  /** Set when the target refused us outright (401/403) or cannot be reached: the cycle stops taking operations. */
  fatal: string | undefined;
  /** Operations that succeeded. */
  succeeded = 0;
  /** Why each operation given up this cycle failed (escrow.maxCycles reached). */
  readonly givenUp: string[] = [];
  /** What this delivery learnt of the target's Bulk (kept for the next cycles by the caller). */
  readonly bulkLessons: BulkLesson[] = [];
  private readonly users: UserDelivery;
  private readonly groups: GroupDelivery;
  /** The commit that holds each in-flight record (STARTED once the operation has started). */
  private readonly tickets = new Map<string, number>();
  /** Operations recorded ahead and not started yet. */
  private ahead = 0;
  private done = 0;
  private total = 0;
  /** Operations in the order they became ready to start: the queue starts them in this order. */
  private readonly ready: Operation[] = [];
  private nextToMark = 0;
  /** Carries writes in Bulk requests, when the target takes them. */
  private bulk: BulkWriter | undefined;
  /** The queue of operations whose requests all travel in Bulk requests (see `bulkOnly`). */
  private wide: PQueue | undefined;

  constructor(
    private readonly ctx: DeliveryContext,
    private readonly options: DeliveryOptions,
  ) {
    this.users = new UserDelivery(ctx);
    this.groups = new GroupDelivery(ctx);
  }

  async run(operations: readonly Operation[]): Promise<void> {
    await this.readBackInterruptedGroups(operations);
    this.groups.notePlan(operations);
    const bulk = (this.bulk = await this.startBulk(operations));
    const queue = new PQueue({ concurrency: this.options.maxConcurrent });
    // Writes that travel in Bulk requests wait for their request, not for a connection: many more run at once.
    const wide = (this.wide = bulk ? new PQueue({ concurrency: this.options.maxConcurrent * bulk.limits.maxOperations }) : queue);
    const settled = new Map<string, Promise<unknown>>();
    const byKey = bulk ? new Map(operations.map((op) => [op.key, op])) : undefined;
    const signal = this.ctx.signal;
    this.total = operations.length;
    const start = (op: Operation) => {
      this.ready.push(op);
      return (bulk && this.bulkOnly(op) ? wide : queue).add(() => this.execute(op));
    };
    const none = Promise.resolve();
    for (const op of operations) {
      const deps: Promise<unknown>[] = [];
      for (const k of op.dependsOn) {
        const d = settled.get(k);
        if (!d) continue;
        // A group created with new users may go in the same Bulk request as their creates, naming them by bulkId.
        const dep = op.kind === 'group.create' ? byKey?.get(k) : undefined;
        deps.push(bulk && dep?.kind === 'user.create' ? Promise.race([d, bulk.queued(dep.sourceId)]) : d);
      }
      // Started once what it depends on has settled (at the earliest, after this loop has queued everything).
      const after = deps.length === 0 ? none : deps.length === 1 ? deps[0]! : Promise.all(deps);
      settled.set(op.key, after.then(() => start(op)));
    }
    const creates = new Map(operations.filter((op) => op.kind === 'user.create').map((op) => [op.sourceId, op.key]));
    this.ctx.userCreateSettled = (sourceId) => {
      const key = creates.get(sourceId);
      return key === undefined ? undefined : settled.get(key);
    };
    const all = Promise.all(settled.values()).then(() => undefined);
    let onAbort: (() => void) | undefined;
    try {
      if (!signal) return await all;
      // On a shutdown, wait for the requests in flight, but not forever: at the end of the
      // grace they are cut off, stay recorded as in flight, and are checked at the next cycle.
      const grace = new Promise<void>((resolve) => {
        onAbort = () => {
          const timer = setTimeout(() => {
            this.ctx.client.abort();
            resolve();
          }, this.options.graceMs);
          timer.unref();
          void all.then(() => clearTimeout(timer));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([all, grace]);
    } finally {
      if (this.ctx.quirks.bulkReferences) this.learnReferences(this.ctx.quirks.bulkReferences);
      // The signal outlives the cycle (the daemon's): a listener left on it would pile up, cycle after cycle.
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      // Recorded ahead, never started (a shutdown, a refused credential): not in flight after all.
      for (const [key, ticket] of this.tickets) if (ticket !== STARTED) this.options.store.clearInflight(this.ctx.integration, key);
    }
  }

  /**
   * Records `op` as in flight, with the operations queued after it: one commit
   * covers a window of requests. A crash leaves the window's records behind,
   * and the next cycle checks those operations against the target: safe, if a
   * little more reading than needed. Returns once `op`'s record is committed.
   */
  private markInflight(op: Operation): void {
    const store = this.options.store;
    let ticket = this.tickets.get(op.key);
    if (ticket === undefined) ticket = this.markWindow(op);
    this.tickets.set(op.key, STARTED);
    this.ahead--;
    // With the writer thread, the next window is recorded ahead, so that its
    // commit is done by the time its requests go out: the HTTP loop never waits.
    if (store.writesInBackground && this.ahead < INFLIGHT_WINDOW && this.nextToMark < this.ready.length) this.markWindow();
    store.awaitInflight(ticket);
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
    const ticket = this.options.store.markInflight(this.ctx.integration, window, this.ctx.cycleId);
    for (const o of window) this.tickets.set(o.key, ticket);
    this.ahead += window.length;
    return ticket;
  }

  private async execute(op: Operation): Promise<void> {
    const ctx = this.ctx;
    if (this.fatal || ctx.signal?.aborted) {
      ctx.counts.notStarted++;
      return;
    }
    const started = Date.now();
    this.markInflight(op);
    if (op.kind === 'group.create') this.bulk?.holdFor(op.key, op.members);
    let outcome: Outcome;
    try {
      outcome = await this.apply(op);
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'fatal') {
        this.fatal = `the target refused our credentials (HTTP ${err.status ?? '?'}) at ${err.method} ${err.path}; the cycle stopped`;
      } else if (err instanceof ScimHttpError && err.status === undefined && this.succeeded === 0 && UNREACHABLE.test(err.detail ?? '')) {
        // Nothing has got through yet and no connection can be made: the target is down, not this object.
        this.fatal = `the target is unreachable (${err.detail ?? 'network error'}) at ${this.options.targetUrl}; the cycle stopped`;
      }
      ctx.counts.failed++;
      outcome = {
        result: 'failure',
        type: eventTypeOf(op.kind),
        summary: `${op.kind} ${op.sourceId} failed: ${errorMessage(err)}`,
        targetId: 'targetId' in op ? op.targetId : null,
        detail: errorDetail(err),
      };
    } finally {
      this.bulk?.release(op.key);
    }
    // A failure (thrown, or a lookup's outcome) may be the one that shows the target refuses everything.
    const refusal = outcome.result === 'failure' && !this.fatal ? ctx.client.refusal : undefined;
    if (refusal) this.fatal = refusedEverything(refusal);
    if (!ctx.keepInflight.has(op.key)) this.options.store.clearInflight(ctx.integration, op.key);
    if (outcome.result === 'success') {
      this.succeeded++;
      if (this.options.escrowKeys.delete(op.key)) this.options.store.clearEscrow(ctx.integration, op.key);
    }
    if (outcome.silent) return this.progress();
    // The outcome's detail is its own (built for this event): completed in place.
    const detail = outcome.detail;
    detail.operation = op.kind;
    detail.durationMs = Date.now() - started;
    this.options.sink.emit({ type: outcome.type, result: outcome.result, sourceId: op.sourceId, targetId: outcome.targetId ?? null, summary: outcome.summary, detail });
    if (outcome.result === 'failure' && !this.fatal) this.escrow(op, outcome);
    this.progress();
  }

  /**
   * A Bulk writer when the target says it takes Bulk requests (/ServiceProviderConfig, read
   * once per delivery) and there is enough to send; undefined for single requests.
   */
  private async startBulk(operations: readonly Operation[]): Promise<BulkWriter | undefined> {
    const settings = this.options.bulk ?? { use: 'when-supported', maxOperations: undefined, references: 'one' };
    if (settings.use === 'never' || operations.length < MIN_BULK_OPERATIONS || this.ctx.signal?.aborted) return undefined;
    const known = this.options.serviceProviderConfig;
    const support = known !== undefined ? bulkSupportOf(known) : await readBulkSupport(this.ctx.client);
    if (!support) return undefined;
    const limits = { maxOperations: Math.min(settings.maxOperations ?? support.maxOperations, MAX_BULK_OPERATIONS), maxPayloadSize: support.maxPayloadSize };
    const ctx = this.ctx;
    const writer = new BulkWriter(ctx.client, limits, {
      maxInFlight: this.options.maxConcurrent,
      // A reference is read back in the group afterwards: never where members cannot be read, or once one went wrong.
      maxReferences: () => (settings.references === 'none' || !ctx.target.groups.readsMembers || ctx.quirks.bulkReferences ? 0 : 1),
      onFallback: (fallback) => this.bulkFallback(fallback),
    });
    this.ctx.writes = writer;
    return writer;
  }

  private bulkFallback(fallback: BulkFallback): void {
    // Single requests from now on: no more operations at once than the target is asked to serve.
    if (this.wide) this.wide.concurrency = this.options.maxConcurrent;
    const { reason } = fallback;
    if (fallback.kind === 'refused') {
      this.bulkLessons.push(fallback);
      this.options.sink.emit({
        type: 'idm_integration_update',
        result: 'failure',
        summary: `the target refused a Bulk request although /ServiceProviderConfig says bulk.supported (${reason}): single requests for this cycle and the next ones`,
        detail: { bulk: 'refused', status: fallback.status, reason },
      });
      return;
    }
    this.options.sink.emit({
      type: 'idm_integration_update',
      result: 'failure',
      summary: `the target answered a Bulk request badly (${reason}): single requests for the rest of this cycle`,
      detail: { bulk: 'fallback', reason },
    });
  }

  /** A group read back after a Bulk request held wrong members: the next cycles name no member by reference. */
  private learnReferences(reason: string): void {
    this.bulkLessons.push({ kind: 'references', reason });
    this.options.sink.emit({
      type: 'idm_integration_update',
      result: 'failure',
      summary: `the target resolved bulkId references wrongly (${reason}); fixed in this cycle, and groups wait for their new members' ids from now on`,
      detail: { bulk: 'references', reason },
    });
  }

  /** Groups an interrupted cycle left in flight and this plan leaves alone are read back now; one unread stays marked. */
  private async readBackInterruptedGroups(operations: readonly Operation[]): Promise<void> {
    if (this.ctx.dirtyGroups.size === 0) return;
    const changed = new Set(operations.filter((op) => op.kind.startsWith('group.')).map((op) => op.sourceId));
    const unread = await readBackUntouched(this.ctx, changed);
    if (unread.length === 0) return;
    const marks = unread.map((sourceId) => ({ key: `group:${sourceId}`, kind: 'group.update', sourceId }));
    this.options.store.awaitInflight(this.options.store.markInflight(this.ctx.integration, marks, this.ctx.cycleId));
  }

  /** Whether an operation's requests all travel in Bulk requests (no lookup or read of its own first). */
  private bulkOnly(op: Operation): boolean {
    switch (op.kind) {
      case 'user.create':
        return this.ctx.accounts !== undefined;
      case 'user.update':
      case 'user.reactivate':
      case 'user.deactivate':
        return this.ctx.target.updateVerb === 'patch';
      case 'user.delete':
      case 'group.delete':
        return true;
      case 'group.create':
        return false;
      default:
        return !this.ctx.dirtyGroups.has(op.sourceId);
    }
  }

  private progress(): void {
    this.options.onProgress?.(++this.done, this.total, this.ctx.counts.failed);
  }

  /** Keeps a failed operation for the next cycle, or gives it up after `maxCycles` failing cycles. */
  private escrow(op: Operation, outcome: Outcome): void {
    const ctx = this.ctx;
    const attempts = typeof outcome.detail.attempts === 'number' ? outcome.detail.attempts : 1;
    const entry = this.options.store.recordFailure(
      ctx.integration,
      { key: op.key, fingerprint: this.options.fingerprints.get(op.key) ?? '', kind: op.kind, sourceId: op.sourceId },
      { error: outcome.summary, attempts, cycleId: ctx.cycleId },
      this.options.maxCycles,
    );
    this.options.escrowKeys.add(op.key);
    if (!entry.givenUp) {
      ctx.counts.escrowed++;
      return;
    }
    this.givenUp.push(outcome.summary);
    this.options.sink.emit({
      type: outcome.type,
      result: 'failure',
      sourceId: op.sourceId,
      targetId: outcome.targetId ?? null,
      summary: `${op.kind} ${op.sourceId} given up after failing ${entry.cycles} cycles (escrow.maxCycles): ${outcome.summary}`,
      detail: { givenUp: true, cycles: entry.cycles, attempts: entry.attempts, firstFailedAt: entry.firstFailedAt, reason: outcome.summary },
    });
  }

  private apply(op: Operation): Promise<Outcome> {
    switch (op.kind) {
      case 'user.create':
        return this.users.create(op.sourceId, op.attrs);
      case 'user.update':
      case 'user.reactivate':
      case 'user.deactivate':
        return this.users.change(op);
      case 'user.delete':
        return this.users.delete(op.sourceId, op.targetId);
      case 'group.create':
        return this.groups.create(op);
      case 'group.update':
      case 'group.members.add':
      case 'group.members.remove':
        return this.groups.change(op);
      case 'group.delete':
        return this.groups.delete(op);
      default: {
        const never: never = op;
        throw new Error(`unknown operation ${JSON.stringify(never)}`);
      }
    }
  }
}

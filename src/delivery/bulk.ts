import PQueue from 'p-queue';
import { PATCH_OP_SCHEMA } from '../core/paths.js';
import { ScimHttpError, errorMessage } from '../errors.js';
import type { PatchOperation } from '../scim/bodies.js';
import {
  BULK_ENVELOPE_BYTES,
  bulkOperationError,
  bulkRequestBody,
  createdId,
  parseBulkResponse,
  refusesBulk,
  type BulkOperation,
  type BulkOperationAnswer,
  type BulkSupport,
} from '../scim/bulk.js';
import type { RequestOptions, ResourceType, ScimClient, ScimResource } from '../scim/client.js';
import { mayHaveBeenApplied, type LostAnswerPolicy } from '../scim/retry.js';
import { Batch, NEVER, byteSize, toAnswer, type Pending } from './bulk-batch.js';
import type { BulkFallback } from './bulk-settings.js';
import type { BodyWithMembers, CreateOptions, TargetWrites } from './writes.js';

export type { BulkFallback, BulkLesson, BulkSettings } from './bulk-settings.js';

/** Operations per Bulk request at most, whatever the target allows: an answer stays small enough to wait for. */
export const MAX_BULK_OPERATIONS = 1000;

export interface BulkWriterOptions {
  /** Bulk requests in flight at most (the integration's `maxConcurrent`). */
  maxInFlight: number;
  /**
   * Users one operation may name by `bulkId:` now: 1 (a target that resolves references
   * wrongly resolves one), or 0 where the group cannot be read back or a reference went wrong.
   */
  maxReferences(): number;
  /** The target refused /Bulk, or answered a Bulk request badly: single requests from now on. */
  onFallback(fallback: BulkFallback): void;
}

/** An operation that named users by bulkId cannot be sent on its own: its body is built again. */
class BuildAgain extends Error {}

/**
 * Carries a delivery's writes in SCIM Bulk requests (RFC 7644 §3.7), within the
 * target's `maxOperations` and `maxPayloadSize`. Each write resolves or throws as its
 * own request would have, so each operation keeps its own state, events and escrow.
 * A request goes out when full, or once the operations ready at the moment have all
 * joined it. A target that answers a Bulk request badly gets single requests for the
 * rest of the delivery; a create in a request whose answer was lost is thrown as a
 * lost answer, so that it is looked up before it is ever sent again.
 */
export class BulkWriter implements TargetWrites {
  private open: Batch | undefined;
  private timer: NodeJS.Immediate | undefined;
  private sending = 0;
  private readonly waiting: Batch[] = [];
  private readonly holds = new Set<string>();
  private fellBack: string | undefined;
  private lastBulkId = 0;
  /** Users created by an answered Bulk request of this delivery: source id → target id. */
  private readonly created = new Map<string, string>();
  /** Users whose create waits in a Bulk request (open or sent): source id → the request. */
  private readonly pendingUsers = new Map<string, Batch>();
  /** Users whose create is on its way (in a Bulk request or on its own): settles once it is answered. */
  private readonly userCreates = new Map<string, Promise<unknown>>();
  private readonly queuedWaiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** Bulk requests sent. */
  requests = 0;
  /** Writes sent on their own (after a fall-back, or sent again): no more at once than Bulk requests would be. */
  private readonly singles: PQueue;

  constructor(
    private readonly client: ScimClient,
    readonly limits: BulkSupport,
    private readonly options: BulkWriterOptions,
  ) {
    this.singles = new PQueue({ concurrency: options.maxInFlight });
  }

  private singly<T>(send: () => Promise<T>): Promise<T> {
    return this.singles.add(send);
  }

  /**
   * Settles once `user`'s create has joined a Bulk request (a group created after it may name
   * it by bulkId); never after a fall-back: a group then waits for the create itself.
   */
  queued(user: string): Promise<void> {
    if (this.fellBack) return NEVER;
    if (this.pendingUsers.has(user) || this.created.has(user)) return Promise.resolve();
    let w = this.queuedWaiters.get(user);
    if (!w) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.queuedWaiters.set(user, (w = { promise, resolve }));
    }
    return w.promise;
  }

  /** Keeps the open request from going out until `key` has joined it or settled: it may name users created in it. */
  holdFor(key: string, users: readonly string[]): void {
    const open = this.open;
    if (!open || this.fellBack) return;
    const inOpen = users.filter((u) => open.users.has(u)).length;
    if (inOpen > 0 && inOpen <= this.options.maxReferences()) this.holds.add(key);
  }

  release(key: string): void {
    if (this.holds.delete(key) && this.holds.size === 0 && this.open) this.schedule();
  }

  async create(type: ResourceType, body: Record<string, unknown>, options: CreateOptions = {}): Promise<{ resource: ScimResource; attempts: number }> {
    const { user } = options;
    const created = this.createOnce(type, body, user);
    if (user === undefined) return created;
    // A group created with this user waits for its id (bulk.ts createWithMembers).
    const settled = created.then(
      (c) => void this.created.set(user, c.resource.id),
      () => undefined,
    );
    this.userCreates.set(user, settled);
    try {
      return await created;
    } finally {
      if (this.userCreates.get(user) === settled) this.userCreates.delete(user);
    }
  }

  private async createOnce(type: ResourceType, body: Record<string, unknown>, user: string | undefined): Promise<{ resource: ScimResource; attempts: number }> {
    if (this.fellBack) return this.singly(() => this.client.create(type, body));
    const path = `/${type}`;
    const answer = await this.enqueue({ method: 'POST', path, bulkId: this.bulkId(), data: body }, 'throw', async () => toAnswer(await this.client.create(type, body)), user);
    return { resource: this.resourceOf(answer, path, body), attempts: 1 };
  }

  async createWithMembers(type: ResourceType, users: readonly string[], build: BodyWithMembers, holder?: string) {
    try {
      for (;;) {
        // A user whose create is on its way (a Bulk request sent or waiting to be, a request of its own) is waited for: its id is known after.
        const onTheirWay = users.filter((u) => !this.open?.users.has(u)).flatMap((u) => this.userCreates.get(u) ?? []);
        if (onTheirWay.length > 0) {
          await Promise.all(onTheirWay);
          continue;
        }
        const open = this.open;
        const named: string[] = [];
        const { body, members } = build((u) => {
          const id = this.created.get(u);
          if (id !== undefined) return id;
          const bulkId = this.fellBack ? undefined : open?.users.get(u);
          if (bulkId !== undefined) named.push(u);
          return bulkId !== undefined ? `bulkId:${bulkId}` : undefined;
        });
        if (this.fellBack) return { ...(await this.singly(() => this.client.create(type, body))), members, referenced: [] };
        const path = `/${type}`;
        const op: BulkOperation = { method: 'POST', path, bulkId: this.bulkId(), data: body };
        // Targets resolve one reference an operation at best: naming more, it waits for their ids and goes in a later request.
        if (named.length > this.options.maxReferences()) {
          if (holder !== undefined) this.release(holder);
          await open!.done;
          continue;
        }
        // bulkIds name operations of the same request only: a body that no longer fits waits for the next one.
        if (named.length > 0 && (this.open !== open || !this.fits(open!, op))) {
          if (this.open === open) this.flush();
          await open!.done;
          continue;
        }
        if (holder !== undefined) this.release(holder);
        try {
          const single = async () => (named.length > 0 ? Promise.reject(new BuildAgain()) : toAnswer(await this.client.create(type, body)));
          const answer = await this.enqueue(op, 'throw', single);
          const referenced = named.flatMap((u) => {
            const id = this.created.get(u);
            return id !== undefined ? [{ sourceId: u, targetId: id, bulkId: open!.users.get(u)! }] : [];
          });
          return { resource: this.resourceOf(answer, path, body), attempts: 1, members, referenced };
        } catch (err) {
          // A user it named failed in the same request (the target refuses the group then): built again without it, as a single request would have been.
          if (err instanceof BuildAgain || (named.length > 0 && named.some((u) => !this.created.has(u)))) continue;
          throw err;
        }
      }
    } finally {
      if (holder !== undefined) this.release(holder);
    }
  }

  async patch(type: ResourceType, id: string, operations: PatchOperation[], options: RequestOptions = {}): Promise<{ attempts: number }> {
    if (this.fellBack) return this.singly(() => this.client.patch(type, id, operations, options));
    const data = { schemas: [PATCH_OP_SCHEMA], Operations: operations };
    const single = async () => toAnswer(await this.client.patch(type, id, operations, options));
    await this.enqueue({ method: 'PATCH', path: `/${type}/${encodeURIComponent(id)}`, data }, options.lostAnswer ?? 'retry', single);
    return { attempts: 1 };
  }

  async put(type: ResourceType, id: string, body: Record<string, unknown>, options: { ifMatch?: string | undefined } = {}): Promise<{ attempts: number }> {
    if (this.fellBack) return this.singly(() => this.client.put(type, id, body, options));
    const op: BulkOperation = { method: 'PUT', path: `/${type}/${encodeURIComponent(id)}`, data: body, ...(options.ifMatch !== undefined ? { version: options.ifMatch } : {}) };
    await this.enqueue(op, 'retry', async () => toAnswer(await this.client.put(type, id, body, options)));
    return { attempts: 1 };
  }

  async remove(type: ResourceType, id: string): Promise<{ attempts: number }> {
    if (this.fellBack) return this.singly(() => this.client.remove(type, id));
    await this.enqueue({ method: 'DELETE', path: `/${type}/${encodeURIComponent(id)}` }, 'retry', async () => toAnswer(await this.client.remove(type, id)));
    return { attempts: 1 };
  }

  /** Sends what waits (the delivery is ending, or stopping). */
  flushAll(): void {
    if (this.open) this.flush();
  }

  private bulkId(): string {
    return `b${++this.lastBulkId}`;
  }

  private fits(batch: Batch, op: BulkOperation): boolean {
    return batch.items.length < this.limits.maxOperations && batch.bytes + byteSize(op) + 1 <= this.limits.maxPayloadSize;
  }

  /** A created resource as the single request would have answered it: a 2xx without an id is an answer lost (QUIRKS.md). */
  private resourceOf(answer: BulkOperationAnswer | undefined, path: string, body: Record<string, unknown>): ScimResource {
    const id = answer ? createdId(answer) : undefined;
    if (id === undefined) {
      throw Object.assign(new ScimHttpError({ kind: 'transient', status: answer?.status, method: 'POST', path: `/Bulk ${path}`, detail: 'the target answered without a resource id' }), { attempts: 1 });
    }
    return answer?.resource ?? { ...body, id };
  }

  private enqueue(op: BulkOperation, lostAnswer: LostAnswerPolicy, single: Pending['single'], user?: string): Promise<BulkOperationAnswer | undefined> {
    return new Promise((resolve, reject) => {
      const bytes = byteSize(op);
      const pending: Pending = { op, bytes, user, lostAnswer, single, resolve, reject };
      // Too large for any Bulk request of this target: on its own.
      if (BULK_ENVELOPE_BYTES + bytes > this.limits.maxPayloadSize) return this.sendSingly(pending);
      if (this.open && !this.fits(this.open, op)) this.flush();
      const batch = (this.open ??= new Batch());
      batch.items.push(pending);
      batch.bytes += bytes + 1;
      if (user !== undefined && op.bulkId !== undefined) {
        batch.users.set(user, op.bulkId);
        this.pendingUsers.set(user, batch);
        const w = this.queuedWaiters.get(user);
        if (w) {
          this.queuedWaiters.delete(user);
          w.resolve();
        }
      }
      if (batch.items.length >= this.limits.maxOperations) this.flush();
      else this.schedule();
    });
  }

  /** The open request goes out once the operations ready now have joined it (the next turn of the event loop), unless held. */
  private schedule(): void {
    if (this.timer || this.holds.size > 0) return;
    this.timer = setImmediate(() => {
      this.timer = undefined;
      if (this.holds.size === 0 && this.open) this.flush();
    });
  }

  private flush(): void {
    const batch = this.open;
    if (!batch) return;
    this.open = undefined;
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    if (this.sending < this.options.maxInFlight) void this.send(batch);
    else this.waiting.push(batch);
  }

  private async send(batch: Batch): Promise<void> {
    this.sending++;
    this.requests++;
    const ops = batch.items.map((p) => p.op);
    try {
      let data: unknown;
      try {
        data = (await this.client.bulk(bulkRequestBody(ops))).data;
      } catch (err) {
        this.failed(batch, err);
        return;
      }
      const parsed = parseBulkResponse(data, ops);
      if (!parsed.ok) {
        this.failed(batch, new ScimHttpError({ kind: 'transient', status: 200, method: 'POST', path: '/Bulk', detail: parsed.reason }));
        return;
      }
      // Users first: a group answered in the same request is built again from what they became.
      parsed.answers.forEach((a, i) => {
        const user = batch.items[i]!.user;
        const id = a.status < 300 ? createdId(a) : undefined;
        if (user !== undefined && id !== undefined) this.created.set(user, id);
      });
      parsed.answers.forEach((a, i) => this.answer(batch.items[i]!, a));
    } finally {
      for (const u of batch.users.keys()) if (this.pendingUsers.get(u) === batch) this.pendingUsers.delete(u);
      batch.settle();
      this.sending--;
      const next = this.waiting.shift();
      if (next) void this.send(next);
    }
  }

  private answer(p: Pending, a: BulkOperationAnswer): void {
    if (a.status < 300) return p.resolve(a);
    const err = Object.assign(bulkOperationError(p.op, a), { attempts: 1 });
    // Not applied (429), or safe to repeat: sent again on its own, as its single request would have been retried.
    if (err.kind === 'rate-limited' || (err.kind === 'transient' && p.lostAnswer === 'retry')) return this.sendSingly(p);
    p.reject(err);
  }

  /** The Bulk request as a whole failed: what it carried is settled as its own requests would have been. */
  private failed(batch: Batch, err: unknown): void {
    const e = err instanceof ScimHttpError ? err : undefined;
    if (e && refusesBulk(e)) {
      // No Bulk here, whatever /ServiceProviderConfig says: nothing was applied, each write goes on its own this cycle.
      this.fallBack({ kind: 'refused', status: e.status!, reason: `/Bulk answered HTTP ${e.status}${e.detail ? `: ${e.detail}` : ''}` });
      for (const p of batch.items) this.sendSingly(p);
      return;
    }
    // Refused credentials, a shutdown, a target that cannot be reached or keeps answering 429:
    // the target's state, not its Bulk support. Each write fails as its own request would have.
    if (!e || e.kind === 'fatal' || e.kind === 'rate-limited' || e.detail?.startsWith('stopped') || !mayHaveBeenApplied(e)) {
      for (const p of batch.items) p.reject(err);
      return;
    }
    const refused = e.status !== undefined && e.kind !== 'transient';
    const reason = `${e.status !== undefined ? `HTTP ${e.status}` : 'no answer'}: ${e.detail ?? errorMessage(err)}`;
    this.fallBack({ kind: 'bad-answer', reason });
    for (const p of batch.items) {
      // Refused whole (a 4xx): nothing was applied. Else a create may have been: looked up before it is sent again.
      if (refused || p.lostAnswer === 'retry') this.sendSingly(p);
      else {
        const lost = new ScimHttpError({ kind: 'transient', status: e.status, method: p.op.method, path: `/Bulk ${p.op.path}`, detail: `the answer to the Bulk request carrying it was lost (${reason})` });
        p.reject(Object.assign(lost, { attempts: 1 }));
      }
    }
  }

  private fallBack(fallback: BulkFallback): void {
    if (this.fellBack) return;
    this.fellBack = fallback.reason;
    this.options.onFallback(fallback);
    // What waits for a Bulk request goes on its own now.
    const left = [...this.waiting.splice(0), ...(this.open ? [this.open] : [])];
    this.open = undefined;
    for (const b of left) {
      for (const u of b.users.keys()) if (this.pendingUsers.get(u) === b) this.pendingUsers.delete(u);
      for (const p of b.items) this.sendSingly(p);
      b.settle();
    }
    // A group waiting for one of these users now waits for its create to be done (delivery.ts races the two).
    this.queuedWaiters.clear();
  }

  private sendSingly(p: Pending): void {
    this.singly(() => p.single()).then(p.resolve, p.reject);
  }
}

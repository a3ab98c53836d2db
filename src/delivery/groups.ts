import { resourceMatches } from '../core/matching.js';
import type { GroupChange, GroupOperation, Operation } from '../core/operations.js';
import { CORE_GROUP_SCHEMA } from '../core/paths.js';
import type { TargetResource } from '../core/records.js';
import { ScimHttpError, errorMessage } from '../errors.js';
import type { PatchOperation } from '../scim/bodies.js';
import { filterValue } from '../scim/client.js';
import { mayHaveBeenApplied } from '../scim/retry.js';
import { findOrCreate, type Lookup } from './adoption.js';
import type { DeliveryContext } from './context.js';
import { membersOf, refreshMembers } from './group-reads.js';
import { errorDetail, isTargetProblem, type Outcome } from './outcome.js';
import { writesOf, type MemberReference } from './writes.js';

type GroupCreate = Extract<GroupOperation, { kind: 'group.create' }>;
type GroupDelete = Extract<GroupOperation, { kind: 'group.delete' }>;

/** The group operations of one delivery: create or adopt, renames and member batches, delete. */
export class GroupDelivery {
  /** Whom each group gains in this cycle's plan, by group source id. */
  private readonly gains = new Map<string, Set<string>>();
  private readonly updated = new Set<string>();

  constructor(private readonly ctx: DeliveryContext) {}

  create(op: GroupCreate): Promise<Outcome> {
    const ctx = this.ctx;
    return findOrCreate(
      {
        find: () => this.lookup(op.displayName),
        create: () => this.post(op),
        findAfterConflict: async () => {
          const again = await this.lookup(op.displayName);
          return again.kind === 'found' ? again.resources : [];
        },
        adopt: (resource) => this.adopt(op, resource),
        ambiguous: (found) => {
          ctx.counts.held++;
          return {
            result: 'failure',
            type: 'group_create_provision',
            summary: `group ${op.displayName} matches ${found.length} groups in the target: held, not created or adopted`,
            detail: { candidates: found.map((r) => r.id) },
          };
        },
      },
      // Group names need not be unique in a target: a create is never repeated on a lost answer, only looked up.
      { retry: { ...ctx.retry, maxAttempts: 1 }, signal: ctx.signal },
    );
  }

  /** Groups named `displayName` in the target, each checked against the filter (some targets ignore it). */
  private async lookup(displayName: string): Promise<Lookup> {
    const ctx = this.ctx;
    let resources: TargetResource[];
    try {
      resources = (await ctx.client.find('Groups', 'displayName', displayName, { excludeMembers: true })).resources;
    } catch (err) {
      if (isTargetProblem(err)) throw err;
      ctx.counts.failed++;
      return { kind: 'failed', outcome: { result: 'failure', type: 'group_create_provision', summary: `lookup of group ${displayName} failed: ${errorMessage(err)}`, detail: errorDetail(err) } };
    }
    const key = { attribute: 'displayName', value: displayName };
    const found = resources.filter((r) => resourceMatches(r, key, this.ctx.schema));
    if (found.length === resources.length) return { kind: 'found', resources: found };
    ctx.counts.failed++;
    return {
      kind: 'failed',
      outcome: {
        result: 'failure',
        type: 'group_create_provision',
        summary: `group ${displayName} not created or adopted: the target ignored the filter displayName eq ${filterValue(displayName)} (it answered groups of other names)`,
        detail: { reason: 'filter-ignored' },
      },
    };
  }

  private async post(op: GroupCreate): Promise<Outcome> {
    const ctx = this.ctx;
    let sent: string[] = [];
    const created = await writesOf(ctx).createWithMembers(
      'Groups',
      op.members,
      (ref) => {
        const named: string[] = [];
        const values: { value: string }[] = [];
        for (const u of op.members) {
          const value = ctx.state.resolve(u) ?? ref(u);
          if (value === undefined) continue;
          named.push(u);
          values.push({ value });
        }
        sent = values.map((v) => v.value);
        const body = { schemas: [CORE_GROUP_SCHEMA], displayName: op.displayName, externalId: op.sourceId, ...(values.length > 0 ? { members: values } : {}) };
        return { body, members: named };
      },
      op.key,
    );
    const { resource, members } = created;
    let attempts = created.attempts;
    if (created.referenced.length > 0) attempts += await this.checkReferences(resource.id, sent, created.referenced);
    ctx.state.saveGroup(op.sourceId, { targetId: resource.id, status: 'active', displayName: op.displayName }, { members });
    ctx.counts.groupsCreated++;
    ctx.counts.membersAdded += members.length;
    try {
      attempts += await this.addLateMembers(op, resource.id, members);
    } catch (err) {
      if (isTargetProblem(err)) throw err;
      // The group exists: its create is not repeated; the cycle says it lacks members.
      ctx.counts.failed++;
      return {
        result: 'failure',
        type: 'group_create_provision',
        summary: `created group ${op.displayName} with ${members.length} members, but adding those whose account came later failed: ${errorMessage(err)}`,
        targetId: resource.id,
        detail: { ...errorDetail(err), attempts, added: members.length },
      };
    }
    return {
      result: 'success',
      type: 'group_create_provision',
      summary: `created group ${op.displayName} with ${members.length} members`,
      targetId: resource.id,
      detail: { attempts, added: members.length },
    };
  }

  /**
   * Adds, in the cycle that creates a group, the members whose account came after its
   * create was sent (their create's answer was lost and they were looked up, say). A
   * member whose create failed is left out: its own failure is the cycle's. `members`
   * grows with those added.
   */
  private async addLateMembers(op: GroupCreate, targetId: string, members: string[]): Promise<number> {
    const ctx = this.ctx;
    const named = new Set(members);
    const waiting = op.members.filter((u) => !named.has(u));
    if (waiting.length === 0) return 0;
    await Promise.all(waiting.map((u) => ctx.userCreateSettled?.(u)));
    const late = ctx.state.resolved(waiting);
    if (late.length === 0) return 0;
    const attempts = await this.patchGroup({ sourceId: op.sourceId, targetId, key: op.key }, [{ op: 'add', path: 'members', value: late.map((m) => ({ value: m.targetId })) }]);
    const sourceIds = late.map((m) => m.sourceId);
    ctx.state.saveGroup(op.sourceId, { targetId, status: 'active', displayName: op.displayName }, { add: sourceIds });
    ctx.counts.membersAdded += late.length;
    members.push(...sourceIds);
    return attempts;
  }

  /**
   * Reads back a group created with members named by `bulkId:` (one GET): a target may keep
   * the reference itself, or resolve it to another account. What it holds wrongly is fixed
   * now, and remembered (a quirk) so that no member is named by reference again.
   */
  private async checkReferences(targetId: string, sent: readonly string[], referenced: readonly MemberReference[]): Promise<number> {
    const ctx = this.ctx;
    const idOf = new Map(referenced.map((r) => [`bulkId:${r.bulkId}`, r.targetId]));
    const want = new Set(sent.map((v) => idOf.get(v) ?? v));
    const read = await ctx.client.get('Groups', targetId, 'attributes=members');
    const held = new Set((Array.isArray(read.resource.members) ? (read.resource.members as { value?: unknown }[]) : []).map((m) => String(m.value)));
    const wrong = [...held].filter((v) => !want.has(v));
    const absent = [...want].filter((v) => !held.has(v));
    if (wrong.length === 0 && absent.length === 0) return read.attempts;
    ctx.quirks.bulkReferences ??= `group ${targetId} held ${wrong.length} members it was not sent (${wrong.slice(0, 3).join(', ')}) and lacked ${absent.length}`;
    const ops: PatchOperation[] = [];
    if (wrong.length > 0) {
      if (ctx.target.groups.memberRemoval === 'value-array') ops.push({ op: 'remove', path: 'members', value: wrong.map((value) => ({ value })) });
      else for (const value of wrong) ops.push({ op: 'remove', path: `members[value eq ${filterValue(value)}]` });
    }
    if (absent.length > 0) ops.push({ op: 'add', path: 'members', value: absent.map((value) => ({ value })) });
    // Requests of their own: in a Bulk request the target would read `bulkId:…` as a reference again.
    let attempts = read.attempts;
    for (const batch of ctx.target.groups.multipleOperations ? [ops] : ops.map((o) => [o])) {
      attempts += (await ctx.client.patch('Groups', targetId, batch, { lostAnswer: 'throw' })).attempts;
    }
    return attempts;
  }

  /** Links an existing group. Members already in it are learnt first, so none is added twice. */
  private async adopt(op: GroupCreate, resource: TargetResource): Promise<Outcome> {
    const ctx = this.ctx;
    const present = new Set<string>();
    let attempts = 0;
    if (ctx.target.groups.readsMembers) {
      const read = await ctx.client.get('Groups', resource.id, 'attributes=members');
      attempts += read.attempts;
      for (const u of membersOf(this.ctx, read.resource)) present.add(u);
    }
    const ops: PatchOperation[] = [];
    if (resource.displayName !== op.displayName) ops.push({ op: 'replace', path: 'displayName', value: op.displayName });
    const add = ctx.state.resolved(op.members.filter((u) => !present.has(u)));
    if (add.length > 0) ops.push({ op: 'add', path: 'members', value: add.map((m) => ({ value: m.targetId })) });
    attempts += await this.sendPatch(resource.id, ops);
    ctx.state.saveGroup(op.sourceId, { targetId: resource.id, status: 'active', displayName: op.displayName }, { members: [...present, ...add.map((m) => m.sourceId)] });
    ctx.counts.groupsAdopted++;
    ctx.counts.membersAdded += add.length;
    return {
      result: 'success',
      type: 'group_create_provision',
      summary: `adopted existing group ${op.displayName} (${present.size} members already in it, ${add.length} added)`,
      targetId: resource.id,
      detail: { adopted: true, attempts, present: present.size, added: add.length },
    };
  }

  /**
   * Sends PATCH operations to a group known to the state. A member add whose answer is
   * lost may have landed, and some targets hold a member added again twice (QUIRKS.md):
   * the group is read back into the state before anything else, so that no later add
   * (this cycle's or the next's) repeats it; when it cannot be read, the operation stays
   * marked in flight, so the next cycle reads the group first.
   */
  private async patchGroup(group: { sourceId: string; targetId: string; key: string }, ops: PatchOperation[]): Promise<number> {
    try {
      return await this.sendPatch(group.targetId, ops);
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'transient' && mayHaveBeenApplied(err) && ops.some((o) => o.op === 'add')) {
        await refreshMembers(this.ctx, group.sourceId, group.targetId).catch(() => this.ctx.keepInflight.add(group.key));
      }
      throw err;
    }
  }

  /** Sends PATCH operations, one request unless the target takes one operation a request. */
  private async sendPatch(targetId: string, ops: PatchOperation[]): Promise<number> {
    if (ops.length === 0) return 0;
    const ctx = this.ctx;
    // An add repeated after a lost answer would put members in twice on some targets.
    const options = { lostAnswer: ops.some((o) => o.op === 'add') ? ('throw' as const) : ('retry' as const) };
    if (ctx.target.groups.multipleOperations) return (await writesOf(ctx).patch('Groups', targetId, ops, options)).attempts;
    let attempts = 0;
    for (const o of ops) attempts += (await writesOf(ctx).patch('Groups', targetId, [o], options)).attempts;
    return attempts;
  }

  async change(op: GroupChange): Promise<Outcome> {
    const ctx = this.ctx;
    const known = ctx.state.groups.get(op.sourceId);
    const targetId = op.targetId ?? (known && known.status !== 'deleted' ? known.targetId : null);
    if (!known || targetId === null) {
      // Its create failed and was reported; the members wait for the next cycle.
      return { result: 'skipped', type: 'group_update_provision', summary: `group ${op.displayName} is not in the target yet`, detail: {}, silent: true };
    }
    let refreshAttempts = 0;
    if (ctx.dirtyGroups.delete(op.sourceId)) refreshAttempts = await refreshMembers(this.ctx, op.sourceId, targetId);
    const g = ctx.state.groups.get(op.sourceId) ?? known; // the refresh replaces the record
    const add = ctx.state.resolved(op.add.filter((u) => !g.members.has(u)));
    const remove: { sourceId: string; targetId: string }[] = [];
    const forget: string[] = [];
    for (const leaver of op.remove) {
      const u = g.members.has(leaver) ? leaver : this.heirOf(op.sourceId, leaver);
      if (u === undefined) continue;
      const t = ctx.state.user(u)?.targetId;
      if (t) remove.push({ sourceId: u, targetId: t });
      else forget.push(u);
    }
    const ops: PatchOperation[] = [];
    if (op.rename !== undefined) ops.push({ op: 'replace', path: 'displayName', value: op.rename });
    // Values that name no managed account (reconcile --apply): removed as members are, in the target's dialect.
    const strays = op.strays ?? { remove: [], keep: [] };
    let replaced: { sourceId: string; targetId: string }[] | undefined;
    if (op.replaceMembers || (strays.remove.length > 0 && ctx.target.groups.memberRemoval === 'replace')) {
      replaced = ctx.state.resolved(op.replaceMembers ?? [...g.members]);
      ops.push({ op: 'replace', path: 'members', value: [...replaced.map((m) => m.targetId), ...strays.keep].map((value) => ({ value })) });
    } else {
      const gone = [...remove.map((m) => m.targetId), ...strays.remove];
      if (gone.length > 0) {
        if (ctx.target.groups.memberRemoval === 'value-array') {
          ops.push({ op: 'remove', path: 'members', value: gone.map((value) => ({ value })) });
        } else {
          for (const value of gone) ops.push({ op: 'remove', path: `members[value eq ${filterValue(value)}]` });
        }
      }
      if (add.length > 0) ops.push({ op: 'add', path: 'members', value: add.map((m) => ({ value: m.targetId })) });
    }
    const record = { targetId, status: 'active' as const, displayName: op.rename ?? g.displayName };
    if (ops.length === 0) {
      if (forget.length > 0) ctx.state.saveGroup(op.sourceId, record, { remove: forget });
      return { result: 'skipped', type: 'group_update_provision', summary: `group ${op.displayName}: nothing to send`, detail: {}, silent: true };
    }
    let attempts: number;
    try {
      attempts = refreshAttempts + (await this.patchGroup({ sourceId: op.sourceId, targetId, key: op.key }, ops));
    } catch (err) {
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
      // Removed in the target: unlink it; the next cycle creates it again with its members.
      ctx.state.saveGroup(op.sourceId, { targetId: null, status: 'deleted', displayName: g.displayName }, { members: [] });
      ctx.counts.failed++;
      return {
        result: 'failure',
        type: 'group_update_provision',
        summary: `group ${g.displayName} no longer exists in the target: unlinked, it is created again next cycle`,
        targetId,
        detail: { status: 404, unlinked: true },
      };
    }
    let added = add.length;
    let removedCount = remove.length + forget.length + strays.remove.length;
    if (replaced) {
      const next = replaced.map((m) => m.sourceId);
      const nextSet = new Set(next);
      added = next.filter((u) => !g.members.has(u)).length;
      removedCount = [...g.members].filter((u) => !nextSet.has(u)).length + strays.remove.length;
      ctx.state.saveGroup(op.sourceId, record, { members: next });
    } else {
      ctx.state.saveGroup(op.sourceId, record, { add: add.map((m) => m.sourceId), remove: [...remove.map((m) => m.sourceId), ...forget] });
    }
    ctx.counts.membersAdded += added;
    ctx.counts.membersRemoved += removedCount;
    this.updated.add(op.sourceId);
    ctx.counts.groupsUpdated = this.updated.size;
    const renamed = op.rename !== undefined ? `renamed from ${g.displayName}; ` : '';
    return {
      result: 'success',
      type: 'group_update_provision',
      summary: `group ${record.displayName}: ${renamed}${added} members added, ${removedCount} removed`,
      targetId,
      detail: { attempts, added, removed: removedCount, ...(op.rename !== undefined ? { renamedFrom: g.displayName } : {}), ...(op.strays ? { strays: strays.remove } : {}), request: op.key },
    };
  }

  /** Records whom each group gains in this plan (any of its requests): see `heirOf`. */
  notePlan(operations: readonly Operation[]): void {
    for (const op of operations) {
      const gains = op.kind === 'group.create' ? op.members : op.kind === 'group.update' || op.kind === 'group.members.add' ? op.add : [];
      if (gains.length === 0) continue;
      let set = this.gains.get(op.sourceId);
      if (!set) this.gains.set(op.sourceId, (set = new Set()));
      for (const u of gains) set.add(u);
    }
  }

  /**
   * A removal planned for a leaver whose account another user adopted in this cycle: the
   * membership passed with the account (TargetState.release), and it goes unless the plan
   * adds the new owner to this group.
   */
  private heirOf(groupId: string, leaver: string): string | undefined {
    const to = this.ctx.state.adoptedFrom(leaver)?.to;
    if (to === undefined || !this.ctx.state.groups.get(groupId)?.members.has(to)) return undefined;
    return this.gains.get(groupId)?.has(to) ? undefined : to;
  }

  async delete(op: GroupDelete): Promise<Outcome> {
    const ctx = this.ctx;
    let attempts = 1;
    try {
      attempts = (await writesOf(ctx).remove('Groups', op.targetId)).attempts;
    } catch (err) {
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
    }
    ctx.state.saveGroup(op.sourceId, { targetId: null, status: 'deleted', displayName: op.displayName }, { members: [] });
    ctx.counts.groupsDeleted++;
    return { result: 'success', type: 'group_delete_provision', summary: `deleted group ${op.displayName}`, targetId: op.targetId, detail: { attempts } };
  }
}

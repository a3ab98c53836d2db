import { diffAttrs, hasChanges, type ScimAttrs } from '../core/attributes.js';
import { readPath } from '../core/paths.js';
import { AccountIndex, matchKeys, resourceMatches, type MatchKey } from '../core/matching.js';
import type { UserOperation } from '../core/operations.js';
import type { StateUser, TargetResource } from '../core/records.js';
import { factsOf, RFC_SCHEMA, unwritableReason } from '../core/target-schema.js';
import type { EventType } from '../events/types.js';
import { ScimHttpError, errorMessage } from '../errors.js';
import { buildPatchOps, userBody, type PatchOperation } from '../scim/bodies.js';
import { filterValue } from '../scim/client.js';
import { findOrCreate, type AdoptOrigin, type Lookup } from './adoption.js';
import { currentValues, putUpdate } from './etag.js';
import type { DeliveryContext } from './context.js';
import { changedList, errorDetail, isTargetProblem, type Outcome } from './outcome.js';
import { writesOf } from './writes.js';

/** Whether the target holds a value at a path (an empty string or list is none). */
const heldValue = (v: unknown) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);

/** A change whose account answered 404: re-matched once the account's work is over. */
const ACCOUNT_GONE = Symbol('account gone');

/** What an unresolved 409 says in escrow, so that the next cycle knows it (cycle.ts reads it back). */
export const UNRESOLVED_CONFLICT = 'no account it collides with can be found';

type Change = Extract<UserOperation, { kind: 'user.update' | 'user.reactivate' | 'user.deactivate' }>;

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

/** The user operations of one delivery: create or adopt, update, deactivate, reactivate, delete. */
export class UserDelivery {
  private scanIndex: Promise<AccountIndex> | undefined;

  constructor(private readonly ctx: DeliveryContext) {}

  /** Look up, then create or adopt. A match found before or after a 409, or after a lost answer, is linked, never duplicated. */
  create(sourceId: string, attrs: ScimAttrs): Promise<Outcome> {
    const ctx = this.ctx;
    const keys = matchKeys(ctx.target.matching, attrs);
    const first = keys[0];
    if (!first) {
      ctx.counts.failed++;
      return Promise.resolve(this.unmatchable(sourceId));
    }
    return findOrCreate(
      {
        find: (when) => this.lookup(when === 'planned' ? keys : lookupVariants(keys), when),
        create: (attempt) => this.post(sourceId, attrs, first, attempt),
        findAfterConflict: () => this.findAfterConflict(sourceId, first),
        adopt: (resource, origin) => this.ctx.state.exclusive(resource.id, () => this.adopt({ sourceId, attrs, first }, resource, origin)),
        ambiguous: (found) => {
          ctx.counts.held++;
          return {
            result: 'failure',
            type: 'user_lookup_provision',
            summary: `${first.value} matches ${found.length} accounts in the target: held, not created or adopted`,
            detail: { candidates: found.map((r) => r.id) },
          };
        },
      },
      { retry: ctx.retry, signal: ctx.signal },
    ).catch((err: unknown) => {
      if (err instanceof ScimHttpError && err.kind === 'conflict') return this.unresolvedConflict(first, keys, err);
      throw err;
    });
  }

  /**
   * A create without a matching value. When the source has one and the target's schema
   * forbids writing it (a readOnly userName), the schema is to blame, and the message says so.
   */
  private unmatchable(sourceId: string): Outcome {
    const ctx = this.ctx;
    const wanted = matchKeys(ctx.target.matching, ctx.state.desiredUser(sourceId)?.attrs ?? {});
    const refused = wanted.filter((k) => factsOf(ctx.schema ?? RFC_SCHEMA, k.attribute).mutability === 'readOnly');
    if (refused.length === 0) {
      return { result: 'failure', type: 'user_create_provision', summary: `${sourceId} has none of the matching attributes (${ctx.target.matching.join(', ')})`, detail: {} };
    }
    const k = refused[0]!;
    return {
      result: 'failure',
      type: 'user_create_provision',
      summary: `${k.value} (${sourceId}) not created: ${unwritableReason(k.attribute, 'readOnly')} (GET /Schemas), and accounts are created and matched by it (matching: ${ctx.target.matching.join(', ')}); the source's value is fine: check the target's schema`,
      detail: { unwritable: refused.map((r) => ({ path: r.attribute, mutability: 'readOnly', on: 'create' })) },
    };
  }

  /**
   * A 409 with no account to adopt: the target holds another account with one of this
   * user's unique values (often its externalId) under names the lookups cannot see.
   * Kept in escrow with what to fix; the next cycle does not read the whole target again.
   */
  private unresolvedConflict(first: MatchKey, keys: readonly MatchKey[], err: ScimHttpError): Outcome {
    this.ctx.counts.failed++;
    const tried = [...new Set(keys.map((k) => k.attribute))].join(', ');
    return {
      result: 'failure',
      type: 'user_create_provision',
      summary: `${first.value} not created: the target refuses it as a duplicate (HTTP 409${err.scimType ? ` ${err.scimType}` : ''}${err.detail ? `: ${err.detail}` : ''}), and ${UNRESOLVED_CONFLICT} by ${tried}; another account in the app holds one of its unique values (its externalId, say): fix or remove that account, or change the mapping`,
      detail: { ...errorDetail(err), unresolvedConflict: true },
    };
  }

  private async post(sourceId: string, attrs: ScimAttrs, first: MatchKey, attempt: number): Promise<Outcome> {
    const { body, sent } = userBody(attrs, { active: true, resolve: this.ctx.state.resolve });
    const { resource, attempts } = await writesOf(this.ctx).create('Users', body, { user: sourceId });
    this.ctx.state.saveUser(sourceId, resource.id, 'active', sent);
    this.ctx.counts.created++;
    return {
      result: 'success',
      type: 'user_create_provision',
      summary: `created ${first.value}`,
      targetId: resource.id,
      detail: { attempts: attempt - 1 + attempts, attributes: Object.keys(sent).length },
    };
  }

  /**
   * The target's accounts for the first key that finds any. Every returned account is
   * checked against the filter: a target that ignores filters answers with accounts that
   * do not match, and none of them is adopted.
   */
  private async lookup(keys: readonly MatchKey[], when: 'planned' | 'fresh'): Promise<Lookup> {
    const ctx = this.ctx;
    let found: TargetResource[] = [];
    for (const key of keys) {
      if (ctx.accounts && when === 'planned') {
        found = ctx.accounts.find(key.attribute, key.value);
      } else {
        if (ctx.quirks.filterIgnored) return { kind: 'failed', outcome: this.lookupRefused(key, ctx.quirks.filterIgnored) };
        let resources: TargetResource[];
        try {
          resources = (await ctx.client.findUsers(key.attribute, key.value)).resources;
        } catch (err) {
          if (isTargetProblem(err)) throw err;
          ctx.counts.failed++;
          return { kind: 'failed', outcome: { result: 'failure', type: 'user_lookup_provision', summary: `lookup of ${key.attribute} eq ${key.value} failed: ${errorMessage(err)}`, detail: errorDetail(err) } };
        }
        found = resources.filter((r) => resourceMatches(r, key, ctx.schema));
        if (found.length < resources.length) {
          // Remembered for the cycle: no other user is looked up, or adopted, through this filter.
          ctx.quirks.filterIgnored = `the target ignored the filter ${key.attribute} eq ${filterValue(key.value)}: it answered ${resources.length} accounts, ${resources.length - found.length} of which do not match`;
          return { kind: 'failed', outcome: this.lookupRefused(key, ctx.quirks.filterIgnored) };
        }
      }
      // Deleted this cycle (another user's deprovision): an earlier read may still list it.
      found = found.filter((r) => !ctx.state.wasRemoved(r.id));
      if (found.length > 0) break;
    }
    return { kind: 'found', resources: found };
  }

  private lookupRefused(key: MatchKey, why: string): Outcome {
    this.ctx.counts.failed++;
    return {
      result: 'failure',
      type: 'user_lookup_provision',
      summary: `${key.value} not created or adopted: ${why}; lookups are off for the rest of this cycle (check the target's filter support)`,
      detail: { reason: 'filter-ignored' },
    };
  }

  private async findAfterConflict(sourceId: string, key: MatchKey): Promise<TargetResource[]> {
    const client = this.ctx.client;
    for (const variant of lookupVariants([key])) {
      const { resources } = await client.findUsers(variant.attribute, variant.value);
      const exact = resources.filter((r) => resourceMatches(r, key, this.ctx.schema));
      if (exact.length > 0) return exact;
    }
    // Last cycle's full read found nothing either: not again, until the operation changes.
    if (this.ctx.knownConflicts?.has(sourceId)) return [];
    // Last resort: one paginated read of all users per cycle, matched case-insensitively.
    this.scanIndex ??= client.listAll('Users').then((r) => new AccountIndex(r.resources, this.ctx.target.matching, this.ctx.schema));
    return (await this.scanIndex).find(key.attribute, key.value);
  }

  /**
   * Links an existing account and brings it to the desired values (one PATCH, or none if equal).
   * A protected account is never adopted, nor one that another source user keeps; the account
   * of a user who is leaving is taken over, reactivated, and that user's link released.
   */
  private async adopt(user: { sourceId: string; attrs: ScimAttrs; first: MatchKey }, resource: TargetResource, origin: AdoptOrigin): Promise<Outcome> {
    const ctx = this.ctx;
    const { sourceId, attrs } = user;
    if (ctx.state.wasRemoved(resource.id)) {
      // Deleted for the user who had it while this lookup ran: there is nothing to adopt.
      return this.post(sourceId, attrs, user.first, 1);
    }
    if (ctx.protect.covers([resource.userName, resource.displayName])) {
      ctx.counts.held++;
      return {
        result: 'failure',
        type: 'user_lookup_provision',
        summary: `${String(attrs.userName ?? sourceId)} matches the protected account ${String(resource.userName ?? resource.id)} (protect): not adopted or changed`,
        targetId: resource.id,
        detail: { protected: true },
      };
    }
    const owner = ctx.state.ownerOf(resource.id);
    const previous = owner !== undefined && owner !== sourceId ? owner : undefined;
    const keeps = previous !== undefined ? ctx.state.keepsAccount(previous) : undefined;
    if (previous !== undefined && keeps !== undefined) {
      ctx.counts.held++;
      return {
        result: 'failure',
        type: 'user_lookup_provision',
        summary: `${String(attrs.userName ?? sourceId)} matches the account ${String(resource.userName ?? resource.id)} of ${previous}, who ${keeps}: not adopted (an account is never linked to two source users); give one of them another ${user.first.attribute}`,
        targetId: resource.id,
        detail: { linkedTo: previous },
      };
    }
    const current = currentValues(resource, attrs, ctx.state.resolve);
    const changes = diffAttrs(current, attrs, ctx.schema);
    // A managed value the source leaves empty (set by hand in the app) goes, unless its mapping keeps it.
    const keep = new Set(ctx.state.desiredUser(sourceId)?.keep ?? []);
    changes.remove = (ctx.managed?.paths ?? []).filter((path) => !(path in attrs) && !keep.has(path) && heldValue(readPath(resource, path)));
    const { ops, sent } = buildPatchOps(changes, ctx.state.resolve);
    // The leaving user's deactivation may have landed after the account was read: active again, whatever the read said.
    if (resource.active !== true || previous !== undefined) ops.push({ op: 'replace', path: 'active', value: true });
    let attempts = 0;
    let readBack = false;
    if (ops.length > 0) {
      try {
        attempts = (await writesOf(ctx).patch('Users', resource.id, ops)).attempts;
      } catch (err) {
        // An answer lost after the write landed: unless read back, the leaver would stay linked to the new user's account.
        if (!(err instanceof ScimHttpError && err.kind === 'transient' && (await this.landed(resource.id, attrs)))) throw err;
        attempts = (err as ScimHttpError & { attempts?: number }).attempts ?? 1;
        readBack = true;
      }
    }
    if (previous !== undefined) ctx.state.release(previous, sourceId);
    ctx.state.saveUser(sourceId, resource.id, 'active', { ...current, ...sent });
    const name = String(attrs.userName ?? sourceId);
    const changed = ops.map((o) => o.path);
    if (origin === 'lost-answer') {
      ctx.counts.created++;
      return {
        result: 'success',
        type: 'user_create_provision',
        summary: `created ${name} (the answer to the create was lost; the account was found in the target and linked)`,
        targetId: resource.id,
        detail: { recovered: true, attempts, changed },
      };
    }
    ctx.counts.adopted++;
    if (previous !== undefined) {
      const why = ctx.state.desiredUser(previous) ? 'is inactive at the source' : 'left the source';
      return {
        result: 'success',
        type: 'user_create_provision',
        summary: `adopted existing account ${name}, which was ${previous}'s (${previous} ${why}): ${previous}'s link to it is released, and the account is active for ${sourceId}`,
        targetId: resource.id,
        detail: { adopted: true, attempts, changed, releasedFrom: previous, ...(readBack ? { readBack } : {}) },
      };
    }
    return { result: 'success', type: 'user_create_provision', summary: `adopted existing account ${name}`, targetId: resource.id, detail: { adopted: true, attempts, changed, ...(readBack ? { readBack } : {}) } };
  }

  /** Whether the account, read back now, is active and holds every value an adoption sent (false when the read fails or names another account). */
  private async landed(targetId: string, attrs: ScimAttrs): Promise<boolean> {
    const ctx = this.ctx;
    try {
      const { resource } = await ctx.client.get('Users', targetId);
      return resource.id === targetId && resource.active === true && !hasChanges(diffAttrs(currentValues(resource, attrs, ctx.state.resolve), attrs, ctx.schema));
    } catch {
      return false;
    }
  }

  /** A deprovision or change of an account another user adopted this cycle: nothing to send, the account is theirs. */
  private released(op: Change | { kind: 'user.delete'; sourceId: string; targetId: string }, type: EventType): Outcome {
    const taken = this.ctx.state.adoptedFrom(op.sourceId);
    const verb = op.kind === 'user.delete' ? 'deleted' : op.kind === 'user.deactivate' ? 'deactivated' : 'changed';
    const who = taken ? `${taken.userName} (${op.sourceId})` : op.sourceId;
    return {
      result: 'skipped',
      type,
      summary: taken
        ? `${who} not ${verb}: ${taken.to} adopted its account in this cycle; the account is ${taken.to}'s now, and ${op.sourceId}'s link to it is released`
        : `${who} not ${verb}: it is no longer linked to account ${op.targetId}`,
      targetId: op.targetId,
      detail: taken ? { releasedTo: taken.to } : {},
    };
  }

  async change(op: Change): Promise<Outcome> {
    const prior = this.ctx.state.user(op.sourceId);
    const done = await this.ctx.state.exclusive(op.targetId, () => this.changeAccount(op));
    // Re-matched once the account's work is over: the lookup may find this very id again.
    return done === ACCOUNT_GONE ? this.relink(op, prior) : done;
  }

  private async changeAccount(op: Change): Promise<Outcome | typeof ACCOUNT_GONE> {
    const ctx = this.ctx;
    const usePut = ctx.target.updateVerb === 'put' && hasChanges(op.changes);
    const patch = buildPatchOps(op.changes, ctx.state.resolve);
    const removed = patch.removed;
    let { ops, sent } = patch;
    const status: StateUser['status'] = op.kind === 'user.deactivate' ? 'inactive' : 'active';
    const activeOps: PatchOperation[] = [];
    if (op.kind === 'user.deactivate') activeOps.push({ op: 'replace', path: 'active', value: false });
    if (op.kind === 'user.reactivate') activeOps.push({ op: 'replace', path: 'active', value: true });
    const type: EventType = op.kind === 'user.deactivate' ? 'user_deprovision' : 'user_update_provision';
    if (ctx.state.resolve(op.sourceId) !== op.targetId) return this.released(op, type);
    const prior = ctx.state.user(op.sourceId);
    if (ops.length + activeOps.length === 0) {
      return { result: 'skipped', type, summary: `${op.sourceId}: nothing to send yet (a reference is not resolvable)`, targetId: op.targetId, detail: {} };
    }
    let attempts = 0;
    let conflicts = 0;
    const viaPut = usePut && ops.length > 0;
    try {
      if (viaPut) {
        // Okta-style targets: read the resource, change what we manage, PUT it whole; `active` goes by PATCH.
        const put = await putUpdate(ctx, op);
        ({ sent, attempts, conflicts } = put);
        if (activeOps.length > 0) attempts += (await writesOf(ctx).patch('Users', op.targetId, activeOps)).attempts;
      } else {
        ops = [...ops, ...activeOps];
        attempts = (await writesOf(ctx).patch('Users', op.targetId, ops)).attempts;
      }
    } catch (err) {
      if (err instanceof ScimHttpError && err.kind === 'not-found') {
        ctx.state.accountRemoved(op.targetId);
        return ACCOUNT_GONE;
      }
      throw err;
    }
    if (viaPut) ops = [...ops, ...activeOps];
    const attrs: ScimAttrs = { ...(prior?.attrs ?? {}), ...sent };
    for (const path of removed) delete attrs[path];
    ctx.state.saveUser(op.sourceId, op.targetId, status, attrs);
    if (op.kind === 'user.deactivate') ctx.counts.deactivated++;
    else if (op.kind === 'user.reactivate') ctx.counts.reactivated++;
    else ctx.counts.updated++;
    const verb = op.kind === 'user.deactivate' ? 'deactivated' : op.kind === 'user.reactivate' ? 'reactivated' : 'updated';
    const aside = op.kind === 'user.update' && op.makesRoomFor ? `: a temporary name, until ${op.makesRoomFor.join(', ')} has taken its old one` : '';
    return {
      result: 'success',
      type,
      summary: `${verb} ${String(attrs.userName ?? op.sourceId)}${changedList(ops)}${aside}`,
      targetId: op.targetId,
      detail: { attempts, changed: ops.map((o) => o.path), ...(aside ? { temporary: true } : {}), ...(conflicts > 0 ? { conflicts } : {}), ...(op.kind === 'user.deactivate' ? { reason: op.reason } : {}) },
    };
  }

  /** 404 on a stored id: the account was removed in the target. Unlink, then re-match (Entra: InvalidAnchor). */
  private async relink(op: Change, prior: StateUser | undefined): Promise<Outcome> {
    const ctx = this.ctx;
    ctx.state.saveUser(op.sourceId, null, 'deleted', {});
    ctx.state.forgetMemberships(op.sourceId);
    const desired = ctx.state.desiredUser(op.sourceId);
    if (op.kind === 'user.deactivate' || !desired) {
      ctx.counts.deactivated++;
      return {
        result: 'success',
        type: 'user_deprovision',
        summary: `${String(prior?.attrs.userName ?? op.sourceId)} no longer exists in the target: unlinked`,
        targetId: op.targetId,
        detail: { status: 404, unlinked: true },
      };
    }
    const outcome = await this.create(op.sourceId, desired.attrs);
    return { ...outcome, detail: { ...outcome.detail, relinkedFrom: op.targetId } };
  }

  delete(sourceId: string, targetId: string): Promise<Outcome> {
    return this.ctx.state.exclusive(targetId, () => this.deleteAccount(sourceId, targetId));
  }

  private async deleteAccount(sourceId: string, targetId: string): Promise<Outcome> {
    const ctx = this.ctx;
    if (ctx.state.resolve(sourceId) !== targetId) return this.released({ kind: 'user.delete', sourceId, targetId }, 'user_delete_provision');
    const prior = ctx.state.user(sourceId);
    let attempts = 1;
    try {
      attempts = (await writesOf(ctx).remove('Users', targetId)).attempts;
    } catch (err) {
      if (!(err instanceof ScimHttpError && err.kind === 'not-found')) throw err;
    }
    ctx.state.saveUser(sourceId, null, 'deleted', {});
    ctx.state.accountRemoved(targetId);
    ctx.state.forgetMemberships(sourceId);
    ctx.counts.deleted++;
    return { result: 'success', type: 'user_delete_provision', summary: `deleted ${String(prior?.attrs.userName ?? sourceId)}`, targetId, detail: { attempts } };
  }
}

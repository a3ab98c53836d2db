import { attrsDigest } from './digest.js';
import {
  diffAttrs,
  hasChanges,
  isUserRef,
  type AttrChanges,
  type AttrValue,
  type ScimAttrs,
} from './attributes.js';
import type { Operation, UserOperation } from './operations.js';
import { planGroups, type GroupPlanOptions } from './plan-groups.js';
import { matchKeyOf, matchKeys } from './matching.js';
import { orderRenames } from './renames.js';
import { factsOf, RFC_SCHEMA, writable, type TargetSchema, type UnwritableValue } from './target-schema.js';
import type { DesiredGroup, DesiredUser, StateGroup, StateUser } from './records.js';

export interface PlanOptions {
  deprovision: 'deactivate' | 'delete' | 'none';
  /**
   * The target's schema: values compare as it says (`caseExact`), `readOnly`
   * attributes are never sent and `immutable` ones only on create. @default RFC 7643's
   */
  schema?: TargetSchema;
  /**
   * The matching attributes (`mappings.matching`): the deprovision of an account that a new
   * user's lookup will find (a rehire under a new id) waits for that create, which adopts it.
   */
  matching?: readonly string[];
}

export interface GroupPlanInputs {
  desired: readonly DesiredGroup[];
  state: readonly StateGroup[];
  /** Users held this cycle (failed validation, or out of scope with deletions skipped): memberships stay as they are. */
  held?: ReadonlyMap<string, StateUser>;
  /** Users whose memberships are left exactly as pushed (protected accounts, rows in doubt). */
  frozen?: ReadonlySet<string>;
  /** Groups whose source row is in doubt: left as they are, never deleted. */
  heldGroups?: ReadonlySet<string>;
  options: GroupPlanOptions;
}

/** What a plan is made of: the users wanted, the users pushed, and optionally the groups. */
export interface PlanInput {
  desired: readonly DesiredUser[];
  state: readonly StateUser[];
  options: PlanOptions;
  groups?: GroupPlanInputs | undefined;
}

export interface Plan {
  operations: Operation[];
  /** Deactivations and deletions: what `safety.maxDeletes` counts. */
  deprovisions: number;
  /** Values left out because the target's schema forbids writing them: readOnly ones on create, immutable changes. */
  unwritable: UnwritableValue[];
}

const userKey = (id: string) => `user:${id}`;
const NO_CHANGES: AttrChanges = { set: {}, remove: [] };

function refsOf(attrs: ScimAttrs): string[] {
  const out: string[] = [];
  for (const v of Object.values(attrs)) if (isUserRef(v)) out.push(v.userRef);
  return out;
}

/**
 * Decides what to send. Pure: the same desired users and state give the same
 * operations in the same order. Creates come first, managers before the people
 * who report to them; deletions come last.
 */
export function planCycle(input: PlanInput): Plan {
  const { desired, state, options, groups } = input;
  const stateById = new Map<string, StateUser>();
  for (const s of state) stateById.set(s.sourceId, s);
  const desiredUsers = new Map<string, DesiredUser>();
  for (const d of desired) desiredUsers.set(d.sourceId, d);

  const schema = options.schema ?? RFC_SCHEMA;
  const unwritable: UnwritableValue[] = [];
  const sendable = writablePaths(schema, unwritable);
  const creates = new Map<string, DesiredUser>();
  const updates: UserOperation[] = [];
  const deprovisions: UserOperation[] = [];

  const deprovision = (s: StateUser & { targetId: string }, reason: 'inactive' | 'removed', changes: AttrChanges) => {
    if (options.deprovision === 'none') return;
    if (options.deprovision === 'delete') {
      deprovisions.push({ kind: 'user.delete', key: userKey(s.sourceId), sourceId: s.sourceId, targetId: s.targetId, reason, dependsOn: [] });
    } else if (s.status === 'active') {
      deprovisions.push({
        kind: 'user.deactivate',
        key: userKey(s.sourceId),
        sourceId: s.sourceId,
        targetId: s.targetId,
        changes,
        reason,
        dependsOn: [],
      });
    }
  };

  for (const d of desired) {
    const s = stateById.get(d.sourceId);
    if (!s || s.targetId === null || s.status === 'deleted') {
      // A user who is inactive at the source and not in the target stays out of it.
      if (d.active) creates.set(d.sourceId, sendable.onCreate(d.createOnly ? { ...d, attrs: { ...d.attrs, ...d.createOnly } } : d));
      continue;
    }
    const linked = s as StateUser & { targetId: string };
    // Most users did not change: the same digest as stored means no read of the stored attributes and no diff.
    const unchanged = !d.createOnly && !d.keep && s.digest !== undefined && s.digest === attrsDigest(d.attrs);
    if (unchanged && (d.active ? s.status === 'active' : s.status !== 'active')) continue;
    const changes = unchanged ? { set: {}, remove: [] } : sendable.onUpdate(d.sourceId, diffAttrs(comparable(s.attrs, d), d.attrs, schema));
    const base = { key: userKey(d.sourceId), sourceId: d.sourceId, targetId: linked.targetId, changes, dependsOn: [] };
    if (!d.active && s.status === 'active') {
      deprovision(linked, 'inactive', changes);
      if (options.deprovision === 'none' && hasChanges(changes)) updates.push({ kind: 'user.update', ...base });
    } else if (d.active && s.status === 'inactive') {
      updates.push({ kind: 'user.reactivate', ...base });
    } else if (hasChanges(changes)) {
      updates.push({ kind: 'user.update', ...base });
    }
  }

  for (const s of state) {
    if (desiredUsers.has(s.sourceId) || s.targetId === null || s.status === 'deleted') continue;
    deprovision(s as StateUser & { targetId: string }, 'removed', NO_CHANGES);
  }

  const ordered = orderCreates(creates);
  const createOps: UserOperation[] = ordered.map(({ user, after }) => ({
    kind: 'user.create',
    key: userKey(user.sourceId),
    sourceId: user.sourceId,
    attrs: user.attrs,
    dependsOn: after.map(userKey),
  }));
  for (const op of updates) {
    if (op.kind === 'user.update' || op.kind === 'user.reactivate') {
      op.dependsOn = refsOf(op.changes.set).filter((id) => creates.has(id)).map(userKey);
    }
  }
  if (options.matching && creates.size > 0 && deprovisions.length > 0) waitForAdoptions(deprovisions, creates, stateById, options.matching, schema);
  // A rename waits for the account that holds the new value to give it up; a swap goes through a temporary value.
  const changes = options.matching && updates.length > 1 ? orderRenames(updates, stateById, desiredUsers, options.matching) : updates;
  if (!groups) return { operations: [...createOps, ...changes, ...deprovisions], deprovisions: deprovisions.length, unwritable };

  const g = planGroups(
    { desired: groups.desired, state: groups.state, desiredUsers, stateUsers: stateById, creating: new Set(creates.keys()),
      held: groups.held ?? new Map(),
      ...(groups.frozen ? { frozen: groups.frozen } : {}),
      ...(groups.heldGroups ? { heldGroups: groups.heldGroups } : {}),
    },
    groups.options,
  );
  // A user leaves its groups before its account is deleted.
  for (const op of deprovisions) {
    if (op.kind === 'user.delete') op.dependsOn.push(...(g.removalsByUser.get(op.sourceId) ?? []));
  }
  return {
    operations: [...createOps, ...changes, ...g.operations, ...deprovisions, ...g.deletions],
    deprovisions: deprovisions.length,
    unwritable,
  };
}

/** What was pushed, less what is not compared: create-only values, and kept values the source emptied. */
function comparable(pushed: ScimAttrs, d: DesiredUser): ScimAttrs {
  if (!d.createOnly && !d.keep) return pushed;
  const out = { ...pushed };
  for (const path of Object.keys(d.createOnly ?? {})) delete out[path];
  for (const path of d.keep ?? []) if (!(path in d.attrs)) delete out[path];
  return out;
}

/**
 * Leaves out what the target's schema does not let be written, and says so in `unwritable`:
 * readOnly values on create, changes to immutable ones on update. A readOnly value is told
 * once, when the account is created (it is never sent after either; the mapping check says so each cycle).
 */
function writablePaths(
  schema: TargetSchema,
  unwritable: UnwritableValue[],
): { onCreate(d: DesiredUser): DesiredUser; onUpdate(sourceId: string, c: AttrChanges): AttrChanges } {
  const known = new Map<string, { onCreate: boolean; onUpdate: boolean }>();
  const of = (path: string) => {
    let w = known.get(path);
    if (!w) known.set(path, (w = writable(schema, path)));
    return w;
  };
  const immutable = (path: string) => factsOf(schema, path).mutability === 'immutable';
  const shown = (v: AttrValue) => (isUserRef(v) ? `<user ${v.userRef}>` : String(v));
  return {
    onCreate(d) {
      if (Object.keys(d.attrs).every((p) => of(p).onCreate)) return d;
      const attrs: ScimAttrs = {};
      for (const [p, v] of Object.entries(d.attrs)) {
        if (of(p).onCreate) attrs[p] = v;
        else unwritable.push({ sourceId: d.sourceId, path: p, on: 'create', mutability: 'readOnly', wanted: shown(v) });
      }
      return { ...d, attrs };
    },
    onUpdate(sourceId, c) {
      if (Object.keys(c.set).every((p) => of(p).onUpdate) && c.remove.every((p) => of(p).onUpdate)) return c;
      const set: ScimAttrs = {};
      for (const [p, v] of Object.entries(c.set)) {
        if (of(p).onUpdate) set[p] = v;
        else if (immutable(p)) unwritable.push({ sourceId, path: p, on: 'update', mutability: 'immutable', wanted: shown(v) });
      }
      for (const p of c.remove) if (!of(p).onUpdate && immutable(p)) unwritable.push({ sourceId, path: p, on: 'update', mutability: 'immutable', wanted: null });
      const fresh = c.fresh?.filter((p) => of(p).onUpdate);
      return { set, remove: c.remove.filter((p) => of(p).onUpdate), ...(fresh && fresh.length > 0 ? { fresh } : {}) };
    },
  };
}

/**
 * A deprovision whose account a new user matches (the same userName, say: a rehire under a
 * new employee id) waits for that user's create: its lookup adopts the account first, and
 * the delivery then leaves the account alone (src/delivery/users.ts), whatever the policy.
 */
function waitForAdoptions(
  deprovisions: readonly UserOperation[],
  creates: ReadonlyMap<string, DesiredUser>,
  stateById: ReadonlyMap<string, StateUser>,
  matching: readonly string[],
  schema: TargetSchema,
): void {
  const keyOf = matchKeyOf(schema);
  const creating = new Map<string, string[]>();
  for (const d of creates.values()) {
    for (const k of matchKeys(matching, d.attrs)) {
      const key = keyOf(k);
      creating.set(key, [...(creating.get(key) ?? []), userKey(d.sourceId)]);
    }
  }
  for (const op of deprovisions) {
    const pushed = stateById.get(op.sourceId)?.attrs ?? {};
    const after = new Set<string>();
    for (const k of matchKeys(matching, pushed)) for (const c of creating.get(keyOf(k)) ?? []) after.add(c);
    op.dependsOn.push(...after);
  }
}

/** Managers first; a reporting cycle (A manages B manages A) is cut, and its reference sent next cycle. */
function orderCreates(creates: Map<string, DesiredUser>): { user: DesiredUser; after: string[] }[] {
  const out: { user: DesiredUser; after: string[] }[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    const user = creates.get(id)!;
    state.set(id, 'visiting');
    const after: string[] = [];
    for (const ref of refsOf(user.attrs)) {
      if (!creates.has(ref)) continue;
      const st = state.get(ref);
      if (st === undefined) visit(ref);
      if (state.get(ref) === 'done') after.push(ref);
    }
    state.set(id, 'done');
    out.push({ user, after });
  };
  for (const id of [...creates.keys()].sort()) if (!state.has(id)) visit(id);
  return out;
}

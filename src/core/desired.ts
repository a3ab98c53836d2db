import type { RuleProblem, UserMapper } from './map.js';
import type { ProtectRule } from './matching.js';
import { isUserRef } from './attributes.js';
import type { DesiredGroup, DesiredUser, Snapshot, SnapshotProblem, SourceUser, StateUser } from './records.js';
import { inScope, scopeSnapshot, type ScopeFilter } from './scope.js';

/** The scoping settings of an integration (`scope:` and `groups.nested`). */
export interface ScopeSettings {
  /** `scope.groups`: only members of these groups, and only these groups. */
  groups?: readonly string[] | undefined;
  filters?: ScopeFilter | undefined;
  skipOutOfScopeDeletions: boolean;
  nested: 'flatten' | 'ignore';
}

export interface DesiredInput {
  snapshot: Snapshot;
  /** Rows the source could not read: the objects they name are held as they are. */
  problems: readonly SnapshotProblem[];
  /** What state remembers pushing. */
  state: readonly StateUser[];
  scope: ScopeSettings;
  protect: ProtectRule;
  /** Users in state whose pushed userName or displayName is protected. */
  protectedInState: ReadonlySet<string>;
  mapper: UserMapper;
}

/**
 * What the target should hold, and what must be left exactly as it is. The one
 * scoping path: sync, plan, reconcile and rebuild all take their desired state here.
 */
export interface DesiredState {
  /** In scope and mapped (held users included: the plan leaves them out). */
  users: DesiredUser[];
  groups: DesiredGroup[];
  /** Users in the source, before scoping (the shrink guard counts them). */
  sourceUsers: number;
  /** Users in scope. */
  inScope: number;
  /** Users a profile rule or a required mapping keeps from being sent, with why. */
  invalid: Map<string, RuleProblem[]>;
  /** Notes per user (a manager left empty because it is not provisioned). */
  notes: Map<string, string[]>;
  /** Neither sent nor deprovisioned this cycle: invalid, protected, rows in doubt, out of scope with deletions skipped. */
  held: Set<string>;
  /** Memberships left exactly as pushed: protected accounts and rows in doubt. */
  frozen: Set<string>;
  /** Groups whose row is in doubt: neither changed nor deleted. */
  heldGroups: Set<string>;
  /** Scoping problems (a group member that is neither a user nor a group). */
  scopeProblems: SnapshotProblem[];
}

/** A group row's problem (its location names the groups part of the source), not a user row's. */
export function isGroupRow(location: string): boolean {
  return location.includes('groups');
}

export async function desiredState(input: DesiredInput): Promise<DesiredState> {
  const { snapshot, scope, protect, state } = input;
  const doubtfulUsers = new Set<string>();
  const heldGroups = new Set<string>();
  for (const p of input.problems) {
    if (p.sourceId !== undefined && p.sourceId !== null) (isGroupRow(p.location) ? heldGroups : doubtfulUsers).add(p.sourceId);
  }
  const scoped = scopeSnapshot(snapshot.users, snapshot.groups, { groups: scope.groups, nested: scope.nested });
  const filters = scope.filters;
  const inScopeUsers = filters && filters.length > 0 ? scoped.users.filter((u) => inScope(u, filters)) : scoped.users;
  const inScopeIds = new Set(inScopeUsers.map((u) => u.id));
  // References may point at users provisioned now, or left in place (out of scope with deletions skipped, protected).
  let referable = inScopeIds;
  const alsoReferable = (s: StateUser) => {
    if (s.targetId === null || s.status === 'deleted' || referable.has(s.sourceId)) return;
    if (referable === inScopeIds) referable = new Set(inScopeIds);
    referable.add(s.sourceId);
  };
  if (scope.skipOutOfScopeDeletions) for (const s of state) alsoReferable(s);
  else if (input.protectedInState.size > 0) for (const s of state) if (input.protectedInState.has(s.sourceId)) alsoReferable(s);
  const mapped = await mapUsers(inScopeUsers, input.mapper, referable);

  const held = new Set(mapped.invalid.keys());
  const frozen = new Set(doubtfulUsers);
  if (protect.active) {
    const protectedNow = new Set(input.protectedInState);
    for (const d of mapped.desired) if (protect.covers([d.attrs.userName, d.attrs.displayName])) protectedNow.add(d.sourceId);
    for (const id of protectedNow) {
      held.add(id);
      frozen.add(id);
    }
  }
  for (const id of doubtfulUsers) held.add(id);
  if (scope.skipOutOfScopeDeletions) for (const u of snapshot.users) if (!inScopeIds.has(u.id)) held.add(u.id);
  return {
    users: mapped.desired,
    groups: scoped.groups,
    sourceUsers: snapshot.users.length,
    inScope: inScopeUsers.length,
    invalid: mapped.invalid,
    notes: mapped.notes,
    held,
    frozen,
    heldGroups,
    scopeProblems: scoped.problems,
  };
}

interface MappedUsers {
  desired: DesiredUser[];
  invalid: Map<string, RuleProblem[]>;
  notes: Map<string, string[]>;
}

/**
 * Maps source users to what the target should hold, and checks the profile's
 * rules. A reference to a user who is not provisioned (out of scope, or not in
 * the source) is left empty, with a note.
 */
export async function mapUsers(users: readonly SourceUser[], mapper: UserMapper, provisioned: ReadonlySet<string>): Promise<MappedUsers> {
  const out: MappedUsers = { desired: [], invalid: new Map(), notes: new Map() };
  const sync = !mapper.hasExpressions;
  const references = mapper.referencePaths;
  for (const u of users) {
    const m = sync ? mapper.mapSync(u) : await mapper.map(u);
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

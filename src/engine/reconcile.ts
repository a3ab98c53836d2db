import { createSource } from '../../connectors/index.js';
import { resolveProfile, type ResolvedProfile } from '../../connectors/profiles/index.js';
import type { SourceConnector } from '../../connectors/source.js';
import type { StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { isUserRef, sameTargetValue, type ScimAttrs } from '../core/attributes.js';
import { valueText } from './queries/describe.js';
import { factsOf, managedPathsOf, type ManagedPaths, type TargetSchema } from '../core/target-schema.js';
import { createLogger, type Logger } from '../log.js';
import { clientFor } from './clients.js';
import { targetSchema } from './target-schema.js';
import type { ScimClient, ScimResource } from '../scim/client.js';
import { readPath } from '../core/paths.js';
import { matchKeys, protectRule } from '../core/matching.js';
import { TargetReadError } from '../errors.js';
import { type DesiredGroup, type StateGroup } from '../core/records.js';
import { strayMembers, type StrayMember } from '../core/stray-members.js';
import { AccountIndex } from '../core/matching.js';
import type { DesiredUser, ObjectStatus, StateUser } from '../core/records.js';
import { desiredOf } from './desired-of.js';
import { unwritableInTarget, type UnwritableInTarget } from './unwritable.js';

/** What the source says the target should hold, mapped and scoped as a cycle would (nothing is sent), and how to compare it. */
export interface DesiredWithSchema {
  users: DesiredUser[];
  groups: DesiredGroup[];
  sourceUsers: number;
  /** The target's schema, as values are compared against it. @default RFC 7643's */
  schema?: TargetSchema;
  /** Every path the integration's mappings could write (and the target lets be updated). @default the paths each user has */
  managed?: ManagedPaths;
}

/** The managed paths of a profile's mappings against a target's schema (core/target-schema.ts). */
export function managedPaths(profile: ResolvedProfile, schema: TargetSchema): ManagedPaths {
  return managedPathsOf(profile.mapper.entries, schema);
}

/**
 * The desired state through the cycle's own scoping path (core/desired.ts): users a
 * cycle would hold as they are (protected, invalid, rows in doubt, out of scope with
 * deletions skipped) are left out, so reconcile never repairs what a cycle leaves alone.
 */
export async function loadDesired(
  integration: IntegrationConfig,
  profile: ResolvedProfile,
  options: { store?: StateStore; source?: SourceConnector; logger?: Logger; schema?: TargetSchema } = {},
): Promise<DesiredWithSchema> {
  const read = await (options.source ?? createSource(integration)).snapshot();
  const store = options.store;
  const desired = await desiredOf({ integration, read, profile, protect: protectRule(integration.protect), store, state: store ? store.loadUsers(integration.name) : [] });
  const users = desired.held.size > 0 ? desired.users.filter((u) => !desired.held.has(u.sourceId)) : desired.users;
  const logger = options.logger ?? createLogger({ level: 'error', format: 'pretty' });
  const schema = options.schema ?? (await targetSchema({ integration, logger, store }));
  return { users, groups: desired.groups, sourceUsers: desired.sourceUsers, schema, managed: managedPaths(profile, schema) };
}

/** The target's users and groups, each group with its member ids where the target lists them. */
export interface TargetInventory {
  users: ScimResource[];
  groups: ScimResource[];
  /** Member ids per group id; absent when the profile says the target does not return members. */
  members: Map<string, string[]> | undefined;
  requests: number;
}

/** Reads every user and group of the target (GETs only), and the members of the groups `wantMembers` picks. */
export async function readTarget(client: ScimClient, profile: ResolvedProfile, wantMembers: (group: ScimResource) => boolean): Promise<TargetInventory> {
  const users = await client.listAll('Users');
  // A read cut short would make every unread account look gone: nothing is compared on it.
  if (!users.complete) throw new TargetReadError(client.baseUrl, `the user list was not read to its end (${users.stoppedBecause}): nothing compared`);
  const groups = await client.listAll('Groups', { query: 'excludedAttributes=members' });
  if (!groups.complete) throw new TargetReadError(client.baseUrl, `the group list was not read to its end (${groups.stoppedBecause}): nothing compared`);
  let requests = users.requests + groups.requests;
  let members: Map<string, string[]> | undefined;
  if (profile.groups.readsMembers) {
    members = new Map();
    for (const g of groups.resources) {
      if (!wantMembers(g)) continue;
      const read = await client.get('Groups', g.id, 'attributes=members');
      requests += read.attempts;
      const list = Array.isArray(read.resource.members) ? (read.resource.members as { value?: unknown }[]) : [];
      members.set(g.id, list.map((m) => m.value).filter((v): v is string => typeof v === 'string'));
    }
  }
  return { users: users.resources, groups: groups.resources, members, requests };
}

/**
 * The target's values at the paths of `attrs` and at the managed paths, in state's
 * form (what a delivery compares against is delivery/etag.ts's `currentValues`): a user reference (manager) is kept when the target points at the account of
 * that user; values the target does not hold are left out.
 */
export function stateValuesOf(resource: ScimResource, attrs: ScimAttrs, sourceOfTarget: ReadonlyMap<string, string>, managed?: ManagedPaths): ScimAttrs {
  const current: ScimAttrs = {};
  const read = (path: string, reference: boolean) => {
    const actual = readPath(resource, path);
    if (reference) {
      const id = (actual as { value?: unknown } | undefined)?.value;
      const source = typeof id === 'string' ? sourceOfTarget.get(id) : undefined;
      if (source !== undefined) current[path] = { userRef: source };
    } else if (typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean') {
      current[path] = actual;
    }
  };
  for (const [path, v] of Object.entries(attrs)) read(path, isUserRef(v));
  if (managed) for (const path of managed.paths) if (!(path in attrs)) read(path, managed.references.has(path));
  return current;
}

/** A writeOnly attribute (a password) is never returned (RFC 7643 §7): nothing to compare. */
const isWriteOnly = (schema: TargetSchema | undefined, path: string) => schema !== undefined && factsOf(schema, path).mutability === 'writeOnly';

/**
 * The paths compared for one user: what was pushed (but writeOnly values), and every
 * managed path but those the mapping keeps when the source is empty.
 */
function comparedPaths(pushed: ScimAttrs, managed: ManagedPaths | undefined, d: DesiredUser | undefined, schema: TargetSchema | undefined): string[] {
  const paths = new Set(Object.keys(pushed).filter((p) => !isWriteOnly(schema, p)));
  if (managed) {
    for (const path of managed.paths) {
      if (path in pushed) continue;
      // keepOnEmpty: an empty source value leaves the target's value alone (core/map.ts).
      if (d?.keep?.includes(path) && !(path in d.attrs)) continue;
      paths.add(path);
    }
  }
  return [...paths];
}

export const statusOf = (r: ScimResource): ObjectStatus => (r.active === false ? 'inactive' : 'active');

export interface DriftItem {
  sourceId: string;
  targetId: string;
  userName: string;
  path: string;
  /** What scimsync last pushed (null: nothing). */
  pushed: string | null;
  /** What the target holds now (null: nothing). */
  actual: string | null;
}

export interface GroupDrift {
  sourceId: string;
  targetId: string;
  displayName: string;
  /** Users (source ids) pushed as members that the target's group lacks. */
  missing: string[];
  /** Users (source ids) scimsync manages that are in the target's group though not pushed there. */
  extra: string[];
}

export interface Reconciliation {
  integration: string;
  usersRead: number;
  groupsRead: number;
  requests: number;
  drift: DriftItem[];
  /** Managed users whose account is gone from the target. */
  vanished: { sourceId: string; targetId: string; userName: string }[];
  /** Accounts scimsync does not manage; `match` is the source user they would be linked to by `--adopt`. */
  unmanaged: { targetId: string; userName: string; match: string | null }[];
  groupDrift: GroupDrift[];
  vanishedGroups: { sourceId: string; targetId: string; displayName: string }[];
  unmanagedGroups: { targetId: string; displayName: string }[];
  /** Member values of managed groups that are not managed accounts: dangling (naming nothing) or foreign (`groups.foreignMembers`). */
  strayMembers: StrayMember[];
  /** Set when the target does not return group members (membership drift not checked). */
  membersUnchecked: boolean;
  /** Source values the account lacks that the target's schema does not let be written (readOnly, immutable): never sent, so never drift. */
  unwritable: UnwritableInTarget[];
}

export interface ReconcileInput {
  integration: IntegrationConfig;
  state: StateUser[];
  groupState: StateGroup[];
  desired: DesiredWithSchema;
  target: TargetInventory;
  matching: readonly string[];
}

/**
 * What a reconcile compares: the source (mapped and scoped as a cycle would), the state,
 * and every user and managed group of the target, read now (reads only).
 */
export async function gatherReconcileInput(integration: IntegrationConfig, store: StateStore, logger: Logger): Promise<ReconcileInput> {
  const name = integration.name;
  const profile = resolveProfile(integration);
  const desired = await loadDesired(integration, profile, { store, logger });
  const state = store.loadUsers(name);
  const groupState = store.loadGroups(name);
  const managedGroups = new Set(groupState.filter((g) => g.targetId !== null && g.status !== 'deleted').map((g) => g.targetId));
  const client = clientFor(integration, { logger, use: 'reads' });
  try {
    const target = await readTarget(client, profile, (g) => managedGroups.has(g.id));
    return { integration, state, groupState, desired, target, matching: profile.matching };
  } finally {
    await client.close();
  }
}

/** Compares the target with state and source. Pure. */
export function compare(input: ReconcileInput): Reconciliation {
  const { state, groupState, desired, target } = input;
  const desiredById = new Map(desired.users.map((d) => [d.sourceId, d]));
  const usersById = new Map(target.users.map((u) => [u.id, u]));
  const linked = state.filter((s): s is StateUser & { targetId: string } => s.targetId !== null && s.status !== 'deleted');
  const managedIds = new Set(linked.map((s) => s.targetId));
  const sourceOfTarget = new Map(linked.map((s) => [s.targetId, s.sourceId]));
  const out: Reconciliation = {
    integration: input.integration.name,
    usersRead: target.users.length,
    groupsRead: target.groups.length,
    requests: target.requests,
    drift: [],
    vanished: [],
    unmanaged: [],
    groupDrift: [],
    vanishedGroups: [],
    unmanagedGroups: [],
    strayMembers: [],
    membersUnchecked: target.members === undefined,
    unwritable: [],
  };

  for (const s of linked) {
    const userName = String(s.attrs.userName ?? '');
    const resource = usersById.get(s.targetId);
    if (!resource) {
      out.vanished.push({ sourceId: s.sourceId, targetId: s.targetId, userName });
      continue;
    }
    const current = stateValuesOf(resource, s.attrs, sourceOfTarget, desired.managed);
    for (const path of comparedPaths(s.attrs, desired.managed, desiredById.get(s.sourceId), desired.schema)) {
      const pushed = s.attrs[path];
      const actual = current[path];
      if (pushed === undefined ? actual === undefined : sameTargetValue(path, actual, pushed, desired.schema)) continue;
      out.drift.push({ sourceId: s.sourceId, targetId: s.targetId, userName, path, pushed: valueText(pushed), actual: valueText(actual) });
    }
    const d = desiredById.get(s.sourceId);
    if (d && desired.schema) out.unwritable.push(...unwritableInTarget(s, d, resource, desired.schema, sourceOfTarget));
    if (statusOf(resource) !== s.status) {
      out.drift.push({ sourceId: s.sourceId, targetId: s.targetId, userName, path: 'active', pushed: String(s.status === 'active'), actual: String(resource.active === true) });
    }
  }

  // Unmanaged accounts, and the unlinked source user each would be adopted as.
  const linkedSources = new Set(linked.map((s) => s.sourceId));
  const candidates = new AccountIndex(target.users.filter((u) => !managedIds.has(u.id)), input.matching, desired.schema);
  const matchOf = new Map<string, string>();
  for (const d of desired.users) {
    if (linkedSources.has(d.sourceId)) continue;
    for (const { attribute, value } of matchKeys(input.matching, d.attrs)) {
      const found = candidates.find(attribute, value);
      if (found.length === 1 && !matchOf.has(found[0]!.id)) {
        matchOf.set(found[0]!.id, d.sourceId);
        break;
      }
      if (found.length > 0) break;
    }
  }
  for (const u of target.users) {
    if (!managedIds.has(u.id)) out.unmanaged.push({ targetId: u.id, userName: String(u.userName ?? ''), match: matchOf.get(u.id) ?? null });
  }

  const groupsById = new Map(target.groups.map((g) => [g.id, g]));
  const members = { managed: managedIds, users: usersById, groups: groupsById, protect: protectRule(input.integration.protect), policy: input.integration.groups.foreignMembers };
  const managedGroups = new Set<string>();
  for (const g of groupState) {
    if (g.targetId === null || g.status === 'deleted') continue;
    managedGroups.add(g.targetId);
    if (!groupsById.has(g.targetId)) {
      out.vanishedGroups.push({ sourceId: g.sourceId, targetId: g.targetId, displayName: g.displayName });
      continue;
    }
    const actual = target.members?.get(g.targetId);
    if (!actual) continue;
    const actualSources = new Set(actual.map((t) => sourceOfTarget.get(t)).filter((x): x is string => x !== undefined));
    const missing = [...g.members].filter((u) => linkedSources.has(u) && !actualSources.has(u));
    const extra = [...actualSources].filter((u) => !g.members.has(u));
    if (missing.length > 0 || extra.length > 0) out.groupDrift.push({ sourceId: g.sourceId, targetId: g.targetId, displayName: g.displayName, missing, extra });
    out.strayMembers.push(...strayMembers({ sourceId: g.sourceId, targetId: g.targetId, displayName: g.displayName }, actual, members));
  }
  for (const g of target.groups) {
    if (!managedGroups.has(g.id)) out.unmanagedGroups.push({ targetId: g.id, displayName: String(g.displayName ?? '') });
  }
  return out;
}

/**
 * What `correctState` does: `record` what the target holds for drifted, vanished and
 * changed objects; `adopt` does that and links unmanaged accounts that match a source user.
 */
export type CorrectionMode = 'record' | 'adopt';

/**
 * Brings state in line with what the target really holds, so that the next
 * cycle sends what it takes to restore the source's values: drifted values
 * (at every managed path) and statuses are recorded as found, vanished accounts
 * and groups are unlinked (to be created again), and member sets become the
 * target's. With `adopt`, unmanaged accounts that match a source user are linked,
 * with the values they hold at every managed path.
 * Returns how many objects changed in state.
 */
export function correctState(store: StateStore, r: Reconciliation, input: ReconcileInput, mode: CorrectionMode): { corrected: number; adopted: number } {
  const adopt = mode === 'adopt';
  const name = input.integration.name;
  const managed = input.desired.managed;
  const usersById = new Map(input.target.users.map((u) => [u.id, u]));
  const stateById = new Map(input.state.map((s) => [s.sourceId, s]));
  const sourceOfTarget = new Map<string, string>();
  for (const s of input.state) if (s.targetId !== null && s.status !== 'deleted') sourceOfTarget.set(s.targetId, s.sourceId);
  let corrected = 0;
  let adopted = 0;
  store.transaction(() => {
    for (const sourceId of new Set(r.drift.map((d) => d.sourceId))) {
      const s = stateById.get(sourceId)!;
      const resource = usersById.get(s.targetId!)!;
      store.saveUser(name, { sourceId, targetId: s.targetId, status: statusOf(resource), attrs: stateValuesOf(resource, s.attrs, sourceOfTarget, managed) });
      corrected++;
    }
    for (const v of r.vanished) {
      store.saveUser(name, { sourceId: v.sourceId, targetId: null, status: 'deleted', attrs: {} });
      store.dropMemberships(name, v.sourceId);
      corrected++;
    }
    for (const g of r.vanishedGroups) {
      store.saveGroup(name, { sourceId: g.sourceId, targetId: null, status: 'deleted', displayName: g.displayName }, { members: [] });
      corrected++;
    }
    for (const g of r.groupDrift) {
      store.saveGroup(name, { sourceId: g.sourceId, targetId: g.targetId, status: 'active', displayName: g.displayName }, { add: g.extra, remove: g.missing });
      corrected++;
    }
    if (adopt) {
      const desiredById = new Map(input.desired.users.map((d) => [d.sourceId, d]));
      for (const u of r.unmanaged) {
        const d = u.match !== null ? desiredById.get(u.match) : undefined;
        const resource = usersById.get(u.targetId);
        if (!d || !resource) continue;
        store.saveUser(name, { sourceId: d.sourceId, targetId: u.targetId, status: statusOf(resource), attrs: stateValuesOf(resource, d.attrs, sourceOfTarget, managed) });
        adopted++;
      }
    }
  });
  store.flush();
  return { corrected, adopted };
}

export type { ManagedPaths } from '../core/target-schema.js';
export type { StrayMember } from '../core/stray-members.js';

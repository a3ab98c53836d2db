/**
 * `state rebuild`: an integration's state from the target and the source, with reads
 * only. What is pending survives: escrow is kept, and the links of accounts a cycle
 * still has work on (a user removed from the source, whose removal the target refused)
 * are kept while the account exists, so that the next cycle sends what the difference
 * between source and target calls for.
 */
import type { StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { AccountIndex, matchKeys } from '../core/matching.js';
import type { DesiredUser, StateUser } from '../core/records.js';
import type { ScimResource } from '../scim/client.js';
import { integrationHashes } from './integration-hashes.js';
import { stateValuesOf, statusOf, type DesiredWithSchema, type TargetInventory } from './reconcile.js';

export interface RebuildResult {
  users: number;
  inactive: number;
  groups: number;
  memberships: number;
  /** Active source users with no account in the target: the next cycle creates them. */
  unmatched: number;
  /** Source users with no account who are inactive at the source: not created. */
  inactiveUnmatched: string[];
  /** Source users matching several accounts: not linked. */
  ambiguous: string[];
  /** Users and groups whose link was kept from before (not in the source, or not found by matching) because their account is still there. */
  kept: number;
  /** Failed operations kept for retry (escrow), which survive the rebuild. */
  escrow: number;
  requests: number;
}

interface Link {
  sourceId: string;
  resource: ScimResource;
  /** The pushed paths to read back besides the managed ones. */
  attrs: DesiredUser['attrs'];
}

/**
 * Rebuilds an integration's state from the target and the source, sending nothing
 * but reads: each source user is linked to the account its matching attributes find,
 * with the values the account holds at every managed path (so a value set by hand
 * where the source has none is removed by the next cycle); each source group to the
 * group of its displayName, with the members the target lists. A link state held
 * before is kept where matching finds nothing and the account is still there.
 */
export function rebuildState(store: StateStore, integration: IntegrationConfig, desired: DesiredWithSchema, target: TargetInventory, matching: readonly string[]): RebuildResult {
  const name = integration.name;
  const index = new AccountIndex(target.users, matching, desired.schema);
  const usersById = new Map(target.users.map((u) => [u.id, u]));
  const links = new Map<string, Link>();
  const taken = new Set<string>();
  const result: RebuildResult = {
    users: 0,
    inactive: 0,
    groups: 0,
    memberships: 0,
    unmatched: 0,
    inactiveUnmatched: [],
    ambiguous: [],
    kept: 0,
    escrow: 0,
    requests: target.requests,
  };
  const unlinked: DesiredUser[] = [];
  for (const d of desired.users) {
    let found: ScimResource[] = [];
    for (const { attribute, value } of matchKeys(matching, d.attrs)) {
      found = index.find(attribute, value);
      if (found.length > 0) break;
    }
    if (found.length === 1 && !taken.has(found[0]!.id)) {
      links.set(d.sourceId, { sourceId: d.sourceId, resource: found[0]!, attrs: d.attrs });
      taken.add(found[0]!.id);
    } else if (found.length > 0) result.ambiguous.push(d.sourceId);
    else unlinked.push(d);
  }

  // What state linked before, still in the target and claimed by no one: a cycle's pending work on it stays possible.
  const prior = store.loadUsers(name);
  const priorGroups = store.loadGroups(name);
  for (const s of prior) {
    if (links.has(s.sourceId) || !isLinked(s) || taken.has(s.targetId)) continue;
    const resource = usersById.get(s.targetId);
    if (!resource) continue;
    links.set(s.sourceId, { sourceId: s.sourceId, resource, attrs: s.attrs });
    taken.add(s.targetId);
    result.kept++;
  }
  const ambiguous = new Set(result.ambiguous);
  result.ambiguous = result.ambiguous.filter((id) => !links.has(id));
  for (const d of unlinked) {
    if (links.has(d.sourceId) || ambiguous.has(d.sourceId)) continue;
    if (d.active) result.unmatched++;
    else result.inactiveUnmatched.push(d.sourceId);
  }

  const sourceOfTarget = new Map([...links.values()].map((l) => [l.resource.id, l.sourceId]));
  store.transaction(() => {
    // Escrow is not purged (state/sqlite/purge.ts): a refused operation is retried by the next cycle.
    store.purgeObjects(name);
    store.putIntegration({ name, ...integrationHashes(integration, store.fingerprintKey()) });
    for (const { sourceId, resource, attrs } of links.values()) {
      const status = statusOf(resource);
      store.saveUser(name, { sourceId, targetId: resource.id, status, attrs: stateValuesOf(resource, attrs, sourceOfTarget, desired.managed) });
      result.users++;
      if (status === 'inactive') result.inactive++;
    }
    const byName = new Map<string, ScimResource[]>();
    for (const g of target.groups) {
      const key = String(g.displayName ?? '').toLowerCase();
      byName.set(key, [...(byName.get(key) ?? []), g]);
    }
    const groupsById = new Map(target.groups.map((g) => [g.id, g]));
    const linkedGroups = new Set<string>();
    const saveGroup = (sourceId: string, resource: ScimResource) => {
      const members = (target.members?.get(resource.id) ?? []).map((t) => sourceOfTarget.get(t)).filter((x): x is string => x !== undefined);
      store.saveGroup(name, { sourceId, targetId: resource.id, status: 'active', displayName: String(resource.displayName) }, { members });
      linkedGroups.add(resource.id);
      result.groups++;
      result.memberships += members.length;
    };
    const desiredGroups = new Set<string>();
    for (const g of desired.groups) {
      desiredGroups.add(g.sourceId);
      const candidates = byName.get(g.displayName.toLowerCase()) ?? [];
      const resource =
        target.groups.find((c) => c.externalId === g.sourceId) ??
        candidates.find((c) => c.displayName === g.displayName) ??
        (candidates.length === 1 ? candidates[0] : undefined);
      if (resource && !linkedGroups.has(resource.id)) saveGroup(g.sourceId, resource);
    }
    // A group gone from the source whose deletion is pending.
    for (const g of priorGroups) {
      if (desiredGroups.has(g.sourceId) || g.targetId === null || g.status === 'deleted' || linkedGroups.has(g.targetId)) continue;
      const resource = groupsById.get(g.targetId);
      if (!resource) continue;
      saveGroup(g.sourceId, resource);
      result.kept++;
    }
    store.setLastSourceUsers(name, desired.sourceUsers);
  });
  store.flush();
  result.escrow = store.loadEscrow(name).length;
  return result;
}

function isLinked(s: StateUser): s is StateUser & { targetId: string } {
  return s.targetId !== null && s.status !== 'deleted';
}

/** What a rebuild did, in the lines `state rebuild` prints. */
export function rebuildSummary(integration: string, r: RebuildResult): string[] {
  const lines = [
    `[integration ${integration}] state rebuilt from ${r.requests} reads, no writes: ${r.users} users linked (${r.inactive} inactive), ` +
      `${r.groups} groups with ${r.memberships} memberships; ${r.unmatched} source users have no account yet (the next cycle creates them)`,
  ];
  if (r.inactiveUnmatched.length > 0) {
    lines.push(`inactive at the source, with no account (not created): ${r.inactiveUnmatched.join(', ')}`);
  }
  if (r.kept > 0) lines.push(`kept from the previous state (accounts still in the target, with work pending): ${r.kept}`);
  if (r.escrow > 0) lines.push(`operations kept for retry (escrow): ${r.escrow}; the next cycle sends them again`);
  if (r.ambiguous.length > 0) lines.push(`not linked, several accounts match: ${r.ambiguous.join(', ')}`);
  return lines;
}

import type { ResolvedProfile } from '../../connectors/profiles/index.js';
import type { StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { desiredState, type DesiredState } from '../core/desired.js';
import type { ProtectRule } from '../core/matching.js';
import type { SnapshotResult, StateUser } from '../core/records.js';

/** What an integration's desired state is computed from: a source read, the state, its profile and its `protect` rule. */
export interface DesiredOfInput {
  integration: IntegrationConfig;
  read: SnapshotResult;
  profile: ResolvedProfile;
  protect: ProtectRule;
  /** Where pushed names are read for `protect`; none: nothing in state is protected (a reconcile without a state). */
  store?: StateStore | undefined;
  /** What state remembers pushing. */
  state: readonly StateUser[];
}

/**
 * An integration's desired state through the one scoping path (core/desired.ts): its scope,
 * `protect` (also for names pushed before) and rows in doubt. The cycle, reconcile and the
 * console's user view take it here, so none of them scopes differently.
 */
export function desiredOf(input: DesiredOfInput): Promise<DesiredState> {
  const { integration, store, protect } = input;
  const protectedInState = new Set<string>();
  if (store && protect.active) for (const u of store.loadUserNames(integration.name)) if (protect.covers(u.names)) protectedInState.add(u.sourceId);
  return desiredState({
    snapshot: input.read.snapshot,
    problems: input.read.problems,
    state: input.state,
    scope: { groups: integration.scope?.groups, filters: integration.scope?.filters, skipOutOfScopeDeletions: integration.scope?.skipOutOfScopeDeletions ?? false, nested: integration.groups.nested },
    protect,
    protectedInState,
    mapper: input.profile.mapper,
  });
}

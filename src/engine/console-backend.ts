import { createSource } from '../../connectors/index.js';
import { resolveProfile } from '../../connectors/profiles/index.js';
import type { SourceConnector } from '../../connectors/source.js';
import { openStateStore, type CycleRecord, type StateStore } from '../../state/index.js';
import type * as C from './console-api.js';
import { ConsoleActionError, type ConsoleBackend, type ProgressFeed } from './console-api.js';
import { byKind, cyclePointOf, previewOf, stateOf, summaryOf } from './console-views.js';
import { valueText } from './queries/describe.js';
import { provisionSteps } from './provision-steps.js';
import type { Config, IntegrationConfig } from '../config/schema.js';
import type { Operation } from '../core/operations.js';
import type { SnapshotResult } from '../core/records.js';
import { isGroupRow } from '../core/desired.js';
import { protectRule } from '../core/matching.js';
import { AdminActionRefusedError, LeaseHeldError, ScimsyncError, errorMessage } from '../errors.js';
import { approveHeldPlan, discardHeldPlan, liftQuarantine, type AdminAction } from './commands/admin-actions.js';
import { recordAdminAction } from '../events/sink.js';
import type { NewEvent } from '../events/types.js';
import type { Logger } from '../log.js';
import { userBody } from '../scim/bodies.js';
import { withIntegrationLease, type CycleOutlets, type LeasedRun } from './commands/integration-run.js';
import { previewCycle } from './cycle.js';
import { desiredOf } from './desired-of.js';
import { nextRun } from './schedule.js';
import { compare, correctState, gatherReconcileInput, type ReconcileInput } from './reconcile.js';

export interface EngineConsoleBackendOptions {
  /** The running configuration (the daemon's changes on SIGHUP). */
  config: () => Config;
  store: StateStore;
  logger: Logger;
  /** The daemon's live progress of its cycles; without it, a running cycle is told from the state. */
  progress?: ProgressFeed;
  /** Where the events and news of the console's cycles leave (the daemon's outlets); none: nobody is told. */
  outlets?: () => CycleOutlets | undefined;
  /** When an integration runs next (the daemon's schedule); by default from its schedule and quarantine. */
  nextCycle?: (integration: IntegrationConfig, last: CycleRecord | undefined) => Date | null;
  now?: () => Date;
}

/** Why a cycle leaves an in-scope user exactly as it is: a row in doubt, or `protect`. */
function heldBecause(read: SnapshotResult, sourceId: string): string {
  const doubt = read.problems.find((p) => p.sourceId === sourceId && !isGroupRow(p.location));
  if (doubt) return `held as it is: its source row has a problem (${doubt.location}: ${doubt.message}); a cycle neither changes nor deprovisions it`;
  return 'held as it is: protected by protect; a cycle neither changes nor deprovisions it';
}

/** A source read once and handed to each step that reads it (scope, map, the cycle). */
function cachedSource(read: SnapshotResult): SourceConnector {
  return { kind: 'cached', snapshot: async () => read };
}

/**
 * The console's backend over the state, the cycle and reconcile: a thin
 * adapter, each method a read of the state or a call of the engine function
 * the CLI uses. Admin actions take the integration's lease and write an audit
 * event naming the console user.
 */
export function createEngineConsoleBackend(options: EngineConsoleBackendOptions): ConsoleBackend {
  const { store, logger } = options;
  const now = options.now ?? (() => new Date());

  const integrationOf = (name: string): IntegrationConfig => {
    const found = options.config().integrations.find((i) => i.name === name);
    if (!found) throw new ConsoleActionError('NOT_FOUND', `there is no integration ${name}`);
    return found;
  };

  const audit = (integration: string, actor: C.IntegrationAction['actor'], summary: string, detail: Record<string, unknown>, extra: Partial<NewEvent> = {}) => {
    recordAdminAction(
      { integration, logger, store, cycleId: extra.cycleId ?? undefined },
      {
        type: 'idm_integration_update',
        result: 'success',
        sourceId: extra.sourceId ?? null,
        summary: `${summary} by ${actor.name} (console${actor.via === 'token' ? ' API token' : ''})`,
        detail: { ...detail, console: { user: actor.name, via: actor.via } },
      },
    );
  };

  /** A cycle of this integration open in the state while another process holds its lease: running elsewhere. */
  const progressFromState = (name: string, last: CycleRecord | undefined): C.CycleProgress | null => {
    if (!last || last.endedAt !== null) return null;
    const expires = store.leaseExpiresAt(name);
    if (expires === undefined || expires < now().getTime()) return null;
    const r = store.cycleEvents(last);
    return { cycleId: last.id, startedAt: last.startedAt, done: r.done, total: null, failed: r.failed, rateLimitWaits: 0, etaMs: null, source: 'events' };
  };

  const progressOf = (name: string, last: CycleRecord | undefined): C.CycleProgress | null => {
    const live = options.progress?.get(name);
    if (live) return { ...live, cycleId: last && last.endedAt === null ? last.id : live.cycleId };
    return progressFromState(name, last);
  };

  const nextCycleOf = (integration: IntegrationConfig, last: CycleRecord | undefined): string | null => {
    if (options.nextCycle) return options.nextCycle(integration, last)?.toISOString() ?? null;
    const next = nextRun(integration.schedule, last ? new Date(last.startedAt) : now());
    const q = store.getQuarantine(integration.name);
    return new Date(Math.max(next, q ? Date.parse(q.until) : 0, now().getTime())).toISOString();
  };

  const overview = (integration: IntegrationConfig): C.IntegrationOverview => {
    const name = integration.name;
    const last = store.lastCycle(name);
    const escrow = store.loadEscrow(name);
    const givenUp = escrow.filter((e) => e.givenUp).length;
    const q = store.getQuarantine(name);
    const held = store.getHeldPlan(name);
    const progress = progressOf(name, last);
    const state = stateOf({ progress, quarantine: q, held, last, escrow: { size: escrow.length, givenUp }, now: now().getTime(), lastProblem: () => (last ? store.cycleEvents(last).lastProblem : undefined) });
    const counts = store.objectCounts(name);
    return {
      name,
      state,
      lastCycle: last ? summaryOf(last) : null,
      nextCycle: nextCycleOf(integration, last),
      objects: { usersActive: counts.user?.active ?? 0, usersInactive: counts.user?.inactive ?? 0, groups: counts.group?.active ?? 0 },
      escrow: { size: escrow.length, givenUp },
    };
  };

  const history = (name: string, cycles: number): C.CyclePoint[] => {
    integrationOf(name);
    return store.recentCycles(name, cycles).map(cyclePointOf);
  };

  /**
   * Newest first, by keyset, from the state's indexed queries: a page costs what
   * it returns, whatever the size of the log. A user is found as `scimsync events
   * --user` finds one: by source id, target id, or a userName an event was written with.
   */
  const events = (q: C.EventsQuery): C.EventPage => {
    const rows = store.eventsPage({ ...q, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return { events: page, next: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
  };

  const plan = async (name: string): Promise<C.PlanSummary> => {
    const integration = integrationOf(name);
    const preview: C.PlanSummary = { integration: name, total: 0, groups: [], hold: null, error: null };
    let operations: Operation[];
    try {
      const report = await previewCycle({ integration, store, logger });
      operations = report.operations;
      if (report.hold) preview.hold = { deprovisions: report.hold.deprovisions, reason: report.hold.reason, approved: report.hold.approved, message: report.hold.message };
    } catch (err) {
      if (!(err instanceof ScimsyncError)) throw err;
      return { ...preview, error: err.message };
    }
    const state = new Map(store.loadUsers(name).map((u) => [u.sourceId, u]));
    return { ...preview, total: operations.length, groups: byKind(operations.map((op) => previewOf(op, state.get(op.sourceId)?.attrs ?? {}))) };
  };

  const readSource = async (integration: IntegrationConfig): Promise<SnapshotResult | { error: string }> => {
    try {
      return await createSource(integration).snapshot();
    } catch (err) {
      if (!(err instanceof ScimsyncError)) throw err;
      return { error: err.message };
    }
  };

  /** A user as the source, the mapping and the state see it, from a source read already made. */
  const userView = async (integration: IntegrationConfig, sourceId: string, read: SnapshotResult | { error: string }): Promise<C.UserView> => {
    const name = integration.name;
    const view: C.UserView = { integration: name, sourceId, source: null, inScope: false, resource: null, problems: [], state: null, groups: [], events: [], sourceError: null };
    if ('error' in read) view.sourceError = read.error;
    else {
      const u = read.snapshot.users.find((x) => x.id === sourceId);
      if (u) {
        // The cycle's own scoping path: scope, filters, `protect` (names pushed before too) and rows in doubt.
        const profile = resolveProfile(integration);
        const desired = await desiredOf({ integration, read, profile, protect: protectRule(integration.protect), store, state: store.loadUsers(name) });
        view.inScope = desired.users.some((d) => d.sourceId === sourceId) || desired.invalid.has(sourceId);
        const mapped = await profile.mapper.map(u);
        view.problems = mapped.problems.map((p) => p.message);
        for (const p of desired.invalid.get(sourceId) ?? []) if (!view.problems.includes(p.message)) view.problems.push(p.message);
        if (view.inScope && desired.held.has(sourceId) && !desired.invalid.has(sourceId)) view.problems.push(heldBecause(read, sourceId));
        view.resource = userBody({ ...mapped.attrs, ...mapped.createOnly }, { active: u.active, resolve: (id) => `<target id of ${id}>` }).body;
        view.source = { ...u.attributes, active: u.active };
      }
    }
    const record = store.findObjects(name, sourceId).find((o) => o.kind === 'user' && o.sourceId === sourceId);
    if (record) {
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(record.attrs)) attrs[k] = valueText(v) ?? '';
      view.state = { targetId: record.targetId, status: record.status, attrs, createdAt: record.createdAt, updatedAt: record.updatedAt };
      const names = new Map(store.loadGroups(name).map((g) => [g.sourceId, g.displayName]));
      view.groups = (record.groups ?? []).map((g) => ({ sourceId: g, displayName: names.get(g) ?? g }));
    }
    view.events = events({ integration: name, user: sourceId, limit: 50 }).events;
    return view;
  };

  const user = async (name: string, sourceId: string): Promise<C.UserView | undefined> => {
    const integration = options.config().integrations.find((i) => i.name === name);
    return integration ? userView(integration, sourceId, await readSource(integration)) : undefined;
  };

  /**
   * Runs `work` holding the integration's lease, as every writer of an
   * integration does: an action never races a cycle of the daemon or a
   * `scimsync sync`. While another holds it, the action is refused (BUSY, 409)
   * and `work` does not run.
   */
  const leased = async <T>(integration: IntegrationConfig, work: (run: LeasedRun) => Promise<T>): Promise<T> => {
    const name = integration.name;
    try {
      return await withIntegrationLease({ integration, store, logger, outlets: options.outlets?.() }, work);
    } catch (err) {
      if (err instanceof LeaseHeldError) throw new ConsoleActionError('BUSY', `a cycle of ${name} is running; try again when it ends`);
      throw err;
    }
  };

  /** An admin action of the engine, as the CLI runs it: under the lease, refused (BUSY) while a cycle holds it. */
  const adminAction = async <T>(integration: string, actor: C.Actor, act: (action: AdminAction) => Promise<T>): Promise<T> => {
    const name = integrationOf(integration).name;
    try {
      return await act({ store, logger, integration: name, actor: { via: actor.via, name: actor.name }, now });
    } catch (err) {
      if (err instanceof LeaseHeldError) throw new ConsoleActionError('BUSY', `a cycle of ${name} is running; try again when it ends`);
      if (err instanceof AdminActionRefusedError) throw new ConsoleActionError('CONFLICT', err.reason);
      throw err;
    }
  };

  const provisionNow = async (action: C.IntegrationAction & { sourceId: string }): Promise<C.ProvisionResult> => {
    const integration = integrationOf(action.integration);
    const name = integration.name;
    return leased(integration, async (run) => {
      const read = await readSource(integration);
      if ('error' in read) {
        return { integration: name, sourceId: action.sourceId, cycleId: null, steps: [{ step: 'source', status: 'failed', title: 'The source could not be read', lines: [read.error] }] };
      }
      const before = store.findObjects(name, action.sourceId).find((o) => o.kind === 'user' && o.sourceId === action.sourceId);
      const view = await userView(integration, action.sourceId, read);
      const seen: NewEvent[] = [];
      let cycleId: string | null = null;
      let operations: Operation[] = [];
      let failure: string | undefined;
      try {
        const report = await run.cycle({ source: cachedSource(read), onlyUser: action.sourceId, onEvent: (e) => seen.push(e) });
        cycleId = report.cycleId;
        operations = report.operations;
      } catch (err) {
        if (!(err instanceof ScimsyncError)) throw err;
        failure = err.message;
      }
      const after = store.findObjects(name, action.sourceId).find((o) => o.kind === 'user' && o.sourceId === action.sourceId);
      const pushed = before?.attrs ?? {};
      const steps = provisionSteps({
        sourceId: action.sourceId,
        view,
        before,
        after,
        operations: operations.map((op) => previewOf(op, pushed)),
        events: seen,
        failure,
        deprovision: integration.deprovision.action,
      });
      const n = operations.length;
      audit(name, action.actor, `provision now of ${action.sourceId}: ${n} ${n === 1 ? 'operation' : 'operations'}${failure ? ' (stopped)' : ''}`, { provisionNow: { operations: operations.map((o) => o.kind) } }, { sourceId: action.sourceId, ...(cycleId ? { cycleId } : {}) });
      return { integration: name, sourceId: action.sourceId, cycleId, steps };
    });
  };

  const reconcileInput = (integration: IntegrationConfig): Promise<ReconcileInput> => gatherReconcileInput(integration, store, logger);

  const reportOf = async (integration: IntegrationConfig): Promise<{ input: ReconcileInput; report: ReturnType<typeof compare> }> => {
    try {
      const input = await reconcileInput(integration);
      return { input, report: compare(input) };
    } catch (err) {
      if (err instanceof ScimsyncError) throw new ConsoleActionError('CONFLICT', err.message);
      throw err;
    }
  };

  const reconcile = async (action: C.IntegrationAction & { mode: C.ReconcileMode }): Promise<C.ReconcileOutcome> => {
    const integration = integrationOf(action.integration);
    const name = integration.name;
    return leased(integration, async (run) => {
      const { input, report } = await reportOf(integration);
      const { corrected, adopted } = correctState(store, report, input, action.mode === 'adopt' ? 'adopt' : 'record');
      audit(name, action.actor, `reconcile ${action.mode}: ${corrected} objects found changed in the target, ${adopted} existing accounts adopted`, {
        reconcile: { mode: action.mode, drift: report.drift.length, vanished: report.vanished.length, groupDrift: report.groupDrift.length, adopted },
      });
      if (action.mode !== 'apply') return { integration: name, mode: action.mode, corrected, adopted, cycle: null };
      try {
        const cycle = await run.cycle({ strays: report.strayMembers });
        return { integration: name, mode: action.mode, corrected, adopted, cycle: { outcome: cycle.outcome, counts: { ...cycle.counts } } };
      } catch (err) {
        if (!(err instanceof ScimsyncError)) throw err;
        return { integration: name, mode: action.mode, corrected, adopted, cycle: { outcome: `stopped: ${errorMessage(err)}`, counts: {} } };
      }
    });
  };

  return {
    integrations: async () => options.config().integrations.map(overview),
    integration: async (name, o): Promise<C.IntegrationDetail | undefined> => {
      const integration = options.config().integrations.find((i) => i.name === name);
      if (!integration) return undefined;
      const ov = overview(integration);
      const held = store.getHeldPlan(name);
      const q = store.getQuarantine(name);
      return {
        overview: ov,
        history: history(name, o.historyCycles),
        progress: ov.state.kind === 'running' ? ov.state.progress : null,
        escrow: store.loadEscrow(name).map(({ key: _key, fingerprint: _fp, ...e }) => e),
        held: held ? { heldAt: held.heldAt, reason: held.reason, managed: held.managed, approvedAt: held.approvedAt, objects: held.objects } : null,
        quarantine: q && Date.parse(q.until) > now().getTime() ? { reason: q.reason, until: q.until, level: q.level } : null,
      };
    },
    progress: async (name) => progressOf(integrationOf(name).name, store.lastCycle(name)),
    history: async (name, cycles) => history(name, cycles),
    plan,
    events: async (q) => events(q),
    event: async (id) => store.getEvent(id),
    user,
    reconcileReport: async (name) => {
      const { report } = await reportOf(integrationOf(name));
      return {
        integration: name,
        usersRead: report.usersRead,
        groupsRead: report.groupsRead,
        drift: report.drift.map(({ sourceId, userName, path, pushed, actual }) => ({ sourceId, userName, path, pushed, actual })),
        vanished: report.vanished,
        unmanaged: report.unmanaged,
        groupDrift: report.groupDrift.map((g) => ({ displayName: g.displayName, missing: g.missing, extra: g.extra })),
        strayMembers: report.strayMembers.map((m) => ({ displayName: m.displayName, value: m.value, kind: m.kind, name: m.name, onApply: m.onApply, keptBecause: m.keptBecause ?? null })),
        membersUnchecked: report.membersUnchecked,
      } satisfies C.ReconcileReport;
    },
    approve: async ({ integration, actor }): Promise<C.ActionResult> => {
      const { held } = await adminAction(integration, actor, approveHeldPlan);
      return { ok: true, message: `Approved: the next cycle of ${integration} deprovisions up to these ${held.objects.length} users.` };
    },
    discard: async ({ integration, actor }): Promise<C.ActionResult> => {
      const { held, wasApproved } = await adminAction(integration, actor, discardHeldPlan);
      const n = held.objects.length;
      return { ok: true, message: `Discarded${wasApproved ? ', its approval withdrawn' : ''}: nothing is deprovisioned; the next cycle holds the plan again if the source still lacks these ${n} users.` };
    },
    liftQuarantine: async ({ integration, actor }): Promise<C.ActionResult> => {
      const { integration: name } = await adminAction(integration, actor, liftQuarantine);
      return { ok: true, message: `Quarantine lifted: ${name} runs at its next scheduled cycle.` };
    },
    provisionNow,
    reconcile,
  };
}

/** The backend of `scimsync console`: a state connection of its own, closed with it; no cycle runs but the admin's actions. */
export function openEngineConsoleBackend(options: { config: Config; logger: Logger }): { backend: ConsoleBackend; close: () => void } {
  const store = openStateStore(options.config.state.path);
  return { backend: createEngineConsoleBackend({ config: () => options.config, store, logger: options.logger }), close: () => store.close() };
}

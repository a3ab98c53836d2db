import { randomUUID } from 'node:crypto';
import { resolveProfile } from '../../connectors/profiles/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { clientFor, runCycle } from '../engine/cycle.js';
import { leaseOwner, withLease, type HeldLease } from '../engine/lease.js';
import { compare, correctState, loadDesired, readTarget, rebuildState, type Reconciliation } from '../engine/reconcile.js';
import type { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../../state/index.js';
import { openContext, selectIntegrations, type Io } from './context.js';
import { table } from './format.js';
import { parseWait, summaryLine } from './sync.js';

export interface ReconcileOptions {
  config?: string;
  integration?: string;
  json?: boolean;
  apply?: boolean;
  adopt?: boolean;
  /** With --apply or --adopt: how long to wait for another scimsync process running the integration. */
  wait?: string;
}

/** The lease of a run that writes, and how to take it (`--wait`). */
interface LeaseUse {
  owner: string;
  waitMs: number;
  wait: string | undefined;
  io: Io;
}

function leased<T>(store: StateStore, integration: string, use: LeaseUse, run: (lease: HeldLease) => Promise<T>): Promise<T> {
  return withLease({ store, integration, owner: use.owner, waitMs: use.waitMs, ...(use.wait ? { waitText: use.wait } : {}), onWait: use.io.err }, run);
}

function audit(store: StateStore, integration: string, summary: string, detail: Record<string, unknown>): void {
  store.insertEvent({ time: new Date().toISOString(), integration, cycleId: randomUUID(), type: 'idm_integration_update', result: 'success', summary, detail });
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function printReport(r: Reconciliation, io: Io): void {
  io.out(`[integration ${r.integration}] target: ${plural(r.usersRead, 'user')}, ${plural(r.groupsRead, 'group')} read in ${plural(r.requests, 'request')}`);
  io.out(`drift: ${plural(r.drift.length, 'value')} differ from what was pushed`);
  if (r.drift.length > 0) {
    const rows = r.drift.map((d) => [d.sourceId, d.userName, d.path, d.pushed ?? '-', d.actual ?? '-']);
    for (const line of table(['SOURCE ID', 'USERNAME', 'ATTRIBUTE', 'PUSHED', 'IN TARGET'], rows)) io.out(`  ${line}`);
  }
  io.out(`vanished: ${plural(r.vanished.length, 'managed account')} no longer in the target`);
  if (r.vanished.length > 0) for (const line of table(['SOURCE ID', 'USERNAME', 'TARGET ID'], r.vanished.map((v) => [v.sourceId, v.userName, v.targetId]))) io.out(`  ${line}`);
  const matching = r.unmanaged.filter((u) => u.match !== null).length;
  io.out(`unmanaged: ${plural(r.unmanaged.length, 'account')} not managed by scimsync${matching ? ` (${matching} match a source user: --adopt links them)` : ''}`);
  if (r.unmanaged.length > 0) {
    for (const line of table(['TARGET ID', 'USERNAME', 'MATCHES SOURCE USER'], r.unmanaged.map((u) => [u.targetId, u.userName, u.match ?? '-']))) io.out(`  ${line}`);
  }
  if (r.membersUnchecked) io.out('group members: not checked (this target does not return group members)');
  else io.out(`group members: ${plural(r.groupDrift.length, 'group')} differ`);
  if (r.groupDrift.length > 0) {
    const rows = r.groupDrift.map((g) => [g.displayName, g.missing.join(', ') || '-', g.extra.join(', ') || '-']);
    for (const line of table(['GROUP', 'MISSING IN TARGET', 'NOT PUSHED, IN TARGET'], rows)) io.out(`  ${line}`);
  }
  io.out(`groups: ${r.vanishedGroups.length} vanished, ${r.unmanagedGroups.length} unmanaged`);
  for (const g of r.vanishedGroups) io.out(`  vanished  ${g.displayName} (${g.targetId})`);
  for (const g of r.unmanagedGroups) io.out(`  unmanaged ${g.displayName} (${g.targetId})`);
}

const findings = (r: Reconciliation) => r.drift.length + r.vanished.length + r.groupDrift.length + r.vanishedGroups.length;

async function reconcileOne(
  integration: IntegrationConfig,
  store: StateStore,
  logger: Logger,
  options: ReconcileOptions,
  io: Io,
  lease: HeldLease | undefined,
): Promise<ExitCode> {
  const name = integration.name;
  const profile = resolveProfile(integration);
  const desired = await loadDesired(integration, profile, { store });
  const state = store.loadUsers(name);
  const groupState = store.loadGroups(name);
  const managedGroups = new Set(groupState.filter((g) => g.targetId !== null && g.status !== 'deleted').map((g) => g.targetId));
  const client = clientFor(integration, { logger, use: 'reads' });
  let report: Reconciliation;
  let input;
  try {
    const target = await readTarget(client, profile, (g) => managedGroups.has(g.id));
    input = { integration, state, groupState, desired, target, matching: profile.matching };
    report = compare(input);
  } finally {
    await client.close();
  }
  if (options.json) io.out(JSON.stringify(report));
  else printReport(report, io);
  if (!options.apply && !options.adopt) {
    if (!options.json && findings(report) > 0) io.out(`reconcile --apply restores the source's values in the target`);
    return 0;
  }
  const { corrected, adopted } = correctState(store, report, input, options.adopt ?? false);
  if (corrected + adopted > 0) {
    audit(store, name, `reconcile: ${corrected} objects found changed in the target, ${adopted} existing accounts adopted`, {
      reconcile: { drift: report.drift.length, vanished: report.vanished.length, groupDrift: report.groupDrift.length, vanishedGroups: report.vanishedGroups.length, adopted },
    });
  }
  if (!options.json) io.out(`state: ${corrected} objects recorded as the target holds them, ${adopted} accounts adopted`);
  if (!options.apply) return 0;
  const cycle = await runCycle({ integration, store, logger, ...(lease ? { signal: lease.signal } : {}) });
  if (options.json) io.out(JSON.stringify({ integration: name, applied: { outcome: cycle.outcome, counts: cycle.counts } }));
  else io.out(summaryLine(cycle));
  return cycle.exitCode;
}

/**
 * `scimsync reconcile`: reads the whole target and reports drift, vanished and
 * unmanaged accounts and membership drift; `--apply` fixes them through a
 * cycle, `--adopt` links unmanaged accounts that match source users.
 */
export async function reconcileCommand(options: ReconcileOptions, io: Io): Promise<ExitCode> {
  const writes = options.apply || options.adopt;
  const use: LeaseUse = { owner: leaseOwner(), waitMs: parseWait(options.wait), wait: options.wait, io };
  const ctx = openContext(options.config, io, true);
  let exit: ExitCode = 0;
  try {
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      // A read-only report takes no lease; --apply and --adopt hold it from the read of the target to the end.
      const code = writes
        ? await leased(ctx.store, integration.name, use, (lease) => reconcileOne(integration, ctx.store, ctx.logger, options, io, lease))
        : await reconcileOne(integration, ctx.store, ctx.logger, options, io, undefined);
      exit = Math.max(exit, code) as ExitCode;
    }
  } finally {
    ctx.store.close();
  }
  return exit;
}

export interface RebuildOptions {
  config?: string;
  json?: boolean;
  /** How long to wait for another scimsync process running the integration. */
  wait?: string;
}

/** `scimsync state rebuild NAME`: state from the target and the source, with reads only. */
export async function rebuildCommand(name: string, options: RebuildOptions, io: Io): Promise<ExitCode> {
  const use: LeaseUse = { owner: leaseOwner(), waitMs: parseWait(options.wait), wait: options.wait, io };
  const ctx = openContext(options.config, io, true);
  try {
    const [integration] = selectIntegrations(ctx.config, name);
    // It rewrites the integration's state: not while a cycle writes it.
    return await leased(ctx.store, name, use, () => rebuildOne(integration!, ctx.store, ctx.logger, options, io));
  } finally {
    ctx.store.close();
  }
}

async function rebuildOne(integration: IntegrationConfig, store: StateStore, logger: Logger, options: RebuildOptions, io: Io): Promise<ExitCode> {
  const name = integration.name;
  const profile = resolveProfile(integration);
  const desired = await loadDesired(integration, profile, { store });
  const names = new Set(desired.groups.map((g) => g.displayName.toLowerCase()));
  const ids = new Set(desired.groups.map((g) => g.sourceId));
  const client = clientFor(integration, { logger, use: 'reads' });
  let target;
  try {
    target = await readTarget(client, profile, (g) => names.has(String(g.displayName ?? '').toLowerCase()) || ids.has(String(g.externalId ?? '')));
  } finally {
    await client.close();
  }
  const r = rebuildState(store, integration, desired, target, profile.matching);
  audit(store, name, `state rebuilt from the target: ${r.users} users, ${r.groups} groups, ${r.memberships} memberships linked; nothing sent`, { rebuild: r });
  if (options.json) {
    io.out(JSON.stringify({ integration: name, ...r }));
    return 0;
  }
  io.out(
    `[integration ${name}] state rebuilt from ${r.requests} reads, no writes: ${r.users} users linked (${r.inactive} inactive), ` +
      `${r.groups} groups with ${r.memberships} memberships; ${r.unmatched} source users have no account yet (the next cycle creates them)`,
  );
  if (r.ambiguous.length > 0) io.out(`not linked, several accounts match: ${r.ambiguous.join(', ')}`);
  return 0;
}

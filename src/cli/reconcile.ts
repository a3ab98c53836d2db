import { loadConnected, parseWait, reconcileFindings } from '../engine/index.js';
import type { ReconcileStep, Reconciliation, StrayMember } from '../engine/index.js';
import type { ExitCode } from '../errors.js';
import { commandConfig, selectIntegrations, type Io } from './context.js';
import { table } from './format.js';
import { summaryLine } from './sync.js';

export interface ReconcileOptions {
  config?: string;
  integration?: string;
  json?: boolean;
  apply?: boolean;
  adopt?: boolean;
  /** With --apply or --adopt: how long to wait for another scimsync process running the integration. */
  wait?: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function printReport(r: Reconciliation, io: Io): void {
  io.out(`[integration ${r.integration}] target: ${plural(r.usersRead, 'user')}, ${plural(r.groupsRead, 'group')} read in ${plural(r.requests, 'request')}`);
  io.out(`drift: ${plural(r.drift.length, 'value')} differ from what was pushed`);
  if (r.drift.length > 0) {
    const rows = r.drift.map((d) => [d.sourceId, d.userName, d.path, d.pushed ?? '-', d.actual ?? '-']);
    for (const line of table(['SOURCE ID', 'USERNAME', 'ATTRIBUTE', 'PUSHED', 'IN TARGET'], rows)) io.out(`  ${line}`);
  }
  if (r.unwritable.length > 0) {
    io.out(`cannot be written: ${plural(r.unwritable.length, 'value')} the source wants that the target's schema does not let scimsync write`);
    const rows = r.unwritable.map((u) => [u.sourceId, u.userName, u.path, u.wanted, u.actual ?? '-', u.reason]);
    for (const line of table(['SOURCE ID', 'USERNAME', 'ATTRIBUTE', 'WANTED', 'IN TARGET', 'WHY'], rows)) io.out(`  ${line}`);
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
  if (!r.membersUnchecked) printStrays(r.strayMembers, io);
  io.out(`groups: ${r.vanishedGroups.length} vanished, ${r.unmanagedGroups.length} unmanaged`);
  for (const g of r.vanishedGroups) io.out(`  vanished  ${g.displayName} (${g.targetId})`);
  for (const g of r.unmanagedGroups) io.out(`  unmanaged ${g.displayName} (${g.targetId})`);
}

const applied = (s: StrayMember) => (s.onApply === 'remove' ? 'remove' : s.keptBecause === 'protected' ? 'keep (protected)' : 'keep (groups.foreignMembers)');

/** Member values of managed groups that are not managed accounts: dangling ones name nothing, foreign ones an account scimsync does not manage. */
function printStrays(strays: readonly StrayMember[], io: Io): void {
  const dangling = strays.filter((s) => s.kind === 'dangling').length;
  io.out(`members not managed: ${plural(dangling, 'dangling value')} (naming no account), ${plural(strays.length - dangling, 'foreign member')} (not managed by scimsync)`);
  if (strays.length === 0) return;
  const rows = strays.map((s) => [s.displayName, s.value, s.kind, s.name ?? '-', applied(s)]);
  for (const line of table(['GROUP', 'MEMBER VALUE', 'KIND', 'ACCOUNT', 'ON --APPLY'], rows)) io.out(`  ${line}`);
}

function printStep(step: ReconcileStep, options: ReconcileOptions, io: Io): void {
  switch (step.step) {
    case 'report':
      if (options.json) io.out(JSON.stringify(step.report));
      else printReport(step.report, io);
      if (!options.apply && !options.adopt && !options.json && reconcileFindings(step.report) > 0) io.out(`reconcile --apply restores the source's values in the target`);
      return;
    case 'state-corrected':
      if (!options.json) io.out(`state: ${step.corrected} objects recorded as the target holds them, ${step.adopted} accounts adopted`);
      return;
    case 'applied':
      if (options.json) io.out(JSON.stringify({ integration: step.integration, applied: { outcome: step.cycle.outcome, counts: step.cycle.counts } }));
      else io.out(summaryLine(step.cycle));
      return;
  }
}

/**
 * `scimsync reconcile`: reads the whole target and reports drift, vanished and
 * unmanaged accounts and membership drift; `--apply` fixes them through a
 * cycle, `--adopt` links unmanaged accounts that match source users.
 */
export async function reconcileCommand(options: ReconcileOptions, io: Io): Promise<ExitCode> {
  const waitMs = parseWait(options.wait);
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  const { reconcileIntegrations } = await loadConnected();
  return reconcileIntegrations({
    config,
    logger,
    integrations: selectIntegrations(config, options.integration),
    apply: options.apply,
    adopt: options.adopt,
    waitMs,
    waitText: options.wait,
    onWait: io.err,
    onStep: (step) => printStep(step, options, io),
  });
}

export interface RebuildCommandOptions {
  config?: string;
  json?: boolean;
  /** How long to wait for another scimsync process running the integration. */
  wait?: string;
}

/** `scimsync state rebuild NAME`: state from the target and the source, with reads only. */
export async function rebuildCommand(name: string, options: RebuildCommandOptions, io: Io): Promise<ExitCode> {
  const waitMs = parseWait(options.wait);
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  const [integration] = selectIntegrations(config, name);
  const { rebuildIntegrationState, rebuildSummary } = await loadConnected();
  const r = await rebuildIntegrationState({ config, logger, integration: integration!, waitMs, waitText: options.wait, onWait: io.err });
  if (options.json) {
    io.out(JSON.stringify({ integration: name, ...r }));
    return 0;
  }
  for (const line of rebuildSummary(name, r)) io.out(line);
  return 0;
}

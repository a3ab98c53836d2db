import { describeOperation, loadConnected, operationDetails, unwritableReason } from '../engine/index.js';
import type { PlanPreview, UnwritableValue, UserExplanation } from '../engine/index.js';
import type { ExitCode } from '../errors.js';
import { escapeControl } from '../log.js';
import { commandConfig, selectIntegrations, type Io } from './context.js';
import { table } from './format.js';


export interface PlanCommandOptions {
  config?: string;
  integration?: string;
  json?: boolean;
  user?: string;
}

/** `plan --user ID`: the source attributes, the SCIM resource they map to, and the operations. */
function printUser(u: UserExplanation, json: boolean, io: Io): void {
  if (json) {
    io.out(JSON.stringify({ integration: u.integration, user: u.user, source: u.source, resource: u.resource, problems: u.problems, operations: u.operations }));
    return;
  }
  io.out(`[integration ${u.integration}] user ${u.user}`);
  io.out('source attributes:');
  for (const [k, v] of Object.entries(u.source)) io.out(`  ${k}: ${escapeControl(JSON.stringify(v))}`);
  io.out('SCIM resource:');
  for (const line of JSON.stringify(u.resource, null, 2).split('\n')) io.out(`  ${line}`);
  for (const p of u.problems) io.out(`not sendable: ${p.message} (${p.rule})`);
  io.out(u.operations.length ? 'operations:' : 'operations: none (the target is up to date, or the user is not in scope)');
  for (const op of u.operations) io.out(`  ${escapeControl(describeOperation(op))}`);
}

/** Values the plan leaves out because the target's schema forbids writing them: said, not dropped. */
function printUnwritable(values: readonly UnwritableValue[], io: Io): void {
  if (values.length === 0) return;
  io.out(`${values.length} ${values.length === 1 ? 'value' : 'values'} the source wants cannot be written:`);
  const wanted = (v: UnwritableValue) => (v.wanted === null ? '(empty)' : JSON.stringify(v.wanted));
  const rows = values.map((v) => [v.sourceId, v.path, v.on, wanted(v), unwritableReason(v.path, v.mutability)]);
  for (const line of table(['SOURCE ID', 'ATTRIBUTE', 'ON', 'WANTED', 'WHY'], rows)) io.out(`  ${escapeControl(line)}`);
}

function printPlan(p: PlanPreview, json: boolean, io: Io): void {
  if (json) {
    for (const op of p.operations) io.out(JSON.stringify({ integration: p.integration, ...op }));
    if (p.hold) io.out(JSON.stringify({ integration: p.integration, hold: p.hold }));
    for (const v of p.unwritable) io.out(JSON.stringify({ integration: p.integration, unwritable: { ...v, reason: unwritableReason(v.path, v.mutability) } }));
    return;
  }
  io.out(`[integration ${p.integration}] ${p.operations.length} operations`);
  if (p.hold) io.out(escapeControl(p.hold.approved ? `approved mass deprovision: ${p.hold.message}` : `HELD: ${p.hold.message}`));
  if (p.operations.length > 0) {
    for (const line of table(['OPERATION', 'SOURCE ID', 'DETAILS'], p.operations.map((op) => [op.kind, op.sourceId, operationDetails(op)]))) io.out(line);
  }
  printUnwritable(p.unwritable, io);
}

/** `scimsync plan`: what the next cycle would send, without sending it. */
export async function planCommand(options: PlanCommandOptions, io: Io): Promise<ExitCode> {
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  const integrations = selectIntegrations(config, options.integration);
  const { previewPlans } = await loadConnected();
  let exit: ExitCode = 0;
  for await (const preview of previewPlans({ config, logger, integrations, onlyUser: options.user })) {
    exit = Math.max(exit, preview.exitCode) as ExitCode;
    if (!preview.user) printPlan(preview, options.json ?? false, io);
    else {
      printUser(preview.user, options.json ?? false, io);
      if (!options.json) printUnwritable(preview.unwritable, io);
    }
  }
  return exit;
}

import { createSource } from '../../connectors/index.js';
import { resolveProfile } from '../../connectors/profiles/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { buildResource } from '../scim/bodies.js';
import { runCycle } from '../engine/cycle.js';
import type { Operation } from '../core/operations.js';
import { isUserRef, type AttrValue } from '../core/attributes.js';
import type { ExitCode } from '../errors.js';
import { escapeControl } from '../log.js';
import { openContext, selectIntegrations, type Io } from './context.js';
import { table } from './format.js';

export interface PlanOptions {
  config?: string;
  integration?: string;
  json?: boolean;
  user?: string;
}

const show = (v: AttrValue) => (isUserRef(v) ? `<user ${v.userRef}>` : JSON.stringify(v));

function details(op: Operation): string {
  switch (op.kind) {
    case 'user.create':
      return String(op.attrs.userName ?? '');
    case 'user.update':
    case 'user.reactivate':
    case 'user.deactivate': {
      const parts = [
        ...Object.entries(op.changes.set).map(([p, v]) => `${p}=${show(v)}`),
        ...op.changes.remove.map((p) => `-${p}`),
      ];
      const reason = op.kind === 'user.deactivate' ? `(${op.reason}) ` : '';
      return `${reason}${parts.join(', ')}`.trim();
    }
    case 'user.delete':
      return `(${op.reason})`;
    case 'group.create':
      return `${op.displayName} (${op.members.length} members)`;
    case 'group.update':
    case 'group.members.add':
    case 'group.members.remove': {
      const parts: string[] = [];
      if (op.rename !== undefined) parts.push(`rename to ${op.rename}`);
      if (op.replaceMembers) parts.push(`member list of ${op.replaceMembers.length}`);
      if (op.add.length) parts.push(`+${op.add.length} members`);
      if (op.remove.length) parts.push(`-${op.remove.length} members`);
      return `${op.displayName}: ${parts.join(', ')}`;
    }
    case 'group.delete':
      return op.displayName;
  }
}

export function describeOperation(op: Operation): string {
  return `${op.kind.padEnd(20)} ${op.sourceId}  ${details(op)}`.trimEnd();
}

/** `plan --user ID`: the source attributes, the SCIM resource they map to, and the operations. */
async function explainUser(integration: IntegrationConfig, userId: string, operations: Operation[], json: boolean, io: Io): Promise<void> {
  const { snapshot } = await createSource(integration).snapshot();
  const user = snapshot.users.find((u) => u.id === userId);
  if (!user) throw new ConfigError(`--user ${userId}: no user with this id in the source of integration ${integration.name}`);
  const mapped = await resolveProfile(integration).mapper.map(user);
  const { body } = buildResource({ ...mapped.attrs, ...mapped.createOnly }, user.active, (id) => `<target id of ${id}>`);
  // The row's attributes (its id is the user's, already shown) and the active flag as read.
  const source: Record<string, unknown> = { ...user.attributes };
  delete source.id;
  delete source.active;
  source.active = user.active;
  if (json) {
    io.out(JSON.stringify({ integration: integration.name, user: userId, source, resource: body, problems: mapped.problems, operations }));
    return;
  }
  io.out(`[integration ${integration.name}] user ${userId}`);
  io.out('source attributes:');
  for (const [k, v] of Object.entries(source)) io.out(`  ${k}: ${escapeControl(JSON.stringify(v))}`);
  io.out('SCIM resource:');
  for (const line of JSON.stringify(body, null, 2).split('\n')) io.out(`  ${line}`);
  for (const p of mapped.problems) io.out(`not sendable: ${p.message} (${p.rule})`);
  io.out(operations.length ? 'operations:' : 'operations: none (the target is up to date, or the user is not in scope)');
  for (const op of operations) io.out(`  ${escapeControl(describeOperation(op))}`);
}

/** `scimsync plan`: what the next cycle would send, without sending it. */
export async function planCommand(options: PlanOptions, io: Io): Promise<ExitCode> {
  const ctx = openContext(options.config, io, true);
  let exit: ExitCode = 0;
  try {
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      const report = await runCycle({
        integration,
        store: ctx.store,
        logger: ctx.logger,
        dryRun: true,
        ...(options.user !== undefined ? { onlyUser: options.user } : {}),
      });
      exit = Math.max(exit, report.exitCode) as ExitCode;
      if (options.user !== undefined) {
        await explainUser(integration, options.user, report.operations, options.json ?? false, io);
        continue;
      }
      if (options.json) {
        for (const op of report.operations) io.out(JSON.stringify({ integration: integration.name, ...op }));
        if (report.hold) io.out(JSON.stringify({ integration: integration.name, hold: report.hold }));
        continue;
      }
      io.out(`[integration ${integration.name}] ${report.operations.length} operations`);
      if (report.hold) {
        const h = report.hold;
        io.out(escapeControl(h.approved ? `approved mass deprovision: ${h.message}` : `HELD: ${h.message}`));
      }
      if (report.operations.length > 0) {
        for (const line of table(['OPERATION', 'SOURCE ID', 'DETAILS'], report.operations.map((op) => [op.kind, op.sourceId, details(op)]))) {
          io.out(line);
        }
      }
    }
  } finally {
    ctx.store.close();
  }
  return exit;
}

import { runCycle } from '../engine/cycle.js';
import type { Operation } from '../engine/plan.js';
import { isUserRef, type AttrValue } from '../scim/attributes.js';
import type { ExitCode } from '../errors.js';
import { openContext, selectIntegrations, type Io } from './context.js';
import { table } from './format.js';

export interface PlanOptions {
  config?: string;
  integration?: string;
  json?: boolean;
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

/** `scimsync plan`: what the next cycle would send, without sending it. */
export async function planCommand(options: PlanOptions, io: Io): Promise<ExitCode> {
  const ctx = openContext(options.config, io, true);
  try {
    for (const integration of selectIntegrations(ctx.config, options.integration)) {
      const report = await runCycle({ integration, store: ctx.store, logger: ctx.logger, dryRun: true });
      if (options.json) {
        for (const op of report.operations) io.out(JSON.stringify({ integration: integration.name, ...op }));
        continue;
      }
      io.out(`[integration ${integration.name}] ${report.operations.length} operations`);
      if (report.operations.length > 0) {
        for (const line of table(['OPERATION', 'SOURCE ID', 'DETAILS'], report.operations.map((op) => [op.kind, op.sourceId, details(op)]))) {
          io.out(line);
        }
      }
    }
  } finally {
    ctx.store.close();
  }
  return 0;
}

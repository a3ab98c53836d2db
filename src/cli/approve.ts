import { randomUUID } from 'node:crypto';
import { UsageError, type ExitCode } from '../errors.js';
import type { StateStore } from '../../state/index.js';
import { openContext, selectIntegrations, type Io } from './context.js';

export interface ApproveOptions {
  config?: string;
}

function audit(store: StateStore, integration: string, summary: string, detail: Record<string, unknown>): void {
  store.insertEvent({
    time: new Date().toISOString(),
    integration,
    cycleId: randomUUID(),
    type: 'idm_integration_update',
    result: 'success',
    summary,
    detail,
  });
}

/**
 * `scimsync approve NAME`: lets the next cycle apply the held mass deprovision
 * once, provided it deprovisions no one beyond what was held.
 */
export function approveCommand(name: string, options: ApproveOptions, io: Io): ExitCode {
  const ctx = openContext(options.config, io, true);
  try {
    selectIntegrations(ctx.config, name);
    const held = ctx.store.getHeldPlan(name);
    if (!held) throw new UsageError(`approve ${name}: no cycle is held for approval`);
    const at = new Date().toISOString();
    ctx.store.setApproval(name, at);
    const n = held.objects.length;
    audit(ctx.store, name, `mass deprovision of ${n} users approved for the next cycle (${held.reason})`, { approved: true, deprovisions: n, heldAt: held.heldAt });
    io.out(`[integration ${name}] approved: the next cycle deprovisions up to these ${n} users (held ${held.heldAt}: ${held.reason})`);
    const shown = held.objects.slice(0, 20);
    for (const o of shown) io.out(`  ${o.kind.padEnd(16)} ${o.sourceId}  ${o.userName}`);
    if (n > shown.length) io.out(`  ... and ${n - shown.length} more (scimsync status --json lists them all)`);
    return 0;
  } finally {
    ctx.store.close();
  }
}

/** `scimsync discard NAME`: forgets an approval; the plan stays held. */
export function discardCommand(name: string, options: ApproveOptions, io: Io): ExitCode {
  const ctx = openContext(options.config, io, true);
  try {
    selectIntegrations(ctx.config, name);
    const held = ctx.store.getHeldPlan(name);
    if (!held?.approvedAt) {
      io.out(`[integration ${name}] no approval to discard`);
      return 0;
    }
    ctx.store.setApproval(name, null);
    audit(ctx.store, name, `approval of the mass deprovision of ${held.objects.length} users withdrawn`, { approved: false, deprovisions: held.objects.length });
    io.out(`[integration ${name}] approval discarded: the next cycle holds the deprovisions again`);
    return 0;
  } finally {
    ctx.store.close();
  }
}

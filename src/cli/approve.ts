import { approveHeldPlan, withdrawApproval } from '../engine/commands/approval.js';
import type { ExitCode } from '../errors.js';
import { commandConfig, selectIntegrations, type Io } from './context.js';

export interface ApproveOptions {
  config?: string;
}

/**
 * `scimsync approve NAME`: lets the next cycle apply the held mass deprovision
 * once, provided it deprovisions no one beyond what was held.
 */
export function approveCommand(name: string, options: ApproveOptions, io: Io): ExitCode {
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  selectIntegrations(config, name);
  const { held } = approveHeldPlan({ config, logger, integration: name });
  const n = held.objects.length;
  io.out(`[integration ${name}] approved: the next cycle deprovisions up to these ${n} users (held ${held.heldAt}: ${held.reason})`);
  const shown = held.objects.slice(0, 20);
  for (const o of shown) io.out(`  ${o.kind.padEnd(16)} ${o.sourceId}  ${o.userName}`);
  if (n > shown.length) io.out(`  ... and ${n - shown.length} more (scimsync status --json lists them all)`);
  return 0;
}

/** `scimsync discard NAME`: forgets an approval; the plan stays held. */
export function discardCommand(name: string, options: ApproveOptions, io: Io): ExitCode {
  const { config, logger } = commandConfig(options.config, io, { log: 'silent' });
  selectIntegrations(config, name);
  const withdrawal = withdrawApproval({ config, logger, integration: name });
  if (!withdrawal.withdrawn) io.out(`[integration ${name}] no approval to discard`);
  else io.out(`[integration ${name}] approval discarded: the next cycle holds the deprovisions again`);
  return 0;
}

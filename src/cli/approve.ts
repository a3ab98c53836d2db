import { approveHeldPlan, discardHeldPlan, parseWait } from '../engine/index.js';
import type { ExitCode } from '../errors.js';
import { openContext, selectIntegrations, type Io } from './context.js';

export interface ApproveOptions {
  config?: string;
  /** How long to wait for a cycle running the integration (`5m`); by default, exit 4 at once. */
  wait?: string;
}

/** Opens what an admin action needs, runs it under the integration's lease, and closes the state. */
async function adminAction<T>(name: string, options: ApproveOptions, io: Io, act: (action: Parameters<typeof approveHeldPlan>[0]) => Promise<T>): Promise<T> {
  const waitMs = parseWait(options.wait);
  const ctx = openContext(options.config, io, { log: 'silent' });
  try {
    selectIntegrations(ctx.config, name);
    return await act({ store: ctx.store, logger: ctx.logger, integration: name, actor: { via: 'cli' }, wait: { waitMs, waitText: options.wait, onWait: io.err } });
  } finally {
    ctx.store.close();
  }
}

/**
 * `scimsync approve NAME`: lets the next cycle apply the held mass deprovision
 * once, provided it deprovisions no one beyond what was held.
 */
export async function approveCommand(name: string, options: ApproveOptions, io: Io): Promise<ExitCode> {
  const { held } = await adminAction(name, options, io, approveHeldPlan);
  const n = held.objects.length;
  io.out(`[integration ${name}] approved: the next cycle deprovisions up to these ${n} users (held ${held.heldAt}: ${held.reason})`);
  const shown = held.objects.slice(0, 20);
  for (const o of shown) io.out(`  ${o.kind.padEnd(16)} ${o.sourceId}  ${o.userName}`);
  if (n > shown.length) io.out(`  ... and ${n - shown.length} more (scimsync status --json lists them all)`);
  return 0;
}

/** `scimsync discard NAME`: forgets the held plan and any approval of it; the next cycle holds again if it still would. */
export async function discardCommand(name: string, options: ApproveOptions, io: Io): Promise<ExitCode> {
  const { held, wasApproved } = await adminAction(name, options, io, discardHeldPlan);
  const n = held.objects.length;
  io.out(`[integration ${name}] held plan of ${n} deprovisions discarded${wasApproved ? ' (its approval withdrawn)' : ''}: the next cycle holds them again if the source still lacks these users`);
  return 0;
}

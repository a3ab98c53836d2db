import { configuredStatuses, quarantinedAt } from '../engine/index.js';
import type { IntegrationStatus } from '../engine/index.js';
import type { ExitCode } from '../errors.js';
import { escapeControl } from '../log.js';
import { loadConfig } from '../config/load.js';
import type { Io } from './context.js';
import { table } from './format.js';

export type { IntegrationStatus } from '../engine/index.js';

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

function print(s: IntegrationStatus, io: Io): void {
  const name = s.integration;
  io.out(`[integration ${name}]`);
  const c = s.lastCycle;
  if (c) {
    const took = c.endedAt ? `, took ${((Date.parse(c.endedAt) - Date.parse(c.startedAt)) / 1000).toFixed(1)}s` : '';
    io.out(`  last cycle: ${c.outcome ?? 'running or interrupted'}, started ${c.startedAt}${took}`);
    const counts = Object.entries(c.counts).filter(([, n]) => n > 0);
    if (counts.length) io.out(`    ${counts.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  } else {
    io.out('  last cycle: none yet');
  }
  io.out(`  next cycle (daemon): ${s.nextCycle}`);
  if (s.quarantine && quarantinedAt(s.quarantine, Date.now())) {
    io.out(`  QUARANTINED until ${s.quarantine.until}: ${escapeControl(s.quarantine.reason)} (sync --force, or new credentials, lifts it)`);
  } else {
    io.out('  quarantine: no');
  }
  const users = s.objects.user ?? {};
  const groups = s.objects.group ?? {};
  io.out(`  users in target: ${users.active ?? 0} active, ${users.inactive ?? 0} inactive; groups: ${groups.active ?? 0}`);
  if (s.inFlight.length > 0) io.out(`  in flight when last stopped: ${s.inFlight.length} operations (checked at the next cycle)`);
  if (s.held) {
    const h = s.held;
    const state = h.approvedAt ? `APPROVED ${h.approvedAt}, applied by the next cycle` : `HELD: approve with scimsync approve ${name}`;
    io.out(`  mass deprovision held ${h.heldAt}: ${h.objects.length} users (${escapeControl(h.reason)}); ${state}`);
    const shown = h.objects.slice(0, 10);
    for (const line of table(['OPERATION', 'SOURCE ID', 'USERNAME'], shown.map((o) => [o.kind, o.sourceId, o.userName]))) io.out(`    ${line}`);
    if (h.objects.length > shown.length) io.out(`    ... and ${h.objects.length - shown.length} more (--json lists them all)`);
  }
  io.out(`  escrow: ${s.escrow.length} operations${s.escrow.length ? '' : ' (none failing)'}`);
  if (s.escrow.length > 0) {
    const rows = s.escrow.map((e) => [e.kind, e.sourceId, e.givenUp ? `given up (${e.cycles})` : String(e.cycles), String(e.attempts), e.lastError]);
    for (const line of table(['OPERATION', 'SOURCE ID', 'CYCLES', 'ATTEMPTS', 'LAST ERROR'], rows)) io.out(`    ${line}`);
  }
}

/** `scimsync status`: per integration, the last cycle, quarantine, what is held in escrow. */
export function statusCommand(options: StatusOptions, io: Io): ExitCode {
  const { config } = loadConfig(options.config, io.env);
  for (const s of configuredStatuses(config)) {
    if (options.json) io.out(JSON.stringify(s));
    else print(s, io);
  }
  return 0;
}

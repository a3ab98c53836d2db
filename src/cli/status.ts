import type { ExitCode } from '../errors.js';
import type { CycleRecord, EscrowEntry, HeldPlan, InflightEntry, Quarantine } from '../../state/index.js';
import { nextRun } from '../daemon/daemon.js';
import { escapeControl } from '../log.js';
import { openContext, type Io } from './context.js';
import { table } from './format.js';

export interface StatusOptions {
  config?: string;
  json?: boolean;
}

export interface IntegrationStatus {
  integration: string;
  lastCycle: CycleRecord | null;
  quarantine: Quarantine | null;
  objects: Record<string, Record<string, number>>;
  escrow: EscrowEntry[];
  inFlight: InflightEntry[];
  /** A cycle held for deprovisioning too many users, and whether it is approved. */
  held: HeldPlan | null;
  /** When the daemon runs it next (ISO), from the schedule and any quarantine. */
  nextCycle: string;
}

/** `scimsync status`: per integration, the last cycle, quarantine, what is held in escrow. */
export function statusCommand(options: StatusOptions, io: Io): ExitCode {
  const ctx = openContext(options.config, io, true);
  try {
    for (const integration of ctx.config.integrations) {
      const name = integration.name;
      const s: IntegrationStatus = {
        integration: name,
        lastCycle: ctx.store.lastCycle(name) ?? null,
        quarantine: ctx.store.getQuarantine(name) ?? null,
        objects: ctx.store.objectCounts(name),
        escrow: ctx.store.loadEscrow(name),
        inFlight: ctx.store.loadInflight(name),
        held: ctx.store.getHeldPlan(name) ?? null,
        nextCycle: '',
      };
      const q = s.quarantine ? Date.parse(s.quarantine.until) : 0;
      const next = s.lastCycle ? nextRun(integration.schedule, new Date(s.lastCycle.startedAt)) : Date.now();
      s.nextCycle = new Date(Math.max(next, q, Date.now())).toISOString();
      if (options.json) {
        io.out(JSON.stringify(s));
        continue;
      }
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
      if (s.quarantine && Date.parse(s.quarantine.until) > Date.now()) {
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
  } finally {
    ctx.store.close();
  }
  return 0;
}

import { randomUUID } from 'node:crypto';
import { EventSink } from '../events/sink.js';
import { SafetyAbortError } from '../errors.js';
import { closeCycle, type CycleEnding } from './cycle/close.js';
import { approvedEvent } from './cycle/findings.js';
import { deliver } from './cycle/deliver.js';
import { openCycle, type OpenCycle } from './cycle/open.js';
import type { CycleOptions, PreviewOptions } from './cycle/options.js';
import { prepareCycle, type PreparedCycle } from './cycle/prepare.js';
import type { CycleReport } from './report.js';
import { targetSchema } from './target-schema.js';

export type { CycleCounts, CycleReport, MassDeprovision } from './report.js';
export type { CycleNotifier, CycleOptions, PreviewOptions } from './cycle/options.js';
export { prepareCycle, type CycleHalt, type PreparedCycle, type PreparedPlan } from './cycle/prepare.js';
export { clientFor } from './clients.js';

/**
 * One cycle of one integration (DESIGN.md, "The pipeline"): open, prepare (read, guard,
 * plan: writes nothing), record what the plan found, deliver, close.
 */
export async function runCycle(options: CycleOptions): Promise<CycleReport> {
  const run = openCycle(options);
  let ending: CycleEnding;
  try {
    ending = run.quarantined ? { kind: 'quarantined', quarantine: run.quarantined } : await prepareAndDeliver(run);
  } catch (error) {
    ending = { kind: 'failed', error };
  }
  return closeCycle(run, ending);
}

async function prepareAndDeliver(run: OpenCycle): Promise<CycleEnding> {
  const { options } = run;
  const { integration, store, logger } = options;
  const prepared = await prepareCycle({
    ...options,
    // A cycle reads the target's schema when the kept one is old, and keeps it.
    schema: () => targetSchema({ integration, logger, store, client: options.client, cache: 'keep', signal: options.signal, now: run.now }),
    escrow: store.loadEscrow(integration.name),
  });
  record(run, prepared);
  if (prepared.kind === 'halt') return { kind: 'halted', halt: prepared };
  return { kind: 'delivered', plan: prepared, delivered: await deliver(run, prepared) };
}

/** What the plan found is kept: its events, its counts, an approval applied, and a held plan for `scimsync approve`. */
function record(run: OpenCycle, prepared: PreparedCycle): void {
  Object.assign(run.counts, prepared.counts);
  for (const e of prepared.events) run.sink.emit(e);
  // Only a cycle applies an approval; a preview shows it.
  if (prepared.kind === 'plan' && prepared.hold?.approved) run.sink.emit(approvedEvent(prepared.hold));
  if (prepared.kind === 'halt' && prepared.reason === 'held' && prepared.heldPlan) run.options.store.holdPlan(run.options.integration.name, prepared.heldPlan);
}

/**
 * What the next cycle would send, as `plan`, `sync --dry-run` and the console's plan show it:
 * prepared and nothing more. Nothing is sent and nothing written; what the plan found is logged.
 */
export async function previewCycle(options: PreviewOptions): Promise<CycleReport> {
  const { integration, store, logger } = options;
  const started = Date.now();
  const cycleId = randomUUID();
  const prepared = await prepareCycle({
    ...options,
    schema: () => targetSchema({ integration, logger, store, client: options.client, cache: 'kept-only' }),
    // The plan shows what is given up too: escrow is the delivery's.
    escrow: [],
  });
  const sink = new EventSink({ integration: integration.name, cycleId, logger });
  for (const e of prepared.events) sink.emit(e);
  if (prepared.kind === 'halt' && prepared.reason === 'source-unreadable') throw prepared.error;
  if (prepared.kind === 'halt' && prepared.reason === 'source-shrank') throw new SafetyAbortError(integration.name, prepared.message);
  const report: CycleReport = {
    cycleId,
    integration: integration.name,
    outcome: 'dry-run',
    counts: prepared.counts,
    operations: prepared.operations,
    durationMs: Date.now() - started,
    exitCode: prepared.kind === 'halt' ? prepared.exitCode : 0,
  };
  if (prepared.kind === 'halt') return { ...report, hold: prepared.hold };
  return { ...report, ...(prepared.hold ? { hold: prepared.hold } : {}), ...(prepared.unwritable.length > 0 ? { unwritable: prepared.unwritable } : {}) };
}

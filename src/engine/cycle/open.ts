import { randomUUID } from 'node:crypto';
import type { InflightEntry, Quarantine } from '../../../state/index.js';
import { emptyCounts, type CycleCounts } from '../../delivery/counts.js';
import { EventSink } from '../../events/sink.js';
import { recordIntegrationChange } from '../integration-hashes.js';
import type { CycleOptions } from './options.js';

/** A cycle that writes, once opened: its id, its events, its counts, and what the open found. */
export interface OpenCycle {
  options: CycleOptions;
  cycleId: string;
  started: number;
  sink: EventSink;
  counts: CycleCounts;
  now: () => Date;
  /** Operations a previous cycle left in flight. */
  interrupted: InflightEntry[];
  /** Why the open lifted a quarantine, when it did. */
  lifted?: 'credentials changed' | 'sync --force' | undefined;
  /** A quarantine still running: the cycle stops here. */
  quarantined?: Quarantine | undefined;
}

/**
 * The start of a cycle that writes: what changed in the integration, its quarantine
 * (lifted by new credentials or --force, else the cycle stops), and the operations a
 * previous cycle left in flight.
 */
export function openCycle(options: CycleOptions): OpenCycle {
  const { integration, store, logger } = options;
  const name = integration.name;
  const cycleId = randomUUID();
  const run: OpenCycle = {
    options,
    cycleId,
    started: Date.now(),
    sink: new EventSink({ integration: name, cycleId, logger, store, onEvent: options.onEvent }),
    counts: emptyCounts(),
    now: options.now ?? (() => new Date()),
    interrupted: [],
  };
  store.startCycle(cycleId, name, false);
  const reauth = recordIntegrationChange(integration, store, run.sink);
  const quarantine = store.getQuarantine(name);
  if (quarantine && (reauth || options.force)) {
    // New credentials start the back-off afresh; a forced run that fails again backs off further.
    store.setQuarantine(name, undefined, { keepLevel: !reauth });
    run.lifted = reauth ? 'credentials changed' : 'sync --force';
    run.sink.emit({ type: 'idm_integration_update', result: 'success', summary: `quarantine lifted (${run.lifted})`, detail: { quarantine: { lifted: true, was: quarantine } } });
  } else if (quarantine && Date.parse(quarantine.until) > run.now().getTime()) {
    run.quarantined = quarantine;
    return run;
  }
  run.interrupted = store.takeInterrupted(name, cycleId);
  if (run.interrupted.length > 0) {
    logger.warn(`the previous cycle was interrupted with ${run.interrupted.length} operations in flight; they are checked against the target before anything is sent again`, { integration: name });
  }
  // The writer thread of the delivery boots while the source is read and the plan made.
  store.prepareBackgroundWrites();
  return run;
}

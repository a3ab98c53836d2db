import type { Operation } from '../core/operations.js';
import type { UnwritableValue } from '../core/target-schema.js';
import type { CycleCounts } from '../delivery/counts.js';
import type { ExitCode } from '../errors.js';

export type { CycleCounts } from '../delivery/counts.js';

/** What one cycle of one integration did, for the CLI's summary, the daemon's metrics and the console. */
export interface CycleReport {
  cycleId: string;
  integration: string;
  outcome: 'success' | 'partial' | 'aborted' | 'failed' | 'interrupted' | 'dry-run';
  counts: CycleCounts;
  operations: Operation[];
  durationMs: number;
  /** Of durationMs, the delivery: from the first request to the last result committed. */
  deliveryMs?: number;
  exitCode: ExitCode;
  /** Why the cycle stopped early, when it did. */
  error?: string;
  /** A mass deprovision held for approval (or approved and applied). */
  hold?: MassDeprovision;
  /** Values the plan left out because the target's schema forbids writing them (a dry run's). */
  unwritable?: UnwritableValue[];
}

export interface MassDeprovision {
  deprovisions: number;
  reason: string;
  message: string;
  /** An admin approved it (scimsync approve) and this cycle applies it. */
  approved: boolean;
}

import type { Config, IntegrationConfig } from '../../config/schema.js';
import type { ExitCode } from '../../errors.js';
import { recordAdminAction } from '../../events/sink.js';
import type { Logger } from '../../log.js';
import type { StateStore } from '../../../state/index.js';
import { leaseOwner } from '../lease.js';
import { compare, correctState, gatherReconcileInput, type Reconciliation } from '../reconcile.js';
import type { CycleReport } from '../report.js';
import { openState } from '../state-access.js';
import { withIntegrationLease, type LeasedRun } from './integration-run.js';
import type { LeaseWait } from './lease-wait.js';

export type { DriftItem, GroupDrift, Reconciliation, StrayMember } from '../reconcile.js';
export type { CycleReport } from '../report.js';
export type { LeaseWait } from './lease-wait.js';
export { reconcileFindings } from '../queries/reconcile-findings.js';

/** What a reconcile run has done so far, told as it goes (the report first, so that it is seen even if the apply fails). */
export type ReconcileStep =
  | { step: 'report'; report: Reconciliation }
  /** State brought in line with the target (`--apply`, `--adopt`). */
  | { step: 'state-corrected'; integration: string; corrected: number; adopted: number }
  /** The cycle that restored the source's values (`--apply`). */
  | { step: 'applied'; integration: string; cycle: CycleReport };

export interface ReconcileRunOptions extends LeaseWait {
  config: Config;
  logger: Logger;
  integrations: readonly IntegrationConfig[];
  /** Restore the source's values in the target through a cycle (drift, vanished accounts, memberships). */
  apply?: boolean | undefined;
  /** Link unmanaged accounts that match a source user. */
  adopt?: boolean | undefined;
  onStep: (step: ReconcileStep) => void;
}


async function reconcileOne(options: ReconcileRunOptions, integration: IntegrationConfig, store: StateStore, run: LeasedRun | undefined): Promise<ExitCode> {
  const { logger } = options;
  const name = integration.name;
  const input = await gatherReconcileInput(integration, store, logger);
  const report = compare(input);
  options.onStep({ step: 'report', report });
  if (!options.apply && !options.adopt) return 0;
  const { corrected, adopted } = correctState(store, report, input, options.adopt ? 'adopt' : 'record');
  if (corrected + adopted > 0) {
    recordAdminAction(
      { integration: name, logger, store },
      {
        type: 'idm_integration_update',
        result: 'success',
        summary: `reconcile: ${corrected} objects found changed in the target, ${adopted} existing accounts adopted`,
        detail: {
          reconcile: { drift: report.drift.length, vanished: report.vanished.length, groupDrift: report.groupDrift.length, vanishedGroups: report.vanishedGroups.length, adopted },
        },
      },
    );
  }
  options.onStep({ step: 'state-corrected', integration: name, corrected, adopted });
  if (!options.apply || !run) return 0;
  const cycle = await run.cycle({ strays: report.strayMembers });
  options.onStep({ step: 'applied', integration: name, cycle });
  return cycle.exitCode;
}

/**
 * Reads the whole target of each integration and compares it with state and source:
 * drift, vanished and unmanaged accounts, membership drift. `apply` fixes them through a
 * cycle, `adopt` links unmanaged accounts that match source users; both hold the
 * integration's lease from the read of the target to the end. Returns the worst exit code.
 */
export async function reconcileIntegrations(options: ReconcileRunOptions): Promise<ExitCode> {
  const writes = options.apply || options.adopt;
  const owner = leaseOwner();
  const store = openState(options.config);
  let exit: ExitCode = 0;
  try {
    for (const integration of options.integrations) {
      // A read-only report takes no lease.
      const code = writes
        ? await withIntegrationLease({ integration, store, logger: options.logger, owner, wait: options }, (run) => reconcileOne(options, integration, store, run))
        : await reconcileOne(options, integration, store, undefined);
      exit = Math.max(exit, code) as ExitCode;
    }
  } finally {
    store.close();
  }
  return exit;
}

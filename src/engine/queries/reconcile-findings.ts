import type { Reconciliation } from '../reconcile.js';

/** Drift, vanished accounts, membership drift, vanished groups and the member values it takes out: what `--apply` restores. */
export function reconcileFindings(r: Reconciliation): number {
  return r.drift.length + r.vanished.length + r.groupDrift.length + r.vanishedGroups.length + r.strayMembers.filter((s) => s.onApply === 'remove').length;
}

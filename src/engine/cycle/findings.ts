/** What a cycle finds before it sends anything, as the events it records (or a preview logs). */
import { isGroupRow, type DesiredState } from '../../core/desired.js';
import type { SnapshotProblem, StateUser } from '../../core/records.js';
import type { EventInput } from '../../events/sink.js';
import type { MassDeprovision } from '../report.js';

export { unwritableEvents } from '../unwritable.js';

/** A source row that could not be read: skipped, naming where and why. */
export function badRowEvents(problems: readonly SnapshotProblem[]): EventInput[] {
  return problems.map((p) => ({
    type: isGroupRow(p.location) ? 'group_create_provision' : 'user_create_provision',
    result: 'skipped',
    sourceId: p.sourceId ?? null,
    summary: `source row skipped: ${p.location}: ${p.message}`,
    detail: { location: p.location, reason: p.message },
  }));
}

/** A user the mapping made unsendable: a failure, on the account if it is linked. */
export function invalidUserEvents(invalid: DesiredState['invalid'], stateOf: (sourceId: string) => StateUser | undefined): EventInput[] {
  return [...invalid].map(([sourceId, problems]) => {
    const known = stateOf(sourceId);
    const linked = known && known.targetId !== null && known.status !== 'deleted' ? known : undefined;
    return {
      type: linked ? 'user_update_provision' : 'user_create_provision',
      result: 'failure',
      sourceId,
      targetId: linked?.targetId ?? null,
      summary: `${sourceId} not sent: ${problems.map((p) => p.message).join('; ')}`,
      detail: { problems },
    };
  });
}

/** A group member that is neither a user nor a group: skipped. */
export function scopeProblemEvents(problems: readonly SnapshotProblem[]): EventInput[] {
  return problems.map((p) => ({ type: 'group_create_provision', result: 'skipped', summary: `${p.location}: ${p.message}`, detail: { location: p.location, reason: p.message } }));
}

/** An approved mass deprovision that this cycle applies. */
export function approvedEvent(hold: MassDeprovision): EventInput {
  return { type: 'user_deprovision', result: 'success', summary: `approved mass deprovision applied: ${hold.message}`, detail: { deprovisions: hold.deprovisions, approved: true } };
}

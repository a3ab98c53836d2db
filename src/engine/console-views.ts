import type { ScimAttrs } from '../core/attributes.js';
import type { Operation } from '../core/operations.js';
import { valueText } from './queries/describe.js';
import type { AttributeChange, CyclePoint, CycleProgress, CycleSummary, IntegrationState, PreviewOperation } from './console-api.js';


const sample = (ids: readonly string[]) => `${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`;

/** One operation as the plan preview shows it: what it changes, old → new. */
export function previewOf(op: Operation, pushed: ScimAttrs): PreviewOperation {
  const changes = (set: ScimAttrs, remove: readonly string[]): AttributeChange[] => [
    ...Object.entries(set).map(([path, v]) => ({ path, old: valueText(pushed[path]), new: valueText(v) })),
    ...remove.map((path) => ({ path, old: valueText(pushed[path]), new: null })),
  ];
  const userName = String(pushed.userName ?? '');
  const why = (reason: 'inactive' | 'removed') => (reason === 'removed' ? 'removed from the source (or out of scope)' : 'inactive in the source');
  switch (op.kind) {
    case 'user.create':
      return { kind: op.kind, sourceId: op.sourceId, label: String(op.attrs.userName ?? ''), changes: changes(op.attrs, []), note: '' };
    case 'user.update':
      return { kind: op.kind, sourceId: op.sourceId, label: String(op.changes.set.userName ?? userName), changes: changes(op.changes.set, op.changes.remove), note: '' };
    case 'user.reactivate':
      return { kind: op.kind, sourceId: op.sourceId, label: userName, changes: [{ path: 'active', old: 'false', new: 'true' }, ...changes(op.changes.set, op.changes.remove)], note: '' };
    case 'user.deactivate':
      return { kind: op.kind, sourceId: op.sourceId, label: userName, changes: [{ path: 'active', old: 'true', new: 'false' }, ...changes(op.changes.set, op.changes.remove)], note: why(op.reason) };
    case 'user.delete':
      return { kind: op.kind, sourceId: op.sourceId, label: userName, changes: [], note: why(op.reason) };
    case 'group.create':
      return { kind: op.kind, sourceId: op.sourceId, label: op.displayName, changes: [], note: `${op.members.length} members` };
    case 'group.update':
    case 'group.members.add':
    case 'group.members.remove': {
      const parts = [op.add.length ? `+${op.add.length} members (${sample(op.add)})` : '', op.remove.length ? `-${op.remove.length} members (${sample(op.remove)})` : ''];
      return { kind: op.kind, sourceId: op.sourceId, label: op.displayName, changes: op.rename !== undefined ? [{ path: 'displayName', old: op.displayName, new: op.rename }] : [], note: parts.filter(Boolean).join(', ') };
    }
    case 'group.delete':
      return { kind: op.kind, sourceId: op.sourceId, label: op.displayName, changes: [], note: '' };
  }
}

/** A cycle as the state records it. */
export interface CycleFacts {
  id: string;
  startedAt: string;
  endedAt: string | null;
  outcome: string | null;
  counts: Record<string, unknown>;
}

export function summaryOf(c: CycleFacts): CycleSummary {
  const counts: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.counts)) if (typeof v === 'number') counts[k] = v;
  return { id: c.id, startedAt: c.startedAt, endedAt: c.endedAt, outcome: c.outcome, durationMs: c.endedAt ? Date.parse(c.endedAt) - Date.parse(c.startedAt) : null, counts };
}

/** One cycle of the history chart, from the counts the cycle recorded. */
export function cyclePointOf(c: CycleFacts): CyclePoint {
  const n = (k: string) => (typeof c.counts[k] === 'number' ? (c.counts[k] as number) : 0);
  return {
    id: c.id,
    startedAt: c.startedAt,
    outcome: c.outcome,
    durationMs: summaryOf(c).durationMs,
    operations: {
      created: n('created') + n('adopted'),
      updated: n('updated'),
      deactivated: n('deactivated'),
      reactivated: n('reactivated'),
      deleted: n('deleted'),
      groups: n('groupsCreated') + n('groupsAdopted') + n('groupsUpdated') + n('groupsDeleted'),
      memberships: n('membersAdded') + n('membersRemoved'),
    },
    failures: n('failed'),
    // The 429 answers the cycle waited out (CycleCounts.rateLimitWaits); 0 for a cycle that recorded none.
    rateLimitWaits: n('rateLimitWaits'),
  };
}

/** What an integration's state is made of. */
export interface StateFacts {
  progress: CycleProgress | null;
  quarantine: { until: string; reason: string; level: number } | undefined;
  held: { objects: readonly unknown[]; reason: string; heldAt: string; approvedAt: string | null } | undefined;
  last: CycleFacts | undefined;
  escrow: { size: number; givenUp: number };
  now: number;
  /** Why the last cycle did not end well (its last event that did not succeed); asked only when needed. */
  lastProblem: () => string | undefined;
}

/** The most urgent of an integration's states: running, quarantined, held, failing, healthy. */
export function stateOf(f: StateFacts): IntegrationState {
  if (f.progress) return { kind: 'running', progress: f.progress };
  const q = f.quarantine;
  if (q && Date.parse(q.until) > f.now) return { kind: 'quarantined', reason: q.reason, until: q.until, msLeft: Date.parse(q.until) - f.now, level: q.level };
  if (f.held) return { kind: 'held', deprovisions: f.held.objects.length, reason: f.held.reason, heldAt: f.held.heldAt, approvedAt: f.held.approvedAt };
  if (!f.last) return { kind: 'new' };
  if (f.last.outcome === 'success' && f.escrow.givenUp === 0) return { kind: 'healthy' };
  if (f.last.outcome === 'success') return { kind: 'failing', reason: `${f.escrow.givenUp} operations given up after escrow.maxCycles` };
  const why = f.lastProblem() ?? `the last cycle ended ${f.last.outcome ?? 'unfinished'}`;
  return { kind: 'failing', reason: f.last.outcome === 'partial' && f.escrow.size > 0 ? `${f.escrow.size} operations failing (kept for retry): ${why}` : why };
}

/** Operations grouped by kind, in plan order. */
export function byKind(ops: readonly PreviewOperation[]): { kind: string; count: number; operations: PreviewOperation[] }[] {
  const groups = new Map<string, PreviewOperation[]>();
  for (const op of ops) {
    const list = groups.get(op.kind);
    if (list) list.push(op);
    else groups.set(op.kind, [op]);
  }
  return [...groups].map(([kind, operations]) => ({ kind, count: operations.length, operations }));
}

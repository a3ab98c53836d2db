import type { PreviewOperation, ProvisionStep, UserView } from './console-api.js';

/** What a Provision now knew and did, in the console's terms, for the steps it shows. */
export interface ProvisionFacts {
  sourceId: string;
  /** The user as read before the run: source attributes, scope, mapping problems. */
  view: UserView;
  /** The state record before and after the run. */
  before: { targetId: string | null; status: string } | undefined;
  after: { targetId: string | null; status: string } | undefined;
  /** This user's operations, as the plan preview shows them. */
  operations: PreviewOperation[];
  /** The events the run wrote. */
  events: readonly { type: string; result: string; summary: string; sourceId?: string | null; targetId?: string | null; detail?: Record<string, unknown> }[];
  /** Why the run stopped before sending (a safety hold, a quarantine). */
  failure: string | undefined;
  deprovision: 'deactivate' | 'delete' | 'none';
}

const linked = (r: ProvisionFacts['before']) => r !== undefined && r.targetId !== null && r.status !== 'deleted';

const changeLines = (op: PreviewOperation) => op.changes.map((c) => `${c.path}: ${c.old ?? '(none)'} → ${c.new ?? '(cleared)'}`);

/**
 * The steps of a Provision now, in the order Entra's on-demand view shows
 * them: found in the source, in scope, matched or created, attributes changed
 * (or deprovisioned), groups, and the result of each request.
 */
export function provisionSteps(f: ProvisionFacts): ProvisionStep[] {
  const steps: ProvisionStep[] = [];
  const own = f.events.filter((e) => e.sourceId === f.sourceId);
  const failedOf = (type: string) => own.find((e) => e.type === type && e.result === 'failure');
  const { view } = f;

  if (view.sourceError) return [{ step: 'source', status: 'failed', title: 'The source could not be read', lines: [view.sourceError] }];
  if (view.source) {
    const name = view.source.userName ?? view.source.email;
    steps.push({ step: 'source', status: 'ok', title: 'Found in the source', lines: [`${name === undefined ? 'id' : 'userName'}: ${String(name ?? f.sourceId)}`, `active: ${String(view.source.active)}`] });
    steps.push(
      view.inScope
        ? { step: 'scope', status: 'ok', title: 'In scope', lines: [] }
        : { step: 'scope', status: 'no', title: 'Out of scope (scope.groups or scope.filters)', lines: ['A user out of scope is deprovisioned unless scope.skipOutOfScopeDeletions is set.'] },
    );
    if (view.problems.length) steps.push({ step: 'scope', status: 'failed', title: 'Not sendable: the mapping or the profile refuses it', lines: view.problems });
  } else {
    steps.push({
      step: 'source',
      status: 'no',
      title: 'Not in the source',
      lines: [linked(f.before) ? `It was provisioned as ${f.before?.targetId ?? ''}: deprovision.action is ${f.deprovision}.` : 'scimsync has never provisioned it.'],
    });
  }

  const create = f.operations.find((o) => o.kind === 'user.create');
  if (linked(f.before)) {
    steps.push({ step: 'match', status: 'ok', title: `Matched: linked to the target account ${f.before?.targetId ?? ''}`, lines: [`status in the target: ${f.before?.status ?? ''}`] });
  } else if (create) {
    const event = own.find((e) => e.type === 'user_create_provision');
    if (!event || event.result !== 'success') {
      steps.push({ step: 'match', status: 'failed', title: 'Neither matched nor created', lines: event ? [event.summary] : [f.failure ?? 'the request was not sent'] });
    } else if (event.detail?.adopted === true || event.detail?.recovered === true) {
      steps.push({ step: 'match', status: 'ok', title: `Matched an existing account and linked it: ${f.after?.targetId ?? event.targetId ?? ''}`, lines: [event.summary] });
    } else {
      steps.push({ step: 'match', status: 'ok', title: `Created in the target: ${f.after?.targetId ?? event.targetId ?? ''}`, lines: [event.summary] });
    }
  } else if (view.source && view.inScope && !view.problems.length) {
    steps.push({ step: 'match', status: 'info', title: 'Not linked to any account yet', lines: [] });
  }

  const updates = f.operations.filter((o) => o.kind === 'user.update' || o.kind === 'user.reactivate');
  if (create) {
    steps.push({ step: 'attributes', status: failedOf('user_create_provision') ? 'failed' : 'ok', title: `${create.changes.length} attributes sent`, lines: changeLines(create) });
  } else if (updates.length) {
    const failed = failedOf('user_update_provision');
    steps.push({ step: 'attributes', status: failed ? 'failed' : 'ok', title: failed ? 'Attributes not changed' : 'Attributes changed', lines: [...updates.flatMap(changeLines), ...(failed ? [failed.summary] : [])] });
  } else if (linked(f.before) && view.source && view.inScope) {
    steps.push({ step: 'attributes', status: 'info', title: 'No attribute changed: the target holds the source values', lines: [] });
  }

  for (const op of f.operations.filter((o) => o.kind === 'user.deactivate' || o.kind === 'user.delete')) {
    const type = op.kind === 'user.delete' ? 'user_delete_provision' : 'user_deprovision';
    const failed = failedOf(type);
    const verb = op.kind === 'user.delete' ? 'Deleted' : 'Deactivated';
    steps.push({ step: 'deprovision', status: failed ? 'failed' : 'ok', title: failed ? `Not ${verb.toLowerCase()}` : `${verb}: ${op.note}`, lines: [...changeLines(op), ...(failed ? [failed.summary] : [])] });
  }

  const groupOps = f.operations.filter((o) => o.kind.startsWith('group.'));
  if (groupOps.length) {
    const failed = own.find((e) => e.type.startsWith('group_') && e.result === 'failure');
    steps.push({ step: 'groups', status: failed ? 'failed' : 'ok', title: 'Group memberships', lines: groupOps.map((o) => `${o.label}: ${o.kind.replace('group.', '')} ${o.note}`.trim()) });
  }

  const failures = f.events.filter((e) => e.result === 'failure');
  if (f.failure) steps.push({ step: 'result', status: 'failed', title: 'Stopped before sending', lines: [f.failure] });
  else if (failures.length) steps.push({ step: 'result', status: 'failed', title: `${failures.length} ${failures.length === 1 ? 'operation' : 'operations'} failed (kept for retry)`, lines: failures.map((e) => e.summary) });
  else if (f.operations.length === 0) steps.push({ step: 'result', status: 'info', title: 'Nothing to send: the target is up to date', lines: [] });
  else steps.push({ step: 'result', status: 'ok', title: `Done: ${f.operations.length} ${f.operations.length === 1 ? 'operation' : 'operations'} sent`, lines: own.map((e) => `${e.type} ${e.result}: ${e.summary}`) });
  return steps;
}

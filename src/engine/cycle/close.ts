import type { CycleOutcome, Quarantine } from '../../../state/index.js';
import type { Operation } from '../../core/operations.js';
import { QUARANTINE_MIN_FAILURES, quarantineUntil } from '../../core/safety.js';
import { cycleFailed, givenUp, held, quarantineEntered, quarantineLifted, sourceShrank, type Notification, type NotifyOn } from '../../events/notify/rules.js';
import { SafetyAbortError, SourceError, TargetUnavailableError, errorMessage, type ExitCode } from '../../errors.js';
import type { CycleReport } from '../report.js';
import type { Delivered } from './deliver.js';
import type { OpenCycle } from './open.js';
import type { CycleHalt, PreparedPlan } from './prepare.js';

/** How a cycle that writes came to its end. */
export type CycleEnding =
  | { kind: 'quarantined'; quarantine: Quarantine }
  | { kind: 'halted'; halt: CycleHalt }
  | { kind: 'delivered'; plan: PreparedPlan; delivered: Delivered }
  | { kind: 'failed'; error: unknown };

/** A quarantine the close began or lifted. */
type QuarantineChange = { kind: 'entered'; until: string; reason: string } | { kind: 'lifted' } | undefined;

/** What the notifier is told: news, or a condition that ended. */
type Notice = { notify: Notification } | { clear: Exclude<NotifyOn, 'quarantine'> };

/**
 * The end of a cycle that writes: the quarantine decided, the cycle's record finished,
 * the notifications sent; the report returned, or the reason it stopped thrown.
 */
export function closeCycle(run: OpenCycle, ending: CycleEnding): CycleReport {
  const { store, integration } = run.options;
  const name = integration.name;
  const quarantine = ending.kind === 'delivered' ? decideQuarantine(run, ending.delivered) : undefined;
  const report = reportOf(run, ending);
  if (ending.kind === 'halted' && ending.halt.reason === 'source-unreadable') {
    // Said where it happened: /healthz names the source, not the target, as the reason.
    const err = ending.halt.error;
    run.sink.emit({ type: 'idm_integration_update', result: 'failure', summary: `the source could not be read: ${err instanceof SourceError ? err.reason : errorMessage(err)}; nothing was sent`, detail: { source: 'unreadable' } });
  }
  if (ending.kind === 'quarantined') run.options.logger.warn(report.error ?? '', { integration: name });
  if (ending.kind === 'delivered' && !ending.delivered.fatal) {
    store.setLastSourceUsers(name, ending.plan.sourceUsers);
    // An approval is good for one cycle; a plan that no longer holds drops the held one.
    store.clearHeldPlan(name);
  }
  if (ending.kind !== 'failed') store.finishCycle(run.cycleId, report.outcome, { ...run.counts });
  const thrown = thrownBy(ending, report);
  for (const n of noticesOf(run, ending, quarantine, thrown)) {
    if ('notify' in n) run.options.notifier?.notify(n.notify);
    else run.options.notifier?.clear(name, n.clear);
  }
  if (thrown !== undefined) throw thrown;
  return report;
}

/** What a cycle that did not complete throws: the safety rule that stopped it, or its error. */
function thrownBy(ending: CycleEnding, report: CycleReport): unknown {
  if (ending.kind === 'failed') return ending.error;
  if (ending.kind === 'halted' && ending.halt.reason === 'source-unreadable') return ending.halt.error;
  if (report.outcome === 'aborted') return new SafetyAbortError(report.integration, report.error ?? '');
  if (report.outcome === 'failed') return new TargetUnavailableError(report.integration, report.error ?? '');
  return undefined;
}

/** Quarantine: a target that refuses us, or fails every request, is left alone for a while. */
function decideQuarantine(run: OpenCycle, delivered: Delivered): QuarantineChange {
  const { store, integration } = run.options;
  const name = integration.name;
  const everythingFailed = run.counts.failed >= QUARANTINE_MIN_FAILURES && delivered.succeeded === 0;
  if (delivered.fatal || everythingFailed) {
    const reason = delivered.fatal ?? `all ${run.counts.failed} operations failed`;
    const level = store.quarantineLevel(name) + 1;
    const until = quarantineUntil(level, run.now());
    store.setQuarantine(name, { until, level, reason });
    run.sink.emit({ type: 'idm_integration_update', result: 'failure', summary: `integration quarantined until ${until}: ${reason}`, detail: { quarantine: { until, level, reason } } });
    return { kind: 'entered', until, reason };
  }
  if (delivered.succeeded > 0 && store.quarantineLevel(name) > 0) {
    store.setQuarantine(name, undefined);
    return { kind: 'lifted' };
  }
  return undefined;
}

/** A cycle that writes ends in one of the state's outcomes, never a dry run's. */
type ClosedReport = CycleReport & { outcome: Exclude<CycleReport['outcome'], 'dry-run'> & CycleOutcome };

function reportOf(run: OpenCycle, ending: CycleEnding): ClosedReport {
  const base = (outcome: ClosedReport['outcome'], exitCode: ExitCode, operations: Operation[], error?: string): ClosedReport => ({
    cycleId: run.cycleId,
    integration: run.options.integration.name,
    outcome,
    counts: run.counts,
    operations,
    durationMs: Date.now() - run.started,
    ...(ending.kind === 'delivered' ? { deliveryMs: ending.delivered.deliveryMs } : {}),
    exitCode,
    ...(error ? { error } : {}),
  });
  if (ending.kind === 'quarantined') return base('aborted', 3, [], `quarantined until ${ending.quarantine.until} (${ending.quarantine.reason}); run scimsync sync --force to try now`);
  if (ending.kind === 'failed') return base('failed', 1, [], errorMessage(ending.error));
  if (ending.kind === 'halted') return ending.halt.reason === 'source-unreadable' ? base('failed', 2, []) : base('aborted', 3, ending.halt.operations, ending.halt.message);
  const { counts } = run;
  const { operations } = ending.plan;
  if (ending.delivered.fatal) {
    // Nothing is lost: what failed or was not sent is planned again by the next cycle.
    return base('failed', 1, operations, `${ending.delivered.fatal}; ${counts.failed} operations failed and ${counts.notStarted} were not sent, left for the next cycle`);
  }
  if (run.options.signal?.aborted) return base('interrupted', 1, operations, 'stopped by a signal');
  const partial = counts.failed > 0 || counts.held > 0 || counts.invalid > 0;
  return base(partial ? 'partial' : 'success', partial ? 1 : 0, operations);
}

/** The notifications of a cycle, all derived here from how it ended. */
function noticesOf(run: OpenCycle, ending: CycleEnding, quarantine: QuarantineChange, thrown: unknown): Notice[] {
  const integration = run.options.integration.name;
  const out: Notice[] = [];
  if (run.lifted) out.push({ notify: quarantineLifted({ integration, reason: run.lifted }) });
  if (ending.kind === 'quarantined') {
    // Told once when it began; the notifier's memory makes this a no-op unless that message failed.
    out.push({ notify: quarantineEntered({ integration, until: ending.quarantine.until, reason: ending.quarantine.reason }) });
  }
  if (ending.kind === 'halted' && ending.halt.reason === 'source-shrank') out.push({ notify: sourceShrank({ integration, ...ending.halt.shrank }) });
  if (ending.kind === 'halted' && ending.halt.reason === 'held') {
    out.push({ clear: 'sourceShrank' }, { notify: held({ integration, deprovisions: ending.halt.hold.deprovisions, reason: ending.halt.hold.reason }) });
  }
  if (ending.kind === 'delivered') {
    out.push({ clear: 'sourceShrank' });
    if (ending.plan.hold?.approved) out.push({ clear: 'held' });
    if (quarantine?.kind === 'entered') out.push({ notify: quarantineEntered({ integration, until: quarantine.until, reason: quarantine.reason }) });
    if (quarantine?.kind === 'lifted') out.push({ notify: quarantineLifted({ integration, reason: 'a request succeeded' }) });
    const lost = ending.delivered.givenUp;
    out.push(lost.length > 0 ? { notify: givenUp({ integration, operations: lost.length, reason: lost[0]! }) } : { clear: 'givenUp' });
  }
  // A cycle that stops on an error other than a safety rule is told once; one that completes ends that condition.
  if (thrown === undefined) out.push({ clear: 'cycleFailed' });
  else if (!(thrown instanceof SafetyAbortError)) out.push({ notify: cycleFailed({ integration, error: errorMessage(thrown) }) });
  return out;
}

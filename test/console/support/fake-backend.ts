import {
  ConsoleActionError,
  type ActionResult,
  type ConsoleBackend,
  type CycleProgress,
  type EventItem,
  type EventsQuery,
  type IntegrationAction,
  type IntegrationOverview,
  type ProvisionResult,
} from '../../../src/engine/console-api.js';

/** What the fake backend was asked to do, in order. */
export interface RecordedAction {
  action: string;
  integration: string;
  actor: string;
}

/**
 * An in-memory backend for the console's HTTP tests: one integration `app`,
 * a held plan, events, and progress that the test moves.
 */
export class FakeBackend implements ConsoleBackend {
  readonly actions: RecordedAction[] = [];
  progressNow: CycleProgress | null = null;
  heldApproved: string | null = null;
  eventList: EventItem[] = [];
  /** Put in an event's summary by tests that check it never reaches a page. */
  leakyText = '';

  constructor() {
    for (let i = 1; i <= 120; i++) {
      this.eventList.push({
        id: i,
        time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
        integration: 'app',
        cycleId: `c${Math.ceil(i / 40)}`,
        type: i % 10 === 0 ? 'user_deprovision' : 'user_create_provision',
        result: i % 7 === 0 ? 'failure' : 'success',
        sourceId: `u${i % 5}`,
        targetId: `t${i % 5}`,
        summary: `event ${i}`,
        detail: i % 7 === 0 ? { status: 400, scimType: 'invalidValue', scimDetail: 'bad email', changed: ['emails[type eq "work"].value'] } : { changed: ['title'] },
      });
    }
  }

  private record(action: string, a: IntegrationAction): void {
    if (a.integration !== 'app') throw new ConsoleActionError('NOT_FOUND', `there is no integration ${a.integration}`);
    this.actions.push({ action, integration: a.integration, actor: a.actor.name });
  }

  private overview(): IntegrationOverview {
    return {
      name: 'app',
      state: this.progressNow ? { kind: 'running', progress: this.progressNow } : { kind: 'held', deprovisions: 3, reason: 'more than safety.maxDeletes (1)', heldAt: '2025-01-01T00:00:00.000Z', approvedAt: this.heldApproved },
      lastCycle: { id: 'c3', startedAt: '2025-01-01T00:00:00.000Z', endedAt: '2025-01-01T00:00:02.000Z', outcome: 'aborted', durationMs: 2000, counts: { planned: 3 } },
      nextCycle: '2025-01-01T00:40:00.000Z',
      objects: { usersActive: 5, usersInactive: 0, groups: 1 },
      escrow: { size: 0, givenUp: 0 },
    };
  }

  async integrations() {
    return [this.overview()];
  }
  async integration(name: string) {
    if (name !== 'app') return undefined;
    const overview = this.overview();
    return {
      overview,
      history: [],
      progress: this.progressNow,
      escrow: [],
      held: { heldAt: '2025-01-01T00:00:00.000Z', reason: 'more than safety.maxDeletes (1)', managed: 5, approvedAt: this.heldApproved, objects: [{ kind: 'user.deactivate', sourceId: 'u1', userName: 'u1@example.com' }] },
      quarantine: null,
    };
  }
  async progress() {
    return this.progressNow;
  }
  async history() {
    return [];
  }
  async plan(name: string) {
    return { integration: name, total: 0, groups: [], hold: null, error: null };
  }
  async events(q: EventsQuery) {
    const list = this.eventList
      .filter((e) => (q.user === undefined || e.sourceId === q.user) && (q.result === undefined || e.result === q.result) && (q.after === undefined || e.id < q.after))
      .sort((a, b) => b.id - a.id);
    const page = list.slice(0, q.limit).map((e) => (this.leakyText ? { ...e, summary: `${e.summary} ${this.leakyText}` } : e));
    return { events: page, next: list.length > q.limit ? (page.at(-1)?.id ?? null) : null };
  }
  async event(id: number) {
    const e = this.eventList.find((x) => x.id === id);
    return e && this.leakyText ? { ...e, summary: `${e.summary} ${this.leakyText}` } : e;
  }
  async user(integration: string, sourceId: string) {
    if (integration !== 'app') return undefined;
    return { integration, sourceId, source: { userName: `${sourceId}@example.com`, active: true }, inScope: true, resource: { userName: `${sourceId}@example.com` }, problems: [], state: null, groups: [], events: [], sourceError: null };
  }
  async reconcileReport(integration: string) {
    return { integration, usersRead: 0, groupsRead: 0, drift: [], vanished: [], unmanaged: [], groupDrift: [], strayMembers: [], membersUnchecked: false };
  }
  async approve(a: IntegrationAction): Promise<ActionResult> {
    this.record('approve', a);
    this.heldApproved = '2025-01-01T00:01:00.000Z';
    return { ok: true, message: 'approved' };
  }
  async discard(a: IntegrationAction): Promise<ActionResult> {
    this.record('discard', a);
    return { ok: true, message: 'discarded' };
  }
  async liftQuarantine(a: IntegrationAction): Promise<ActionResult> {
    this.record('lift-quarantine', a);
    throw new ConsoleActionError('CONFLICT', 'app is not quarantined');
  }
  async provisionNow(a: IntegrationAction & { sourceId: string }): Promise<ProvisionResult> {
    this.record('provision', a);
    return { integration: a.integration, sourceId: a.sourceId, cycleId: 'c9', steps: [{ step: 'source', status: 'ok', title: 'Found in the source', lines: [] }] };
  }
  async reconcile(a: IntegrationAction & { mode: 'apply' | 'adopt' }) {
    this.record(`reconcile-${a.mode}`, a);
    return { integration: a.integration, mode: a.mode, corrected: 0, adopted: 0, cycle: null };
  }
}

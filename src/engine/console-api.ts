/**
 * What the console reads and does, as one interface: the pages and the JSON API
 * call nothing else. The engine implements it over the state, the cycle and
 * reconcile (src/engine/console-backend.ts); tests implement it in memory.
 * Every method may be slow (a source read, a dry-run cycle): all are async.
 */
import type { EscrowEntry } from '../../state/index.js';

export type Role = 'viewer' | 'admin';

/** Who asked: the console user (or API token) named in the audit event of an action. */
export interface Actor {
  name: string;
  role: Role;
  /** How they came in: a login session or an API token. */
  via: 'session' | 'token' | 'loopback';
}

export type EventResultName = 'success' | 'failure' | 'skipped';

/** A running cycle's progress: operations settled out of those planned, with the time left at the pace so far. */
export interface CycleProgress {
  cycleId: string | null;
  startedAt: string;
  done: number;
  /** Operations planned; null until the plan is made (or when only the state is read, without the daemon's feed). */
  total: number | null;
  failed: number;
  /** 429 answers waited out so far in this cycle. */
  rateLimitWaits: number;
  /** Milliseconds left at the pace so far; null while it cannot be told. */
  etaMs: number | null;
  /** Where the figures come from: the daemon's live feed, or the events the cycle has written so far. */
  source: 'live' | 'events';
}

/** The state an integration is in, most urgent first. */
export type IntegrationState =
  | { kind: 'running'; progress: CycleProgress }
  | { kind: 'quarantined'; reason: string; until: string; msLeft: number; level: number }
  | { kind: 'held'; deprovisions: number; reason: string; heldAt: string; approvedAt: string | null }
  | { kind: 'failing'; reason: string }
  | { kind: 'healthy' }
  | { kind: 'new' };

export interface CycleSummary {
  id: string;
  startedAt: string;
  endedAt: string | null;
  outcome: string | null;
  durationMs: number | null;
  counts: Record<string, number>;
}

export interface ObjectTotals {
  usersActive: number;
  usersInactive: number;
  groups: number;
}

export interface IntegrationOverview {
  name: string;
  state: IntegrationState;
  lastCycle: CycleSummary | null;
  /** When the daemon runs it next (ISO); null when unknown. */
  nextCycle: string | null;
  objects: ObjectTotals;
  escrow: { size: number; givenUp: number };
}

/** The operations of one cycle by kind, as the chart stacks them. */
export interface OperationCounts {
  created: number;
  updated: number;
  deactivated: number;
  reactivated: number;
  deleted: number;
  groups: number;
  memberships: number;
}

/** One cycle of the history chart. */
export interface CyclePoint {
  id: string;
  startedAt: string;
  outcome: string | null;
  durationMs: number | null;
  operations: OperationCounts;
  failures: number;
  /** 429 answers the cycle waited out (0 when it recorded none). */
  rateLimitWaits: number;
}

/** An operation in escrow as the console shows it: the state's entry, without its internal key and fingerprint. */
export type EscrowItem = Omit<EscrowEntry, 'key' | 'fingerprint'>;

export interface HeldDeprovisions {
  heldAt: string;
  reason: string;
  managed: number;
  approvedAt: string | null;
  objects: { kind: string; sourceId: string; userName: string }[];
}

export interface IntegrationDetail {
  overview: IntegrationOverview;
  history: CyclePoint[];
  /** The running cycle's progress, else null (the last cycle is in the overview). */
  progress: CycleProgress | null;
  escrow: EscrowItem[];
  held: HeldDeprovisions | null;
  quarantine: { reason: string; until: string; level: number } | null;
}

/** An attribute an operation sets or clears: what the target holds from scimsync now, and what it will hold. */
export interface AttributeChange {
  path: string;
  /** null: not set before. */
  old: string | null;
  /** null: cleared. */
  new: string | null;
}

export interface PreviewOperation {
  kind: string;
  sourceId: string;
  /** userName or group displayName. */
  label: string;
  changes: AttributeChange[];
  /** Why (e.g. "removed from the source"), or a member count. */
  note: string;
}

export interface PlanSummary {
  integration: string;
  total: number;
  groups: { kind: string; count: number; operations: PreviewOperation[] }[];
  /** A mass deprovision the plan would be held for. */
  hold: { deprovisions: number; reason: string; approved: boolean; message: string } | null;
  /** Set when the plan could not be made (source unreadable, a safety abort). */
  error: string | null;
}

export interface EventsQuery {
  integration?: string;
  /** Source id, target id or userName. */
  user?: string;
  type?: string;
  result?: EventResultName;
  /** ISO times. */
  since?: string;
  until?: string;
  cycle?: string;
  /** Keyset cursor: the listing is newest first, and a page holds the events after this id in it (older ones). */
  after?: number;
  limit: number;
}

export interface EventItem {
  id: number;
  time: string;
  integration: string;
  cycleId: string | null;
  type: string;
  result: EventResultName;
  sourceId: string | null;
  targetId: string | null;
  summary: string;
  detail: Record<string, unknown>;
}

export interface EventPage {
  events: EventItem[];
  /** The cursor of the next (older) page; null on the last. */
  next: number | null;
}

export interface UserView {
  integration: string;
  sourceId: string;
  /** The source's attributes; null when the source no longer holds the user. */
  source: Record<string, unknown> | null;
  inScope: boolean;
  /** The SCIM resource the mapping makes of it; null when out of the source. */
  resource: Record<string, unknown> | null;
  /** Mapping problems that keep it from being sent. */
  problems: string[];
  state: { targetId: string | null; status: string; attrs: Record<string, string>; createdAt: string; updatedAt: string } | null;
  groups: { sourceId: string; displayName: string }[];
  events: EventItem[];
  /** Set when the source could not be read. */
  sourceError: string | null;
}

export type StepStatus = 'ok' | 'no' | 'failed' | 'info';

/** One step of a Provision now, as the on-demand view shows it. */
export interface ProvisionStep {
  step: 'source' | 'scope' | 'match' | 'attributes' | 'deprovision' | 'groups' | 'result';
  status: StepStatus;
  title: string;
  lines: string[];
}

export interface ProvisionResult {
  integration: string;
  sourceId: string;
  cycleId: string | null;
  steps: ProvisionStep[];
}

export interface DriftLine {
  sourceId: string;
  userName: string;
  path: string;
  pushed: string | null;
  actual: string | null;
}

export interface ReconcileReport {
  integration: string;
  usersRead: number;
  groupsRead: number;
  drift: DriftLine[];
  vanished: { sourceId: string; targetId: string; userName: string }[];
  unmanaged: { targetId: string; userName: string; match: string | null }[];
  groupDrift: { displayName: string; missing: string[]; extra: string[] }[];
  /** Member values of managed groups that are not managed accounts: `dangling` names nothing, `foreign` an account scimsync does not manage. */
  strayMembers: StrayMemberLine[];
  membersUnchecked: boolean;
}

export interface StrayMemberLine {
  displayName: string;
  value: string;
  kind: 'dangling' | 'foreign';
  /** The foreign account's userName; null when dangling. */
  name: string | null;
  /** What Apply does with it (`groups.foreignMembers`; protected accounts are kept). */
  onApply: 'remove' | 'keep';
  keptBecause: 'policy' | 'protected' | null;
}

export type ReconcileMode = 'apply' | 'adopt';

export interface ReconcileOutcome {
  integration: string;
  mode: ReconcileMode;
  corrected: number;
  adopted: number;
  /** With apply: the cycle that restored the source's values. */
  cycle: { outcome: string; counts: Record<string, number> } | null;
}

/** The result of an admin action: what happened, in a sentence, for the page and the API. */
export interface ActionResult {
  ok: boolean;
  message: string;
}

export interface IntegrationAction {
  integration: string;
  actor: Actor;
}

export interface ConsoleBackend {
  integrations(): Promise<IntegrationOverview[]>;
  /** Undefined when no integration has this name. */
  integration(name: string, options: { historyCycles: number }): Promise<IntegrationDetail | undefined>;
  progress(name: string): Promise<CycleProgress | null>;
  history(name: string, cycles: number): Promise<CyclePoint[]>;
  plan(name: string): Promise<PlanSummary>;
  events(query: EventsQuery): Promise<EventPage>;
  event(id: number): Promise<EventItem | undefined>;
  user(integration: string, sourceId: string): Promise<UserView | undefined>;
  reconcileReport(integration: string): Promise<ReconcileReport>;
  approve(action: IntegrationAction): Promise<ActionResult>;
  discard(action: IntegrationAction): Promise<ActionResult>;
  liftQuarantine(action: IntegrationAction): Promise<ActionResult>;
  provisionNow(action: IntegrationAction & { sourceId: string }): Promise<ProvisionResult>;
  reconcile(action: IntegrationAction & { mode: ReconcileMode }): Promise<ReconcileOutcome>;
}

/** The live progress of the cycles a process runs (the daemon's CycleProgressBoard), read by a backend. */
export interface ProgressFeed {
  get(integration: string): CycleProgress | undefined;
}

/** An action the backend refuses (nothing held to approve, another process holds the integration): shown as a message, never a stack. */
export class ConsoleActionError extends Error {
  readonly code: 'NOT_FOUND' | 'CONFLICT' | 'BUSY';
  constructor(code: ConsoleActionError['code'], message: string) {
    super(message);
    this.name = 'ConsoleActionError';
    this.code = code;
  }
}

/**
 * What the CLI, the daemon and the console may call of the engine, named once: its queries and commands.
 * The lint lets those layers import the engine only through this file. What reads sources or speaks to
 * targets (connected.ts) is loaded on first use, so that `status`, `events` and `state show` load no
 * HTTP client, mapping engine or directory client.
 */
export { approveHeldPlan, discardHeldPlan, liftQuarantine, type AdminActor } from './commands/admin-actions.js';
export { purgeRemovedIntegration } from './commands/purge.js';
export type { ReconcileStep, Reconciliation, StrayMember } from './commands/reconcile-run.js';
export { ConsoleActionError, type ActionResult, type Actor, type AttributeChange, type ConsoleBackend, type CyclePoint, type CycleProgress, type CycleSummary, type EscrowItem, type EventItem, type EventPage, type EventResultName, type EventsQuery, type HeldDeprovisions, type IntegrationDetail, type IntegrationOverview, type IntegrationState, type PlanSummary, type ProgressFeed, type ProvisionResult, type ProvisionStep, type ReconcileMode, type ReconcileOutcome, type ReconcileReport, type Role, type StrayMemberLine, type UserView } from './console-api.js';
export type { CycleReport } from './cycle.js';
export { parseDuration, parseWait } from './durations.js';
export { leaseOwner } from './lease.js';
export { describeDrain, openOutlets, type Outlets } from './outlets.js';
export { describeOperation, operationDetails, unwritableReason } from './queries/describe.js';
export { EventLog, eventListingFormat, eventQuery, lineFormat, writeEvents, type EventRecord, type ExportFormat } from './queries/events-listing.js';
export { reconcileFindings } from './queries/reconcile-findings.js';
export { probeFilterCase, type FilterCaseProbe } from './queries/filter-case.js';
export { HealthWatch, type IntegrationHealth } from './queries/health.js';
export type { PlanPreview, UnwritableValue, UserExplanation } from './queries/plan-preview.js';
export { findStoredObjects, valueJson, type StoredObject } from './queries/state-inspection.js';
export { configuredStatuses, quarantinedAt, type IntegrationStatus } from './queries/status.js';
export { pruneEventsGently } from './retention.js';
export { nextRun } from './schedule.js';
export { openState, type StateStore } from './state-access.js';
export type { EndpointProbe, ProfileHints } from './target-schema.js';

/** The queries and commands that read sources and speak to targets (connected.ts), loaded on first use. */
export const loadConnected = (): Promise<typeof import('./connected.js')> => import('./connected.js');

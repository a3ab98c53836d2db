/** The engine's queries and commands that read sources and speak to targets: index.ts loads them on first use. */
export { bulkUseLine } from './bulk-facts.js';
export { runIntegrationCycle, withIntegrationLease } from './commands/integration-run.js';
export { rebuildIntegrationState, rebuildSummary } from './commands/rebuild.js';
export { reconcileIntegrations } from './commands/reconcile-run.js';
export { createEngineConsoleBackend, openEngineConsoleBackend } from './console-backend.js';
export { clientFor, previewCycle } from './cycle.js';
export { previewPlans } from './queries/plan-preview.js';
export { integrationMappingProblems, probeEndpoint, problemLine, profileHints, targetSchema } from './target-schema.js';

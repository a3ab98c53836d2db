/**
 * Whether a cycle uses SCIM Bulk, from `target.bulk`, `target.bulkMaxOperations` and what
 * earlier cycles learnt of the target's /Bulk, kept as target facts (state/facts.ts).
 */
import type { StateStore } from '../../state/index.js';
import type { IntegrationConfig } from '../config/schema.js';
import type { BulkLesson, BulkSettings } from '../delivery/bulk.js';
import { MAX_BULK_OPERATIONS } from '../delivery/bulk.js';
import { bulkSupportOf } from '../scim/bulk.js';

/** /Bulk refused although /ServiceProviderConfig says bulk.supported: `{ status, reason }`. */
export const BULK_REFUSED_FACT = 'bulk.refused';
/** A group read back after a Bulk request held other members than the `bulkId:` references sent: `{ reason }`. */
export const BULK_REFERENCES_FACT = 'bulk.references';
/** How long a refusing /Bulk is left alone; then one Bulk request tries it again (and single requests follow at once if it still refuses). */
export const BULK_REFUSED_MAX_AGE_MS = 24 * 60 * 60 * 1000;

type Facts = Pick<StateStore, 'targetFacts'>;

function parsed(text: string): { status?: unknown; reason?: unknown } {
  try {
    return JSON.parse(text) as { status?: unknown; reason?: unknown };
  } catch {
    return {};
  }
}

/** Why /Bulk is not asked now, if a cycle learnt it refuses, less than a day ago. */
function refusal(store: Facts, integration: string, now: Date): { reason: string; until: string } | undefined {
  const fact = store.targetFacts.get(integration, BULK_REFUSED_FACT);
  if (!fact) return undefined;
  const learnt = Date.parse(fact.learnedAt);
  if (!(now.getTime() - learnt < BULK_REFUSED_MAX_AGE_MS)) return undefined;
  return { reason: String(parsed(fact.value).reason ?? 'refused'), until: new Date(learnt + BULK_REFUSED_MAX_AGE_MS).toISOString() };
}

/** How this cycle's delivery may use Bulk. */
export function bulkSettings(integration: IntegrationConfig, store: Facts, now: Date): BulkSettings {
  const name = integration.name;
  if (integration.target.bulk === 'off') return { use: 'never', reason: 'target.bulk: off' };
  const refused = refusal(store, name, now);
  if (refused) return { use: 'never', reason: `${refused.reason}, until ${refused.until}` };
  const references = store.targetFacts.get(name, BULK_REFERENCES_FACT) ? 'none' : 'one';
  return { use: 'when-supported', maxOperations: integration.target.bulkMaxOperations, references };
}

/** Keeps what a delivery learnt of the target's Bulk for the next cycles. */
export function keepBulkLessons(store: Facts, integration: string, lessons: readonly BulkLesson[], now: Date): void {
  for (const lesson of lessons) {
    if (lesson.kind === 'refused') store.targetFacts.put(integration, BULK_REFUSED_FACT, JSON.stringify({ status: lesson.status, reason: lesson.reason }), now);
    else store.targetFacts.put(integration, BULK_REFERENCES_FACT, JSON.stringify({ reason: lesson.reason }), now);
  }
}

/** One line for test-connection: whether sync sends Bulk requests to this target, and within what. */
export function bulkUseLine(integration: IntegrationConfig, store: Facts, serviceProviderConfig: unknown, now: Date): string {
  const settings = bulkSettings(integration, store, now);
  if (settings.use === 'never') return `Bulk requests: not used (${settings.reason})`;
  const support = bulkSupportOf(serviceProviderConfig);
  if (!support) return 'Bulk requests: not used (/ServiceProviderConfig does not say bulk.supported with limits)';
  const own = settings.maxOperations !== undefined;
  const operations = Math.min(settings.maxOperations ?? support.maxOperations, MAX_BULK_OPERATIONS);
  const members = settings.references === 'none' ? "; new groups wait for their new members' ids (bulkId references went wrong before)" : '';
  return `Bulk requests: used, up to ${operations} operations (${own ? 'target.bulkMaxOperations' : 'as the target declares'}) and ${support.maxPayloadSize} bytes each${members}`;
}

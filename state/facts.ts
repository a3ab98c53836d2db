/**
 * What scimsync has learned about an integration's target, kept between cycles:
 * its schema (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`), the rate it
 * answers without 429s, … Each fact is a JSON text under a name, with the time
 * it was learned, so that a reader decides whether it is still fresh.
 */
export interface TargetFact {
  /** The fact, as JSON text: its reader parses and validates it. */
  value: string;
  /** When it was learned (ISO 8601). */
  learnedAt: string;
}

export interface TargetFactStore {
  get(integration: string, name: string): TargetFact | undefined;
  put(integration: string, name: string, value: string, now?: Date): void;
  /** Forgets one fact, or (without a name) every fact of the integration. */
  forget(integration: string, name?: string): void;
}

import type { TargetResource } from '../core/records.js';
import { ScimHttpError } from '../errors.js';
import { backoffDelay, type RetryPolicy } from '../scim/retry.js';
import { sleep, type Outcome } from './outcome.js';

/** How an object came to be linked: found before creating, or found after a create whose answer was lost. */
export type AdoptOrigin = 'existing' | 'lost-answer';

/** A lookup's answer, checked: the resources that really match, or why the lookup cannot be trusted. */
export type Lookup = { kind: 'found'; resources: TargetResource[] } | { kind: 'failed'; outcome: Outcome };

/** The steps of linking one object (a user or a group) to the target. */
export interface FindOrCreateSteps {
  /** Looks the object up. `fresh` reads the target now, never a read made earlier in the cycle. */
  find(when: 'planned' | 'fresh'): Promise<Lookup>;
  /** Sends the create (its `attempt`-th); throws the ScimHttpError when it fails. */
  create(attempt: number): Promise<Outcome>;
  /** After a 409: what the create collided with (a spelling the filter missed, say). */
  findAfterConflict(): Promise<TargetResource[]>;
  adopt(resource: TargetResource, origin: AdoptOrigin): Promise<Outcome>;
  /** More than one match: nothing is guessed. */
  ambiguous(found: TargetResource[]): Outcome;
}

/**
 * Look up → create → 409 → look again → adopt, for users and groups alike. A create
 * is never repeated blindly: when its answer is lost (no answer, 5xx, an answer that
 * is not SCIM, a 201 without an id) it may have been applied, so the target is read
 * first, after a backoff so that a request still being served has landed by then,
 * and the object adopted if it is there.
 */
export async function findOrCreate(steps: FindOrCreateSteps, policy: { retry: RetryPolicy; signal?: AbortSignal | undefined }): Promise<Outcome> {
  const looked = await steps.find('planned');
  if (looked.kind === 'failed') return looked.outcome;
  let found = looked.resources;
  let origin: AdoptOrigin = 'existing';
  for (let attempt = 1; found.length === 0; attempt++) {
    try {
      return await steps.create(attempt);
    } catch (err) {
      if (!(err instanceof ScimHttpError)) throw err;
      if (err.kind === 'conflict') {
        found = await steps.findAfterConflict();
        if (found.length === 0) throw err;
        break;
      }
      if (err.kind !== 'transient' || policy.signal?.aborted) throw err;
      await sleep(backoffDelay(attempt, policy.retry) + policy.retry.baseDelayMs);
      const again = await steps.find('fresh');
      if (again.kind === 'failed') return again.outcome;
      found = again.resources;
      origin = 'lost-answer';
      if (found.length === 0 && attempt >= policy.retry.maxAttempts) throw err;
    }
  }
  if (found.length > 1) return steps.ambiguous(found);
  return steps.adopt(found[0]!, origin);
}

import { diffAttrs, isUserRef, type AttrChanges, type RefResolver, type ScimAttrs } from '../core/attributes.js';
import { readPath } from '../core/paths.js';
import { ScimHttpError } from '../errors.js';
import { applyToResource } from '../scim/bodies.js';
import type { ScimResource } from '../scim/client.js';
import type { DeliveryContext } from './context.js';
import { writesOf } from './writes.js';

/**
 * Reads of a user answered by a 412 before its update is given up (kept in escrow):
 * an account that changes between every read and write is being edited by someone.
 */
const MAX_READS = 3;

/** Of `attrs`, the values the resource holds now (a reference counts when it points at the same account). */
export function currentValues(resource: ScimResource, attrs: ScimAttrs, resolve: RefResolver): ScimAttrs {
  const current: ScimAttrs = {};
  for (const [path, v] of Object.entries(attrs)) {
    const actual = readPath(resource, path);
    if (isUserRef(v)) {
      const id = (actual as { value?: unknown } | undefined)?.value;
      if (typeof id === 'string' && id === resolve(v.userRef)) current[path] = v;
    } else if (actual !== undefined && actual !== null) {
      current[path] = actual as ScimAttrs[string];
    }
  }
  return current;
}

/** RFC 7644 §3.14: the resource changed since the version sent in `If-Match`. */
export function isPreconditionFailed(err: unknown): boolean {
  return err instanceof ScimHttpError && err.status === 412;
}

export interface PutResult {
  /** The values the PUT carried, as planned (refs included). */
  sent: ScimAttrs;
  attempts: number;
  /** Times the target answered 412 and the user was read again. */
  conflicts: number;
}

/**
 * An update as a PUT of the whole resource (targets that want it, Okta-style): read the
 * account, change what scimsync manages, PUT it back with `If-Match` set to the version
 * read when the target keeps versions (RFC 7644 §3.14). A 412 means someone changed the
 * account in between: it is read again and the update planned again against what it
 * holds now (the desired values diffed with the fresh ones), so a change made meanwhile
 * to what scimsync does not manage is kept, never overwritten by the stale copy.
 */
export async function putUpdate(ctx: DeliveryContext, op: { sourceId: string; targetId: string; changes: AttrChanges }): Promise<PutResult> {
  let attempts = 0;
  for (let read = 1; ; read++) {
    const { resource, version, attempts: reading } = await ctx.client.get('Users', op.targetId);
    attempts += reading;
    const changes = read === 1 ? op.changes : replan(ctx, op, resource);
    const put = applyToResource(resource, changes, ctx.state.resolve);
    try {
      attempts += (await writesOf(ctx).put('Users', op.targetId, put.body, { ifMatch: version })).attempts;
      return { sent: put.sent, attempts, conflicts: read - 1 };
    } catch (err) {
      if (!isPreconditionFailed(err) || version === undefined || read >= MAX_READS) throw err;
    }
  }
}

/** The planned change again, against the account as it is now: every desired value it does not hold, and the planned removals. */
function replan(ctx: DeliveryContext, op: { sourceId: string; changes: AttrChanges }, resource: ScimResource): AttrChanges {
  const desired = ctx.state.desiredUser(op.sourceId)?.attrs;
  if (!desired) return op.changes;
  const diff = diffAttrs(currentValues(resource, desired, ctx.state.resolve), desired);
  return { ...diff, set: { ...op.changes.set, ...diff.set }, remove: op.changes.remove };
}

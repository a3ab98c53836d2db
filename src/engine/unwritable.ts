/**
 * Values the source wants and the target's schema does not let scimsync write (readOnly on
 * create, immutable on update): told as events by a cycle, and found by reconcile.
 */
import { isUserRef, sameTargetValue, type AttrValue } from '../core/attributes.js';
import { readPath } from '../core/paths.js';
import type { DesiredUser, StateUser, TargetResource } from '../core/records.js';
import { factsOf, unwritableReason, type TargetSchema, type UnwritableValue } from '../core/target-schema.js';
import type { EventInput } from '../events/sink.js';

export type { UnwritableValue } from '../core/target-schema.js';

/** One event per user with values the plan left out: skipped, naming the attribute and why. */
export function unwritableEvents(values: readonly UnwritableValue[], stateOf: (sourceId: string) => StateUser | undefined): EventInput[] {
  const events: EventInput[] = [];
  const byUser = new Map<string, UnwritableValue[]>();
  for (const v of values) byUser.set(v.sourceId, [...(byUser.get(v.sourceId) ?? []), v]);
  for (const [sourceId, list] of byUser) {
    const s = stateOf(sourceId);
    const linked = s && s.targetId !== null && s.status !== 'deleted' ? s : undefined;
    const onCreate = list[0]!.on === 'create';
    const what = list.map((v) => `${v.path} ${onCreate ? 'not sent' : v.wanted === null ? 'not emptied' : `not changed to ${JSON.stringify(v.wanted)}`}: ${unwritableReason(v.path, v.mutability)}`);
    events.push({
      type: onCreate ? 'user_create_provision' : 'user_update_provision',
      result: 'skipped',
      sourceId,
      targetId: linked?.targetId ?? null,
      summary: `${sourceId}: ${what.join('; ')}`,
      detail: { unwritable: list.map((v) => ({ path: v.path, mutability: v.mutability, wanted: v.wanted, on: v.on })) },
    });
  }
  return events;
}

/** A value reconcile finds the target holding otherwise than the source wants, where the target's schema forbids writing it. */
export interface UnwritableInTarget {
  sourceId: string;
  targetId: string;
  userName: string;
  path: string;
  wanted: string;
  actual: string | null;
  /** `cannot be written: the target's schema marks userName immutable`. */
  reason: string;
}

/** The source's values at paths the target says are readOnly or immutable, where the account holds something else. */
export function unwritableInTarget(
  s: StateUser & { targetId: string },
  d: DesiredUser,
  resource: TargetResource,
  schema: TargetSchema,
  sourceOfTarget: ReadonlyMap<string, string>,
): UnwritableInTarget[] {
  const out: UnwritableInTarget[] = [];
  for (const [path, wanted] of Object.entries(d.attrs)) {
    const mutability = factsOf(schema, path).mutability;
    if (mutability !== 'immutable' && mutability !== 'readOnly') continue;
    const actual = actualValue(resource, path, wanted, sourceOfTarget);
    if (actual !== undefined && sameTargetValue(path, actual, wanted, schema)) continue;
    out.push({
      sourceId: s.sourceId,
      targetId: s.targetId,
      userName: String(s.attrs.userName ?? ''),
      path,
      wanted: shown(wanted),
      actual: actual === undefined ? null : shown(actual),
      reason: unwritableReason(path, mutability),
    });
  }
  return out;
}

const shown = (v: AttrValue) => (isUserRef(v) ? `<user ${v.userRef}>` : String(v));

function actualValue(resource: TargetResource, path: string, wanted: AttrValue, sourceOfTarget: ReadonlyMap<string, string>): AttrValue | undefined {
  const v = readPath(resource, path);
  if (isUserRef(wanted)) {
    const id = (v as { value?: unknown } | undefined)?.value;
    const source = typeof id === 'string' ? sourceOfTarget.get(id) : undefined;
    return source !== undefined ? { userRef: source } : undefined;
  }
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

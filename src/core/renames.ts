import { createHash } from 'node:crypto';
import type { ScimAttrs } from './attributes.js';
import { matchKeys, type MatchKey } from './matching.js';
import type { UserOperation } from './operations.js';
import type { DesiredUser, StateUser } from './records.js';

type Change = Extract<UserOperation, { kind: 'user.update' | 'user.reactivate' }>;

/** A matching value, without case whatever the schema says (a target may fold it anyway): a needless wait costs nothing, a missed one a 409. */
const keyOf = (k: MatchKey) => `${k.attribute}\u0000${k.value.toLowerCase()}`;

/** The attribute path of a pushed value that a matching key names (`emails.value` is any `emails[…]` path). */
function pathsOf(attrs: ScimAttrs, k: MatchKey): string[] {
  const wanted = keyOf(k);
  return Object.keys(attrs).filter((p) => {
    const v = attrs[p];
    if (typeof v !== 'string') return false;
    const attribute = p.startsWith('emails[') ? 'emails.value' : p;
    return attribute === k.attribute && keyOf({ attribute, value: v }) === wanted;
  });
}

/**
 * A unique value the account can hold for a moment, derived from its source id (no randomness):
 * an email-shaped value keeps its domain (targets such as Gong accept only the company's).
 */
export function temporaryValue(value: string, sourceId: string): string {
  const tag = `scimsync-${createHash('sha256').update(sourceId).digest('hex').slice(0, 8)}`;
  const at = value.lastIndexOf('@');
  return at > 0 ? `${value.slice(0, at)}+${tag}${value.slice(at)}` : `${value}-${tag}`;
}

/**
 * Orders the changes that rename matching values (userName; emails where they match), as the
 * target's uniqueness demands: a change that takes a value another account holds waits for the
 * change that moves it away. A cycle (a swap, a rotation) is cut by first moving one account of
 * it to a temporary value (a `user.update` of its own, keyed `user:<id>#vacate`); its final
 * change then comes last. Returns the changes in an order where each comes after what it waits for.
 */
export function orderRenames(
  updates: readonly UserOperation[],
  stateById: ReadonlyMap<string, StateUser>,
  desired: ReadonlyMap<string, DesiredUser>,
  matching: readonly string[],
): UserOperation[] {
  const changes = new Map<string, Change>();
  for (const op of updates) if (op.kind === 'user.update' || op.kind === 'user.reactivate') changes.set(op.sourceId, op);
  // Who holds each matching value now (as pushed), among the accounts whose change gives it up.
  const holders = new Map<string, string>();
  for (const op of changes.values()) {
    const keeps = new Set(matchKeys(matching, desired.get(op.sourceId)?.attrs ?? {}).map(keyOf));
    for (const k of matchKeys(matching, stateById.get(op.sourceId)?.attrs ?? {})) if (!keeps.has(keyOf(k))) holders.set(keyOf(k), op.sourceId);
  }
  if (holders.size === 0) return [...updates];
  // Who waits for whom, and for which of their values.
  const waits = new Map<string, Map<string, MatchKey[]>>();
  for (const op of changes.values()) {
    for (const k of matchKeys(matching, op.changes.set)) {
      const holder = holders.get(keyOf(k));
      if (holder === undefined || holder === op.sourceId) continue;
      const on = waits.get(op.sourceId) ?? new Map<string, MatchKey[]>();
      waits.set(op.sourceId, on.set(holder, [...(on.get(holder) ?? []), k]));
    }
  }
  if (waits.size === 0) return [...updates];

  const vacates: Change[] = [];
  for (let cycle = findCycle(waits); cycle; cycle = findCycle(waits)) {
    // The smallest source id of the cycle moves aside first: the same plan every time.
    const v = [...cycle].sort()[0]!;
    const s = stateById.get(v)!;
    const op = changes.get(v)!;
    const set: ScimAttrs = {};
    const waiting: string[] = [];
    for (const [who, on] of waits) {
      const keys = on.get(v);
      if (!keys) continue;
      waiting.push(who);
      for (const k of keys) for (const p of pathsOf(s.attrs, k)) set[p] = temporaryValue(String(s.attrs[p]), v);
      on.delete(v);
    }
    const key = `${op.key}#vacate`;
    vacates.push({ kind: 'user.update', key, sourceId: v, targetId: op.targetId, changes: { set, remove: [] }, dependsOn: [], makesRoomFor: waiting.sort() });
    for (const who of waiting) changes.get(who)!.dependsOn.push(key);
  }
  for (const [who, on] of waits) for (const holder of on.keys()) changes.get(who)!.dependsOn.push(changes.get(holder)!.key);
  return topological([...vacates, ...updates]);
}

/** One cycle of the wait graph (its members), or undefined when there is none. */
function findCycle(waits: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'visiting');
    path.push(id);
    for (const next of [...(waits.get(id)?.keys() ?? [])].sort()) {
      const st = state.get(next);
      if (st === 'visiting') return path.slice(path.indexOf(next));
      if (st === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of [...waits.keys()].sort()) {
    if (state.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}

/** The operations with each after those of its dependencies that are among them, otherwise in the order given. */
function topological(ops: readonly UserOperation[]): UserOperation[] {
  const byKey = new Map(ops.map((op) => [op.key, op]));
  const out: UserOperation[] = [];
  const placed = new Set<string>();
  const place = (op: UserOperation) => {
    if (placed.has(op.key)) return;
    placed.add(op.key);
    for (const k of op.dependsOn) {
      const dep = byKey.get(k);
      if (dep) place(dep);
    }
    out.push(op);
  };
  for (const op of ops) place(op);
  return out;
}

import type { DesiredGroup, SnapshotProblem, SourceGroup, SourceUser } from './records.js';

/** The operators of a scoping condition (as Entra's scoping filters offer them). */
export const SCOPE_OPERATORS = [
  'equals',
  'notEquals',
  'isTrue',
  'isFalse',
  'isNull',
  'isNotNull',
  'regexMatch',
  'notRegexMatch',
  'in',
  'greaterThan',
  'lessThan',
] as const;
export type ScopeOperator = (typeof SCOPE_OPERATORS)[number];

export interface ScopeCondition {
  attribute: string;
  op: ScopeOperator;
  value?: unknown;
}

/** Clauses are ORed; the conditions inside one clause are ANDed. */
export type ScopeFilter = readonly (readonly ScopeCondition[])[];

const isEmpty = (v: unknown) => v === undefined || v === null || v === '';

function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return ['true', '1', 'yes'].includes(v.trim().toLowerCase());
  return v === 1;
}

function compare(a: unknown, b: unknown): number | undefined {
  if (isEmpty(a) || isEmpty(b)) return undefined;
  const na = Number(a);
  const nb = Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a).localeCompare(String(b));
}

/** Why a condition cannot be used (checked at config load), or undefined. */
export function conditionProblem(c: { op: string; value?: unknown }): string | undefined {
  if (!(SCOPE_OPERATORS as readonly string[]).includes(c.op)) return `unknown operator ${JSON.stringify(c.op)} (use ${SCOPE_OPERATORS.join(', ')})`;
  const needsValue = !['isTrue', 'isFalse', 'isNull', 'isNotNull'].includes(c.op);
  if (needsValue && c.value === undefined) return `operator ${c.op} needs a value`;
  if (c.op === 'in' && !Array.isArray(c.value)) return 'operator in needs a list value';
  if (c.op === 'regexMatch' || c.op === 'notRegexMatch') {
    try {
      new RegExp(String(c.value));
    } catch (err) {
      return `invalid regular expression: ${(err as Error).message}`;
    }
  }
  return undefined;
}

export function matches(user: SourceUser, c: ScopeCondition): boolean {
  const v = c.attribute === 'active' ? user.active : c.attribute === 'id' ? user.id : user.attributes[c.attribute];
  switch (c.op) {
    case 'equals':
      return !isEmpty(v) && String(v) === String(c.value);
    case 'notEquals':
      return isEmpty(v) || String(v) !== String(c.value);
    case 'isTrue':
      return truthy(v);
    case 'isFalse':
      return !truthy(v);
    case 'isNull':
      return isEmpty(v);
    case 'isNotNull':
      return !isEmpty(v);
    case 'regexMatch':
      return !isEmpty(v) && new RegExp(String(c.value)).test(String(v));
    case 'notRegexMatch':
      return isEmpty(v) || !new RegExp(String(c.value)).test(String(v));
    case 'in':
      return !isEmpty(v) && (c.value as unknown[]).map(String).includes(String(v));
    case 'greaterThan': {
      const d = compare(v, c.value);
      return d !== undefined && d > 0;
    }
    case 'lessThan': {
      const d = compare(v, c.value);
      return d !== undefined && d < 0;
    }
  }
}

/** Whether a user is in scope: no filter means everyone. */
export function inScope(user: SourceUser, filter: ScopeFilter | undefined): boolean {
  if (!filter || filter.length === 0) return true;
  return filter.some((clause) => clause.every((c) => matches(user, c)));
}

export interface ScopeOptions {
  /** `scope.groups`: only members of these groups, and only these groups. */
  groups?: readonly string[] | undefined;
  nested: 'flatten' | 'ignore';
}

export interface ScopedSnapshot {
  users: SourceUser[];
  groups: DesiredGroup[];
  problems: SnapshotProblem[];
}

/**
 * Resolves nesting and applies `scope.groups`. With `flatten`, the users of a
 * sub-group count as members of every group that contains it (cycles are cut);
 * with `ignore`, group members that are groups are dropped. Pure.
 */
export function scopeSnapshot(users: readonly SourceUser[], groups: readonly SourceGroup[], options: ScopeOptions): ScopedSnapshot {
  const userIds = new Set(users.map((u) => u.id));
  const byId = new Map(groups.map((g) => [g.id, g]));
  const effective = new Map<string, Set<string>>();

  // Depth-first; a result that depended on a cut cycle is not memoised, since it is
  // only complete for the group the walk started from.
  const walk = (group: SourceGroup, path: Set<string>): { users: Set<string>; cut: boolean } => {
    const known = effective.get(group.id);
    if (known) return { users: known, cut: false };
    const out = new Set<string>();
    let cut = false;
    path.add(group.id);
    for (const m of group.members) {
      if (userIds.has(m)) out.add(m);
      else if (options.nested === 'flatten') {
        const sub = byId.get(m);
        if (!sub) continue;
        if (path.has(sub.id)) {
          cut = true;
          continue;
        }
        const r = walk(sub, path);
        cut ||= r.cut;
        for (const u of r.users) out.add(u);
      }
    }
    path.delete(group.id);
    if (!cut) effective.set(group.id, out);
    return { users: out, cut };
  };
  const expand = (group: SourceGroup, path: Set<string>): Set<string> => walk(group, path).users;

  const problems: SnapshotProblem[] = [];
  let inScope = groups;
  let scopedUsers: readonly SourceUser[] = users;
  if (options.groups && options.groups.length > 0) {
    const wanted = new Map(options.groups.map((n) => [n.toLowerCase(), n]));
    inScope = groups.filter((g) => wanted.delete(g.displayName.toLowerCase()));
    for (const missing of wanted.values()) {
      problems.push({ location: 'scope.groups', message: `no source group is named ${JSON.stringify(missing)}` });
    }
    const members = new Set<string>();
    for (const g of inScope) for (const u of expand(g, new Set())) members.add(u);
    scopedUsers = users.filter((u) => members.has(u.id));
  }
  const desired = inScope.map((g) => ({
    sourceId: g.id,
    displayName: g.displayName,
    members: [...expand(g, new Set())].sort(),
  }));
  return { users: [...scopedUsers], groups: desired, problems };
}

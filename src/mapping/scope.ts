import type { SourceUser } from '../model.js';

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

import { createRequire } from 'node:module';
import type jsonata from 'jsonata';

// JSONata loads when a mapping has an expression: verbs that only read the state (status, events) never do.
const load = createRequire(import.meta.url);
let compile: typeof jsonata | undefined;
import type { SourceUser } from './records.js';
import type { AttrValue, ScimAttrs } from './attributes.js';
import { unknownAttribute } from './target-schema.js';

/** How one SCIM attribute is filled: from a source attribute, a constant or a JSONata expression. */
export interface MappingSpec {
  /** A source attribute, or a list: the first that has a value. */
  from?: string | readonly string[];
  /** Source attributes joined with `separator` (default a space), empty ones left out; with `from`, used when `from` has no value. */
  join?: readonly string[];
  separator?: string;
  value?: string | number | boolean;
  /** JSONata over the source user's attributes (plus `id` and `active`). */
  expr?: string;
  /** `onCreate`: sent when the account is created, never updated afterwards. */
  apply?: 'always' | 'onCreate';
  /** A user without this value is not sent (checked as a `required` rule). */
  required?: boolean;
  /** An empty source value leaves the target's value alone instead of removing it. */
  keepOnEmpty?: boolean;
  /** The value is a source user id, sent as that user's id in the target (manager). */
  reference?: 'user';
}

/** A check a target imposes before a user may be sent. */
export type ProfileRule =
  | { rule: 'required'; path: string }
  | { rule: 'emailDomain'; path: string }
  | { rule: 'locale'; path: string }
  | { rule: 'timezone'; path: string }
  | { rule: 'country'; path: string };

export interface RuleProblem {
  path: string;
  rule: ProfileRule['rule'] | 'expression';
  message: string;
}

export interface MappedUser {
  attrs: ScimAttrs;
  /** `apply: onCreate` values: sent on create only. */
  createOnly: ScimAttrs;
  /** Paths whose empty source value must not clear the target. */
  keep: string[];
  problems: RuleProblem[];
}

/** A mapping or expression the config cannot use; `key` is the path in the config. */
export class MappingError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

interface Compiled {
  path: string;
  /** Where the mapping is set: `mappings.user.title`, or `profile mapping title`. */
  key: string;
  spec: MappingSpec;
  expression?: jsonata.Expression;
}

const empty = (v: unknown) => v === undefined || v === null || v === '';

/** The helpers every expression may call, besides JSONata's own ($join, $replace, $split, $lookup, ...). */
function registerHelpers(e: jsonata.Expression): void {
  e.registerFunction('lower', (s: unknown) => (typeof s === 'string' ? s.toLowerCase() : s), '<s-:s>');
  e.registerFunction('upper', (s: unknown) => (typeof s === 'string' ? s.toUpperCase() : s), '<s-:s>');
  e.registerFunction('coalesce', (...values: unknown[]) => values.find((v) => !empty(v)));
  e.registerFunction('default', (v: unknown, fallback: unknown) => (empty(v) ? fallback : v));
  e.registerFunction('switch', (v: unknown, table: unknown, fallback?: unknown) => {
    if (typeof table !== 'object' || table === null || typeof v !== 'string') return fallback;
    return Object.prototype.hasOwnProperty.call(table, v) ? (table as Record<string, unknown>)[v] : fallback;
  });
}

/** Compiles one JSONata expression; a syntax error names the position. */
export function compileExpression(text: string, key: string): jsonata.Expression {
  try {
    const e = (compile ??= load('jsonata') as typeof jsonata)(text);
    registerHelpers(e);
    return e;
  } catch (err) {
    const { position, message } = err as { position?: number; message?: string };
    throw new MappingError(key, `expression syntax error${position !== undefined ? ` at position ${position}` : ''}: ${message ?? String(err)}`);
  }
}

/**
 * A profile's mappings with an integration's overrides, compiled once per cycle.
 * Paths and expressions are checked when compiled: a wrong one is a config error.
 */
export class UserMapper {
  private readonly compiled: Compiled[];

  constructor(
    defaults: Readonly<Record<string, MappingSpec>>,
    overrides: Readonly<Record<string, MappingSpec>> | undefined,
    private readonly rules: readonly ProfileRule[],
    private readonly options: { emailDomains?: readonly string[] | undefined } = {},
    keyPrefix = 'mappings.user',
  ) {
    const merged = new Map<string, { spec: MappingSpec; key: string }>();
    for (const [path, spec] of Object.entries(defaults)) merged.set(path, { spec, key: `profile mapping ${path}` });
    for (const [path, spec] of Object.entries(overrides ?? {})) merged.set(path, { spec, key: `${keyPrefix}.${quoteKey(path)}` });
    this.compiled = [...merged].map(([path, { spec, key }]) => {
      const unknown = unknownAttribute(path);
      if (unknown) throw new MappingError(key, unknown);
      const sources = [spec.from ?? spec.join, spec.value, spec.expr].filter((x) => x !== undefined).length;
      if (sources !== 1) throw new MappingError(key, 'needs exactly one of from (with or without join), join, value or expr');
      return { path, key, spec, ...(spec.expr !== undefined ? { expression: compileExpression(spec.expr, `${key}.expr`) } : {}) };
    });
  }

  /** Paths this mapper writes. */
  get paths(): string[] {
    return this.compiled.map((c) => c.path);
  }

  /** Each mapping: the path it writes, the config key that sets it, and how. */
  get entries(): { path: string; key: string; required: boolean; keepOnEmpty: boolean; onCreateOnly: boolean; reference: boolean }[] {
    const required = new Set(this.rules.filter((r) => r.rule === 'required').map((r) => r.path));
    return this.compiled.map((c) => ({
      path: c.path,
      key: c.key,
      required: c.spec.required === true || required.has(c.path),
      keepOnEmpty: c.spec.keepOnEmpty === true,
      onCreateOnly: c.spec.apply === 'onCreate',
      reference: c.spec.reference === 'user',
    }));
  }

  /** Paths whose value is a reference to another user (manager). */
  get referencePaths(): string[] {
    return this.compiled.filter((c) => c.spec.reference === 'user').map((c) => c.path);
  }

  /** Whether a mapping is a JSONata expression (evaluated asynchronously). */
  get hasExpressions(): boolean {
    return this.compiled.some((c) => c.expression !== undefined);
  }

  async map(user: SourceUser): Promise<MappedUser> {
    if (!this.hasExpressions) return this.mapSync(user);
    const input: Record<string, unknown> = { ...user.attributes, id: user.id, active: user.active };
    const values = new Map<string, unknown>();
    const failed = new Map<string, string>();
    for (const { path, expression } of this.compiled) {
      if (!expression) continue;
      try {
        values.set(path, await expression.evaluate(input));
      } catch (err) {
        failed.set(path, `expression failed: ${(err as Error).message}`);
      }
    }
    return this.build(user, values, failed);
  }

  /** `map` for mappings without expressions: no promise per user. */
  mapSync(user: SourceUser): MappedUser {
    if (this.hasExpressions) throw new Error('mapSync: this mapping has expressions; use map');
    return this.build(user, undefined, undefined);
  }

  private build(user: SourceUser, values: ReadonlyMap<string, unknown> | undefined, failed: ReadonlyMap<string, string> | undefined): MappedUser {
    const out: MappedUser = { attrs: {}, createOnly: {}, keep: [], problems: [] };
    for (const { path, spec, expression } of this.compiled) {
      let raw: unknown;
      if (spec.from !== undefined || spec.join !== undefined) raw = fromSources(user, spec);
      else if (spec.value !== undefined) raw = spec.value;
      else if (expression) {
        const problem = failed?.get(path);
        if (problem !== undefined) {
          out.problems.push({ path, rule: 'expression', message: problem });
          continue;
        }
        raw = values?.get(path);
      }
      if (typeof raw === 'string') raw = raw.trim();
      if (empty(raw)) {
        if (spec.keepOnEmpty) out.keep.push(path);
        continue;
      }
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        out.problems.push({ path, rule: 'expression', message: `${path} must be text, a number or true/false, got ${JSON.stringify(raw)}` });
        continue;
      }
      const value: AttrValue = spec.reference === 'user' ? { userRef: String(raw) } : raw;
      if (spec.apply === 'onCreate') out.createOnly[path] = value;
      else out.attrs[path] = value;
    }
    for (const rule of this.rules) {
      const problem = checkRule(rule, out.attrs[rule.path] ?? out.createOnly[rule.path], this.options);
      if (problem) out.problems.push({ path: rule.path, rule: rule.rule, message: problem });
    }
    return out;
  }
}

/** A source attribute by name; `id` and `active` are the user's own. */
function attributeOf(user: SourceUser, name: string): unknown {
  if (name === 'id') return user.id;
  if (name === 'active') return user.active;
  return user.attributes[name];
}

/** `from` (first attribute with a value), else `join` (the non-empty ones, joined). Cheap: no expression engine. */
function fromSources(user: SourceUser, spec: MappingSpec): unknown {
  if (typeof spec.from === 'string') {
    const v = attributeOf(user, spec.from);
    if (!empty(v) || !spec.join) return v;
  } else if (spec.from) {
    for (const a of spec.from) {
      const v = attributeOf(user, a);
      if (!empty(v)) return v;
    }
  }
  if (!spec.join) return undefined;
  const parts: string[] = [];
  for (const a of spec.join) {
    const v = attributeOf(user, a);
    if (!empty(v)) parts.push(String(v).trim());
  }
  return parts.join(spec.separator ?? ' ');
}

function quoteKey(path: string): string {
  return /^[\w.]+$/.test(path) ? path : JSON.stringify(path);
}

let zones: Set<string> | undefined;
const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** Why a value breaks a profile rule, or undefined when it does not. */
export function checkRule(rule: ProfileRule, value: AttrValue | undefined, options: { emailDomains?: readonly string[] | undefined }): string | undefined {
  const text = typeof value === 'string' ? value : value === undefined ? undefined : String(value);
  switch (rule.rule) {
    case 'required':
      return text === undefined || text === '' ? `${rule.path} is required and has no value` : undefined;
    case 'emailDomain': {
      if (text === undefined || !options.emailDomains || options.emailDomains.length === 0) return undefined;
      const domain = text.slice(text.lastIndexOf('@') + 1).toLowerCase();
      const allowed = options.emailDomains.map((d) => d.toLowerCase());
      return text.includes('@') && allowed.includes(domain)
        ? undefined
        : `${rule.path} ${JSON.stringify(text)} is not in an allowed domain (${allowed.join(', ')})`;
    }
    case 'locale':
      return text === undefined || /^[a-z]{2,3}(-[A-Z]{2})?$/.test(text) ? undefined : `${rule.path} ${JSON.stringify(text)} is not a locale like en-US`;
    case 'timezone':
      zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
      return text === undefined || zones.has(text) ? undefined : `${rule.path} ${JSON.stringify(text)} is not an IANA time zone like Europe/Paris`;
    case 'country':
      return text === undefined || (/^[A-Z]{2}$/.test(text) && ![text, 'Unknown Region'].includes(regionNames.of(text) ?? text))
        ? undefined
        : `${rule.path} ${JSON.stringify(text)} is not an ISO 3166-1 country code like US`;
  }
}

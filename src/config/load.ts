import { sourceWithPaths } from '../../connectors/index.js';
import { resolveProfile } from '../../connectors/profiles/index.js';
import { MappingError } from '../core/map.js';
import { conditionProblem } from '../core/scope.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isAlias, isCollection, isPair, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { httpConfigProblem } from './http.js';
import { ConfigError } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { configSchema, type Config } from './schema.js';

/** Formats a key path as users write it: `integrations[0].target.auth.token`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

/** `${ENV}` or `${file:/path}`, on one line. */
const REFERENCE = /\$\{([^}\n]+)\}/g;

/** Aliases a config may use, and the values they may expand to: a small file must not expand without bound. */
const MAX_ALIASES = 50;
const MAX_ALIAS_VALUES = 10_000;

/** Keys whose values are secrets, kept out of every error message. */
// A webhook URL is itself a credential (Slack's, Teams'): it is never echoed either.
const SECRET_KEYS = new Set(['token', 'password', 'clientSecret', 'bindPassword', 'secret', 'webhook', 'passwordHash', 'hash']);

/** One `${…}` of the config text and the placeholder scalar that stood in for it while YAML was parsed. */
interface Reference {
  /** What is inside `${…}`: a variable name, or `file:/path`. */
  ref: string;
  /** `${…}` as written. */
  written: string;
  /** Offsets of the placeholder in the parsed text and of `${…}` in the original. */
  at: number;
  length: number;
  originalAt: number;
}

interface Masked {
  /** The config text with every `${…}` replaced by a placeholder. */
  text: string;
  references: Reference[];
  /** Matches a placeholder; group 1 is its index in `references`. */
  placeholder: RegExp;
}

/**
 * Replaces each `${…}` with a placeholder made of letters, digits and `_`, which
 * YAML reads as (part of) a plain string wherever a scalar can stand, flow
 * collections and quoted strings included. The values are put in only after
 * parsing, so an environment variable can never inject YAML.
 */
function maskReferences(original: string): Masked {
  let nonce = randomBytes(6).toString('hex');
  while (original.includes(nonce)) nonce = randomBytes(6).toString('hex');
  const references: Reference[] = [];
  let text = '';
  let last = 0;
  for (const m of original.matchAll(REFERENCE)) {
    text += original.slice(last, m.index);
    const placeholder = `scimsync_${nonce}_${references.length}_`;
    references.push({ ref: m[1]!, written: m[0], at: text.length, length: placeholder.length, originalAt: m.index });
    text += placeholder;
    last = m.index + m[0].length;
  }
  text += original.slice(last);
  return { text, references, placeholder: new RegExp(`scimsync_${nonce}_(\\d+)_`, 'g') };
}

/** Maps an offset in the masked text back to the original text. */
function originalOffset(masked: Masked, offset: number): number {
  let shift = 0;
  for (const r of masked.references) {
    if (offset < r.at) break;
    if (offset < r.at + r.length) return r.originalAt;
    shift += r.written.length - r.length;
  }
  return offset + shift;
}

/** `:line:column` (both from 1) of an offset of the masked text, in the original text. */
function position(original: string, masked: Masked, offset: number | undefined): string {
  if (offset === undefined) return '';
  const at = Math.min(originalOffset(masked, offset), original.length);
  const before = original.slice(0, at);
  const line = before.split('\n').length;
  return `:${line}:${at - before.lastIndexOf('\n')}`;
}

/** Throws the ConfigError: `fail` names the file, `failAt` the file and a `:line:column`. */
interface Reporter {
  fail(message: string): never;
  failAt(position: string, message: string): never;
}

interface Substitution {
  env: NodeJS.ProcessEnv;
  masked: Masked;
  /** Values met so far that no error message may show. */
  secrets: string[];
  report: Reporter;
}

/** Hiding a value this short would garble every message (a 1-letter test token is in most words), and no real secret is this short. */
const MIN_SECRET_LENGTH = 4;

function resolveReference(ref: string, path: readonly PropertyKey[], s: Substitution): string {
  if (ref.startsWith('file:')) {
    const file = ref.slice('file:'.length);
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      return s.report.fail(`${formatKeyPath(path)}: secret file ${file} cannot be read (${reason})`);
    }
  }
  const value = s.env[ref];
  if (value === undefined) return s.report.fail(`${formatKeyPath(path)}: environment variable ${ref} is not set`);
  return value;
}

/**
 * Puts the value of each `${…}` in place of its placeholder, in every string of
 * the parsed document; a reference inside a longer string is replaced in place.
 * Keys keep `${…}` as written. Secrets met on the way are remembered.
 */
function substitute(value: unknown, s: Substitution, path: PropertyKey[]): unknown {
  if (typeof value === 'string') {
    return value.replace(s.masked.placeholder, (_m, n: string) => {
      const resolved = resolveReference(s.masked.references[Number(n)]!.ref, path, s);
      if (resolved.length >= MIN_SECRET_LENGTH) s.secrets.push(resolved);
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, s, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [written, v] of Object.entries(value)) {
      const key = written.replace(s.masked.placeholder, (_m, n: string) => s.masked.references[Number(n)]!.written);
      const resolved = substitute(v, s, [...path, key]);
      if (SECRET_KEYS.has(key) && typeof resolved === 'string' && resolved.length >= MIN_SECRET_LENGTH) s.secrets.push(resolved);
      // defineProperty: a `__proto__` key stays a key (and is refused as unknown).
      Object.defineProperty(out, key, { value: resolved, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

interface AliasProblem {
  message: string;
  offset: number | undefined;
}

/**
 * Refuses what would make the parsed config huge or endless: more than
 * MAX_ALIASES aliases, aliases expanding to more than MAX_ALIAS_VALUES values
 * (a "billion laughs"), an alias inside its own anchor, an alias with no anchor.
 */
function aliasProblem(doc: Document): AliasProblem | undefined {
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let aliases = 0;
  let values = 0;
  let problem: AliasProblem | undefined;
  const sizeOf = (node: unknown): number => {
    if (problem) return 0;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) problem = { message: `alias *${node.source} has no anchor before it`, offset: node.range?.[0] };
      else if (open.has(target)) problem = { message: `alias *${node.source} is inside its own anchor`, offset: node.range?.[0] };
      return problem ? 0 : sizeOf(target);
    }
    if (isPair(node)) return sizeOf(node.key) + sizeOf(node.value);
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let size = 1;
    for (const item of node.items) size += sizeOf(item);
    open.delete(node);
    sizes.set(node, size);
    return size;
  };
  visit(doc, {
    Alias(_key, node) {
      aliases += 1;
      values += sizeOf(node);
      if (!problem && aliases > MAX_ALIASES) problem = { message: `more than ${MAX_ALIASES} YAML aliases`, offset: node.range?.[0] };
      if (!problem && values > MAX_ALIAS_VALUES) {
        problem = { message: `YAML aliases expand to more than ${MAX_ALIAS_VALUES.toLocaleString('en-US')} values`, offset: node.range?.[0] };
      }
      return problem ? visit.BREAK : undefined;
    },
  });
  return problem;
}

function firstAliasOffset(doc: Document): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/** Reads the YAML into plain values, `${…}` substituted. Every problem is one line naming the file, and a line and column where there is one. */
function readYaml(original: string, file: string, s: Omit<Substitution, 'masked'>): unknown {
  const { report } = s;
  const masked = maskReferences(original);
  // A YAML message may quote the text around it: show `${…}` as written, not the placeholder.
  const unmask = (text: string) => text.replace(masked.placeholder, (_m, n: string) => masked.references[Number(n)]!.written);
  const doc = parseDocument(masked.text);
  const e = doc.errors[0];
  if (e) {
    const message = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    return report.failAt(position(original, masked, e.pos[0]), unmask(message));
  }
  const problem = aliasProblem(doc);
  if (problem) return report.failAt(position(original, masked, problem.offset), unmask(problem.message));
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    // The aliases passed the count above but not yaml's own, stricter measure.
    if (!(err instanceof ReferenceError)) throw err;
    return report.failAt(position(original, masked, firstAliasOffset(doc)), `YAML aliases over the limit (${err.message})`);
  }
  return substitute(raw ?? {}, { ...s, masked }, []);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatKeyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const first = keys.length === 1 ? `${where === '(top level)' ? '' : `${where}.`}${keys[0]}` : where;
    return keys.length === 1 ? `${first}: unknown key` : `${where}: unknown keys ${keys.join(', ')}`;
  }
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

export interface LoadedConfig {
  config: Config;
  /** The config file's path; relative paths in the config resolve against its folder. */
  path: string;
}

/** Parses and validates a config document. Throws ConfigError with one line naming the file. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const secrets: string[] = [];
  // Every message goes through here: a value it echoes may be a secret.
  const report: Reporter = {
    fail: (message) => report.failAt('', message),
    failAt: (at, message) => {
      throw new ConfigError(redactSecrets(`${file}${at}: ${message}`, secrets));
    },
  };
  const raw = readYaml(text, file, { env, secrets, report });
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return report.fail(describeIssue(parsed.error.issues[0]!));
  const config = resolvePaths(parsed.data, dirname(resolve(file)));
  checkIntegrations(config, report);
  if (config.http) {
    const problem = httpConfigProblem(config.http);
    if (problem) report.fail(problem);
  }
  return config;
}

/** What the schema cannot see: names used twice, SCIM paths and expressions in mappings, scoping conditions. */
function checkIntegrations(config: Config, { fail }: Reporter): void {
  const seen = new Map<string, number>();
  config.integrations.forEach((integration, n) => {
    const first = seen.get(integration.name);
    // Integrations are keyed by name in the state: two of one name would deprovision each other's users.
    if (first !== undefined) fail(`integrations[${first}].name and integrations[${n}].name are both ${JSON.stringify(integration.name)}`);
    seen.set(integration.name, n);
  });
  config.integrations.forEach((integration, n) => {
    const at = `integrations[${n}]`;
    try {
      resolveProfile(integration, `${at}.mappings.user`);
    } catch (err) {
      if (err instanceof MappingError) fail(err.message);
      throw err;
    }
    (integration.scope?.filters ?? []).forEach((clause, i) =>
      clause.forEach((condition, j) => {
        const problem = conditionProblem(condition);
        if (problem) fail(`${at}.scope.filters[${i}][${j}]: ${problem}`);
      }),
    );
  });
}

function resolvePaths(config: Config, base: string): Config {
  return {
    ...config,
    state: { path: resolve(base, config.state.path) },
    integrations: config.integrations.map((i) => ({ ...i, source: sourceWithPaths(i.source, (path) => resolve(base, path)) })),
  };
}

/** Finds and loads the config: --config, else ./scimsync.yaml, else $SCIMSYNC_CONFIG. */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = explicit ?? (existsSync('./scimsync.yaml') ? './scimsync.yaml' : (env.SCIMSYNC_CONFIG ?? './scimsync.yaml'));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${path}: cannot read the config file (${reason})`);
  }
  return { config: parseConfig(text, path, env), path };
}

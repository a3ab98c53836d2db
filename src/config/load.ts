import { PROFILES, resolveProfile } from '../../connectors/profiles/index.js';
import { MappingError } from '../mapping/mapper.js';
import { conditionProblem } from '../mapping/scope.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
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

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/**
 * Replaces `${ENV}` and `${file:/path}` in every string of the parsed document.
 * A missing variable or unreadable file names the key path it was found at.
 */
export function substitute(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_m, ref: string) => {
      if (ref.startsWith('file:')) {
        const file = ref.slice('file:'.length);
        try {
          return readFileSync(file, 'utf8').trim();
        } catch (err) {
          const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
          throw new ConfigError(`${formatKeyPath(path)}: secret file ${file} cannot be read (${reason})`);
        }
      }
      const v = env[ref];
      if (v === undefined) throw new ConfigError(`${formatKeyPath(path)}: environment variable ${ref} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, env, [...path, k]);
    return out;
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatKeyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const first = keys.length === 1 ? `${where === '(top level)' ? '' : `${where}.`}${keys[0]}` : where;
    return keys.length === 1 ? `${first}: unknown key` : `${where}: unknown keys ${keys.join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
  }
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

export interface LoadedConfig {
  config: Config;
  /** The config file's path; relative paths in the config resolve against its folder. */
  path: string;
}

/** Parses and validates a config document. Throws ConfigError with one line. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    const at = pos ? `:${pos.line}:${pos.col}` : '';
    throw new ConfigError(`${file}${at}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const raw = substitute(doc.toJS() ?? {}, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${file}: ${describeIssue(parsed.error.issues[0]!)}`);
  }
  const config = resolvePaths(parsed.data, dirname(resolve(file)));
  checkIntegrations(config, file);
  return config;
}

/** What the schema cannot see: profiles, SCIM paths and expressions in mappings, scoping conditions. */
function checkIntegrations(config: Config, file: string): void {
  config.integrations.forEach((integration, n) => {
    const at = `integrations[${n}]`;
    if (!PROFILES[integration.target.profile]) {
      throw new ConfigError(`${file}: ${at}.target.profile: unknown profile ${JSON.stringify(integration.target.profile)} (have: ${Object.keys(PROFILES).join(', ')})`);
    }
    try {
      resolveProfile(integration, `${at}.mappings.user`);
    } catch (err) {
      if (err instanceof MappingError) throw new ConfigError(`${file}: ${err.message}`);
      throw err;
    }
    (integration.scope?.filters ?? []).forEach((clause, i) =>
      clause.forEach((condition, j) => {
        const problem = conditionProblem(condition);
        if (problem) throw new ConfigError(`${file}: ${at}.scope.filters[${i}][${j}]: ${problem}`);
      }),
    );
  });
}

function resolvePaths(config: Config, base: string): Config {
  return {
    ...config,
    state: { path: resolve(base, config.state.path) },
    integrations: config.integrations.map((i) =>
      i.source.type === 'file'
        ? {
            ...i,
            source: {
              ...i.source,
              path: resolve(base, i.source.path),
              ...(i.source.groupsPath ? { groupsPath: resolve(base, i.source.groupsPath) } : {}),
            },
          }
        : i,
    ),
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

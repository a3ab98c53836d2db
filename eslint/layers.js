/**
 * The layers of scimsync and the imports allowed between them: the one place that
 * names them (DESIGN.md, "Layout and layers"). eslint.config.js turns this into
 * eslint-plugin-boundaries settings; test/lint/boundaries.test.ts proves the rule bites.
 */

/** Every file of the project belongs to the first layer whose folder or file it is in. */
export const LAYERS = [
  // Shared leaves: anyone but core may import them, and they import only each other.
  { layer: 'shared', files: ['src/errors.ts', 'src/io.ts', 'src/log.ts', 'src/redact.ts'] },
  { layer: 'core', files: ['src/core'] },
  { layer: 'scim', files: ['src/scim'] },
  { layer: 'delivery', files: ['src/delivery'] },
  { layer: 'events', files: ['src/events'] },
  // What the CLI, the daemon and the console may call of the engine, named once; they reach the engine only through it.
  { layer: 'engine-surface', files: ['src/engine/index.ts'] },
  { layer: 'engine', files: ['src/engine'] },
  { layer: 'daemon', files: ['src/daemon'] },
  { layer: 'console', files: ['src/console'] },
  { layer: 'cli', files: ['src/cli'] },
  { layer: 'config', files: ['src/config'] },
  // Target profiles are connectors too; config imports both registries (their names and options schemas).
  { layer: 'profiles', files: ['connectors/profiles'] },
  { layer: 'connectors', files: ['connectors'] },
  { layer: 'state', files: ['state'] },
  // Tests, benchmarks, the dev target and the demo may import anything; nothing shipped imports them.
  { layer: 'tooling', files: ['test', 'bench', 'demo', 'eslint', 'eslint.config.js', 'vitest.config.ts'] },
];

/** An edge that only `import type` may cross. */
const types = (layer) => ({ layer, typesOnly: true });

/** What each layer may import (besides itself). `shared` is added for every layer but core and shared. */
export const ALLOWED_IMPORTS = {
  core: [],
  scim: ['core', types('config')],
  delivery: ['scim', 'core', 'events'],
  events: ['core', 'state'],
  // The digests of what was pushed are computed where they are stored: state may call core's pure functions.
  state: ['core', types('events')],
  connectors: ['profiles', 'core', types('config'), 'scim'],
  profiles: ['connectors', 'core', types('config')],
  engine: ['core', 'delivery', 'connectors', 'profiles', 'state', 'events', 'scim', 'config'],
  'engine-surface': ['engine'],
  // The daemon serves the console; the console never reaches back into the daemon.
  daemon: ['console', 'engine-surface', 'events', 'config'],
  console: ['engine-surface', 'events', 'config'],
  // The verbs that serve (daemon, console) start those layers; the others are shells over engine functions.
  cli: ['engine-surface', types('events'), 'config', 'daemon', 'console'],
  // A feature's config schema lives with the feature (events.forward, notify, each source connector): config assembles them.
  config: ['core', 'profiles', 'connectors', 'events'],
  shared: [],
  tooling: '*',
};

/** Modules that do I/O, or belong to the edges (HTTP, SQLite, LDAP, logging, the CLI, config files): core never imports them. */
export const CORE_FORBIDDEN_MODULES = [
  'fs', 'fs/promises', 'http', 'https', 'http2', 'net', 'tls', 'dgram', 'dns', 'child_process', 'cluster',
  'worker_threads', 'os', 'readline', 'process', 'timers', 'timers/promises', 'perf_hooks', 'v8', 'vm',
  'axios', 'better-sqlite3', 'ldapts', 'undici', 'winston', 'nodemailer', 'bottleneck', 'p-queue',
  'express', 'hono', '@hono/node-server', 'commander', 'cli-progress', 'prom-client', 'yaml', 'cron-parser',
];

/**
 * Imports today's code makes against the layering, one entry per file and edge.
 * TEMPORARY: the lead removes an entry when its file moves; test/lint/boundaries.test.ts
 * fails on an entry that is no longer needed, so the list only shrinks.
 */
export const TEMPORARY_EXCEPTIONS = [
];

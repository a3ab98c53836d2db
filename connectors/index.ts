import { z } from 'zod';
import type { IntegrationConfig, SourceConfig } from '../src/config/schema.js';
import { fileSourcePlugin } from './file.js';
import { ldapSourcePlugin } from './ldap.js';
import { scimSourcePlugin } from './scim.js';
import type { SourceConnector, SourcePlugin } from './source.js';

/** Every source connector, one line each: `source.type` takes the names their schemas declare. */
const SOURCES = [fileSourcePlugin, ldapSourcePlugin, scimSourcePlugin] as const;

/** `source:` in the config: one of the registered sources' options. */
export const sourceSchema = z.discriminatedUnion('type', [SOURCES[0].options, ...SOURCES.slice(1).map((s) => s.options)]);

function pluginOf(config: SourceConfig): SourcePlugin {
  const plugin = SOURCES.find((s) => s.type === config.type);
  // The schema admits only registered types: a miss is a programming error.
  if (!plugin) throw new Error(`no source connector of type ${config.type}`);
  return plugin as unknown as SourcePlugin;
}

/** The source connector an integration's config names. */
export function createSource(integration: IntegrationConfig): SourceConnector {
  return pluginOf(integration.source).create(integration.source, integration.name);
}

/** `source:` with its file paths resolved against the config file's folder. */
export function sourceWithPaths<C extends SourceConfig>(config: C, resolve: (path: string) => string): C {
  const plugin = pluginOf(config);
  return plugin.resolvePaths ? (plugin.resolvePaths(config, resolve) as C) : config;
}

import type { IntegrationConfig, SourceConfig } from '../src/config/schema.js';
import { SOURCES } from './registry.js';
import type { SourceConnector, SourcePlugin } from './source.js';

export { sourceSchema } from './registry.js';

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

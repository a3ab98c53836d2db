import type { IntegrationConfig } from '../src/config/schema.js';
import { ConfigError } from '../src/errors.js';
import { fileSource } from './file.js';
import type { SourceConnector } from './source.js';

/** The source connector an integration's config names. */
export function createSource(integration: IntegrationConfig): SourceConnector {
  const source = integration.source;
  switch (source.type) {
    case 'file':
      return fileSource({
        integration: integration.name,
        path: source.path,
        ...(source.groupsPath ? { groupsPath: source.groupsPath } : {}),
      });
    case 'ldap':
    case 'scim':
      throw new ConfigError(`integrations.${integration.name}.source.type: the ${source.type} connector is not available in this version`);
  }
}

import type { IntegrationConfig } from '../src/config/schema.js';
import { fileSource } from './file.js';
import { DEFAULT_LDAP_ATTRIBUTES, ldapSource } from './ldap.js';
import { scimSource } from './scim.js';
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
      return ldapSource({
        integration: integration.name,
        url: source.url,
        startTls: source.startTls,
        tls: source.tls,
        bindDN: source.bindDN,
        bindPassword: source.bindPassword,
        users: source.users,
        groups: source.groups,
        attributes: { ...DEFAULT_LDAP_ATTRIBUTES, ...source.attributes },
        pageSize: source.pageSize,
        timeoutMs: source.timeoutMs,
      });
    case 'scim':
      return scimSource({ integration: integration.name, url: source.url, auth: source.auth, pageSize: source.pageSize, timeoutMs: source.timeoutMs });
  }
}

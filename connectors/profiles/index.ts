import type { IntegrationConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { UserMapper } from '../../src/core/map.js';
import type { GroupBehaviour, TargetProfile } from './profile.js';
import { PROFILES } from './registry.js';

export { PROFILES, PROFILE_NAMES } from './registry.js';
export { profileOptionsSchema } from './profile.js';

/** A profile as one integration uses it: its options applied and its mappings compiled. */
export interface ResolvedProfile extends TargetProfile {
  readonly mapper: UserMapper;
}

const GROUP_OPTION_KEYS = ['membersPerRequest', 'multipleOperations', 'memberRemoval', 'createWithMembers', 'inactiveMembers', 'readsMembers'] as const;

export function profileByName(name: string): TargetProfile {
  const p = PROFILES[name];
  if (!p) throw new ConfigError(`target.profile: unknown profile ${JSON.stringify(name)} (have: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}

/**
 * The integration's profile with `target.options` and `mappings` applied. A bad
 * mapping throws MappingError naming its key.
 */
export function resolveProfile(integration: IntegrationConfig, keyPrefix = 'mappings.user'): ResolvedProfile {
  const base = profileByName(integration.target.profile);
  const options = integration.target.options ?? {};
  const groups: Record<string, unknown> = { ...base.groups };
  for (const key of GROUP_OPTION_KEYS) if (options[key] !== undefined) groups[key] = options[key];
  const rules = [
    ...base.rules,
    ...Object.entries(integration.mappings.user ?? {})
      .filter(([, m]) => m.required)
      .map(([path]) => ({ rule: 'required' as const, path })),
  ];
  return {
    ...base,
    matching: integration.mappings.matching ?? base.matching,
    updateVerb: options.updateVerb ?? base.updateVerb,
    groups: groups as unknown as GroupBehaviour,
    rules,
    mapper: new UserMapper(base.mappings, integration.mappings.user, rules, { emailDomains: options.emailDomains }, keyPrefix),
  };
}

import { ENTERPRISE_USER_SCHEMA } from '../../src/core/paths.js';
import type { MappingSpec } from '../../src/core/map.js';
import type { GroupBehaviour, TargetProfile } from './profile.js';

/** The RFC 7643 core User plus the enterprise manager: the base the other profiles extend. */
export const coreMappings: Readonly<Record<string, MappingSpec>> = {
  externalId: { from: 'id' },
  userName: { from: 'userName', required: true },
  'name.givenName': { from: 'givenName' },
  'name.familyName': { from: 'familyName' },
  'name.formatted': { join: ['givenName', 'familyName'] },
  displayName: { from: 'displayName', join: ['givenName', 'familyName'] },
  'emails[type eq "work"].value': { from: 'email' },
  title: { from: 'title' },
  'phoneNumbers[type eq "work"].value': { from: 'phone' },
  [`${ENTERPRISE_USER_SCHEMA}:manager`]: { from: 'managerId', reference: 'user' },
};

export const rfcGroups: GroupBehaviour = {
  membersPerRequest: 100,
  multipleOperations: true,
  memberRemoval: 'path',
  createWithMembers: true,
  inactiveMembers: 'keep',
  readsMembers: true,
};

export const generic: TargetProfile = {
  name: 'generic',
  description: 'any SCIM 2.0 service (RFC 7643/7644)',
  matching: ['userName'],
  updateVerb: 'patch',
  mappings: coreMappings,
  rules: [{ rule: 'required', path: 'userName' }],
  groups: rfcGroups,
};

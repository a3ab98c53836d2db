import type { TargetProfile } from './profile.js';
import { coreMappings, rfcGroups } from './generic.js';

/**
 * strongDM (`/provisioning/generic/v2`): strictly RFC-shaped requests; `active`,
 * given and family name and an email are required; a duplicate email answers
 * 409 (the account is looked up and adopted); `active: false` suspends; groups
 * become roles. Unknown member ids are ignored on create but 404 on replace, so
 * members are only ever added and removed, never replaced.
 */
export const strongdm: TargetProfile = {
  name: 'strongdm',
  description: 'strongDM (SCIM 2.0 at /provisioning/generic/v2)',
  matching: ['userName', 'emails'],
  updateVerb: 'patch',
  mappings: coreMappings,
  rules: [
    { rule: 'required', path: 'userName' },
    { rule: 'required', path: 'name.givenName' },
    { rule: 'required', path: 'name.familyName' },
    { rule: 'required', path: 'emails[type eq "work"].value' },
  ],
  groups: { ...rfcGroups, memberRemoval: 'path' },
  basePath: '/provisioning/generic/v2',
};

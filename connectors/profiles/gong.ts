import type { TargetProfile } from './profile.js';
import { coreMappings, rfcGroups } from './generic.js';

export const GONG_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:Gong:2.0:User';

/**
 * Gong: given name, family name and a work email in the company's domain are
 * required (otherwise Gong silently does not import the user); locale,
 * timezone and the Gong extension's country are validated before sending.
 * Set `target.options.emailDomains` to the company's domains.
 */
export const gong: TargetProfile = {
  name: 'gong',
  description: 'Gong (SCIM 2.0, Gong user extension)',
  matching: ['userName'],
  updateVerb: 'patch',
  mappings: {
    ...coreMappings,
    locale: { from: 'locale' },
    timezone: { from: 'timezone' },
    [`${GONG_USER_SCHEMA}:stateOrProvince`]: { from: 'stateOrProvince' },
    [`${GONG_USER_SCHEMA}:country`]: { from: 'country' },
  },
  rules: [
    { rule: 'required', path: 'userName' },
    { rule: 'required', path: 'name.givenName' },
    { rule: 'required', path: 'name.familyName' },
    { rule: 'required', path: 'emails[type eq "work"].value' },
    { rule: 'emailDomain', path: 'emails[type eq "work"].value' },
    { rule: 'locale', path: 'locale' },
    { rule: 'timezone', path: 'timezone' },
    { rule: 'country', path: `${GONG_USER_SCHEMA}:country` },
  ],
  groups: rfcGroups,
};

import type { SourceUser } from '../../src/model.js';
import { ENTERPRISE_USER_SCHEMA, type ScimAttrs } from '../../src/scim/attributes.js';
import type { GroupBehaviour, TargetProfile } from './profile.js';

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The RFC 7643 core User plus the enterprise manager, for any SCIM 2.0 target. */
export const genericProfile: TargetProfile = {
  name: 'generic',
  matchAttribute: 'userName',
  groups: {
    membersPerRequest: 100,
    multipleOperations: true,
    memberRemoval: 'path',
    createWithMembers: true,
    inactiveMembers: 'keep',
    readsMembers: true,
  },
  mapUser(user: SourceUser): ScimAttrs {
    const a = user.attributes;
    const out: ScimAttrs = { externalId: user.id };
    const put = (path: string, v: unknown) => {
      const t = text(v);
      if (t !== undefined) out[path] = t;
    };
    put('userName', a.userName);
    put('name.givenName', a.givenName);
    put('name.familyName', a.familyName);
    const formatted = [text(a.givenName), text(a.familyName)].filter(Boolean).join(' ');
    put('name.formatted', formatted);
    put('displayName', text(a.displayName) ?? formatted);
    put('emails[type eq "work"].value', a.email);
    put('title', a.title);
    put('phoneNumbers[type eq "work"].value', a.phone);
    const manager = text(a.managerId);
    if (manager !== undefined) out[`${ENTERPRISE_USER_SCHEMA}:manager`] = { userRef: manager };
    return out;
  },
};

const GROUP_OPTION_KEYS = ['membersPerRequest', 'multipleOperations', 'memberRemoval', 'createWithMembers', 'inactiveMembers', 'readsMembers'] as const;

/**
 * A profile with the group behaviour adjusted by `target.options` (validated by the
 * config schema), for targets whose quirks differ from the profile's defaults.
 */
export function withOptions(profile: TargetProfile, options: Partial<GroupBehaviour> | undefined): TargetProfile {
  if (!options) return profile;
  const groups: Record<string, unknown> = { ...profile.groups };
  for (const key of GROUP_OPTION_KEYS) if (options[key] !== undefined) groups[key] = options[key];
  return { ...profile, groups: groups as unknown as GroupBehaviour };
}

export function profileByName(name: string): TargetProfile {
  switch (name) {
    // gong and strongdm share the generic mapping until their own profiles land
    case 'generic':
    case 'gong':
    case 'strongdm':
      return genericProfile;
    default:
      throw new Error(`unknown target profile ${name}`);
  }
}

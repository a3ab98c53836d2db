import type { SourceUser } from '../../src/model.js';
import { ENTERPRISE_USER_SCHEMA, type ScimAttrs } from '../../src/scim/attributes.js';
import type { TargetProfile } from './profile.js';

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The RFC 7643 core User plus the enterprise manager, for any SCIM 2.0 target. */
export const genericProfile: TargetProfile = {
  name: 'generic',
  matchAttribute: 'userName',
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

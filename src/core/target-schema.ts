import { CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, parsePath } from './attributes.js';

/** RFC 7643 §4.1 User attributes: simple ones, complex ones with their sub-attributes, multi-valued ones with theirs. */
const CORE_SIMPLE = new Set(['userName', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'externalId']);
const CORE_COMPLEX: Record<string, Set<string>> = {
  name: new Set(['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix']),
};
const MULTI_SUB = new Set(['value', 'display', 'primary']);
const CORE_MULTI: Record<string, Set<string>> = {
  emails: MULTI_SUB,
  phoneNumbers: MULTI_SUB,
  ims: MULTI_SUB,
  photos: MULTI_SUB,
  entitlements: MULTI_SUB,
  roles: MULTI_SUB,
  x509Certificates: MULTI_SUB,
  addresses: new Set(['formatted', 'streetAddress', 'locality', 'region', 'postalCode', 'country', 'primary']),
};
/** RFC 7643 §4.3 enterprise User extension. */
const ENTERPRISE = new Set(['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager']);

/**
 * Why a SCIM path cannot be mapped, or undefined when it can. Core and
 * enterprise attributes are checked against RFC 7643; attributes of other
 * (custom) extension schemas are accepted as named.
 */
export function unknownAttribute(path: string): string | undefined {
  let p;
  try {
    p = parsePath(path);
  } catch {
    return `${JSON.stringify(path)} is not a SCIM attribute path (expected e.g. title, name.givenName, emails[type eq "work"].value or a schema URN followed by :attribute)`;
  }
  if (p.schema === ENTERPRISE_USER_SCHEMA) {
    if (!ENTERPRISE.has(p.attribute) || p.type !== undefined || (p.sub !== undefined && p.attribute !== 'manager')) {
      return `${JSON.stringify(path)} is not an attribute of the enterprise User extension (${[...ENTERPRISE].join(', ')})`;
    }
    return undefined;
  }
  if (p.schema !== undefined && p.schema !== CORE_USER_SCHEMA) return undefined; // a custom extension
  const known = (ok: boolean) => (ok ? undefined : `${JSON.stringify(path)} is not a SCIM User attribute (RFC 7643)`);
  if (CORE_SIMPLE.has(p.attribute)) return known(p.type === undefined && p.sub === undefined);
  if (CORE_COMPLEX[p.attribute]) return known(p.type === undefined && p.sub !== undefined && CORE_COMPLEX[p.attribute]!.has(p.sub));
  if (CORE_MULTI[p.attribute]) return known(p.type !== undefined && CORE_MULTI[p.attribute]!.has(p.sub ?? 'value'));
  return known(false);
}

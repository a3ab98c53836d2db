import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guidToString, ldapSource, DEFAULT_LDAP_ATTRIBUTES, type LdapSourceOptions } from '../../connectors/ldap.js';
import { SourceError } from '../../src/errors.js';
import { READER_DN, READER_PASSWORD, SUFFIX, buildLdif, makeLdapDirectory, slapdAvailable, startSlapd, type Directory, type Slapd } from '../support/slapd.js';

// Under CI a missing slapd is a failure; elsewhere the LDAP tests say loudly that they did not run.
const ci = process.env.CI === 'true';
if (!slapdAvailable && !ci) {
  console.warn('\n*** slapd is not installed: the LDAP integration tests are SKIPPED (apt-get install -y slapd ldap-utils) ***\n');
}
const suite = slapdAvailable || ci ? describe : describe.skip;

let slapd: Slapd;
let dir: Directory;

function options(over: Partial<LdapSourceOptions> = {}): LdapSourceOptions {
  return {
    integration: 'ldap-test',
    url: slapd.url,
    bindDN: READER_DN,
    bindPassword: READER_PASSWORD,
    users: { base: `ou=people,${SUFFIX}`, filter: '(objectClass=inetOrgPerson)', id: 'objectGUID' },
    groups: { base: `ou=groups,${SUFFIX}`, filter: '(objectClass=groupOfNames)', memberAttribute: 'member', nameAttribute: 'cn' },
    attributes: { ...DEFAULT_LDAP_ATTRIBUTES },
    pageSize: 200,
    timeoutMs: 10_000,
    ...over,
  };
}

suite('LDAP source against a real slapd (2,000 people, 50 groups)', () => {
  beforeAll(async () => {
    if (!slapdAvailable) throw new Error('slapd is required under CI (apt-get install -y slapd ldap-utils)');
    dir = makeLdapDirectory(2000);
    slapd = await startSlapd(buildLdif(dir.users, dir.groups));
  }, 60_000);
  afterAll(async () => {
    await slapd?.stop();
  });

  it('reads exactly the LDIF: ids, attributes, managers, disabled accounts, nested and large groups', async () => {
    const { snapshot, problems } = await ldapSource(options()).snapshot();
    expect(problems).toEqual([]);
    const gid = (u: { guid: Buffer }) => guidToString(u.guid);
    const byUid = new Map(dir.users.map((u) => [u.uid, u]));
    const expectedUsers = dir.users
      .map((u) => ({
        id: gid(u),
        active: !u.disabled,
        // The record as read: the id, the mapped attributes and the state userAccountControl gives.
        attributes: {
          id: gid(u),
          userName: u.mail,
          givenName: u.givenName,
          familyName: u.sn,
          email: u.mail,
          ...(u.title ? { title: u.title } : {}),
          ...(u.telephoneNumber ? { phone: u.telephoneNumber } : {}),
          ...(u.manager ? { managerId: gid(byUid.get(u.manager)!) } : {}),
          active: !u.disabled,
        },
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
    expect([...snapshot.users].sort((a, b) => a.id.localeCompare(b.id))).toEqual(expectedUsers);
    expect(snapshot.users.filter((u) => !u.active)).toHaveLength(dir.users.filter((u) => u.disabled).length);

    const groupGid = new Map(dir.groups.map((g) => [g.cn, guidToString(g.guid)]));
    const expectedGroups = dir.groups
      .map((g) => ({
        id: groupGid.get(g.cn)!,
        displayName: g.cn,
        members: g.members.map((m) => (m.startsWith('group:') ? groupGid.get(m.slice(6))! : gid(byUid.get(m)!))).sort(),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const actualGroups = snapshot.groups.map((g) => ({ ...g, members: [...g.members].sort() })).sort((a, b) => a.id.localeCompare(b.id));
    expect(actualGroups).toEqual(expectedGroups);
    expect(actualGroups.find((g) => g.displayName === 'everyone')!.members).toHaveLength(2000);
  }, 60_000);

  it('pages past the server size limit that stops an unpaged search', async () => {
    const client = new Client({ url: slapd.url });
    await client.bind(READER_DN, READER_PASSWORD);
    await expect(client.search(`ou=people,${SUFFIX}`, { filter: '(objectClass=inetOrgPerson)', attributes: ['uid'] })).rejects.toMatchObject({ code: 4 }); // sizeLimitExceeded
    await client.unbind();
    const { snapshot } = await ldapSource(options({ pageSize: 500 })).snapshot();
    expect(snapshot.users).toHaveLength(2000);
  }, 60_000);

  it('uses entryUUID by default, as OpenLDAP directories do', async () => {
    const { snapshot } = await ldapSource(options({ users: { base: `ou=people,${SUFFIX}`, filter: '(objectClass=inetOrgPerson)', id: 'entryUUID' }, groups: undefined })).snapshot();
    expect(snapshot.users).toHaveLength(2000);
    for (const u of snapshot.users) expect(u.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const withManager = snapshot.users.filter((u) => u.attributes.managerId !== undefined);
    const ids = new Set(snapshot.users.map((u) => u.id));
    for (const u of withManager) expect(ids.has(String(u.attributes.managerId))).toBe(true);
  }, 60_000);

  it('says in one line what went wrong, with the LDAP result code', async () => {
    const error = async (o: Partial<LdapSourceOptions>) => {
      const err = await ldapSource(options(o)).snapshot().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceError);
      const message = (err as Error).message;
      expect(message.split('\n')).toHaveLength(1);
      return message;
    };
    expect(await error({ bindPassword: 'wrong' })).toMatch(/bind as cn=reader,dc=example,dc=com failed: .*\(LDAP result 49\)/);
    expect(await error({ users: { base: `ou=nobody,${SUFFIX}`, filter: '(objectClass=*)', id: 'entryUUID' } })).toMatch(/user search under ou=nobody,dc=example,dc=com .* failed: .*\(LDAP result 32\)/);
    expect(await error({ users: { base: `ou=people,${SUFFIX}`, filter: '(objectClass=inetOrgPerson', id: 'entryUUID' } })).toMatch(/user filter \(objectClass=inetOrgPerson is not a valid LDAP filter \(RFC 4515\): Unbalanced parens$/);
    expect(await error({ url: 'ldap://127.0.0.1:1' })).toMatch(/ldap:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(await error({ bindPassword: 'wrong' })).not.toMatch(/wrong/);
  }, 60_000);
});

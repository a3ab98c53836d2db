import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READER_DN, READER_PASSWORD, SUFFIX, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.js';
import { heldRows, sourceFromConfig, testSourceConnector, type Directory } from './source.contract.js';

// Under CI a missing slapd is a failure; elsewhere the suite says loudly that it did not run.
const ci = process.env.CI === 'true';
const dir = mkdtempSync(join(tmpdir(), 'scimsync-contract-ldap-'));
const integration = 'contract-ldap';
let slapd: Slapd | undefined;

/** A stable entryUUID per key, given in the LDIF so the test knows the ids the source must return. */
function entryUuid(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const userDn = (key: string) => `uid=${key},ou=people,${SUFFIX}`;
const groupDn = (name: string) => `cn=${name},ou=groups,${SUFFIX}`;

/** One LDIF line; values LDIF cannot carry as text (control characters) go base64 (RFC 2849). */
function line(attribute: string, value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !/^[ :<]/.test(value) ? `${attribute}: ${value}` : `${attribute}:: ${Buffer.from(value).toString('base64')}`;
}

/** The directory as OpenLDAP holds it: inetOrgPerson people with an AD-style disabled flag, groupOfNames groups. */
function directoryLdif(directory: Directory): string {
  const { users, groups } = heldRows(directory);
  const entries = [
    [`dn: ${SUFFIX}`, 'objectClass: dcObject', 'objectClass: organization', 'o: Example', 'dc: example'],
    [`dn: ${READER_DN}`, 'objectClass: simpleSecurityObject', 'objectClass: organizationalRole', 'cn: reader', `userPassword: ${READER_PASSWORD}`],
    [`dn: ou=people,${SUFFIX}`, 'objectClass: organizationalUnit', 'ou: people'],
    [`dn: ou=groups,${SUFFIX}`, 'objectClass: organizationalUnit', 'ou: groups'],
    ...users.map((u) => [
      `dn: ${userDn(u.key)}`,
      'objectClass: inetOrgPerson',
      'objectClass: adAccount',
      `uid: ${u.key}`,
      `cn: ${u.givenName} ${u.familyName}`,
      line('givenName', u.givenName),
      line('sn', u.familyName),
      line('mail', u.email),
      ...(u.title !== undefined ? [line('title', u.title)] : []),
      ...(u.phone !== undefined ? [line('telephoneNumber', u.phone)] : []),
      ...(u.manager !== undefined ? [`manager: ${userDn(u.manager)}`] : []),
      `userAccountControl: ${u.active ? 512 : 514}`,
      `entryUUID: ${entryUuid(u.key)}`,
    ]),
    ...groups.map((g) => [
      `dn: ${groupDn(g.displayName)}`,
      'objectClass: groupOfNames',
      `cn: ${g.displayName}`,
      ...g.members.map((m) => `member: ${userDn(m)}`),
      `entryUUID: ${entryUuid(g.key)}`,
    ]),
  ];
  return entries.map((e) => `${e.join('\n')}\n`).join('\n');
}

/** The source block an admin writes for this directory; the password comes from the environment. */
function ldapConfig(url: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'ldap',
    url,
    bindDN: READER_DN,
    bindPassword: '${LDAP_PASSWORD}',
    users: { base: `ou=people,${SUFFIX}` },
    groups: { base: `ou=groups,${SUFFIX}` },
    timeoutMs: 10_000,
    ...over,
  };
}

const source = (config: Record<string, unknown>, password = READER_PASSWORD) => sourceFromConfig(config, { dir, integration, env: { LDAP_PASSWORD: password } });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

testSourceConnector('LDAP (OpenLDAP slapd)', {
  integration,
  unavailable: slapdAvailable || ci ? undefined : 'slapd is not installed (apt-get install -y slapd ldap-utils)',
  async make(directory) {
    if (!slapdAvailable) throw new Error('slapd is required under CI (apt-get install -y slapd ldap-utils)');
    slapd = await startSlapd(directoryLdif(directory));
    // The config's defaults: ids from entryUUID, people by inetOrgPerson, groupOfNames by member, names by cn.
    return { source: source(ldapConfig(slapd.url)), idOf: entryUuid };
  },
  unreadable: {
    'the bind password is wrong': async () => ({ source: source(ldapConfig(slapd!.url), 'not-the-reader-secret'), secrets: ['not-the-reader-secret', READER_PASSWORD] }),
    'the server is not listening': async () => ({ source: source(ldapConfig(`ldap://127.0.0.1:${await closedPort()}`)) }),
    'the users base does not exist': async () => ({ source: source(ldapConfig(slapd!.url, { users: { base: `ou=nobody,${SUFFIX}` } })) }),
    'the users filter is not valid LDAP': async () => ({ source: source(ldapConfig(slapd!.url, { users: { base: `ou=people,${SUFFIX}`, filter: '(objectClass=inetOrgPerson' } })) }),
  },
  async stop() {
    await slapd?.stop();
    rmSync(dir, { recursive: true, force: true });
  },
});

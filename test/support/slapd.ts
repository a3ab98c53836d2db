import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export const SUFFIX = 'dc=example,dc=com';
export const READER_DN = `cn=reader,${SUFFIX}`;
export const READER_PASSWORD = 'reader-secret';
const SLAPD = ['/usr/sbin/slapd', '/usr/local/libexec/slapd'].find((p) => existsSync(p));
const SLAPADD = ['/usr/sbin/slapadd', '/usr/local/sbin/slapadd'].find((p) => existsSync(p));

/** Whether OpenLDAP's slapd is installed here (`apt-get install -y slapd ldap-utils`). */
export const slapdAvailable = SLAPD !== undefined && SLAPADD !== undefined;

/**
 * A schema for Active Directory-style attributes on OpenLDAP entries, so the AD
 * code paths (objectGUID, userAccountControl, sAMAccountName) run against a real server.
 */
const AD_SCHEMA = `
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'adAccount' AUXILIARY MAY ( objectGUID $ userAccountControl $ sAMAccountName ) )
`;

export interface Slapd {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`slapd did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a real slapd on a free 127.0.0.1 port, as a plain process with its own
 * config and database in a temp folder, loaded with `ldif` by slapadd. The server
 * caps unpaged searches at 500 entries, as production servers do, so only paged
 * searches read a large directory.
 */
export async function startSlapd(ldif: string): Promise<Slapd> {
  if (!SLAPD || !SLAPADD) throw new Error('slapd is not installed (apt-get install -y slapd ldap-utils)');
  const dir = mkdtempSync(join(tmpdir(), 'scimsync-slapd-'));
  mkdirSync(join(dir, 'db'));
  writeFileSync(join(dir, 'ad.schema'), AD_SCHEMA);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `include ${join(dir, 'ad.schema')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${join(dir, 'slapd.pid')}`,
      'sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited',
      'database mdb',
      'maxsize 1073741824',
      `suffix "${SUFFIX}"`,
      `rootdn "cn=admin,${SUFFIX}"`,
      'rootpw admin-secret',
      `directory ${join(dir, 'db')}`,
      'index objectClass eq',
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'data.ldif'), ldif);
  const add = spawnSync(SLAPADD, ['-q', '-f', conf, '-l', join(dir, 'data.ldif')], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
  const port = await freePort();
  const child = spawn(SLAPD, ['-f', conf, '-h', `ldap://127.0.0.1:${port}/`, '-d', '0'], { stdio: 'ignore' });
  await waitForPort(port, child);
  return {
    url: `ldap://127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LdifUser {
  uid: string;
  givenName: string;
  sn: string;
  mail: string;
  title?: string;
  telephoneNumber?: string;
  manager?: string;
  disabled?: boolean;
  guid: Buffer;
}

export interface LdifGroup {
  cn: string;
  guid: Buffer;
  /** uids of users, or `group:<cn>` for a nested group. */
  members: string[];
}

export const userDn = (uid: string) => `uid=${uid},ou=people,${SUFFIX}`;
export const groupDn = (cn: string) => `cn=${cn},ou=groups,${SUFFIX}`;

/** A deterministic 16-byte GUID for test entries. */
export function testGuid(n: number, kind: 'user' | 'group'): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(n, 0);
  b.writeUInt16LE(kind === 'user' ? 0x1111 : 0x2222, 4);
  b.writeUInt16LE(0x4abc, 6);
  b.writeUInt32BE(0xdeadbeef, 8);
  b.writeUInt32BE(n * 7919, 12);
  return b;
}

export interface Directory {
  users: LdifUser[];
  groups: LdifGroup[];
}

/**
 * n people (every 10th manages the next nine, every 37th disabled), 48 teams, a
 * nested group of two teams plus one person, and "Everyone" (all of them, so
 * more than 1,500 members when n is 2,000).
 */
export function makeLdapDirectory(n: number): Directory {
  const users: LdifUser[] = [];
  for (let i = 0; i < n; i++) {
    const uid = `p${String(i).padStart(5, '0')}`;
    users.push({
      uid,
      givenName: `Given${i}`,
      sn: `Family${i}`,
      mail: `${uid}@example.com`,
      ...(i % 4 === 0 ? { title: 'Engineer' } : {}),
      ...(i % 3 === 0 ? { telephoneNumber: `+1 555 ${String(i).padStart(4, '0')}` } : {}),
      ...(i % 10 !== 0 ? { manager: `p${String(i - (i % 10)).padStart(5, '0')}` } : {}),
      ...(i % 37 === 5 ? { disabled: true } : {}),
      guid: testGuid(i, 'user'),
    });
  }
  const groups: LdifGroup[] = [];
  for (let k = 0; k < 48; k++) {
    groups.push({ cn: `team${k}`, guid: testGuid(k, 'group'), members: users.filter((_, i) => i % 48 === k).map((u) => u.uid) });
  }
  groups.push({ cn: 'eng-all', guid: testGuid(48, 'group'), members: ['group:team0', 'group:team1', users[n - 1]!.uid] });
  groups.push({ cn: 'everyone', guid: testGuid(49, 'group'), members: users.map((u) => u.uid) });
  return { users, groups };
}

/** An LDIF with the reader account, people (with AD-style attributes) and groups. */
export function buildLdif(users: LdifUser[], groups: LdifGroup[]): string {
  const out: string[] = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n`,
    `dn: ${READER_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: reader\nuserPassword: ${READER_PASSWORD}\n`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
  ];
  for (const u of users) {
    out.push(
      [
        `dn: ${userDn(u.uid)}`,
        'objectClass: inetOrgPerson',
        'objectClass: adAccount',
        `uid: ${u.uid}`,
        `cn: ${u.givenName} ${u.sn}`,
        `givenName: ${u.givenName}`,
        `sn: ${u.sn}`,
        `mail: ${u.mail}`,
        ...(u.title ? [`title: ${u.title}`] : []),
        ...(u.telephoneNumber ? [`telephoneNumber: ${u.telephoneNumber}`] : []),
        ...(u.manager ? [`manager: ${userDn(u.manager)}`] : []),
        `sAMAccountName: ${u.uid}`,
        `userAccountControl: ${u.disabled ? 514 : 512}`,
        `objectGUID:: ${u.guid.toString('base64')}`,
        '',
      ].join('\n'),
    );
  }
  for (const g of groups) {
    out.push(
      [
        `dn: ${groupDn(g.cn)}`,
        'objectClass: groupOfNames',
        'objectClass: adAccount',
        `cn: ${g.cn}`,
        `objectGUID:: ${g.guid.toString('base64')}`,
        ...g.members.map((m) => `member: ${m.startsWith('group:') ? groupDn(m.slice(6)) : userDn(m)}`),
        '',
      ].join('\n'),
    );
  }
  return out.join('\n');
}

import { readFileSync } from 'node:fs';
import type { Client, Entry } from 'ldapts';
import { z } from 'zod';
import { bounded, milliseconds, urlString } from '../src/core/config-values.js';
import { SourceError, importOptional } from '../src/errors.js';
import type { SnapshotResult } from '../src/core/records.js';
import { defineSource, type SourceConnector } from './source.js';
import { rowsOf, validateRows, type RawRow } from './validate.js';

/** `ldap://host[:port]` or `ldaps://host[:port]`, nothing else. */
const ldapUrl = urlString({ protocols: ['ldap:', 'ldaps:'], credentials: 'use bindDN and bindPassword', example: 'ldaps://dc1.example.com' }).regex(
  /^ldaps?:\/\/[^/\s@]+\/?$/,
  'expected ldap://host[:port] or ldaps://host[:port]',
);

/** `source: { type: ldap, … }`; ldapts is loaded at the first read, so a config without LDAP needs no ldapts. */
export const ldapSourcePlugin = defineSource({
  options: z.strictObject({
    type: z.literal('ldap'),
    url: ldapUrl,
    startTls: z.boolean().optional(),
    tls: z.strictObject({ caFile: z.string().optional(), rejectUnauthorized: z.boolean().default(true) }).optional(),
    bindDN: z.string().min(1),
    bindPassword: z.string(),
    users: z.strictObject({
      base: z.string().min(1),
      filter: z.string().default('(objectClass=inetOrgPerson)'),
      /** entryUUID (OpenLDAP), objectGUID (Active Directory) or any unique, stable attribute. */
      id: z.string().default('entryUUID'),
    }),
    groups: z
      .strictObject({
        base: z.string().min(1),
        filter: z.string().default('(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))'),
        /** member, uniqueMember, memberUid, or memberOf (read from the users). */
        memberAttribute: z.string().default('member'),
        nameAttribute: z.string().default('cn'),
      })
      .optional(),
    attributes: z.record(z.string(), z.string()).optional(),
    pageSize: bounded({ min: 1, max: 10_000 }).default(500),
    timeoutMs: milliseconds(1).default(30_000),
  }),
  create: (o, integration) =>
    ldapSource({
      integration,
      url: o.url,
      startTls: o.startTls,
      tls: o.tls,
      bindDN: o.bindDN,
      bindPassword: o.bindPassword,
      users: o.users,
      groups: o.groups,
      attributes: { ...DEFAULT_LDAP_ATTRIBUTES, ...o.attributes },
      pageSize: o.pageSize,
      timeoutMs: o.timeoutMs,
    }),
});

type Ldapts = typeof import('ldapts');

export interface LdapSourceOptions {
  integration: string;
  url: string;
  startTls?: boolean | undefined;
  tls?: { caFile?: string | undefined; rejectUnauthorized: boolean } | undefined;
  bindDN: string;
  bindPassword: string;
  users: { base: string; filter: string; id: string };
  groups?: { base: string; filter: string; memberAttribute: string; nameAttribute: string } | undefined;
  /** Snapshot attribute ← LDAP attribute. `managerId` holds a DN, resolved to that user's id. */
  attributes: Record<string, string>;
  pageSize: number;
  timeoutMs: number;
  /** How ldapts is loaded. @default () => import('ldapts') */
  loadLdapts?: () => Promise<Ldapts>;
}

/** Defaults for an OpenLDAP-style directory; Active Directory uses objectGUID, sAMAccountName, userAccountControl. */
export const DEFAULT_LDAP_ATTRIBUTES: Readonly<Record<string, string>> = {
  userName: 'mail',
  givenName: 'givenName',
  familyName: 'sn',
  email: 'mail',
  title: 'title',
  phone: 'telephoneNumber',
  managerId: 'manager',
};

/** AD's userAccountControl flag ACCOUNTDISABLE. */
const ACCOUNT_DISABLED = 0x2;
/** Attributes the id may be read from as bytes. */
const BINARY_IDS = new Set(['objectguid']);

/** An AD objectGUID (16 bytes, first three fields little-endian) in its usual text form. */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) return b.toString('hex');
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = [...b.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** DNs compare without case or spaces around separators. */
export function normalizeDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) => rdn.trim().toLowerCase().replace(/\s*=\s*/, '='))
    .join(',');
}

function first(v: Entry[string] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined) return undefined;
  return Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
}

function all(v: Entry[string] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** The attribute of an entry regardless of case (servers answer in their own case). */
function get(entry: Entry, name: string): Entry[string] | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : entry[key];
}

/**
 * Groups over 1,500 members come from Active Directory in ranges
 * (`member;range=0-1499`); reads the rest with `fetch` until the range ends in `*`.
 */
export async function rangedValues(
  entry: Entry,
  attribute: string,
  fetch: (rangedAttribute: string) => Promise<Entry | undefined>,
): Promise<string[]> {
  const plain = get(entry, attribute);
  const rangeKey = (e: Entry) => Object.keys(e).find((k) => k.toLowerCase().startsWith(`${attribute.toLowerCase()};range=`));
  let key = rangeKey(entry);
  if (!key) return all(plain);
  const values = all(entry[key]);
  for (let guard = 0; guard < 10_000; guard++) {
    const m = /;range=(\d+)-(\d+|\*)$/i.exec(key);
    if (!m || m[2] === '*') break;
    const next = await fetch(`${attribute};range=${Number(m[2]) + 1}-*`);
    const nextKey = next ? rangeKey(next) : undefined;
    if (!next || !nextKey) break;
    values.push(...all(next[nextKey]));
    key = nextKey;
  }
  return values;
}

function describeLdapError(err: unknown): string {
  const e = err as { code?: unknown; message?: string; name?: string };
  const code = typeof e.code === 'number' ? ` (LDAP result ${e.code})` : typeof e.code === 'string' ? ` (${e.code})` : '';
  // ldapts messages may span lines and end in " Code: 0x31"; the name says it in words.
  let message = (e.message ?? String(err)).split('\n')[0]!.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  if (!message && e.name) message = e.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return `${message}${code}`;
}

/**
 * Reads users and groups from LDAP or Active Directory with paged searches
 * (RFC 2696), so large directories stream past server size limits. Stable ids
 * come from entryUUID or objectGUID; `manager` DNs become user ids; AD's
 * disabled flag becomes `active: false`; nested groups keep group ids as members.
 */
export function ldapSource(options: LdapSourceOptions): SourceConnector {
  const fail = (what: string, err: unknown) => new SourceError(options.integration, `${options.url}: ${what}: ${describeLdapError(err)}`);
  return {
    kind: 'ldap',
    async snapshot(): Promise<SnapshotResult> {
      let ca: Buffer | undefined;
      if (options.tls?.caFile) {
        try {
          ca = readFileSync(options.tls.caFile);
        } catch (err) {
          throw new SourceError(options.integration, `source.tls.caFile ${options.tls.caFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      const tlsOptions = { rejectUnauthorized: options.tls?.rejectUnauthorized ?? true, ...(ca ? { ca } : {}) };
      const { Client } = await importOptional('ldapts', `[integration ${options.integration}] the LDAP source`, options.loadLdapts ?? (() => import('ldapts')));
      const client = new Client({
        url: options.url,
        timeout: options.timeoutMs,
        connectTimeout: options.timeoutMs,
        ...(options.url.startsWith('ldaps:') ? { tlsOptions } : {}),
      });
      try {
        if (options.startTls) {
          try {
            await client.startTLS(tlsOptions);
          } catch (err) {
            throw fail('StartTLS failed', err);
          }
        }
        try {
          await client.bind(options.bindDN, options.bindPassword);
        } catch (err) {
          if (err instanceof SourceError) throw err;
          throw fail(`bind as ${options.bindDN} failed`, err);
        }
        return await read(client, options, fail);
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
  };
}

async function read(
  client: Client,
  options: LdapSourceOptions,
  fail: (what: string, err: unknown) => SourceError,
): Promise<SnapshotResult> {
  const idAttr = options.users.id;
  const binaryId = BINARY_IDS.has(idAttr.toLowerCase());
  const mapped = Object.entries(options.attributes);
  const memberAttr = options.groups?.memberAttribute ?? 'member';
  const byMemberOf = memberAttr.toLowerCase() === 'memberof';
  const userAttributes = [...new Set([idAttr, 'userAccountControl', 'uid', ...mapped.map(([, a]) => a), ...(byMemberOf ? ['memberOf'] : [])])];
  const search = async (base: string, filter: string, attributes: string[], what: string) => {
    try {
      const res = await client.search(base, {
        scope: 'sub',
        filter,
        attributes,
        paged: { pageSize: options.pageSize },
        ...(binaryId ? { explicitBufferAttributes: [idAttr] } : {}),
      });
      return res.searchEntries;
    } catch (err) {
      if ((err as Error).name === 'FilterParserError' || /parens|filter/i.test((err as Error).message ?? '')) {
        const reason = ((err as Error).message ?? '').split('.')[0]!.split(':')[0];
        throw new SourceError(options.integration, `${options.url}: ${what} filter ${filter} is not a valid LDAP filter (RFC 4515): ${reason}`);
      }
      throw fail(`${what} search under ${base} with ${filter} failed`, err);
    }
  };
  const idOf = (entry: Entry): string | undefined => {
    const v = get(entry, idAttr);
    if (v === undefined) return undefined;
    const x = Array.isArray(v) ? v[0] : v;
    if (Buffer.isBuffer(x)) return binaryId ? guidToString(x) : x.toString('utf8');
    return x === undefined ? undefined : String(x);
  };

  const userEntries = await search(options.users.base, options.users.filter, userAttributes, 'user');
  const userIdByDn = new Map<string, string>();
  const userIdByUid = new Map<string, string>();
  for (const e of userEntries) {
    const id = idOf(e);
    if (id === undefined) continue;
    userIdByDn.set(normalizeDn(e.dn), id);
    const uid = first(get(e, 'uid'));
    if (uid !== undefined) userIdByUid.set(uid, id);
  }

  const rawUsers: RawRow[] = userEntries.map((e) => {
    const record: Record<string, unknown> = { id: idOf(e) };
    for (const [snapshotAttr, ldapAttr] of mapped) {
      const v = first(get(e, ldapAttr));
      if (v === undefined) continue;
      record[snapshotAttr] = snapshotAttr === 'managerId' ? userIdByDn.get(normalizeDn(v)) : v;
    }
    const uac = first(get(e, 'userAccountControl'));
    if (uac !== undefined && /^\d+$/.test(uac)) record.active = (Number(uac) & ACCOUNT_DISABLED) === 0;
    return { location: e.dn, record };
  });

  const rawGroups: RawRow[] = [];
  if (options.groups) {
    const g = options.groups;
    const groupAttributes = [idAttr, g.nameAttribute, ...(byMemberOf ? [] : [memberAttr])];
    const groupEntries = await search(g.base, g.filter, groupAttributes, 'group');
    const groupIdByDn = new Map<string, string>();
    for (const e of groupEntries) {
      const id = idOf(e);
      if (id !== undefined) groupIdByDn.set(normalizeDn(e.dn), id);
    }
    const membersFromMemberOf = new Map<string, string[]>();
    if (byMemberOf) {
      for (const e of userEntries) {
        const uid = idOf(e);
        if (uid === undefined) continue;
        for (const dn of all(get(e, 'memberOf'))) {
          const gid = groupIdByDn.get(normalizeDn(dn));
          if (gid !== undefined) membersFromMemberOf.set(gid, [...(membersFromMemberOf.get(gid) ?? []), uid]);
        }
      }
    }
    for (const e of groupEntries) {
      const id = idOf(e);
      let members: string[];
      if (byMemberOf) members = id === undefined ? [] : (membersFromMemberOf.get(id) ?? []);
      else {
        const values = await rangedValues(e, memberAttr, async (ranged) => {
          try {
            const res = await client.search(e.dn, { scope: 'base', filter: '(objectClass=*)', attributes: [ranged] });
            return res.searchEntries[0];
          } catch (err) {
            throw fail(`reading ${ranged} of ${e.dn} failed`, err);
          }
        });
        members = values
          // A member that names no user or group stays as it is, so the validation reports it against its group.
          .map((v) => (memberAttr.toLowerCase() === 'memberuid' ? (userIdByUid.get(v) ?? v) : (userIdByDn.get(normalizeDn(v)) ?? groupIdByDn.get(normalizeDn(v)) ?? v)));
      }
      rawGroups.push({ location: e.dn, record: { id, displayName: first(get(e, g.nameAttribute)), members } });
    }
  }
  const { users, groups, problems } = validateRows(rowsOf(rawUsers), rowsOf(rawGroups));
  return { snapshot: { users, groups }, problems };
}

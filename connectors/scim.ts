import { z } from 'zod';
import { authSchema, bounded, httpUrl, milliseconds, type AuthConfig } from '../src/core/config-values.js';
import { ScimHttpError, SourceError } from '../src/errors.js';
import type { SnapshotResult } from '../src/core/records.js';
import { ENTERPRISE_USER_SCHEMA } from '../src/core/paths.js';
import type { ResourceType } from '../src/scim/client.js';
import { defineSource, type SourceConnector } from './source.js';
import { rowsOf, validateRows } from './validate.js';

/** `source: { type: scim, url, auth }`: another SCIM service read as a directory; the SCIM client is loaded at the first read. */
export const scimSourcePlugin = defineSource({
  options: z.strictObject({
    type: z.literal('scim'),
    url: httpUrl('put credentials under auth:'),
    auth: authSchema,
    pageSize: bounded({ min: 1, max: 10_000 }).default(100),
    timeoutMs: milliseconds(1).default(60_000),
  }),
  create: (o, integration) => scimSource({ integration, url: o.url, auth: o.auth, pageSize: o.pageSize, timeoutMs: o.timeoutMs }),
});

export interface ScimSourceOptions {
  integration: string;
  url: string;
  auth: AuthConfig;
  pageSize: number;
  timeoutMs: number;
}

type Resource = Record<string, unknown> & { id: string };

function typed(list: unknown, prefer = 'work'): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const items = list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
  const pick = items.find((x) => x.type === prefer) ?? items.find((x) => x.primary === true) ?? items[0];
  return typeof pick?.value === 'string' ? pick.value : undefined;
}

/** A SCIM User as a snapshot row: the usual file attributes, plus the enterprise ones. */
export function userRecord(r: Resource): Record<string, unknown> {
  const name = (r.name ?? {}) as Record<string, unknown>;
  const ent = (r[ENTERPRISE_USER_SCHEMA] ?? {}) as Record<string, unknown>;
  const manager = ent.manager as { value?: unknown } | undefined;
  const record: Record<string, unknown> = {
    id: r.id,
    userName: r.userName,
    givenName: name.givenName,
    familyName: name.familyName,
    displayName: r.displayName,
    email: typed(r.emails),
    phone: typed(r.phoneNumbers),
    title: r.title,
    locale: r.locale,
    timezone: r.timezone,
    externalId: r.externalId,
    department: ent.department,
    employeeNumber: ent.employeeNumber,
    managerId: typeof manager?.value === 'string' ? manager.value : undefined,
    active: r.active === undefined ? true : r.active === true || r.active === 'true',
  };
  for (const k of Object.keys(record)) if (record[k] === undefined) delete record[k];
  return record;
}

/**
 * Reads Users and Groups from another SCIM 2.0 service: pages of `count` from
 * `startIndex` 1 until `totalResults` (stopping on an empty page, de-duplicating
 * by id, since some servers page wrongly).
 */
export function scimSource(options: ScimSourceOptions): SourceConnector {
  return {
    kind: 'scim',
    async snapshot(): Promise<SnapshotResult> {
      const { ScimClient } = await import('../src/scim/client.js');
      const client = new ScimClient({
        baseUrl: options.url,
        auth: options.auth,
        timeoutMs: options.timeoutMs,
        retry: { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 5_000, maxTotalWaitMs: 60_000 },
      });
      const readAll = async (type: ResourceType): Promise<Resource[]> => {
        const out = new Map<string, Resource>();
        for (let start = 1; ; ) {
          const res = await client.request<{ Resources?: unknown; totalResults?: unknown }>('GET', `/${type}?startIndex=${start}&count=${options.pageSize}`);
          const page = Array.isArray(res.data?.Resources) ? (res.data.Resources as unknown[]) : [];
          const total = Number(res.data?.totalResults ?? 0);
          let fresh = 0;
          for (const r of page) {
            if (typeof r === 'object' && r !== null && typeof (r as Resource).id === 'string' && !out.has((r as Resource).id)) {
              out.set((r as Resource).id, r as Resource);
              fresh++;
            }
          }
          start += page.length;
          if (page.length === 0 || fresh === 0 || out.size >= total) break;
        }
        return [...out.values()];
      };
      try {
        const users = await readAll('Users');
        const groups = await readAll('Groups');
        const v = validateRows(
          rowsOf(users.map((r) => ({ location: `${options.url}/Users/${r.id}`, record: userRecord(r) }))),
          rowsOf(groups.map((g) => ({
            location: `${options.url}/Groups/${g.id}`,
            record: {
              id: g.id,
              displayName: g.displayName,
              members: (Array.isArray(g.members) ? (g.members as { value?: unknown }[]) : []).map((m) => m.value).filter((x) => typeof x === 'string'),
            },
          }))),
        );
        return { snapshot: { users: v.users, groups: v.groups }, problems: v.problems };
      } catch (err) {
        if (err instanceof ScimHttpError) {
          const why = err.status === undefined ? (err.detail ?? 'network error') : `HTTP ${err.status}${err.detail ? `: ${err.detail}` : ''}`;
          throw new SourceError(options.integration, `${options.url}: reading the source failed (${why})`);
        }
        throw err;
      } finally {
        await client.close();
      }
    },
  };
}

import type { IncomingMessage } from 'node:http';
import { controllers, type DirectorySyncRequest, type User } from '@boxyhq/saml-jackson';
import { ScimObserver, seedBody, serveRecorded, toServerUser, type CompatServer, type ServerUser } from './server.js';

export const JACKSON_VERSION = '26.2.0';

const BASE = '/api/scim/v2.0';

/** The library's cap on one read of its store (its default `db.pageLimit`, as Polis ships it). */
const STORE_PAGE = 50;

/** Every record of a store read that the library caps at `STORE_PAGE` a call. */
async function allPages<T>(read: (page: { pageOffset: number; pageLimit: number }) => Promise<{ data: T[] | null }>): Promise<T[]> {
  const all: T[] = [];
  for (let pageOffset = 0; ; pageOffset += STORE_PAGE) {
    const page = (await read({ pageOffset, pageLimit: STORE_PAGE })).data ?? [];
    all.push(...page);
    if (page.length < STORE_PAGE) return all;
  }
}

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
}

/**
 * BoxyHQ SAML Jackson 26.2.0 (@boxyhq/saml-jackson, the library of Ory Polis):
 * the directory-sync SCIM 2.0 service that SaaS apps embed to receive users and
 * groups from Okta or Entra ID. Its own in-memory database engine; served on
 * 127.0.0.1 the way Polis serves it (`/api/scim/v2.0/<directory>/<resource>`,
 * the bearer token is the directory's generated SCIM secret). The suite reads
 * the users and groups the way an app does: from the library's directory-sync
 * store (`first_name`, `last_name`, `email`, `active`, and the raw attributes).
 */
export async function startJacksonServer(): Promise<CompatServer> {
  const jackson = await controllers({
    externalUrl: 'http://127.0.0.1',
    samlPath: '/api/oauth/saml',
    scimPath: BASE,
    db: { engine: 'mem' },
    noAnalytics: true,
    // Its log says, for every event, that no webhook is configured: quiet.
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  const dsync = jackson.directorySyncController;
  const { data: directory, error } = await dsync.directories.create({ name: 'scimsync', tenant: 'compat', product: 'scimsync', type: 'generic-scim-v2' });
  if (error || !directory) throw new Error(`jackson: cannot create the directory: ${error?.message ?? 'no directory'}`);
  dsync.users.setTenantAndProduct(directory.tenant, directory.product);
  dsync.groups.setTenantAndProduct(directory.tenant, directory.product);

  // The request mapping of Polis's pages/api/scim/v2.0/[...directory].ts.
  const http = await serveRecorded((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = new RegExp(`^${BASE.replace(/\./g, '\\.')}/([^/]+)/([^/]+)(?:/([^/]+))?$`).exec(url.pathname);
    const answer = async () => {
      if (!match) return { status: 404, data: {} };
      const q = url.searchParams;
      const request: DirectorySyncRequest & { query: { includeMembers: boolean } } = {
        method: req.method ?? 'GET',
        body: await bodyOf(req),
        directoryId: decodeURIComponent(match[1]!),
        resourceType: decodeURIComponent(match[2]!),
        resourceId: match[3] === undefined ? undefined : decodeURIComponent(match[3]),
        apiSecret: /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null,
        query: {
          ...(q.get('count') ? { count: parseInt(q.get('count')!, 10) } : {}),
          ...(q.get('startIndex') ? { startIndex: parseInt(q.get('startIndex')!, 10) } : {}),
          ...(q.get('filter') !== null ? { filter: q.get('filter')! } : {}),
          includeMembers: q.get('includeMembers') === 'true',
        },
      };
      return dsync.requests.handle(request);
    };
    answer().then(
      ({ status, data }) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data)),
      (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: String(err) })),
    );
  });
  const url = `${http.url}${BASE}/${directory.id}`;
  const token = directory.scim.secret;
  const api = new ScimObserver(url, token);

  const fromStore = (u: User): ServerUser => {
    const raw = (u.raw ?? {}) as Record<string, unknown>;
    const phones = Array.isArray(raw.phoneNumbers) ? (raw.phoneNumbers as { value?: string }[]) : [];
    return {
      id: u.id,
      userName: String(raw.userName),
      ...(raw.externalId !== undefined ? { externalId: String(raw.externalId) } : {}),
      active: u.active === true || String(u.active) === 'true',
      ...(u.first_name ? { givenName: u.first_name } : {}),
      ...(u.last_name ? { familyName: u.last_name } : {}),
      ...(u.email ? { email: u.email } : {}),
      ...(phones[0]?.value !== undefined ? { phone: phones[0].value } : {}),
      ...(raw.title !== undefined ? { title: String(raw.title) } : {}),
    };
  };
  const storedUsers = () => allPages((page) => dsync.users.getAll({ directoryId: directory.id, ...page }));

  return {
    url,
    token,
    calls: http.calls,
    users: async () => (await storedUsers()).map(fromStore),
    groups: async () => {
      const groups = await allPages((page) => dsync.groups.getAll({ directoryId: directory.id, ...page }));
      return Promise.all(
        groups.map(async (g) => ({
          id: g.id,
          displayName: g.name,
          members: (await allPages((page) => dsync.groups.getGroupMembers({ groupId: g.id, ...page }))).map((m) => m.user_id).sort(),
        })),
      );
    },
    seedUser: async (user) => toServerUser((await api.request<Record<string, unknown>>('POST', '/Users', seedBody(user))).data),
    editUser: async (id, edit) => {
      // An edit in the app's own store, as its admin screen would make it.
      const { data: user } = await dsync.users.get(id);
      if (!user) throw new Error(`jackson: no user ${id}`);
      const raw = { ...(user.raw as Record<string, unknown>), ...edit };
      await dsync.users.update(id, { ...user, ...(edit.active !== undefined ? { active: edit.active } : {}), raw });
    },
    reset: async () => {
      await dsync.users.deleteAll(directory.id);
      await dsync.groups.deleteAll(directory.id);
      http.calls.length = 0;
    },
    stop: async () => {
      await http.close();
      await jackson.close();
    },
  };
}

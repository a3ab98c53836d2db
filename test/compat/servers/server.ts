import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A user as the server holds it, read through its own API or store. */
export interface ServerUser {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
  givenName?: string;
  familyName?: string;
  /** The first email the server lists for the user. */
  email?: string;
  /** The first phone number the server lists for the user. */
  phone?: string;
  title?: string;
}

export interface ServerGroup {
  id: string;
  displayName: string;
  /** The server's ids of the member users. */
  members: string[];
}

/** One request scimsync sent, as the server answered it. */
export interface ServerCall {
  method: string;
  path: string;
  status: number;
}

/** An account made in the app by an admin, not by scimsync. */
export interface SeedUser {
  userName: string;
  externalId?: string;
  givenName: string;
  familyName: string;
  email: string;
  phone?: string;
  title?: string;
  /** The server id of the account's manager (enterprise extension). */
  managerId?: string;
}

/** A hand edit made in the app (or directly on its API), outside scimsync. */
export interface HandEdit {
  title?: string;
  active?: boolean;
}

/**
 * One SCIM server under test, running on 127.0.0.1 for one test file. Every
 * server of the compatibility suite implements this; the scenarios speak only to it
 * and to the scimsync CLI.
 */
export interface CompatServer {
  /** The SCIM base URL scimsync is configured with. */
  url: string;
  token: string;
  /** The requests scimsync sent (the suite's own reads of the server are not in it). */
  calls: ServerCall[];
  users(): Promise<ServerUser[]>;
  groups(): Promise<ServerGroup[]>;
  seedUser(user: SeedUser): Promise<ServerUser>;
  editUser(id: string, edit: HandEdit): Promise<void>;
  /** Empties the server: no user, no group, no recorded call. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Requests carrying this header are the suite's own reads and edits, not scimsync's: they are not recorded. */
export const OBSERVER_HEADER = 'x-compat-observer';

export interface RecordingServer {
  url: string;
  calls: ServerCall[];
  close(): Promise<void>;
}

/** Serves `handler` on a free port of 127.0.0.1 and records every request scimsync sends to it. */
export async function serveRecorded(handler: RequestListener): Promise<RecordingServer> {
  const calls: ServerCall[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.headers[OBSERVER_HEADER] === undefined) {
      // A request whose answer never left counts too (status 0): the suite counts what the server received.
      res.on('close', () => calls.push({ method: req.method ?? '', path: req.url ?? '', status: res.writableFinished ? res.statusCode : 0 }));
    }
    handler(req, res);
  });
  // Idle connections live 65 s, as behind most load balancers: with Node's default 5 s, a cycle that
  // starts about 5 s after the last one races the server's close of its connection (docs/COMPATIBILITY.md).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface ScimUserBody {
  id: string;
  userName: string;
  externalId?: string;
  active?: boolean | string;
  name?: { givenName?: string; familyName?: string };
  emails?: { value?: string }[];
  phoneNumbers?: { value?: string }[];
  title?: string;
}

interface ScimGroupBody {
  id: string;
  displayName: string;
  members?: { value: string }[];
}

/** The suite's own SCIM calls to a server (never recorded as scimsync's). */
export class ScimObserver {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        accept: 'application/scim+json',
        [OBSERVER_HEADER]: '1',
        ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const data = (text ? JSON.parse(text) : {}) as T;
    if (res.status >= 400) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return { status: res.status, data };
  }

  /** Every resource of an endpoint, page by page (startIndex is 1-based, RFC 7644 §3.4.2.4). */
  async list<T>(endpoint: string, query = ''): Promise<T[]> {
    const all: T[] = [];
    for (let start = 1; ; ) {
      const { data } = await this.request<{ Resources?: T[]; totalResults?: number | string }>('GET', `${endpoint}?startIndex=${start}&count=100${query}`);
      const page = data.Resources ?? [];
      all.push(...page);
      start += page.length;
      if (page.length === 0 || all.length >= Number(data.totalResults ?? 0)) return all;
    }
  }

  async users(): Promise<ServerUser[]> {
    return (await this.list<Record<string, unknown>>('/Users')).map(toServerUser);
  }

  async groups(): Promise<ServerGroup[]> {
    const listed = await this.list<ScimGroupBody>('/Groups');
    return listed.map((g) => ({ id: g.id, displayName: g.displayName, members: (g.members ?? []).map((m) => m.value).sort() }));
  }
}

/** A SCIM User resource as the suite compares it. */
export function toServerUser(resource: Record<string, unknown>): ServerUser {
  const u = resource as unknown as ScimUserBody;
  return {
    id: u.id,
    userName: u.userName,
    ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
    active: u.active === undefined ? true : u.active === true || u.active === 'true',
    ...(u.name?.givenName !== undefined ? { givenName: u.name.givenName } : {}),
    ...(u.name?.familyName !== undefined ? { familyName: u.name.familyName } : {}),
    ...(u.emails?.[0]?.value !== undefined ? { email: u.emails[0].value } : {}),
    ...(u.phoneNumbers?.[0]?.value !== undefined ? { phone: u.phoneNumbers[0].value } : {}),
    ...(u.title !== undefined ? { title: u.title } : {}),
  };
}

const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** The SCIM body of an account an admin creates in the app. */
export function seedBody(user: SeedUser): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ...(user.managerId !== undefined ? [ENTERPRISE_USER] : [])],
    userName: user.userName,
    ...(user.externalId !== undefined ? { externalId: user.externalId } : {}),
    name: { givenName: user.givenName, familyName: user.familyName, formatted: `${user.givenName} ${user.familyName}` },
    displayName: `${user.givenName} ${user.familyName}`,
    emails: [{ type: 'work', value: user.email, primary: true }],
    ...(user.phone !== undefined ? { phoneNumbers: [{ type: 'work', value: user.phone }] } : {}),
    ...(user.title !== undefined ? { title: user.title } : {}),
    ...(user.managerId !== undefined ? { [ENTERPRISE_USER]: { manager: { value: user.managerId } } } : {}),
    active: true,
  };
}

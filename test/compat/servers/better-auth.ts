import { randomBytes } from 'node:crypto';
import type { RequestListener } from 'node:http';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { scim } from '@better-auth/scim';
import { ScimObserver, seedBody, serveRecorded, toServerUser, type CompatServer } from './server.js';

export const BETTER_AUTH_VERSION = '1.7.5';

/**
 * Better Auth 1.7.5 with its SCIM plugin (@better-auth/scim 1.7.5), an application
 * framework's inbound SCIM 2.0 service, over a real SQLite database (better-sqlite3,
 * in memory), migrated by Better Auth itself and served by its Node handler on
 * 127.0.0.1 at /api/auth/scim/v2. One code-defined connection takes the bearer token.
 */
export async function startBetterAuthServer(token: string): Promise<CompatServer & { database: Database.Database }> {
  const database = new Database(':memory:');
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  const http = await serveRecorded((req, res) => handler(req, res));
  const auth = betterAuth({
    database,
    baseURL: http.url,
    secret: randomBytes(32).toString('hex'),
    telemetry: { enabled: false },
    logger: { disabled: true },
    plugins: [scim({ connections: [{ id: 'scimsync', credentials: [{ type: 'bearer', id: 'scimsync-compat', token }] }] })],
  });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  handler = toNodeHandler(auth);
  const url = `${http.url}/api/auth/scim/v2`;
  const api = new ScimObserver(url, token);
  const tables = (database.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((t) => t.name);
  return {
    url,
    token,
    database,
    calls: http.calls,
    users: () => api.users(),
    groups: () => api.groups(),
    seedUser: async (user) => toServerUser((await api.request<Record<string, unknown>>('POST', '/Users', seedBody(user))).data),
    editUser: async (id, edit) => {
      const operations = Object.entries(edit).map(([path, value]) => ({ op: 'replace', path, value }));
      await api.request('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: operations });
    },
    reset: () => {
      // Every row goes, the schema stays: the next scenario starts on an empty application.
      database.pragma('foreign_keys = OFF');
      for (const table of tables) database.prepare(`DELETE FROM "${table}"`).run();
      database.pragma('foreign_keys = ON');
      http.calls.length = 0;
      return Promise.resolve();
    },
    stop: async () => {
      await http.close();
      database.close();
    },
  };
}

import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORE_GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA } from '../../src/core/paths.js';
import { startDevTarget, type DevTarget } from '../support/devtarget/server.js';
import { heldRows, sourceFromConfig, testSourceConnector, type Directory } from './source.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'scimsync-contract-scim-'));
const integration = 'contract-scim';
const TOKEN = 'source-reader-token';
const targets: DevTarget[] = [];

/** The source block an admin writes to read another SCIM service; the token comes from the environment. */
const scimConfig = (url: string) => ({ type: 'scim', url, auth: { type: 'bearer', token: '${SOURCE_TOKEN}' }, pageSize: 2, timeoutMs: 10_000 });
const source = (url: string, token = TOKEN) => sourceFromConfig(scimConfig(url), { dir, integration, env: { SOURCE_TOKEN: token } });

async function target(): Promise<DevTarget> {
  const t = await startDevTarget({ token: TOKEN });
  targets.push(t);
  return t;
}

/** The directory as a SCIM service holds it, added as an admin adds accounts in the app (bad rows too). */
function seed(t: DevTarget, directory: Directory): Map<string, string> {
  const { users, groups } = heldRows(directory);
  const ids = new Map<string, string>();
  const stored = users.map((u) => {
    const resource = t.seedUser({
      userName: u.userName,
      name: { givenName: u.givenName, familyName: u.familyName },
      emails: [{ type: 'work', value: u.email, primary: true }],
      ...(u.title !== undefined ? { title: u.title } : {}),
      ...(u.phone !== undefined ? { phoneNumbers: [{ type: 'work', value: u.phone }] } : {}),
      active: u.active,
    });
    ids.set(u.key, resource.id);
    return { user: u, resource };
  });
  for (const { user, resource } of stored) {
    if (user.manager === undefined) continue;
    resource.schemas = [...(resource.schemas as string[]), ENTERPRISE_USER_SCHEMA];
    resource[ENTERPRISE_USER_SCHEMA] = { manager: { value: ids.get(user.manager)! } };
  }
  groups.forEach((g, n) => {
    const id = `group-${n + 1}`;
    ids.set(g.key, id);
    // A member id no account has stands for the dangling member.
    const members = g.members.map((m) => ({ value: ids.get(m) ?? `no-account-${m}` }));
    t.groups.set(id, { schemas: [CORE_GROUP_SCHEMA], id, displayName: g.displayName, members });
  });
  return ids;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let main: DevTarget;

testSourceConnector('SCIM (the local SCIM service)', {
  integration,
  async make(directory) {
    main = await target();
    const ids = seed(main, directory);
    return { source: source(main.url), idOf: (key) => ids.get(key) ?? `<no id for ${key}>` };
  },
  unreadable: {
    'the token is wrong': async () => ({ source: source(main.url, 'not-the-reader-token'), secrets: ['not-the-reader-token', TOKEN] }),
    'the service is not listening': async () => ({ source: source(`http://127.0.0.1:${await closedPort()}/scim/v2`) }),
    'the service keeps failing with 503': async () => {
      const failing = await target();
      failing.inject({ path: /\/Users/, status: 503 });
      return { source: source(failing.url) };
    },
    'a proxy in front answers its own HTML page with 200': async () => {
      const proxied = await target();
      proxied.inject({ method: 'GET', path: /\/Users/, status: 200, responseBody: '<html><body>Sign in to continue</body></html>', contentType: 'text/html' });
      return { source: source(proxied.url) };
    },
  },
  async stop() {
    await Promise.all(targets.map((t) => t.stop()));
    rmSync(dir, { recursive: true, force: true });
  },
});

import { request, type RequestListener } from 'node:http';
import { startDevTarget } from '../../support/devtarget/server.js';
import { seedBody, serveRecorded, toServerUser, type CompatServer, type ServerGroup } from './server.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/** Passes each request on to `upstream` over a connection of its own, and its answer back. */
export function forwarder(upstream: URL): RequestListener {
  return (req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, connection: 'close' }, agent: false },
      (answer) => {
        // Hop-by-hop headers stay on the target's leg: the front keeps its own connection.
        const headers = Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name));
        res.writeHead(answer.statusCode ?? 502, Object.fromEntries(headers));
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  };
}

/**
 * scimsync's own local target (scimmy + scimmy-routers over express), strict,
 * read straight from its in-memory store. It is reached through a recording
 * front on 127.0.0.1 that keeps idle connections as long as the other servers
 * of the suite do (see `serveRecorded`) and opens a new connection to the
 * target for each request.
 */
export async function startDevtargetServer(token: string): Promise<CompatServer> {
  const target = await startDevTarget({ token, strict: true });
  const upstream = new URL(target.url);
  const http = await serveRecorded(forwarder(upstream));
  return {
    url: `${http.url}${upstream.pathname}`,
    token,
    calls: http.calls,
    users: () => Promise.resolve([...target.users.values()].map((u) => toServerUser(u))),
    groups: () =>
      Promise.resolve(
        [...target.groups.values()].map(
          (g): ServerGroup => ({
            id: g.id,
            displayName: String(g.displayName),
            members: ((g.members ?? []) as { value: string }[]).map((m) => m.value).sort(),
          }),
        ),
      ),
    seedUser: (user) => Promise.resolve(toServerUser(target.seedUser(seedBody(user)))),
    editUser: (id, edit) => {
      const stored = target.users.get(id);
      if (!stored) throw new Error(`no user ${id} in the target`);
      Object.assign(stored, edit);
      return Promise.resolve();
    },
    reset: () => {
      target.users.clear();
      target.groups.clear();
      target.clearFaults();
      target.requests.length = 0;
      http.calls.length = 0;
      return Promise.resolve();
    },
    stop: async () => {
      await http.close();
      await target.stop();
    },
  };
}

/**
 * A minimal, fast SCIM target for benchmarks: in-memory, indexed lookups, no
 * schema work, so that what is measured is the engine, not the server. Run as
 * its own process: `node fast-target.js` prints its URL. GET /_stats returns
 * request counts; POST /_reset empties it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const users = new Map<string, Record<string, unknown>>();
const byUserName = new Map<string, string>();
const groups = new Map<string, { id: string; displayName: string; members: number }>();
const byGroupName = new Map<string, string>();
let counts: Record<string, number> = {};

const send = (res: ServerResponse, status: number, body?: unknown) => {
  if (body === undefined) return res.writeHead(status).end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/scim+json' }).end(text);
};
const list = (resources: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: resources.length, Resources: resources });
const filterValue = (url: URL) => {
  const m = /eq "((?:[^"\\]|\\.)*)"/.exec(url.searchParams.get('filter') ?? '');
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
};

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
}

const server = createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/_stats') return send(res, 200, { counts, users: users.size, groups: groups.size, members: [...groups.values()].reduce((n, g) => n + g.members, 0) });
    if (path === '/_reset') {
      users.clear();
      byUserName.clear();
      groups.clear();
      byGroupName.clear();
      counts = {};
      return send(res, 204);
    }
    if (req.headers.authorization !== 'Bearer bench') return send(res, 401, { status: '401', detail: 'unauthorized' });
    const key = `${req.method} ${path.replace(/\/[^/]+$/, (m) => (m === '/Users' || m === '/Groups' ? m : '/:id'))}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const b = req.method === 'POST' || req.method === 'PATCH' || req.method === 'PUT' ? await body(req) : {};
    const m = /^\/scim\/v2\/(Users|Groups)(?:\/([^/]+))?$/.exec(path);
    if (!m) return send(res, 404, { status: '404' });
    const [, type, id] = m;
    if (type === 'Users') {
      if (req.method === 'GET' && !id) {
        const v = filterValue(url);
        const found = v === undefined ? [...users.values()] : [byUserName.get(v.toLowerCase())].filter(Boolean).map((i) => users.get(i!)!);
        return send(res, 200, list(found));
      }
      if (req.method === 'POST') {
        const name = String(b.userName ?? '').toLowerCase();
        if (byUserName.has(name)) return send(res, 409, { status: '409', scimType: 'uniqueness' });
        const nid = randomUUID();
        users.set(nid, { ...b, id: nid });
        byUserName.set(name, nid);
        return send(res, 201, { ...b, id: nid });
      }
      if (!id || !users.has(id)) return send(res, 404, { status: '404' });
      if (req.method === 'PATCH' || req.method === 'PUT') return send(res, 204);
      if (req.method === 'DELETE') {
        users.delete(id);
        return send(res, 204);
      }
      return send(res, 200, users.get(id));
    }
    if (req.method === 'GET' && !id) {
      const v = filterValue(url);
      const gid = v === undefined ? undefined : byGroupName.get(v);
      return send(res, 200, list(gid ? [{ id: gid, displayName: v }] : []));
    }
    if (req.method === 'POST') {
      const nid = randomUUID();
      const members = Array.isArray(b.members) ? b.members.length : 0;
      groups.set(nid, { id: nid, displayName: String(b.displayName), members });
      byGroupName.set(String(b.displayName), nid);
      return send(res, 201, { id: nid, displayName: b.displayName });
    }
    const g = id ? groups.get(id) : undefined;
    if (!g) return send(res, 404, { status: '404' });
    if (req.method === 'PATCH') {
      for (const op of (b.Operations ?? []) as { op: string; value?: unknown }[]) {
        if (op.op === 'add' && Array.isArray(op.value)) g.members += op.value.length;
        if (op.op === 'remove') g.members -= Array.isArray(op.value) ? op.value.length : 1;
      }
      return send(res, 204);
    }
    return send(res, 200, { id: g.id, displayName: g.displayName });
  })().catch((err: unknown) => send(res, 500, { status: '500', detail: String(err) }));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`http://127.0.0.1:${port}/scim/v2`);
});

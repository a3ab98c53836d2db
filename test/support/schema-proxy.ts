import { createServer, request, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { Workspace } from './harness.js';

/**
 * A fault mode in front of a SCIM target (the devtarget): a node:http proxy that
 * stores some attributes lower-cased, as targets whose attributes are not
 * `caseExact` may (RFC 7643 §2.2; Better Auth does it to emails), and that can
 * answer `/Schemas` with other facts than the target's (caseExact, mutability,
 * required, or an attribute left out).
 */
export interface SchemaProxyOptions {
  /** The target's base URL (`http://127.0.0.1:port/scim/v2`). */
  upstream: string;
  /** Attributes whose values the proxy lower-cases on the way in (`emails`, `title`). */
  lowerCase?: readonly string[];
  /** Facts laid over the core User schema's attributes in `/Schemas` answers, by attribute name; `null` leaves it out. */
  schema?: Readonly<Record<string, Record<string, unknown> | null>>;
}

export interface SchemaProxy {
  url: string;
  /** Changes the facts laid over `/Schemas` answers. */
  setSchema(schema: SchemaProxyOptions['schema']): void;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

function lower(v: unknown): unknown {
  if (typeof v === 'string') return v.toLowerCase();
  if (Array.isArray(v)) return v.map(lower);
  if (typeof v === 'object' && v !== null) {
    const o = v as Json;
    return 'value' in o ? { ...o, value: lower(o.value) } : o;
  }
  return v;
}

/** A user body (POST, PUT) or a PATCH body, with the attributes named lower-cased. */
function rewrite(body: Json, attributes: readonly string[]): Json {
  const out: Json = { ...body };
  for (const a of attributes) if (a in out) out[a] = lower(out[a]);
  if (Array.isArray(out.Operations)) {
    out.Operations = (out.Operations as Json[]).map((op) => {
      const path = typeof op.path === 'string' ? op.path : undefined;
      if (path === undefined && typeof op.value === 'object' && op.value !== null) return { ...op, value: rewrite(op.value as Json, attributes) };
      if (path !== undefined && attributes.some((a) => path === a || path.startsWith(`${a}[`) || path.startsWith(`${a}.`))) return { ...op, value: lower(op.value) };
      return op;
    });
  }
  return out;
}

function overlay(answer: Json, facts: NonNullable<SchemaProxyOptions['schema']>): Json {
  const resources = Array.isArray(answer.Resources) ? (answer.Resources as Json[]) : [];
  return {
    ...answer,
    Resources: resources.map((s) => {
      if (s.id !== 'urn:ietf:params:scim:schemas:core:2.0:User' || !Array.isArray(s.attributes)) return s;
      const attributes = (s.attributes as Json[]).filter((a) => facts[String(a.name)] !== null).map((a) => ({ ...a, ...(facts[String(a.name)] ?? {}) }));
      for (const [name, f] of Object.entries(facts)) {
        if (f && !attributes.some((a) => a.name === name)) attributes.push({ name, type: 'string', multiValued: false, ...f });
      }
      return { ...s, attributes };
    }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startSchemaProxy(options: SchemaProxyOptions): Promise<SchemaProxy> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true });
  let facts = options.schema;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let body = await readBody(req);
    const path = req.url ?? '/';
    const relative = path.startsWith(upstream.pathname) ? path : `${upstream.pathname}${path}`;
    if (body.length > 0 && /\/Users(\/|$|\?)/.test(relative) && options.lowerCase?.length) {
      body = Buffer.from(JSON.stringify(rewrite(JSON.parse(body.toString('utf8')) as Json, options.lowerCase)));
    }
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: relative, headers, agent }, async (answer) => {
      let data = await readBody(answer);
      if (facts && req.method === 'GET' && /\/Schemas$/.test(relative) && answer.statusCode === 200) {
        data = Buffer.from(JSON.stringify(overlay(JSON.parse(data.toString('utf8')) as Json, facts)));
      }
      const out = { ...answer.headers, 'content-length': String(data.length) };
      delete out['transfer-encoding'];
      res.writeHead(answer.statusCode ?? 502, out);
      res.end(data);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    setSchema(schema) {
      facts = schema;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A proxy per test, stopped after it: the returned function starts one in front of `options.upstream`
 * and points the workspace's config at it (with `integrationYaml`, when given).
 */
export function useSchemaProxy(): (ws: Workspace, options: SchemaProxyOptions, config?: { integrationYaml?: string }) => Promise<SchemaProxy> {
  let proxy: SchemaProxy | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  return async (ws, options, config = {}) => {
    proxy = await startSchemaProxy(options);
    ws.writeConfig({ targetUrl: proxy.url, ...(config.integrationYaml ? { integrationYaml: config.integrationYaml } : {}) });
    return proxy;
  };
}

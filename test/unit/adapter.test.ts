import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimHttpError } from '../../src/errors.js';
import { ScimClient } from '../../src/scim/client.js';
import { scimHttpOptions } from '../../src/scim/http.js';

/** A target on 127.0.0.1: what it was sent, and how many connections it saw opened and closed. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
interface LocalTarget {
  url: string;
  seen: Seen[];
  connections: number;
  closed: number;
  stop(): Promise<void>;
}

const targets: LocalTarget[] = [];

async function localTarget(handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void): Promise<LocalTarget> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      target.seen.push(seen);
      handler(req, res, seen);
    });
  });
  server.on('connection', (socket: Socket) => {
    target.connections++;
    socket.once('close', () => target.closed++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const target: LocalTarget = {
    url: `http://127.0.0.1:${port}/scim/v2`,
    seen: [],
    connections: 0,
    closed: 0,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  targets.push(target);
  return target;
}

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
});

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/scim+json' }).end(JSON.stringify(body));

function client(url: string, maxResponseBytes?: number): ScimClient {
  return new ScimClient({
    baseUrl: url,
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 5_000,
    maxResponseBytes,
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });
}

/** An axios instance as scimsync builds it, for what the client does not expose (signals, codes). */
function instance(url: string, over: Parameters<typeof axios.create>[0] = {}): AxiosInstance {
  return axios.create({ ...scimHttpOptions(url), ...over });
}

const until = async (check: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

describe('what a target sees', () => {
  it('one kept-alive connection for a run of requests, and for the next client of the same target', async () => {
    const target = await localTarget((_req, res) => json(res, 200, { id: '1' }));
    for (let i = 0; i < 20; i++) await client(target.url).get('Users', '1');
    await client(target.url).get('Users', '1');
    expect(target.seen).toHaveLength(21);
    expect(target.connections).toBe(1);
  });

  it('names scimsync as the client, sends the credential, and a SCIM body with its length in bytes', async () => {
    const target = await localTarget((req, res) => (req.method === 'POST' ? json(res, 201, { id: 'n1' }) : json(res, 200, { id: 'n1' })));
    const c = client(target.url);
    await c.createUser({ userName: 'zoë@example.com', displayName: 'Zoë Ørsted' });
    await c.get('Users', 'n1');
    const [post, get] = target.seen;
    expect(post).toMatchObject({ method: 'POST', url: '/scim/v2/Users' });
    expect(JSON.parse(post!.body)).toEqual({ userName: 'zoë@example.com', displayName: 'Zoë Ørsted' });
    expect(post!.headers).toMatchObject({
      'user-agent': 'scimsync',
      authorization: 'Bearer tok',
      accept: 'application/scim+json, application/json',
      'content-type': 'application/scim+json',
      'content-length': String(Buffer.byteLength(post!.body)),
    });
    expect(get!.headers['content-type']).toBeUndefined();
    expect(get!.headers['content-length']).toBeUndefined();
  });

  it('keeps the base path, and encodes what a path may not carry as axios would', async () => {
    const target = await localTarget((_req, res) => json(res, 200, { id: 'x' }));
    const http = instance(`${target.url}/`);
    await http.get('/Users/a%2Fb?filter=userName%20eq%20%22a%22');
    await http.get('Groups/ä b');
    await http.get('/Users/../Groups');
    expect(target.seen.map((s) => s.url)).toEqual(['/scim/v2/Users/a%2Fb?filter=userName%20eq%20%22a%22', '/scim/v2/Groups/%C3%A4%20b', '/scim/v2/Groups']);
  });
});

describe('answers', () => {
  it('reads a gzip-compressed answer', async () => {
    const target = await localTarget((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/scim+json', 'Content-Encoding': 'gzip' }).end(gzipSync(JSON.stringify({ id: 'z', note: 'x'.repeat(2_000) })));
    });
    expect((await client(target.url).get('Users', 'z')).resource).toMatchObject({ id: 'z' });
    expect(target.seen[0]!.headers['accept-encoding']).toContain('gzip');
  });

  it('refuses an answer whose declared length passes maxResponseBytes before reading it, compressed or not', async () => {
    const big = JSON.stringify({ id: '1', note: 'x'.repeat(50_000) });
    const target = await localTarget((req, res) => {
      if (req.url?.endsWith('/gz')) return void res.writeHead(200, { 'Content-Encoding': 'gzip' }).end(gzipSync(big));
      res.writeHead(200, { 'Content-Length': String(big.length) });
      res.write(big.slice(0, 10)); // the rest never comes: the answer must be refused on its header
    });
    const c = client(target.url, 10_000);
    await expect(c.get('Users', '1')).rejects.toMatchObject({ kind: 'bad-request', detail: 'the answer exceeded 10000 bytes (target.maxResponseBytes)' });
    // Compressed, it is 200 bytes on the wire: the cap is on what it inflates to.
    await expect(c.get('Users', 'gz')).rejects.toMatchObject({ kind: 'bad-request', detail: 'the answer exceeded 10000 bytes (target.maxResponseBytes)' });
  });

  it("leaves a refused status to the instance's validateStatus, with the answer attached", async () => {
    const target = await localTarget((req, res) => json(res, req.url?.endsWith('/missing') ? 404 : 503, { detail: 'no' }));
    const http = instance(target.url, { validateStatus: (s) => s < 400 });
    const missing = (await http.get('/Users/missing').catch((e: unknown) => e)) as AxiosError;
    expect(missing).toBeInstanceOf(AxiosError);
    expect(missing).toMatchObject({ code: 'ERR_BAD_REQUEST', response: { status: 404, data: '{"detail":"no"}' } });
    await expect(http.get('/Users/busy')).rejects.toMatchObject({ code: 'ERR_BAD_RESPONSE', response: { status: 503 } });
  });

  it('gives bytes for responseType arraybuffer, and text without a byte-order mark otherwise', async () => {
    const target = await localTarget((_req, res) => res.writeHead(200).end('\ufeff{"id":"b"}'));
    const http = instance(target.url);
    expect(await http.get('/Users/b').then((r) => r.data as unknown)).toBe('{"id":"b"}');
    const bytes = await http.get('/Users/b', { responseType: 'arraybuffer' }).then((r) => r.data as unknown);
    expect(Buffer.isBuffer(bytes) && bytes.toString('utf8')).toBe('\ufeff{"id":"b"}');
  });
});

describe('failures carry the codes the client classifies', () => {
  it('a port where nothing listens: ECONNREFUSED, retried by the client as never sent', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/scim/v2`;
    const refused = await instance(url).get('/Users').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AxiosError);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    await expect(client(url).createUser({ userName: 'a' })).rejects.toMatchObject({ kind: 'transient', detail: 'ECONNREFUSED' });
  });

  it('a connection cut before the answer, or in the middle of it: ECONNRESET', async () => {
    const target = await localTarget((req, res) => {
      if (req.url?.endsWith('/half')) {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('{"id":');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.socket?.destroy();
    });
    const http = instance(target.url);
    for (const path of ['/Users/none', '/Users/half']) {
      const err = await http.get(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AxiosError);
      expect(err).toMatchObject({ code: 'ECONNRESET' });
    }
    const err = await client(target.url).createUser({ userName: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'transient', detail: 'ECONNRESET', attempts: 1 });
  });

  it('a timeout set on the request: ECONNABORTED, the connection closed', async () => {
    const target = await localTarget(() => undefined);
    await expect(instance(target.url, { timeout: 50 }).get('/Users')).rejects.toMatchObject({ code: 'ECONNABORTED', message: 'timeout of 50ms exceeded' });
    expect(await until(() => target.closed === 1)).toBe(true);
  });
});

describe('the signal', () => {
  it('aborted already: nothing is sent', async () => {
    const target = await localTarget((_req, res) => json(res, 200, {}));
    const controller = new AbortController();
    controller.abort();
    await expect(instance(target.url).post('/Users', '{}', { signal: controller.signal })).rejects.toMatchObject({ code: 'ERR_CANCELED' });
    await new Promise((r) => setTimeout(r, 50));
    expect(target.connections).toBe(0);
  });

  it('aborted while waiting for the answer, or while it arrives: canceled at once, the connection closed', async () => {
    const target = await localTarget((req, res) => {
      if (req.url?.endsWith('/trickle')) {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('{');
      }
      // otherwise never answers
    });
    const http = instance(target.url);
    for (const path of ['/Users/silent', '/Users/trickle']) {
      const controller = new AbortController();
      const pending = http.get(path, { signal: controller.signal }).catch((e: unknown) => e);
      expect(await until(() => target.seen.some((s) => s.url.endsWith(path)))).toBe(true);
      await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      controller.abort();
      expect(await pending).toMatchObject({ code: 'ERR_CANCELED' });
      expect(Date.now() - started).toBeLessThan(100);
    }
    expect(await until(() => target.closed === 2)).toBe(true);
  });
});

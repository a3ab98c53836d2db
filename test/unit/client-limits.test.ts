import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ScimHttpError } from '../../src/errors.js';
import { ScimClient, type ScimClientOptions } from '../../src/scim/client.js';
import { targetLimiter } from '../../src/delivery/rate.js';

/** A target on 127.0.0.1 that answers as `handler` says; it counts requests, and connections closed. */
interface LocalTarget {
  url: string;
  requests: number;
  closed: number;
  stop(): Promise<void>;
}

const targets: LocalTarget[] = [];

async function localTarget(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalTarget> {
  const server = createServer((req, res) => {
    target.requests++;
    handler(req, res);
  });
  server.on('connection', (socket) => socket.once('close', () => target.closed++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const target: LocalTarget = {
    url: `http://127.0.0.1:${port}/scim/v2`,
    requests: 0,
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

function client(url: string, over: Partial<ScimClientOptions> = {}): ScimClient {
  return new ScimClient({
    baseUrl: url,
    auth: { type: 'bearer', token: 'tok' },
    timeoutMs: 5_000,
    limiter: targetLimiter({ requestsPerSecond: 1000, maxConcurrent: 4 }),
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    ...over,
  });
}

const until = async (check: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

/** Ref'ed timers alive now: a settled request must leave none of its own behind. */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('timeoutMs bounds the whole exchange', () => {
  it('gives up on a target that trickles its answer a byte at a time', async () => {
    const target = await localTarget((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/scim+json', 'Content-Length': '100' });
      let sent = 0;
      // One byte every 200 ms: a socket idle timeout of 300 ms never fires.
      const tick = setInterval(() => (++sent < 100 ? res.write(' ') : (clearInterval(tick), res.end(' '))), 200);
      res.on('close', () => clearInterval(tick));
    });
    const started = Date.now();
    const err = await client(target.url, { timeoutMs: 300 }).request('GET', '/Users/1').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'transient', detail: 'no answer within 300 ms', attempts: 2 });
    expect(elapsed).toBeLessThan(1_000);
    expect(target.requests).toBe(2);
    expect(await until(() => target.closed === 2)).toBe(true);
  });

  it('leaves no timer behind once requests settle, answered or timed out', async () => {
    const target = await localTarget((req, res) => {
      if (req.url?.endsWith('/slow')) return; // never answers
      res.writeHead(200, { 'Content-Type': 'application/scim+json' }).end('{"id":"1"}');
    });
    const c = client(target.url, { timeoutMs: 200, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    const before = timers();
    await Promise.all(Array.from({ length: 50 }, () => c.request('GET', '/Users/1')));
    await Promise.all(Array.from({ length: 4 }, () => c.request('GET', '/Users/slow').catch(() => undefined)));
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('abort(): a hard stop for shutdown', () => {
  const stalled = () => localTarget(() => undefined); // takes the request, never answers

  it('aborts every request in flight at once, and fails later requests at once', async () => {
    const target = await stalled();
    const c = client(target.url, { timeoutMs: 60_000 });
    const pending = Array.from({ length: 3 }, (_, i) => c.request('GET', `/Users/${i}`).catch((e: unknown) => e));
    expect(await until(() => target.requests === 3)).toBe(true);
    const started = Date.now();
    c.abort();
    const errors = await Promise.all(pending);
    expect(Date.now() - started).toBeLessThan(200);
    for (const err of errors) {
      expect(err).toBeInstanceOf(ScimHttpError);
      expect(err).toMatchObject({ kind: 'transient', detail: 'stopped: scimsync is shutting down' });
    }
    expect(await until(() => target.closed === 3)).toBe(true);

    const later = Date.now();
    await expect(c.createUser({ userName: 'a@example.com' })).rejects.toMatchObject({ kind: 'transient', detail: 'stopped: scimsync is shutting down' });
    expect(Date.now() - later).toBeLessThan(50);
    expect(target.requests).toBe(3);
  });

  it('cuts short a backoff wait and requests queued behind a slow request rate', async () => {
    const target = await localTarget((req, res) => {
      if (req.url?.endsWith('/busy')) return void res.writeHead(503).end();
      // stalls every other request
    });
    const c = client(target.url, {
      timeoutMs: 60_000,
      limiter: targetLimiter({ requestsPerSecond: 2, maxConcurrent: 1 }),
      retry: { maxAttempts: 5, baseDelayMs: 30_000, maxDelayMs: 30_000 },
      random: () => 0.99,
    });
    const backingOff = c.request('GET', '/Users/busy').catch((e: unknown) => e);
    expect(await until(() => target.requests === 1)).toBe(true);
    const queued = Array.from({ length: 5 }, (_, i) => c.request('GET', `/Users/${i}`).catch((e: unknown) => e));
    expect(await until(() => target.requests === 2)).toBe(true);
    const started = Date.now();
    c.abort();
    const errors = await Promise.all([backingOff, ...queued]);
    // At 2 requests/s the five queued alone would take 2 s to be let through one by one.
    expect(Date.now() - started).toBeLessThan(300);
    expect(errors.map((e) => (e as ScimHttpError).detail)).toEqual(Array(6).fill('stopped: scimsync is shutting down'));
    expect(target.requests).toBe(2);
  });
});

describe('maxResponseBytes', () => {
  /** Sends `bytes` of answer with backpressure, from one reused chunk; counts what it could write. */
  const flood = (bytes: number) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const sent = { bytes: 0, finished: false };
    const handler = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/scim+json', 'Content-Length': String(bytes) });
      const pump = () => {
        while (sent.bytes < bytes && !res.destroyed) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (sent.bytes >= bytes) {
          sent.finished = true;
          res.end();
        }
      };
      pump();
    };
    return { sent, handler };
  };

  it('abandons a 50 MB answer as soon as it passes 8 MiB, and does not retry it', async () => {
    const { sent, handler } = flood(50 * 1024 * 1024);
    const target = await localTarget(handler);
    const started = Date.now();
    const err = await client(target.url, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }).request('GET', '/Users').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScimHttpError);
    expect(err).toMatchObject({ kind: 'bad-request', detail: 'the answer exceeded 8388608 bytes (target.maxResponseBytes)', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await until(() => target.closed === 1)).toBe(true);
    expect(sent.finished).toBe(false);
    expect(sent.bytes).toBeLessThan(24 * 1024 * 1024);
    expect(target.requests).toBe(1);
  });

  it('takes its cap from the option and names it', async () => {
    const target = await localTarget((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/scim+json' }).end(JSON.stringify({ id: '1', note: 'x'.repeat(5_000) }));
    });
    const c = client(target.url, { maxResponseBytes: 1_000 });
    await expect(c.get('Users', '1')).rejects.toMatchObject({ kind: 'bad-request', detail: 'the answer exceeded 1000 bytes (target.maxResponseBytes)' });
    const roomy = client(target.url, { maxResponseBytes: 10_000 });
    expect((await roomy.get('Users', '1')).resource.id).toBe('1');
  });
});

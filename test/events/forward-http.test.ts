import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { forwardSchema } from '../../src/events/forward/sinks.js';
import { forwarderFromConfig } from '../../src/events/forward/sinks.js';
import { Forwarder, type SinkSettings } from '../../src/events/forward/forwarder.js';
import { httpSink, type HttpSinkOptions } from '../../src/events/forward/http.js';
import {
  deliveryReport,
  memoryLogger,
  openEventLog,
  selfSignedCertificate,
  startHttpReceiver,
  tempDir,
  validSignature,
  waitFor,
  type EventLog,
  type HttpReceiver,
} from './support.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function receiver(options: Parameters<typeof startHttpReceiver>[0] = {}): Promise<HttpReceiver> {
  const r = await startHttpReceiver(options);
  cleanup.push(() => r.stop().catch(() => undefined));
  return r;
}

function eventLog(path = join(tempDir(), 'state.db')): EventLog {
  const log = openEventLog(path);
  cleanup.push(() => log.close());
  return log;
}

const fast: Partial<SinkSettings> = { flushMs: 0, retry: { baseDelayMs: 20, maxDelayMs: 200 } };

function forwarder(log: EventLog, sink: HttpSinkOptions, settings: Partial<SinkSettings> = {}, extra: { logger?: ReturnType<typeof memoryLogger>['logger'] } = {}): Forwarder {
  const f = new Forwarder({ sinks: [{ sink: httpSink(sink), settings: { ...fast, ...settings } }], source: log, positions: log, pollMs: 20, ...extra });
  cleanup.push(() => f.stop({ graceMs: 100 }));
  return f;
}

describe('forwarding events to an HTTP endpoint', () => {
  it('delivers every event once, in order, in batches of batchSize, with the event log field names', async () => {
    const r = await receiver();
    const log = eventLog();
    const ids = log.append(1234);
    const report = await forwarder(log, { name: 'siem', url: r.url }, { batchSize: 100 }).drain({ timeoutMs: 10_000 });

    expect(report.complete).toBe(true);
    expect(r.requests.map((q) => q.ids.length)).toEqual([...Array(12).fill(100), 34]);
    expect(r.ids()).toEqual(ids);
    expect(log.get('siem')).toBe(ids.at(-1));
    const first = (JSON.parse(r.requests[0]!.body) as { events: Record<string, unknown>[] }).events[0]!;
    expect(Object.keys(first)).toEqual(['id', 'time', 'integration', 'cycleId', 'type', 'result', 'sourceId', 'targetId', 'summary', 'detail']);
    expect(first).toMatchObject({ id: ids[0], integration: 'gong', type: 'user_create_provision', sourceId: 'u1', targetId: 't1', detail: { attempt: 1 } });
  });

  it('waits flushMs for a batch to fill, then sends what it has in one request', async () => {
    const r = await receiver();
    const log = eventLog();
    const f = forwarder(log, { name: 'siem', url: r.url }, { batchSize: 50, flushMs: 400 });
    f.start();
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(...log.append(1));
      f.wake();
      await new Promise((res) => setTimeout(res, 10));
    }
    await waitFor(() => r.ids().length === 10, 'the batch');
    expect(r.requests).toHaveLength(1);
    expect(r.ids()).toEqual(ids);
  });

  it('sends the bearer token and an HMAC-SHA256 signature of the body that the receiver verifies, and never logs them', async () => {
    const r = await receiver();
    const log = eventLog();
    const memory = memoryLogger();
    const token = 'tok-SIEM-5f2d9a';
    const secret = 'hmac-secret-0123456789';
    const f = forwarder(log, { name: 'siem', url: r.url, auth: { type: 'bearer', token }, hmac: { secret } }, { batchSize: 10 }, { logger: memory.logger });
    // A refused batch first, so that failures are logged.
    r.status = 401;
    log.append(25);
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 2, 'failed attempts');
    r.status = 200;
    await f.drain({ timeoutMs: 10_000 });

    expect(r.ids()).toHaveLength(25);
    for (const q of r.requests) {
      expect(q.headers.authorization).toBe(`Bearer ${token}`);
      expect(validSignature(q.body, q.headers['x-scimsync-signature'], secret)).toBe(true);
      expect(validSignature(q.body, q.headers['x-scimsync-signature'], 'another-secret-0123456')).toBe(false);
    }
    const logged = memory.lines.join('\n');
    expect(logged).toContain('HTTP 401');
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(secret);
    expect(f.status()[0]!.lastError).toBeUndefined();
  });

  it('signs under the header the config names', async () => {
    const r = await receiver();
    const log = eventLog();
    log.append(3);
    await forwarder(log, { name: 'siem', url: r.url, hmac: { secret: 's3cret-s3cret-s3cret', header: 'X-Hub-Signature-256' } }).drain();
    expect(validSignature(r.requests[0]!.body, r.requests[0]!.headers['x-hub-signature-256'], 's3cret-s3cret-s3cret')).toBe(true);
  });

  it('ends with every event delivered when the receiver is killed and restarted in the middle, no gap and at most one batch repeated', async () => {
    const r = await receiver();
    // The collector ingests, then answers a little later: a kill in between loses the answer, not the batch.
    r.delayMs = 15;
    const log = eventLog();
    const batchSize = 20;
    const f = forwarder(log, { name: 'siem', url: r.url }, { batchSize, retry: { baseDelayMs: 50, maxDelayMs: 300 } });
    f.start();
    const ids: number[] = [];
    const writer = (async () => {
      for (let i = 0; i < 100; i++) {
        ids.push(...log.append(5));
        f.wake();
        await new Promise((res) => setTimeout(res, 15));
      }
    })();
    await waitFor(() => r.ids().length >= 100, 'the first deliveries');
    await r.stop();
    const atKill = r.ids().length;
    await new Promise((res) => setTimeout(res, 500));
    await r.restart();
    await writer;
    const report = await f.drain({ timeoutMs: 15_000 });

    expect(report.complete).toBe(true);
    expect(atKill).toBeLessThan(ids.length - 100);
    const delivered = deliveryReport(r.ids(), ids);
    expect(delivered.missing).toEqual([]);
    expect(delivered.outOfOrder).toBe(0);
    expect(delivered.repeated).toBeLessThanOrEqual(batchSize);
    // The receiver's own log, deduplicated, is the event log with no gap.
    expect([...new Set(r.ids())]).toEqual(ids);
  });

  it('continues after a restart of the forwarder itself from the stored position, without loss', async () => {
    const r = await receiver();
    r.delayMs = 40;
    const path = join(tempDir(), 'state.db');
    const log = eventLog(path);
    const ids = log.append(300);
    const first = forwarder(log, { name: 'siem', url: r.url }, { batchSize: 10 });
    first.start();
    await waitFor(() => r.ids().length >= 50, 'some deliveries');
    const stopping = Date.now();
    // A send still under way is cut off after the grace: its batch is not counted as acknowledged.
    await first.stop({ graceMs: 5 });
    expect(Date.now() - stopping).toBeLessThan(500);
    const position = log.get('siem');
    expect(position).toBeGreaterThan(0);
    expect(position).toBeLessThan(ids.at(-1)!);

    const reopened = eventLog(path);
    const second = forwarder(reopened, { name: 'siem', url: r.url }, { batchSize: 10 });
    r.delayMs = 0;
    expect((await second.drain({ timeoutMs: 15_000 })).complete).toBe(true);

    const delivered = deliveryReport(r.ids(), ids);
    expect(delivered.missing).toEqual([]);
    expect(delivered.outOfOrder).toBe(0);
    expect(delivered.repeated).toBeLessThanOrEqual(10);
    expect(reopened.get('siem')).toBe(ids.at(-1));
  });

  it('retries a refused batch with backoff and sends it again whole', async () => {
    const r = await receiver();
    const log = eventLog();
    const ids = log.append(30);
    r.status = 503;
    const f = forwarder(log, { name: 'siem', url: r.url }, { batchSize: 30 });
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 3, 'three failed attempts');
    expect(r.ids()).toEqual([]);
    expect(log.get('siem')).toBe(0);
    expect(f.status()[0]!.lastError).toContain('HTTP 503');
    r.status = 204;
    await f.drain({ timeoutMs: 10_000 });
    expect(r.requests).toHaveLength(1);
    expect(r.ids()).toEqual(ids);
  });

  it('counts a request without an answer within timeoutMs as not delivered', async () => {
    const r = await receiver();
    const log = eventLog();
    log.append(5);
    r.delayMs = 5000;
    const f = forwarder(log, { name: 'siem', url: r.url }, { timeoutMs: 200 });
    f.start();
    const started = Date.now();
    await waitFor(() => f.status()[0]!.failures >= 1, 'a timed-out attempt');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(f.status()[0]!.lastError).toContain('no acknowledgement within 200 ms');
    expect(log.get('siem')).toBe(0);
  });

  it('does not follow a redirect, which would carry the token elsewhere', async () => {
    const r = await receiver();
    const log = eventLog();
    log.append(2);
    r.status = 307;
    const f = forwarder(log, { name: 'siem', url: r.url, auth: { type: 'bearer', token: 'redirect-token-1234' } });
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 1, 'a failed attempt');
    expect(f.status()[0]!.lastError).toContain('HTTP 307 (redirects are not followed)');
    expect(log.get('siem')).toBe(0);
  });

  it('keeps every sink independent: one down holds back none of the others', async () => {
    const up = await receiver();
    const down = await receiver();
    await down.stop();
    const log = eventLog();
    const ids = log.append(40);
    const f = new Forwarder({
      sinks: [
        { sink: httpSink({ name: 'down', url: down.url }), settings: fast },
        { sink: httpSink({ name: 'up', url: up.url }), settings: { ...fast, batchSize: 15 } },
      ],
      source: log,
      positions: log,
    });
    cleanup.push(() => f.stop({ graceMs: 100 }));
    const started = Date.now();
    const report = await f.drain({ timeoutMs: 1500 });
    // The drain is bounded by its deadline even with a sink that never answers.
    expect(Date.now() - started).toBeLessThan(2500);
    expect(report.complete).toBe(false);
    expect(report.sinks.find((s) => s.sink === 'up')).toMatchObject({ caughtUp: true, position: ids.at(-1) });
    expect(report.sinks.find((s) => s.sink === 'down')).toMatchObject({ caughtUp: false, position: 0 });
    expect(report.sinks.find((s) => s.sink === 'down')!.lastError).toMatch(/ECONNREFUSED/);
    expect(up.ids()).toEqual(ids);
  });

  it('is built from events.forward config: https with the CA file of the receiver, its bearer token, its name as the position key', async () => {
    const dir = tempDir();
    const cert = selfSignedCertificate(dir);
    const r = await receiver({ tls: cert });
    const log = eventLog();
    const ids = log.append(12);
    const config = forwardSchema.parse([{ type: 'http', name: 'splunk', url: r.url, caFile: cert.certFile, auth: { type: 'bearer', token: 'hec-token-123' }, flushMs: 0 }]);
    const f = forwarderFromConfig({ config, source: log, positions: log })!;
    cleanup.push(() => f.stop());
    expect((await f.drain({ timeoutMs: 10_000 })).complete).toBe(true);
    expect(r.ids()).toEqual(ids);
    expect(r.requests[0]!.headers.authorization).toBe('Bearer hec-token-123');
    expect(log.get('splunk')).toBe(ids.at(-1));
  });

  it('refuses an https receiver whose certificate no CA vouches for', async () => {
    const r = await receiver({ tls: selfSignedCertificate(tempDir()) });
    const log = eventLog();
    log.append(3);
    const f = forwarderFromConfig({ config: forwardSchema.parse([{ type: 'http', url: r.url, flushMs: 0 }]), source: log, positions: log })!;
    cleanup.push(() => f.stop());
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 1, 'a refused attempt');
    expect(f.status()[0]!.lastError).toMatch(/certificate/i);
    expect(r.requests).toEqual([]);
    expect(log.get('http:127.0.0.1:' + r.port)).toBe(0);
  });

  it('names the key of a CA file that cannot be read', () => {
    const log = eventLog();
    const config = forwardSchema.parse([{ type: 'syslog', url: 'tls://127.0.0.1:6514' }, { type: 'http', url: 'https://127.0.0.1:1/i', caFile: '/nonexistent/ca.pem' }]);
    expect(() => forwarderFromConfig({ config, source: log, positions: log })).toThrow(ConfigError);
    expect(() => forwarderFromConfig({ config, source: log, positions: log })).toThrow('[scimsync] config: events.forward[1].caFile: /nonexistent/ca.pem cannot be read (ENOENT)');
  });
});

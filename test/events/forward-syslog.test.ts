import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Forwarder, type SinkSettings } from '../../src/events/forward/forwarder.js';
import { frame, syslogMessage, syslogSink, type SyslogSinkOptions } from '../../src/events/forward/syslog.js';
import type { EventRecord } from '../../src/events/types.js';
import {
  deliveryReport,
  openEventLog,
  selfSignedCertificate,
  startSyslogListener,
  tempDir,
  waitFor,
  type EventLog,
  type SyslogListener,
  type TestCertificate,
} from './support.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const fast: Partial<SinkSettings> = { flushMs: 0, retry: { baseDelayMs: 20, maxDelayMs: 200 } };

async function listener(options: Parameters<typeof startSyslogListener>[0] = {}): Promise<SyslogListener> {
  const l = await startSyslogListener(options);
  cleanup.push(() => l.stop().catch(() => undefined));
  return l;
}

function eventLog(): EventLog {
  const log = openEventLog(join(tempDir(), 'state.db'));
  cleanup.push(() => log.close());
  return log;
}

function forwarder(log: EventLog, sink: SyslogSinkOptions, settings: Partial<SinkSettings> = {}): Forwarder {
  const f = new Forwarder({ sinks: [{ sink: syslogSink(sink), settings: { ...fast, ...settings } }], source: log, positions: log, pollMs: 20 });
  cleanup.push(() => f.stop({ graceMs: 100 }));
  return f;
}

const record = (over: Partial<EventRecord> = {}): EventRecord => ({
  id: 42,
  time: '2025-03-01T10:00:00.123Z',
  integration: 'gong',
  cycleId: 'c-1',
  type: 'user_update_provision',
  result: 'success',
  sourceId: 'u1',
  targetId: 't1',
  summary: 'user ada@example.com updated',
  detail: {},
  ...over,
});

const format = { facility: 13, hostname: 'idp-sync-1', procId: '4242', maxMessageBytes: 8192 };

/** RFC 5424 with our structured data: PRI, version, timestamp, host, app, procid, msgid, SD, message. */
const SHAPE = /^<(\d{1,3})>1 (\S+) (\S+) scimsync (\S+) (\S+) (\[scimsync@32473(?: [A-Za-z]+="(?:[^"\\\]]|\\["\\\]])*")*\])(?: (.*))?$/s;

describe('syslog messages (RFC 5424)', () => {
  it('writes one event as one message with its fields in the scimsync@32473 structured data', () => {
    const m = syslogMessage(record(), format);
    expect(m).toBe(
      '<110>1 2025-03-01T10:00:00.123Z idp-sync-1 scimsync 4242 user_update_provision ' +
        '[scimsync@32473 id="42" integration="gong" cycleId="c-1" result="success" sourceId="u1" targetId="t1"] user ada@example.com updated',
    );
    // facility 13 (log audit) * 8 + severity: failure 3, skipped 5, success 6.
    expect(syslogMessage(record({ result: 'failure' }), format)).toMatch(/^<107>1 /);
    expect(syslogMessage(record({ result: 'skipped' }), { ...format, facility: 16 })).toMatch(/^<133>1 /);
  });

  it('escapes ", \\ and ] in parameter values and keeps the message on one line', () => {
    const m = syslogMessage(record({ sourceId: 'a"b\\c]d', targetId: null, summary: 'line one\r\nline two\u2028three' }), format);
    expect(m).toContain('sourceId="a\\"b\\\\c\\]d"');
    expect(m).not.toContain('targetId=');
    expect(m).not.toMatch(/[\r\n\u2028]/);
    expect(m.endsWith('] line one  line two three')).toBe(true);
    const parts = SHAPE.exec(m);
    expect(parts?.[6]).toBe('[scimsync@32473 id="42" integration="gong" cycleId="c-1" result="success" sourceId="a\\"b\\\\c\\]d"]');
  });

  it('frames by octet count in bytes, and cuts an overlong message on a character boundary', () => {
    const framed = frame(syslogMessage(record({ summary: 'Zoë Ågren créée' }), format)).toString();
    const [len, ...rest] = framed.split(' ');
    expect(Number(len)).toBe(Buffer.byteLength(rest.join(' ')));
    const long = syslogMessage(record({ summary: 'é'.repeat(10_000) }), { ...format, maxMessageBytes: 1000 });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(1000);
    expect(long).not.toContain('\uFFFD');
  });
});

describe('forwarding events to syslog', () => {
  let dir: string;
  let cert: TestCertificate;
  let other: TestCertificate;
  beforeAll(() => {
    dir = tempDir();
    cert = selfSignedCertificate(dir, 'receiver');
    other = selfSignedCertificate(dir, 'someone-else');
  });

  it('delivers every event over TCP, in order, one RFC 5424 message each', async () => {
    const l = await listener();
    const log = eventLog();
    const ids = log.append(250);
    const report = await forwarder(log, { name: 'syslog', url: l.url }, { batchSize: 100 }).drain({ timeoutMs: 10_000 });
    expect(report.complete).toBe(true);
    await waitFor(() => l.messages.length === 250, 'every message');
    expect(l.ids()).toEqual(ids);
    for (const m of l.messages) expect(m).toMatch(SHAPE);
    expect(l.messages[0]).toContain('user_create_provision [scimsync@32473 id="1" integration="gong" cycleId="c1" result="success" sourceId="u1" targetId="t1"] user u1 created');
  });

  it('delivers over TLS to a receiver whose certificate the CA file vouches for', async () => {
    const l = await listener({ tls: cert });
    const log = eventLog();
    const ids = log.append(30);
    const report = await forwarder(log, { name: 'syslog', url: l.url, caFile: cert.certFile }, { batchSize: 7 }).drain({ timeoutMs: 10_000 });
    expect(report.complete).toBe(true);
    await waitFor(() => l.messages.length === 30, 'every message');
    expect(l.ids()).toEqual(ids);
  });

  it('refuses a TLS receiver whose certificate the CA does not vouch for, and delivers nothing', async () => {
    const l = await listener({ tls: cert });
    const log = eventLog();
    log.append(5);
    const f = forwarder(log, { name: 'syslog', url: l.url, caFile: other.certFile });
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 2, 'refused attempts');
    expect(f.status()[0]!.lastError).toMatch(/certificate/i);
    expect(l.messages).toEqual([]);
    expect(log.get('syslog')).toBe(0);
  });

  it('refuses a self-signed TLS receiver when no CA is given (the system CAs do not vouch for it)', async () => {
    const l = await listener({ tls: cert });
    const log = eventLog();
    log.append(5);
    const f = forwarder(log, { name: 'syslog', url: l.url });
    f.start();
    await waitFor(() => f.status()[0]!.failures >= 1, 'a refused attempt');
    expect(f.status()[0]!.lastError).toMatch(/certificate/i);
    expect(l.messages).toEqual([]);
  });

  it('ends with every event delivered when the listener is stopped and restarted while events keep coming', async () => {
    const l = await listener();
    const log = eventLog();
    const f = forwarder(log, { name: 'syslog', url: l.url }, { batchSize: 10, retry: { baseDelayMs: 30, maxDelayMs: 200 } });
    f.start();
    const ids = log.append(50);
    f.wake();
    await waitFor(() => l.messages.length === 50, 'the first messages');
    // The listener closes its connections: the forwarder notices and holds what comes next.
    await l.stop();
    await new Promise((res) => setTimeout(res, 50));
    for (let i = 0; i < 5; i++) {
      ids.push(...log.append(10));
      f.wake();
      await new Promise((res) => setTimeout(res, 40));
    }
    expect(l.messages).toHaveLength(50);
    await l.restart();
    ids.push(...log.append(25));
    expect((await f.drain({ timeoutMs: 10_000 })).complete).toBe(true);
    await waitFor(() => l.messages.length >= ids.length, 'every message');
    const delivered = deliveryReport(l.ids(), ids);
    expect(delivered.missing).toEqual([]);
    expect(delivered.outOfOrder).toBe(0);
    expect(delivered.repeated).toBe(0);
  });

  it('reads the CA from caFile at start, not per message', () => {
    const missing = join(dir, 'nope.pem');
    expect(() => syslogSink({ name: 's', url: 'tls://127.0.0.1:6514', caFile: missing })).toThrow(/ENOENT/);
    writeFileSync(join(dir, 'ca.pem'), cert.cert);
    expect(() => syslogSink({ name: 's', url: 'tls://127.0.0.1:6514', caFile: join(dir, 'ca.pem') })).not.toThrow();
  });
});

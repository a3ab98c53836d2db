/**
 * Real parts for the forwarding and notification tests: an event log and sink
 * positions in a real state file (the state's own migrations), a local HTTP
 * receiver, a local syslog listener (TCP or TLS) and a throwaway certificate.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import winston from 'winston';
import type { ForwardSource, SinkPositions } from '../../src/events/forward/forwarder.js';
import type { NotifyMemory } from '../../src/events/notify/rules.js';
import type { Logger } from '../../src/log.js';
import { openStateStore } from '../../state/index.js';

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'scimsync-events-'));

export interface EventLog extends ForwardSource, SinkPositions, NotifyMemory {
  /** Writes `n` events (user_create_provision, u<id>) and returns their ids. */
  append(n: number, summary?: (i: number) => string): number[];
  close(): void;
  path: string;
}

/** Opens (or creates) the event log in `path`: the real state file, its migrations and its stores; a second open of the same file sees the same positions. */
export function openEventLog(path: string): EventLog {
  const store = openStateStore(path);
  let seq = 0;
  return {
    path,
    append(n, summary = (i) => `user u${i} created`) {
      store.transaction(() => {
        for (let k = 0; k < n; k++) {
          const i = ++seq;
          store.insertEvent({
            time: new Date().toISOString(),
            integration: 'gong',
            cycleId: 'c1',
            type: 'user_create_provision',
            result: i % 7 === 0 ? 'failure' : 'success',
            sourceId: `u${i}`,
            targetId: `t${i}`,
            summary: summary(i),
            detail: { attempt: 1 },
          });
        }
      });
      // Ids are never reused and this log has one writer: the last n ids are this batch's.
      const last = store.lastEventId();
      return Array.from({ length: n }, (_, k) => last - n + 1 + k);
    },
    eventsAfter: (id, limit) => store.eventsAfter(id, limit),
    get: (sink) => store.sinkPositions.get(sink),
    set: (sink, id) => store.sinkPositions.set(sink, id),
    last: (key) => store.notifyMemory.last(key),
    remember: (key, value) => store.notifyMemory.remember(key, value),
    close: () => store.close(),
  };
}

/** Resolves once `check` holds, polling; rejects with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
  ids: number[];
}

export interface HttpReceiver {
  url: string;
  port: number;
  /** Every request, in arrival order, as the receiver logged it. */
  requests: ReceivedRequest[];
  /** Ids of every event received, in arrival order (with repeats). */
  ids(): number[];
  /** The status of every answer, in order, refusals included: how many attempts reached the receiver. */
  answered: number[];
  /** Connections open to it now. */
  connections(): number;
  /** The status the next requests are answered with. */
  status: number;
  /** How long to wait before answering. */
  delayMs: number;
  /** Kills the receiver: no more connections, open ones cut. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
}

/** A SIEM's HTTP collector (or a chat webhook) on 127.0.0.1: logs each POST it accepts, answers `status`. */
export async function startHttpReceiver(options: { tls?: { key: string; cert: string } } = {}): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let server: http.Server;
  const receiver: HttpReceiver = {
    url: '',
    port: 0,
    requests,
    ids: () => requests.flatMap((r) => r.ids),
    answered: [],
    connections: () => sockets.size,
    status: 200,
    delayMs: 0,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      await listen(receiver.port);
    },
  };
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const status = receiver.status;
          // Ingested on arrival, answered after `delayMs`: an answer lost on the way is a batch the collector has.
          if (status >= 200 && status < 300) {
            const parsed = JSON.parse(body) as { events?: { id: number }[] };
            requests.push({ headers: req.headers, body, ids: parsed.events?.map((e) => e.id) ?? [] });
          }
          const answer = () => {
            receiver.answered.push(status);
            if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
          };
          // Unref'd: an answer still waiting must not keep a test process alive once the receiver stopped.
          if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs).unref();
          else answer();
        });
      };
      server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handle) : http.createServer(handle);
      server.on('connection', (s: net.Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        receiver.port = (server.address() as net.AddressInfo).port;
        receiver.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${receiver.port}/ingest`;
        resolve();
      });
    });
  await listen(0);
  return receiver;
}

/** Whether `header` is the HMAC-SHA256 of `body` under `secret`, as a receiver checks it. */
export const validSignature = (body: string, header: string | string[] | undefined, secret: string): boolean =>
  header === `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

export interface SyslogListener {
  url: string;
  port: number;
  /** Each message, unframed, in arrival order. */
  messages: string[];
  /** The `id="…"` of each message. */
  ids(): number[];
  /**
   * Stops accepting. `cut` (the default) drops every connection at once, as a crash would;
   * `end` closes each from the listener's side after reading what was already sent.
   */
  stop(how?: 'cut' | 'end'): Promise<void>;
  restart(): Promise<void>;
  /** Stops reading (a receiver that hangs): what is sent fills the socket buffers, then the sender waits. */
  hold(): void;
  /** Reads again, what was held first. */
  release(): void;
  /** TLS handshakes that failed on the listener's side. */
  tlsErrors: string[];
}

/** A syslog receiver on 127.0.0.1 that reads octet-counted frames (RFC 6587), over TCP or TLS. */
export async function startSyslogListener(options: { tls?: { key: string; cert: string } } = {}): Promise<SyslogListener> {
  const messages: string[] = [];
  const tlsErrors: string[] = [];
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let holding = false;
  const onSocket = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const space = buf.indexOf(0x20);
        if (space < 0) return;
        const len = Number(buf.subarray(0, space).toString());
        if (!Number.isInteger(len) || len <= 0) {
          messages.push(`BAD FRAME: ${buf.subarray(0, 40).toString()}`);
          s.destroy();
          return;
        }
        if (buf.length < space + 1 + len) return;
        messages.push(buf.subarray(space + 1, space + 1 + len).toString());
        buf = buf.subarray(space + 1 + len);
      }
    });
    if (holding) s.pause();
  };
  const listener: SyslogListener = {
    url: '',
    port: 0,
    messages,
    tlsErrors,
    ids: () => messages.map((m) => Number(/ id="(\d+)"/.exec(m)?.[1])),
    async stop(how = 'cut') {
      const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      for (const s of sockets) {
        if (how === 'end') s.end();
        else s.destroy();
      }
      await closed;
    },
    async restart() {
      await listen(listener.port);
    },
    hold() {
      holding = true;
      for (const s of sockets) s.pause();
    },
    release() {
      holding = false;
      for (const s of sockets) s.resume();
    },
  };
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = options.tls ? tls.createServer({ key: options.tls.key, cert: options.tls.cert }, onSocket) : net.createServer({ allowHalfOpen: true }, onSocket);
      server.on('tlsClientError', (err: Error) => tlsErrors.push(err.message));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        listener.port = (server.address() as net.AddressInfo).port;
        listener.url = `${options.tls ? 'tls' : 'tcp'}://127.0.0.1:${listener.port}`;
        resolve();
      });
    });
  await listen(0);
  return listener;
}

export interface TestCertificate {
  key: string;
  cert: string;
  certFile: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl for this run only. */
export function selfSignedCertificate(dir: string, name = 'receiver'): TestCertificate {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** Ids in `received` (with repeats) checked against `expected`: in order with no gap, and how many repeated. */
export function deliveryReport(received: readonly number[], expected: readonly number[]): { missing: number[]; outOfOrder: number; repeated: number } {
  const seen = new Set(received);
  const missing = expected.filter((id) => !seen.has(id));
  let outOfOrder = 0;
  let highest = 0;
  const once = new Set<number>();
  let repeated = 0;
  for (const id of received) {
    if (once.has(id)) repeated++;
    else if (id < highest) outOfOrder++;
    once.add(id);
    highest = Math.max(highest, id);
  }
  return { missing, outOfOrder, repeated };
}

export interface MemoryLogger {
  logger: Logger;
  /** Every line logged, as JSON text (message and metadata). */
  lines: string[];
}

/** A real winston logger whose lines are kept for the test to read. */
export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}

/**
 * The HTTP forward sink: each batch is one POST of `{ "events": [...] }`, the
 * events in the exported shape (format.ts). Any 2xx acknowledges the whole
 * batch; anything else, a redirect included, is a failure and the batch is
 * sent again. Optional bearer token, optional HMAC-SHA256 signature of the body.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import type { EventRecord } from '../types.js';
import { defineSink, delivery, secureOrLoopback, tlsOptions, urlText, wholeNumber } from './config.js';
import { exportedEvent } from './format.js';
import { ForwardError, describeFailure, type ForwardSink } from './forwarder.js';

/** An HTTP header name (RFC 9110 token), for the signature. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'expected an HTTP header name such as X-Scimsync-Signature');

/** `events.forward: [{ type: http, url, auth | hmac }]`. */
export const httpSinkPlugin = defineSink({
  options: z.strictObject({
    type: z.literal('http'),
    url: urlText({ protocols: ['http:', 'https:'], example: 'https://siem.example.com/ingest', credentials: 'use auth: { type: bearer, token } or hmac:' }),
    auth: z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }).optional(),
    hmac: z
      .strictObject({
        secret: z.string().min(16, 'expected a secret of at least 16 characters'),
        header: headerName.default('X-Scimsync-Signature'),
      })
      .optional(),
    batchSize: wholeNumber(1, 10_000).default(500),
    ...delivery,
    ...tlsOptions,
  }),
  create: (c, { name, ca }) =>
    httpSink({ name, url: c.url, ...(c.auth ? { auth: c.auth } : {}), ...(c.hmac ? { hmac: c.hmac } : {}), ...(ca ? { ca } : {}), rejectUnauthorized: c.rejectUnauthorized }),
  // A bearer token over plain HTTP can be read on the wire, except on this machine's loopback.
  problem: (c) => (c.auth && !secureOrLoopback(c.url) ? { key: 'url', message: 'a bearer token is only sent over https:// (or http:// to this machine)' } : undefined),
});

export interface HttpSinkOptions {
  /** The key of the sink's position. */
  name: string;
  url: string;
  auth?: { type: 'bearer'; token: string };
  /** Signs the body: `<header>: sha256=<hex of HMAC-SHA256(secret, body)>`. */
  hmac?: { secret: string; header?: string };
  /** A PEM file of the CA that issued the endpoint's certificate (an internal SIEM). */
  caFile?: string;
  /** PEM text instead of a file. */
  ca?: string | Buffer;
  /** @default true */
  rejectUnauthorized?: boolean;
}

export const DEFAULT_SIGNATURE_HEADER = 'X-Scimsync-Signature';

/** `sha256=<hex>` of the body: the receiver recomputes it with the shared secret. */
export function signature(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface PostOptions {
  headers: Record<string, string>;
  body: Buffer;
  signal: AbortSignal;
  agent?: http.Agent;
}

/** What a POST got back: the status, the body read and thrown away so the connection can serve the next request. */
export interface PostResult {
  status: number;
}

/**
 * One POST, bounded by `signal` from connecting to the end of the answer.
 * Redirects are never followed: one would carry the Authorization header elsewhere.
 */
export function post(url: URL, options: PostOptions): Promise<PostResult> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    if (options.signal.aborted) {
      reject(options.signal.reason as Error);
      return;
    }
    const req = client.request(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(options.body.length) },
      ...(options.agent ? { agent: options.agent } : {}),
    });
    const onAbort = () => {
      req.destroy(options.signal.reason as Error);
      reject(options.signal.reason as Error);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });
    const done = () => options.signal.removeEventListener('abort', onAbort);
    req.on('response', (res) => {
      res.on('error', (err) => (done(), reject(err)));
      res.on('end', () => (done(), resolve({ status: res.statusCode ?? 0 })));
      res.resume();
    });
    req.on('error', (err) => (done(), reject(err)));
    req.end(options.body);
  });
}

/** Where a URL points, without its path or query (either may hold a token). */
export function endpointOf(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

export function httpSink(options: HttpSinkOptions): ForwardSink {
  const url = new URL(options.url);
  const endpoint = endpointOf(url);
  const secrets = [options.auth?.token ?? '', options.hmac?.secret ?? ''];
  const agentOptions = { keepAlive: true, maxSockets: 1 };
  const ca = options.ca ?? (options.caFile ? readFileSync(options.caFile) : undefined);
  const agent =
    url.protocol === 'https:'
      ? new https.Agent({
          ...agentOptions,
          rejectUnauthorized: options.rejectUnauthorized ?? true,
          ...(ca ? { ca } : {}),
        })
      : new http.Agent(agentOptions);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'scimsync' };
  if (options.auth) headers.authorization = `Bearer ${options.auth.token}`;
  return {
    name: options.name,
    async send(batch: readonly EventRecord[], signal: AbortSignal): Promise<void> {
      const body = Buffer.from(JSON.stringify({ events: batch.map(exportedEvent) }));
      const signed = options.hmac ? { [options.hmac.header ?? DEFAULT_SIGNATURE_HEADER]: signature(body, options.hmac.secret) } : {};
      let result: PostResult;
      try {
        result = await post(url, { headers: { ...headers, ...signed }, body, signal, agent });
      } catch (err) {
        if (signal.aborted) throw err;
        throw new ForwardError(options.name, `POST ${endpoint}: ${describeFailure(err, secrets)}`);
      }
      if (result.status < 200 || result.status > 299) {
        const why = result.status >= 300 && result.status < 400 ? ' (redirects are not followed)' : '';
        throw new ForwardError(options.name, `POST ${endpoint}: HTTP ${result.status}${why}`);
      }
    },
    async close(): Promise<void> {
      agent.destroy();
    },
  };
}

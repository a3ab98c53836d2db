import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AxiosError, CanceledError, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';

/**
 * A lean axios adapter over `node:http` and `node:https`, for SCIM targets.
 *
 * axios's own Node adapter costs more CPU per request than the exchange
 * itself: a proxy lookup in the environment, redirect machinery, stream
 * transforms, and `setKeepAlive` on the socket of every request (a handful of
 * system calls each time). scimsync follows no redirect and uses no proxy, and
 * its answers are small JSON texts: this adapter sends the body in one write
 * on a keep-alive socket and collects the answer as text. Everything else axios
 * does (merging the instance config, `validateStatus`, `transformResponse`) is
 * unchanged, and errors are axios's own: the same `code`s (a network error's
 * `ECONNREFUSED`, `ECONNRESET`, …; `ERR_BAD_RESPONSE` past `maxContentLength`;
 * `ERR_CANCELED` when the signal aborts) as its Node adapter.
 */
export const scimAdapter: AxiosAdapter = (config) => new Promise((resolve, reject) => exchange(config, { resolve, reject }));

/**
 * How long an idle connection is kept. It must not be 0 (Node's default): only a non-zero
 * idle timeout can be lowered by the server's `Keep-Alive: timeout=N` hint, so that a
 * connection the server already closed is never reused (ECONNRESET on the next cycle).
 */
const IDLE_SOCKET_MS = 30_000;

/** One keep-alive agent per origin, for the whole process: a daemon's cycles reuse the connections of the last. */
const agents = new Map<string, http.Agent>();

function agentFor(origin: string, secure: boolean): http.Agent {
  let agent = agents.get(origin);
  if (!agent) {
    agent = secure ? new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) : new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
    agents.set(origin, agent);
  }
  return agent;
}

/** The encodings decoded here, offered as axios' Node adapter offers them (less `compress`, which zlib cannot read). */
const ACCEPT_ENCODING = 'gzip, deflate, br';

interface Target {
  secure: boolean;
  hostname: string;
  port: string;
  path: string;
  origin: string;
}

function parseTarget(full: string, config: InternalAxiosRequestConfig): Target {
  const parsed = new URL(full);
  const secure = parsed.protocol === 'https:';
  if (!secure && parsed.protocol !== 'http:') throw new AxiosError(`Unsupported protocol ${parsed.protocol}`, AxiosError.ERR_BAD_REQUEST, config);
  return {
    secure,
    // `new URL` keeps an IPv6 host in brackets; the socket wants it bare.
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port,
    path: parsed.pathname + parsed.search,
    origin: `${parsed.protocol}//${parsed.host}`,
  };
}

/** The parsed `baseURL` of each target: parsing it for every request costs more than the rest of this adapter. */
const bases = new Map<string, Target & { prefix: string }>();
/** A relative path and query that `new URL` would leave as it is: only URL characters, no `.` or `..` segment. */
const PLAIN = /^[\w\-.~!$&'()*+,;=:@%/?]*$/;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|\?|$)/;

/** The request's URL as axios would build it from `baseURL` and `url` (`combineURLs`). */
function targetOf(config: InternalAxiosRequestConfig): Target {
  const url = config.url ?? '';
  const base = config.baseURL;
  const absolute = /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  if (base && !absolute && PLAIN.test(url) && !DOT_SEGMENT.test(url) && !/[?#]/.test(base)) {
    let parsed = bases.get(base);
    if (!parsed) {
      const target = parseTarget(base, config);
      parsed = { ...target, prefix: target.path.replace(/\/+$/, '') };
      bases.set(base, parsed);
    }
    const path = url ? `${parsed.prefix}/${url.replace(/^\/+/, '')}` : parsed.path;
    return { secure: parsed.secure, hostname: parsed.hostname, port: parsed.port, origin: parsed.origin, path };
  }
  const full = base && !(absolute && config.allowAbsoluteUrls !== false) ? (url ? `${base.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : base) : url;
  return parseTarget(full, config);
}

/** The request body as one piece: a string, bytes, or nothing. */
function bodyOf(config: InternalAxiosRequestConfig): string | Buffer | undefined {
  const data: unknown = config.data;
  if (data === undefined || data === null) return undefined;
  if (typeof data === 'string' || Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (data instanceof URLSearchParams) return data.toString();
  throw new AxiosError('Data after transformation must be a string, an ArrayBuffer, a Buffer or a URLSearchParams', AxiosError.ERR_BAD_REQUEST, config);
}

interface Settle {
  resolve: (response: AxiosResponse) => void;
  reject: (reason: unknown) => void;
}

/** axios' `settle`: a status `validateStatus` refuses rejects with the answer attached (`lib/core/settle.js`). */
function settle(done: Settle, response: AxiosResponse): void {
  const validate = response.config.validateStatus;
  if (!response.status || !validate || validate(response.status)) return done.resolve(response);
  const code = response.status >= 400 && response.status < 500 ? AxiosError.ERR_BAD_REQUEST : AxiosError.ERR_BAD_RESPONSE;
  done.reject(new AxiosError(`Request failed with status code ${response.status}`, code, response.config, response.request, response));
}

function exchange(config: InternalAxiosRequestConfig, done: Settle): void {
  const signal = config.signal as AbortSignal | undefined;
  if (signal?.aborted) return done.reject(new CanceledError(undefined, config));
  let target: Target;
  let body: string | Buffer | undefined;
  try {
    if (config.params && Object.keys(config.params as object).length) {
      throw new AxiosError('params are not supported by the SCIM adapter: put the query in the URL', AxiosError.ERR_NOT_SUPPORT, config);
    }
    target = targetOf(config);
    body = bodyOf(config);
  } catch (e) {
    return done.reject(e);
  }
  const maxBody = config.maxBodyLength ?? -1;
  const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (maxBody > -1 && length > maxBody) {
    return done.reject(new AxiosError('Request body larger than maxBodyLength limit', AxiosError.ERR_BAD_REQUEST, config));
  }

  const headers = config.headers.toJSON() as Record<string, string | string[]>;
  if (body !== undefined) headers['Content-Length'] = String(length);
  const decompress = config.decompress !== false;
  if (decompress && !config.headers.has('Accept-Encoding')) headers['Accept-Encoding'] = ACCEPT_ENCODING;
  if (!config.headers.has('User-Agent')) headers['User-Agent'] = 'scimsync';
  const own = target.secure ? config.httpsAgent : config.httpAgent;
  const transport = target.secure ? https : http;
  const method = (config.method ?? 'get').toUpperCase();
  const maxContent = config.maxContentLength ?? -1;

  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    settled = true;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
  const fail = (err: unknown) => {
    if (settled) return;
    finish();
    req.destroy();
    done.reject(err);
  };
  function onAbort(): void {
    fail(new CanceledError(undefined, config, req));
  }

  const req = transport.request(
    {
      agent: (own as http.Agent | undefined) ?? agentFor(target.origin, target.secure),
      hostname: target.hostname,
      port: target.port,
      path: target.path,
      method,
      headers,
    },
    (res) => {
      if (settled) return void res.destroy();
      const declared = Number(res.headers['content-length']);
      const bodiless = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
      const encoding = decompress && !bodiless ? res.headers['content-encoding'] : undefined;
      // Refused before reading a byte where the answer declares a length past the cap.
      if (maxContent > -1 && !encoding && declared > maxContent) return fail(overSize(config, req, maxContent));
      const stream = decoded(res, encoding);
      if (stream !== res) res.on('error', (err) => fail(AxiosError.from(err, undefined, config, req)));
      const chunks: Buffer[] = [];
      let received = 0;
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (maxContent > -1 && received > maxContent) return fail(overSize(config, req, maxContent));
        chunks.push(chunk);
      });
      stream.on('error', (err) => fail(AxiosError.from(err, undefined, config, req)));
      // A connection cut mid-answer: `close` comes without `end`.
      res.on('close', () => {
        if (!res.complete) fail(AxiosError.from(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), undefined, config, req));
      });
      stream.on('end', () => {
        if (settled) return;
        finish();
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        let data: string | Buffer = bytes;
        if (config.responseType !== 'arraybuffer') {
          const text = bytes.toString('utf8');
          data = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
        }
        settle(done, { data, status: res.statusCode!, statusText: res.statusMessage ?? '', headers: res.headers, config, request: req });
      });
    },
  );
  req.on('error', (err) => fail(AxiosError.from(err, undefined, config, req)));
  signal?.addEventListener('abort', onAbort);
  if (config.timeout) {
    const code = config.transitional?.clarifyTimeoutError ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED;
    timer = setTimeout(() => fail(new AxiosError(config.timeoutErrorMessage ?? `timeout of ${config.timeout}ms exceeded`, code, config, req)), config.timeout);
  }
  req.end(body);
}

function overSize(config: InternalAxiosRequestConfig, req: http.ClientRequest, max: number): AxiosError {
  return new AxiosError(`maxContentLength size of ${max} exceeded`, AxiosError.ERR_BAD_RESPONSE, config, req);
}

/** The answer's bytes, decompressed where the target compressed them (as axios' Node adapter does). */
function decoded(res: http.IncomingMessage, encoding: string | undefined): Readable {
  switch (encoding?.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
    case 'deflate':
      // `unzip` reads a gzip or a zlib header, whichever the target sent.
      return res.pipe(zlib.createUnzip({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    case 'br':
      return res.pipe(zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }));
    default:
      return res;
  }
}

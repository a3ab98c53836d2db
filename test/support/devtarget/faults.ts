import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  type AnswerTimers,
  holdAnswer,
  isListRead,
  proxyPage,
  sendEndlessPage,
  sendHeld,
  sendPadded,
  sendReplacement,
  sendScimError,
  trickle,
} from './answers.js';

/**
 * How a fault answers a request that was served normally (the write is applied):
 * with another status, a proxy's HTML page, another body, and/or late.
 */
export interface AfterApply {
  /** Answer with this status instead (a SCIM error body unless `body` is given). */
  status?: number;
  /** Answer with an HTML page (status 200 unless `status` is given), as a proxy in front of the target does. */
  html?: boolean;
  /** Send the answer (the handler's, or the replaced one) only after this long: a client with a shorter timeout loses it. */
  delayMs?: number;
  /** Answer with this body instead. */
  body?: string;
  /** The Content-Type of `body` (default text/plain, or text/html with `html`). */
  contentType?: string;
  /** Answer with the handler's JSON answer changed by this function (a page that repeats an item, another user's resource, a schema that lies). */
  rewrite?: (answer: unknown, req: Request) => unknown;
}

/**
 * A failure the target answers with instead of serving matching requests: an
 * HTTP error, a connection reset (before the request is handled, or after it was
 * applied, with the answer lost), a stall, an answer lost or mangled after the
 * write was applied, or an answer that trickles, is huge, or pages forever.
 */
export interface Fault {
  /** Any method when not given. */
  method?: string;
  /** Matched against the request path and query. */
  path: RegExp;
  /** Matched against the JSON request body, when given. */
  body?: RegExp;
  /** The HTTP status to answer with (unless reset or stalled). */
  status?: number;
  /** How many matching requests fail; then the fault is spent. Unlimited when `rate` is set and this is not. */
  times?: number;
  /** The share of matching requests that fail (0..1), drawn from the target's seeded random source. */
  rate?: number;
  reset?: 'before' | 'after';
  /** Wait this long before serving the request. */
  stallMs?: number;
  scimType?: string;
  detail?: string;
  headers?: Record<string, string>;
  /** Sent instead of the SCIM error JSON, with `status` (200 when not given): what a gateway or firewall in front of the target answers. */
  responseBody?: string;
  /** The Content-Type of `responseBody` (default text/plain). */
  contentType?: string;
  /** Serve the request, then answer it badly. */
  afterApply?: AfterApply;
  /** Serve the request, send its status and headers at once, then its body one byte every `intervalMs`. */
  trickle?: { intervalMs: number };
  /** Answer 200 with a valid JSON body of about this many bytes. */
  padBytes?: number;
  /** Answer list reads (GET /Users, /Groups) with full pages of new resources out of a billion; other requests are not matched. */
  endlessPages?: true;
  /** Runs just before the request is served (or failed): an admin's edit in the app racing the request, say. */
  beforeServe?: (req: Request) => void;
}

export interface FaultsOptions {
  /** Seed of the random source that decides which requests a `rate` fault hits. */
  seed: number;
  timers: AnswerTimers;
}

/** The faults injected into one target, and the middleware that applies them. */
export interface Faults {
  middleware: RequestHandler;
  /**
   * The fault that an operation inside a Bulk request meets, as its own request would:
   * only faults that answer with a status (no reset, stall or mangled answer) apply.
   */
  forOperation(method: string, path: string, body: unknown): Fault | undefined;
  inject(fault: Fault): void;
  clear(): void;
}

function answerBadly(req: Request, res: Response, fault: Fault, options: FaultsOptions): void {
  const after = fault.afterApply!;
  holdAnswer(res, (held) => {
    const send = () => {
      if (res.destroyed) return;
      if (after.rewrite && held.status < 300 && held.body.length > 0) {
        const body = JSON.stringify(after.rewrite(JSON.parse(held.body.toString('utf8')), req));
        res.removeHeader('Content-Length');
        sendHeld(res, { status: held.status, body: Buffer.from(body) });
      } else if (after.html) {
        const status = after.status ?? 200;
        sendReplacement(res, { status, contentType: after.contentType ?? 'text/html', body: after.body ?? proxyPage(status), headers: fault.headers });
      } else if (after.body !== undefined) {
        sendReplacement(res, { status: after.status ?? 200, contentType: after.contentType ?? 'text/plain', body: after.body, headers: fault.headers });
      } else if (after.status !== undefined) {
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        sendScimError(res, { status: after.status, detail: fault.detail ?? 'injected fault', scimType: fault.scimType, headers: fault.headers });
      } else {
        sendHeld(res, held);
      }
    };
    if (after.delayMs) options.timers.after(after.delayMs, send, res);
    else send();
  });
}

export function createFaults(options: FaultsOptions): Faults {
  const faults: Fault[] = [];
  let seed = options.seed;
  const random = () => {
    // mulberry32: a small seeded generator, so fault runs repeat
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    if (faults.length === 0) return next();
    const raw = JSON.stringify(req.body ?? {});
    const i = faults.findIndex(
      (f) =>
        (f.method === undefined || f.method === req.method) &&
        f.path.test(req.originalUrl) &&
        (!f.body || f.body.test(raw)) &&
        (!f.endlessPages || isListRead(req)) &&
        (f.rate === undefined || random() < f.rate),
    );
    const fault = faults[i];
    if (!fault) return next();
    if (fault.times !== undefined && --fault.times <= 0) faults.splice(i, 1);
    const act = () => {
      fault.beforeServe?.(req);
      if (fault.reset === 'before') return req.socket.destroy();
      if (fault.reset === 'after') {
        // Serve it, then drop the connection instead of answering.
        holdAnswer(res, () => req.socket.destroy());
        return next();
      }
      if (fault.afterApply) {
        answerBadly(req, res, fault, options);
        return next();
      }
      if (fault.trickle) {
        const { intervalMs } = fault.trickle;
        holdAnswer(res, (held) => trickle(res, held, { intervalMs, timers: options.timers }));
        return next();
      }
      if (fault.padBytes !== undefined) return sendPadded(res, fault.padBytes, fault.headers);
      if (fault.endlessPages) return sendEndlessPage(req, res, fault.headers);
      if (fault.responseBody !== undefined) {
        return sendReplacement(res, { status: fault.status ?? 200, contentType: fault.contentType ?? 'text/plain', body: fault.responseBody, headers: fault.headers });
      }
      if (fault.status === undefined) return next();
      sendScimError(res, { status: fault.status, detail: fault.detail ?? 'injected fault', scimType: fault.scimType, headers: fault.headers });
    };
    if (fault.stallMs) options.timers.after(fault.stallMs, act);
    else act();
  };
  const forOperation = (method: string, path: string, body: unknown): Fault | undefined => {
    const raw = JSON.stringify(body ?? {});
    const i = faults.findIndex(
      (f) =>
        f.status !== undefined &&
        !f.reset && !f.stallMs && !f.afterApply && !f.trickle && f.padBytes === undefined && !f.endlessPages && f.responseBody === undefined &&
        (f.method === undefined || f.method === method) &&
        f.path.test(path) &&
        (!f.body || f.body.test(raw)) &&
        (f.rate === undefined || random() < f.rate),
    );
    const fault = faults[i];
    if (fault && fault.times !== undefined && --fault.times <= 0) faults.splice(i, 1);
    return fault;
  };
  return {
    middleware,
    forOperation,
    inject: (fault) => faults.push({ ...fault }),
    clear: () => {
      faults.length = 0;
    },
  };
}

import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';

/** The answers a faulty target gives: SCIM errors, proxy pages, trickled, padded and endless bodies. */

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/**
 * The timers a target runs for its answers, so that `stop()` ends them all and
 * an answer's timers end when its client goes away.
 */
export class AnswerTimers {
  readonly #pending = new Set<NodeJS.Timeout>();

  /** Runs `fn` once after `ms`; dropped if `until` closes first (the client went away) or the target stops. */
  after(ms: number, fn: () => void, until?: Response): void {
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      fn();
    }, ms);
    this.#track(timer, until);
  }

  /** Runs `fn` every `ms` until it returns false, `until` closes or the target stops. */
  every(ms: number, fn: () => boolean, until: Response): void {
    const timer = setInterval(() => {
      if (fn()) return;
      clearInterval(timer);
      this.#pending.delete(timer);
    }, ms);
    this.#track(timer, until);
  }

  /** How many are still to run. */
  get size(): number {
    return this.#pending.size;
  }

  clear(): void {
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }

  #track(timer: NodeJS.Timeout, until: Response | undefined): void {
    this.#pending.add(timer);
    until?.once('close', () => {
      clearTimeout(timer);
      this.#pending.delete(timer);
    });
  }
}

export interface ScimErrorAnswer {
  status: number;
  detail: string;
  scimType?: string;
  headers?: Record<string, string>;
}

export function sendScimError(res: Response, error: ScimErrorAnswer): void {
  res
    .status(error.status)
    .set({ 'Content-Type': 'application/scim+json', ...error.headers })
    .send(
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: String(error.status),
        ...(error.scimType ? { scimType: error.scimType } : {}),
        detail: error.detail,
      }),
    );
}

/** What the target's handler answered, held back: its headers are still set on the response, nothing is sent yet. */
export interface HeldAnswer {
  status: number;
  body: Buffer;
}

function asBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return undefined;
}

/**
 * Lets the request be served (the write is applied), but holds back the answer
 * the handler writes (express's `res.send`, scimmy-routers included) and gives
 * it to `then`, which decides what the client gets.
 */
export function holdAnswer(res: Response, then: (answer: HeldAnswer) => void): void {
  const { writeHead, write, end } = res;
  const chunks: Buffer[] = [];
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    res.statusCode = status;
    const headers = rest.find((r): r is OutgoingHttpHeaders => typeof r === 'object' && r !== null && !Array.isArray(r));
    for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) res.setHeader(name, value);
    return res;
  }) as typeof res.writeHead;
  res.write = ((chunk: unknown, encoding: unknown) => {
    const buffer = asBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    return true;
  }) as typeof res.write;
  res.end = ((chunk: unknown, encoding: unknown) => {
    const buffer = asBuffer(chunk, encoding);
    if (buffer) chunks.push(buffer);
    res.writeHead = writeHead;
    res.write = write;
    res.end = end;
    then({ status: res.statusCode, body: Buffer.concat(chunks) });
    return res;
  }) as typeof res.end;
}

/** Sends a held answer as the handler wrote it. */
export function sendHeld(res: Response, answer: HeldAnswer): void {
  res.status(answer.status).end(answer.body);
}

export interface Replacement {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/** Sends `replacement` instead of a held answer, none of whose headers remain. */
export function sendReplacement(res: Response, replacement: Replacement): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res
    .status(replacement.status)
    .set({ 'Content-Type': replacement.contentType, ...replacement.headers })
    .send(replacement.body);
}

/** The page a reverse proxy or load balancer answers with when the app behind it failed. */
export function proxyPage(status: number): string {
  const title = status === 200 ? 'Service temporarily unavailable' : `${status} Bad Gateway`;
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head>\n<body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>\n`;
}

/** Sends the held answer's headers at once, then its body one byte every `intervalMs`. */
export function trickle(res: Response, answer: HeldAnswer, options: { intervalMs: number; timers: AnswerTimers }): void {
  res.status(answer.status);
  res.flushHeaders();
  let sent = 0;
  const step = (): boolean => {
    if (res.destroyed) return false;
    if (sent >= answer.body.length) {
      res.end();
      return false;
    }
    res.write(answer.body.subarray(sent, ++sent));
    return true;
  };
  options.timers.every(options.intervalMs, step, res);
}

const PAD_CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * Answers 200 with a ListResponse of about `bytes` bytes (a long `padding`
 * string), written chunk by chunk as the client reads, so the target never holds
 * it all; no Content-Length, as a target streaming a big export sends.
 */
export function sendPadded(res: Response, bytes: number, headers: Record<string, string> = {}): void {
  const head = Buffer.from(`{"schemas":["${LIST_RESPONSE}"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[],"padding":"`);
  const tail = Buffer.from('"}');
  let left = Math.max(0, bytes - head.length - tail.length);
  res.status(200).set({ 'Content-Type': 'application/scim+json', ...headers });
  res.write(head);
  const pump = (): void => {
    while (left > 0) {
      if (res.destroyed) return;
      const chunk = PAD_CHUNK.subarray(0, Math.min(PAD_CHUNK.length, left));
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  pump();
}

const ENDLESS_TOTAL = 1_000_000_000;
const ENDLESS_PAGE_MAX = 10_000;

/** Whether the request reads a list of users or groups (what an `endlessPages` fault answers). */
export function isListRead(req: Request): boolean {
  return req.method === 'GET' && /\/(Users|Groups)\/?$/.test(req.path);
}

/** Answers a list read with a full page of resources never seen before, out of a billion. */
export function sendEndlessPage(req: Request, res: Response, headers: Record<string, string> = {}): void {
  const number = (value: unknown, fallback: number) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : fallback);
  const startIndex = Math.max(1, number(req.query.startIndex, 1));
  const count = Math.min(ENDLESS_PAGE_MAX, Math.max(0, number(req.query.count, 100)));
  const groups = /\/Groups\/?$/.test(req.path);
  const location = req.path.replace(/\/$/, '');
  const Resources = Array.from({ length: count }, (_, i) => {
    const id = randomUUID();
    const meta = { resourceType: groups ? 'Group' : 'User', location: `${location}/${id}` };
    if (groups) return { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], id, displayName: `endless-${startIndex + i}-${id}`, members: [], meta };
    const userName = `endless-${startIndex + i}-${id}@example.com`;
    return {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id,
      userName,
      name: { givenName: 'Endless', familyName: String(startIndex + i) },
      emails: [{ value: userName, type: 'work', primary: true }],
      active: true,
      meta,
    };
  });
  res
    .status(200)
    .set({ 'Content-Type': 'application/scim+json', ...headers })
    .send(JSON.stringify({ schemas: [LIST_RESPONSE], totalResults: ENDLESS_TOTAL, startIndex, itemsPerPage: count, Resources }));
}

import type { CreateAxiosDefaults } from 'axios';
import { scimAdapter } from './adapter.js';

/** 8 MiB: a SCIM page of 100 users is a few hundred KiB; past this an answer is not SCIM. */
export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** A body as JSON; empty counts as none, anything else unparsable as malformed. */
export function parseBody(text: unknown): { ok: true; value: unknown } | { ok: false } {
  if (typeof text !== 'string' || text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The `scimType` and `detail` of a SCIM error body (RFC 7644 §3.12), the detail cut to 500 characters. */
export function scimErrorFields(body: unknown): { scimType?: string; detail?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const b = body as Record<string, unknown>;
  const out: { scimType?: string; detail?: string } = {};
  if (typeof b.scimType === 'string') out.scimType = b.scimType;
  if (typeof b.detail === 'string') out.detail = b.detail.slice(0, 500);
  return out;
}

/** What an axios or Node network error carries that the client reads. */
export interface NetworkErrorLike {
  code?: string;
  message?: string;
}

/** An axios error raised by `maxContentLength` (its Node adapter stops reading as soon as the cap is passed). */
export function isOverSize(e: NetworkErrorLike): boolean {
  return e.code === 'ERR_BAD_RESPONSE' && typeof e.message === 'string' && e.message.startsWith('maxContentLength');
}

/**
 * The axios instance options of a SCIM target: bodies kept as text (parsed and
 * classified here), every status answered, no redirects followed, answers
 * capped. No axios `timeout`: it only bounds socket idleness, and the client
 * bounds each whole attempt itself. Headers are set once on the instance, not
 * per request: axios merges a request's own headers every time. Requests go
 * through scimsync's own adapter (see `scimAdapter`), unless the environment
 * names a proxy (`HTTPS_PROXY`, `HTTP_PROXY`): then through axios's own Node
 * adapter, which follows it (and `NO_PROXY`), as every axios client does.
 * The benchmark's loops use the same options.
 */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

/** Whether the environment routes HTTP through a proxy, as axios reads it. */
export function proxyNamed(env: NodeJS.ProcessEnv): boolean {
  return PROXY_VARIABLES.some((name) => (env[name] ?? '') !== '');
}

export function scimHttpOptions(baseUrl: string, options: { maxResponseBytes?: number | undefined } = {}): CreateAxiosDefaults {
  return {
    adapter: proxyNamed(process.env) ? 'http' : scimAdapter,
    baseURL: baseUrl.replace(/\/+$/, ''),
    responseType: 'text',
    transformResponse: [(d: unknown) => d],
    validateStatus: () => true,
    maxRedirects: 0,
    maxContentLength: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    headers: {
      Accept: 'application/scim+json, application/json',
      post: { 'Content-Type': 'application/scim+json' },
      put: { 'Content-Type': 'application/scim+json' },
      patch: { 'Content-Type': 'application/scim+json' },
    },
  };
}


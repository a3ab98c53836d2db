import type { Request } from 'express';
import type { Fault } from './faults.js';
import type { BulkOptions, DevTarget } from './server.js';

/**
 * The chaos plan of the local SCIM target: every way a real server has been seen
 * to lie (shared QUIRKS.md), each a named fault kind with the share of cycles it is
 * on in (`perCycle`) and the share of matching requests it hits then (`rate`,
 * drawn from the target's seeded random source). A campaign draws the kinds of
 * each cycle from its seed; `armChaos` injects them, `disarmChaos` takes them away.
 */
export type ChaosFaultKind =
  | 'lost-late'
  | 'lost-502'
  | 'lost-reset'
  | 'filter-ignored'
  | 'filter-first'
  | 'filter-case'
  | 'conflict-bare'
  | 'retry-after-absurd'
  | 'retry-after-missing'
  | 'retry-after-date'
  | 'retry-after-far-date'
  | 'trickle'
  | 'schema-lies'
  | 'discovery-hangs'
  | 'etag-moves'
  | 'page-repeats'
  | 'page-skips'
  | 'other-users-resource'
  | 'bulk-one-reference'
  | 'bulk-mislabel'
  | 'bulk-refused-404'
  | 'bulk-refused-403'
  | 'bulk-refused-501';

/** What a fault kind needs to know of the run it lies to. */
export interface ChaosContext {
  target: DevTarget;
  /** The client's per-request timeout: a late answer comes after it. */
  timeoutMs: number;
  /** The seeded draw of the campaign, for choices inside a fault (which item a page drops). */
  random: () => number;
  /** The target's live Bulk options (read at each request), when it takes Bulk at all. */
  bulk?: BulkOptions;
}

export interface ChaosFaultDef {
  kind: ChaosFaultKind;
  /** The behaviour, as seen on a real server. */
  what: string;
  /** The share of cycles this kind is on in. */
  perCycle: number;
  /** The share of matching requests it hits while on (1: every one, or a mode of the target). */
  rate: number;
  /** The faults to inject; a kind that changes a mode of the target instead does it in `arm`. */
  faults(ctx: ChaosContext): Fault[];
  /** Changes a mode of the target for the cycle (undone by `disarmChaos`). */
  arm?(ctx: ChaosContext): void;
}

const WRITE = /\/(Users|Groups|Bulk)(\/[^/?]+)?$/;
const USER_WRITE = /\/Users\/[^/?]+$/;
const LIST = /\/(Users|Groups)(\?(?![^#]*filter=)[^#]*)?$/;
const LOOKUP = /\/Users\?[^#]*filter=/;
const DISCOVERY = /\/(Schemas|ResourceTypes|ServiceProviderConfig)\/?$/;
const ONE_USER = /\/Users\/([^/?]+)$/;
const writes = (f: Omit<Fault, 'path'>): Fault[] => ['POST', 'PATCH', 'PUT', 'DELETE'].map((method) => ({ ...f, method, path: WRITE }));

interface ListAnswer {
  Resources?: unknown[];
}

/** One item of a page twice (a server that pages on an unstable order). */
export function repeatItem(answer: unknown, random: () => number): unknown {
  const list = answer as ListAnswer;
  if (!Array.isArray(list.Resources) || list.Resources.length === 0) return answer;
  const i = Math.floor(random() * list.Resources.length);
  return { ...list, Resources: [...list.Resources, list.Resources[i]] };
}

/** One item of a page left out, the totals unchanged. */
export function skipItem(answer: unknown, random: () => number): unknown {
  const list = answer as ListAnswer;
  if (!Array.isArray(list.Resources) || list.Resources.length === 0) return answer;
  const i = Math.floor(random() * list.Resources.length);
  return { ...list, Resources: list.Resources.filter((_, j) => j !== i) };
}

/**
 * The User schema says every string but userName is `caseExact` and names nickName required:
 * lies a client that trusts the schema must survive (userName's own case is the filter-case fault).
 */
export function lyingSchemas(answer: unknown): unknown {
  const lie = (attribute: Record<string, unknown>): Record<string, unknown> => ({
    ...attribute,
    ...(attribute.type === 'string' && attribute.name !== 'userName' ? { caseExact: true } : {}),
    ...(attribute.name === 'nickName' ? { required: true } : {}),
    ...(Array.isArray(attribute.subAttributes) ? { subAttributes: (attribute.subAttributes as Record<string, unknown>[]).map(lie) } : {}),
  });
  const list = answer as ListAnswer;
  if (!Array.isArray(list.Resources)) return answer;
  return {
    ...list,
    Resources: list.Resources.map((s) => {
      const schema = s as { attributes?: unknown };
      return Array.isArray(schema.attributes) ? { ...schema, attributes: (schema.attributes as Record<string, unknown>[]).map(lie) } : s;
    }),
  };
}

/** Another stored user's resource, in place of the one asked for. */
function otherUser(target: DevTarget, answer: unknown, req: Request, random: () => number): unknown {
  const asked = ONE_USER.exec(req.originalUrl)?.[1];
  const others = [...target.users.values()].filter((u) => u.id !== asked);
  return others.length === 0 ? answer : others[Math.floor(random() * others.length)];
}

/** A Bulk fault: a mode of the target's Bulk for the cycle (nothing where the target takes no Bulk). */
function bulkFault(kind: ChaosFaultKind, what: string, change: Partial<BulkOptions>): ChaosFaultDef {
  return {
    kind,
    what,
    perCycle: 0.15,
    rate: 1,
    faults: () => [],
    arm: (ctx) => {
      if (ctx.bulk) Object.assign(ctx.bulk, change);
    },
  };
}

export const CHAOS_FAULTS: readonly ChaosFaultDef[] = [
  {
    kind: 'lost-late',
    what: 'a write applied, its answer sent after the client gave up',
    perCycle: 0.15,
    rate: 0.1,
    faults: (ctx) => writes({ rate: 0.1, afterApply: { delayMs: ctx.timeoutMs + 300 } }),
  },
  { kind: 'lost-502', what: 'a write applied, answered 502 by a proxy', perCycle: 0.15, rate: 0.1, faults: () => writes({ rate: 0.1, afterApply: { status: 502 } }) },
  { kind: 'lost-reset', what: 'a write applied, the connection reset instead of the answer', perCycle: 0.15, rate: 0.1, faults: () => writes({ rate: 0.1, reset: 'after' }) },
  {
    kind: 'filter-ignored',
    what: 'a filtered list answered with every account',
    perCycle: 0.08,
    rate: 1,
    faults: () => [],
    arm: (ctx) => ctx.target.setFilters('ignore'),
  },
  {
    kind: 'filter-first',
    what: 'every userName eq "…" answered with the same account',
    perCycle: 0.08,
    rate: 1,
    faults: () => [],
    arm: (ctx) => ctx.target.setFilters('first'),
  },
  {
    // scimmy's eq compares with case while userName is unique without case: always so on this target.
    kind: 'filter-case',
    what: 'userName eq "…" compared with case, though userName is unique without case',
    perCycle: 1,
    rate: 1,
    faults: () => [],
    arm: (ctx) => ctx.target.setFilters('honour'),
  },
  {
    kind: 'conflict-bare',
    what: 'a create answered 409 with no body to say why',
    perCycle: 0.1,
    rate: 0.15,
    faults: () => [{ method: 'POST', path: /\/(Users|Groups)$/, rate: 0.15, status: 409, responseBody: '' }],
  },
  {
    kind: 'retry-after-absurd',
    what: '429 with Retry-After: 1000000000',
    perCycle: 0.05,
    rate: 0.5,
    faults: () => [{ path: /\/(Users|Groups|Bulk)/, rate: 0.5, times: 1, status: 429, headers: { 'Retry-After': '1000000000' } }],
  },
  {
    kind: 'retry-after-missing',
    what: '429 with no Retry-After',
    perCycle: 0.08,
    rate: 0.1,
    faults: () => [{ path: /\/(Users|Groups|Bulk)/, rate: 0.1, times: 2, status: 429 }],
  },
  {
    kind: 'retry-after-date',
    what: '429 with Retry-After as an HTTP date a second away',
    perCycle: 0.08,
    rate: 0.1,
    faults: () => [{ path: /\/(Users|Groups|Bulk)/, rate: 0.1, times: 2, status: 429, headers: { 'Retry-After': new Date(Date.now() + 1000).toUTCString() } }],
  },
  {
    kind: 'retry-after-far-date',
    what: '429 with Retry-After: Fri, 31 Dec 9999 23:59:59 GMT',
    perCycle: 0.05,
    rate: 0.5,
    faults: () => [{ path: /\/(Users|Groups|Bulk)/, rate: 0.5, times: 1, status: 429, headers: { 'Retry-After': 'Fri, 31 Dec 9999 23:59:59 GMT' } }],
  },
  {
    kind: 'trickle',
    what: 'an answer whose body trickles, a byte at a time',
    perCycle: 0.1,
    rate: 0.05,
    faults: (ctx) => [{ path: /\/(Users|Groups)/, rate: 0.05, trickle: { intervalMs: ctx.random() < 0.5 ? 1 : 20 } }],
  },
  {
    kind: 'schema-lies',
    what: '/Schemas says every string but userName is caseExact, and nickName required',
    perCycle: 0.1,
    rate: 1,
    faults: () => [{ method: 'GET', path: /\/Schemas\/?$/, afterApply: { rewrite: lyingSchemas } }],
  },
  {
    kind: 'discovery-hangs',
    what: '/Schemas, /ResourceTypes and /ServiceProviderConfig never answer',
    perCycle: 0.1,
    rate: 1,
    faults: () => [{ method: 'GET', path: DISCOVERY, stallMs: 3_600_000 }],
  },
  {
    kind: 'etag-moves',
    what: "an account's version changes between the read and the write",
    perCycle: 0.1,
    rate: 0.3,
    faults: (ctx) =>
      ['PUT', 'PATCH'].map((method) => ({
        method,
        path: USER_WRITE,
        rate: 0.3,
        beforeServe: (req: Request) => {
          const id = ONE_USER.exec(req.originalUrl)?.[1];
          if (id !== undefined && ctx.target.users.has(id)) ctx.target.editUser(id, {});
        },
      })),
  },
  {
    kind: 'page-repeats',
    what: 'a page that repeats an item',
    perCycle: 0.1,
    rate: 0.5,
    faults: (ctx) => [{ method: 'GET', path: LIST, rate: 0.5, afterApply: { rewrite: (a) => repeatItem(a, ctx.random) } }],
  },
  {
    kind: 'page-skips',
    what: 'a page that skips an item',
    perCycle: 0.1,
    rate: 0.5,
    faults: (ctx) => [{ method: 'GET', path: LIST, rate: 0.5, afterApply: { rewrite: (a) => skipItem(a, ctx.random) } }],
  },
  {
    kind: 'other-users-resource',
    what: "a 200 whose resource is another user's",
    perCycle: 0.1,
    rate: 0.2,
    faults: (ctx) => [
      { method: 'GET', path: ONE_USER, rate: 0.2, afterApply: { rewrite: (a, req) => otherUser(ctx.target, a, req, ctx.random) } },
      { method: 'GET', path: LOOKUP, rate: 0.2, afterApply: { rewrite: (a, req) => ({ ...(a as object), totalResults: 1, Resources: [otherUser(ctx.target, a, req, ctx.random)] }) } },
    ],
  },
  bulkFault('bulk-one-reference', 'Bulk resolves only the last bulkId: reference of an operation, stores the others literally', { references: 'last' }),
  bulkFault('bulk-mislabel', "Bulk answers each POST with another POST's bulkId", { mislabelAnswers: true }),
  bulkFault('bulk-refused-404', '/Bulk alone answers 404 while bulk.supported is true', { refuseWith: 404 }),
  bulkFault('bulk-refused-403', '/Bulk alone answers 403 while bulk.supported is true', { refuseWith: 403 }),
  bulkFault('bulk-refused-501', '/Bulk alone answers 501 while bulk.supported is true', { refuseWith: 501 }),
];

export function chaosFault(kind: ChaosFaultKind): ChaosFaultDef {
  const def = CHAOS_FAULTS.find((f) => f.kind === kind);
  if (!def) throw new Error(`no chaos fault ${kind}`);
  return def;
}

/** The kinds on in one cycle, drawn from `random` among `allowed`. */
export function drawChaos(random: () => number, allowed: readonly ChaosFaultKind[]): ChaosFaultKind[] {
  return CHAOS_FAULTS.filter((f) => allowed.includes(f.kind) && random() < f.perCycle).map((f) => f.kind);
}

/** Injects the faults of `kinds` into the target. */
export function armChaos(ctx: ChaosContext, kinds: readonly ChaosFaultKind[]): void {
  for (const kind of kinds) {
    const def = chaosFault(kind);
    def.arm?.(ctx);
    for (const fault of def.faults(ctx)) ctx.target.inject(fault);
  }
}

/** The target honest again (but for what it always is: a filter that keeps case). */
export function disarmChaos(ctx: Pick<ChaosContext, 'target' | 'bulk'>): void {
  ctx.target.clearFaults();
  ctx.target.setFilters('honour');
  if (ctx.bulk) {
    delete ctx.bulk.references;
    delete ctx.bulk.mislabelAnswers;
    delete ctx.bulk.refuseWith;
  }
}

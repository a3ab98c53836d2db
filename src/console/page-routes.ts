import type { Context, Hono } from 'hono';
import type { Flash } from './auth.js';
import { ConsoleActionError } from '../engine/index.js';
import type { ActionResult, ConsoleBackend, EventItem, ReconcileMode } from '../engine/index.js';
import type { ConsoleEnv } from './env.js';
import { parseEventFilters, type EventFilterParams } from './filters.js';
import { seg } from './pages/html.js';
import { HISTORY_CYCLES, integrationPage } from './pages/integration.js';
import type { View } from './pages/layout.js';
import { errorPage } from './pages/login.js';
import { eventDetail, logsPage } from './pages/logs.js';
import { overviewPage, progressBlock, stateCell } from './pages/overview.js';
import { planPage } from './pages/plan.js';
import { reconcilePage } from './pages/reconcile.js';
import { userPage } from './pages/user.js';

export interface PagesOptions {
  backend: ConsoleBackend;
  authRequired: boolean;
  now: () => number;
}

const FILTER_KEYS = ['integration', 'user', 'type', 'result', 'since', 'until', 'cycle', 'after', 'limit'] as const;

/** The server-rendered pages, their htmx fragments, and the form actions behind them. */
export function mountPages(app: Hono<ConsoleEnv>, options: PagesOptions): void {
  const { backend } = options;

  const view = (c: Context<ConsoleEnv>): View => {
    const session = c.get('session');
    const flash = session?.flash;
    if (session) session.flash = undefined;
    const actor = c.get('actor');
    if (!actor) throw new Error('console: a page ran without an actor');
    return { actor, csrf: session?.csrf ?? null, authRequired: options.authRequired, path: c.req.path, flash, now: options.now() };
  };
  const setFlash = (c: Context<ConsoleEnv>, flash: Flash) => {
    const session = c.get('session');
    if (session) session.flash = flash;
  };
  const notFound = (c: Context<ConsoleEnv>, what: string) => c.html(errorPage('Not found', what), 404);
  /** Runs an action, keeps its message for the next page, and goes there (POST, redirect, GET). */
  const act = async (c: Context<ConsoleEnv>, to: string, run: () => Promise<ActionResult>) => {
    try {
      const r = await run();
      setFlash(c, { kind: r.ok ? 'ok' : 'error', text: r.message });
    } catch (err) {
      if (!(err instanceof ConsoleActionError)) throw err;
      setFlash(c, { kind: 'error', text: err.message });
    }
    return c.redirect(to, 303);
  };
  const actor = (c: Context<ConsoleEnv>) => c.get('actor')!;

  app.get('/', async (c) => c.html(overviewPage(view(c), await backend.integrations())));

  app.get('/integrations/:name', async (c) => {
    const detail = await backend.integration(c.req.param('name'), { historyCycles: HISTORY_CYCLES });
    return detail ? c.html(integrationPage(view(c), detail)) : notFound(c, `There is no integration ${c.req.param('name')}.`);
  });
  app.get('/integrations/:name/state', async (c) => {
    const o = (await backend.integrations()).find((i) => i.name === c.req.param('name'));
    return o ? c.html(stateCell(o).text) : c.text('', 404);
  });
  app.get('/integrations/:name/progress', async (c) => {
    const name = c.req.param('name');
    const o = (await backend.integrations()).find((i) => i.name === name);
    if (!o) return c.text('', 404);
    return c.html(progressBlock(name, o.state.kind === 'running' ? o.state.progress : null, o.lastCycle, options.now()).text);
  });
  app.get('/integrations/:name/plan', async (c) => c.html(planPage(view(c), await backend.plan(c.req.param('name')))));

  for (const [path, action] of [
    ['approve', backend.approve.bind(backend)],
    ['discard', backend.discard.bind(backend)],
    ['lift-quarantine', backend.liftQuarantine.bind(backend)],
  ] as const) {
    app.post(`/integrations/:name/${path}`, (c) =>
      act(c, `/integrations/${seg(c.req.param('name'))}`, () => action({ integration: c.req.param('name'), actor: actor(c) })),
    );
  }

  app.get('/integrations/:name/reconcile', async (c) => {
    const name = c.req.param('name');
    if (!(await backend.integrations()).some((i) => i.name === name)) return notFound(c, `There is no integration ${name}.`);
    if (c.req.query('run') !== '1') return c.html(reconcilePage(view(c), { integration: name, report: undefined, error: undefined, outcome: undefined }));
    try {
      const report = await backend.reconcileReport(name);
      return c.html(reconcilePage(view(c), { integration: name, report, error: undefined, outcome: undefined }));
    } catch (err) {
      if (!(err instanceof ConsoleActionError)) throw err;
      return c.html(reconcilePage(view(c), { integration: name, report: undefined, error: err.message, outcome: undefined }));
    }
  });
  for (const mode of ['apply', 'adopt'] as const satisfies readonly ReconcileMode[]) {
    app.post(`/integrations/:name/reconcile/${mode}`, (c) =>
      act(c, `/integrations/${seg(c.req.param('name'))}/reconcile`, async () => {
        const r = await backend.reconcile({ integration: c.req.param('name'), mode, actor: actor(c) });
        const cycle = r.cycle ? `; the cycle that followed ended ${r.cycle.outcome}` : '';
        return { ok: true, message: `${mode}: ${r.corrected} objects recorded as the target holds them, ${r.adopted} accounts adopted${cycle}` };
      }),
    );
  }

  app.get('/logs', async (c) => {
    const params: EventFilterParams = {};
    for (const key of FILTER_KEYS) {
      const v = c.req.query(key);
      if (v !== undefined && v !== '') params[key] = v;
    }
    const parsed = parseEventFilters(params, options.now());
    const started = performance.now();
    const page = parsed.ok ? await backend.events(parsed.query) : undefined;
    const eventId = Number(c.req.query('event'));
    let selected: EventItem | undefined = page?.events.find((e) => e.id === eventId);
    if (!selected && Number.isSafeInteger(eventId) && eventId > 0) selected = await backend.event(eventId);
    const queryMs = Math.round(performance.now() - started);
    const integrations = (await backend.integrations()).map((i) => i.name);
    return c.html(logsPage(view(c), { params, integrations, page, error: parsed.ok ? undefined : parsed.error, selected, queryMs }), parsed.ok ? 200 : 400);
  });
  app.get('/events/:id', async (c) => {
    const id = Number(c.req.param('id'));
    const event = Number.isSafeInteger(id) && id > 0 ? await backend.event(id) : undefined;
    if (c.req.header('hx-request') !== 'true') return c.redirect(`/logs?event=${encodeURIComponent(c.req.param('id'))}`, 302);
    return event ? c.html(eventDetail(event).text) : c.html('<div class="card">No such event.</div>', 404);
  });

  app.get('/users/:integration/:id', async (c) => {
    const u = await backend.user(c.req.param('integration'), c.req.param('id'));
    if (!u) return notFound(c, `There is no integration ${c.req.param('integration')}.`);
    return c.html(userPage(view(c), u, c.get('session')?.lastProvision));
  });
  app.post('/users/:integration/:id/provision', async (c) => {
    const integration = c.req.param('integration');
    const sourceId = c.req.param('id');
    const to = `/users/${seg(integration)}/${seg(sourceId)}`;
    try {
      const result = await backend.provisionNow({ integration, sourceId, actor: actor(c) });
      const session = c.get('session');
      if (session) session.lastProvision = result;
    } catch (err) {
      if (!(err instanceof ConsoleActionError)) throw err;
      setFlash(c, { kind: 'error', text: err.message });
    }
    return c.redirect(to, 303);
  });
}

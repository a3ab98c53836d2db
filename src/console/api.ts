import { Hono, type Context } from 'hono';
import type { ConsoleBackend, ReconcileMode } from '../engine/index.js';
import type { ConsoleEnv } from './env.js';
import { parseEventFilters } from './filters.js';

/** Cycles the history answers at most. */
export const MAX_HISTORY_CYCLES = 500;
const DEFAULT_HISTORY_CYCLES = 30;

function actorOf(c: Context<ConsoleEnv>) {
  const actor = c.get('actor');
  // The auth middleware sets it before any /api route runs.
  if (!actor) throw new Error('console: an /api route ran without an actor');
  return actor;
}

function cyclesParam(text: string | undefined): number | { error: string } {
  if (text === undefined || text === '') return DEFAULT_HISTORY_CYCLES;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY_CYCLES) return { error: `cycles ${text}: expected a whole number from 1 to ${MAX_HISTORY_CYCLES}` };
  return n;
}

/**
 * The JSON API under /api/, which the pages use and scripts call with
 * `Authorization: Bearer <token>`. Reads need a viewer; POSTs an admin (and,
 * with a browser session, the X-CSRF-Token header).
 */
export function mountApi(app: Hono<ConsoleEnv>, backend: ConsoleBackend): void {
  const api = new Hono<ConsoleEnv>();

  api.get('/whoami', (c) => c.json(actorOf(c)));
  api.get('/integrations', async (c) => c.json(await backend.integrations()));
  api.get('/integrations/:name', async (c) => {
    const detail = await backend.integration(c.req.param('name'), { historyCycles: DEFAULT_HISTORY_CYCLES });
    return detail ? c.json(detail) : c.json({ error: `no integration ${c.req.param('name')}` }, 404);
  });
  api.get('/integrations/:name/history', async (c) => {
    const cycles = cyclesParam(c.req.query('cycles'));
    if (typeof cycles !== 'number') return c.json(cycles, 400);
    return c.json(await backend.history(c.req.param('name'), cycles));
  });
  api.get('/integrations/:name/progress', async (c) => c.json({ progress: await backend.progress(c.req.param('name')) }));
  api.get('/integrations/:name/plan', async (c) => c.json(await backend.plan(c.req.param('name'))));
  api.get('/integrations/:name/users/:id', async (c) => {
    const user = await backend.user(c.req.param('name'), c.req.param('id'));
    return user ? c.json(user) : c.json({ error: `no user ${c.req.param('id')} in integration ${c.req.param('name')}` }, 404);
  });
  api.get('/integrations/:name/reconcile', async (c) => c.json(await backend.reconcileReport(c.req.param('name'))));

  api.post('/integrations/:name/approve', async (c) => c.json(await backend.approve({ integration: c.req.param('name'), actor: actorOf(c) })));
  api.post('/integrations/:name/discard', async (c) => c.json(await backend.discard({ integration: c.req.param('name'), actor: actorOf(c) })));
  api.post('/integrations/:name/lift-quarantine', async (c) => c.json(await backend.liftQuarantine({ integration: c.req.param('name'), actor: actorOf(c) })));
  api.post('/integrations/:name/users/:id/provision', async (c) =>
    c.json(await backend.provisionNow({ integration: c.req.param('name'), sourceId: c.req.param('id'), actor: actorOf(c) })),
  );
  for (const mode of ['apply', 'adopt'] as const satisfies readonly ReconcileMode[]) {
    api.post(`/integrations/:name/reconcile/${mode}`, async (c) => c.json(await backend.reconcile({ integration: c.req.param('name'), mode, actor: actorOf(c) })));
  }

  api.get('/events', async (c) => {
    const parsed = parseEventFilters(c.req.query());
    if (!parsed.ok) return c.json({ error: parsed.error }, 400);
    return c.json(await backend.events(parsed.query));
  });
  api.get('/events/:id', async (c) => {
    const id = Number(c.req.param('id'));
    const event = Number.isSafeInteger(id) && id > 0 ? await backend.event(id) : undefined;
    return event ? c.json(event) : c.json({ error: `no event ${c.req.param('id')}` }, 404);
  });

  app.route('/api', api);
}
